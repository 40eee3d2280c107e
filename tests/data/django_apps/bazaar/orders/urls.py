from django.urls import path

from bazaar.orders import views

urlpatterns = [path("", views.index)]
