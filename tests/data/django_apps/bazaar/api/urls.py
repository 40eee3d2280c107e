from django.urls import path

from bazaar.api import views

urlpatterns = [path("", views.index)]
