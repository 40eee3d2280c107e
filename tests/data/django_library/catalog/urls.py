from django.urls import path

from catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.index, name="index"),
    path("books/<int:pk>/", views.BookDetail.as_view(), name="book"),
    path("books/<int:pk>.json", views.book_json, name="book-json"),
]
