from django.contrib import admin
from django.urls import include, path, re_path
from rest_framework import routers

from accounts import views as account_views
from shop.api import OrderViewSet, ProductViewSet

router = routers.DefaultRouter()
router.register(r"orders", OrderViewSet, basename="order")
router.register("products", ProductViewSet)

account_patterns = [
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("profile/<int:pk>/", account_views.profile, name="profile"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("blog.urls")),
    path("shop/", include(("shop.urls", "shop"), namespace="shop")),
    path("accounts/", include(account_patterns)),
    path("api/", include(router.urls)),
]
urlpatterns += [re_path(r"^legacy/(?P<slug>[-\w]+)/$", account_views.legacy, name="legacy")]
