"""The library's ROOT_URLCONF: the catalog and the loans, the admin, a redirect home."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from catalog import views as catalog_views
from loans import views as loan_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="catalog:index"), name="home"),
    path("admin/", admin.site.urls),
    path("catalog/", include("catalog.urls")),
    path("loans/", include(("loans.urls", "loans"), namespace="loans")),
    # two services' patterns of one shape (/code/<...>/): Django tells them apart by their regexes
    re_path(r"^code/(?P<number>[0-9]+)/$", loan_views.loan_by_number, name="loan-code"),
    re_path(r"^code/(?P<slug>[a-z-]+)/$", catalog_views.book_by_slug, name="book-code"),
]
