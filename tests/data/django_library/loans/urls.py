from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from loans import views

urlpatterns = [
    path("", views.index, name="index"),
    path("book/<int:book_id>/", views.for_book, name="for-book"),
    path("lend/", csrf_exempt(views.lend), name="lend"),
]
