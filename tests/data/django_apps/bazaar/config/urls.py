from django.urls import include, path

urlpatterns = [path("accounts/", include("bazaar.accounts.urls")), path("orders/", include("bazaar.orders.urls"))]
