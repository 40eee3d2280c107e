from django.contrib.auth import views as auth_views
from django.http import HttpResponse


class LoginView(auth_views.LoginView):
    template_name = "login.html"


def profile(request, pk):
    return HttpResponse(str(pk))


def legacy(request, slug):
    return HttpResponse(slug)
