from django.urls import path

from shop import views

urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("checkout/", views.CheckoutView.as_view(), name="checkout"),
]
