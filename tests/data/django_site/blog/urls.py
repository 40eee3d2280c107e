from django.urls import path, re_path

from . import views

app_name = "blog"
urlpatterns = [
    path("", views.index, name="index"),
    path("posts/<slug:slug>/", views.PostDetail.as_view(), name="post"),
    re_path(r"^archive/(?P<year>[0-9]{4})/$", views.archive, name="archive"),
]
