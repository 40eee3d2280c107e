from django.urls import path

from bazaar.accounts import views

urlpatterns = [path("", views.index)]
