from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.generic import DetailView

from blog.models import Post


def index(request):
    return HttpResponse(", ".join(p.title for p in Post.objects.order_by("title")))


class PostDetail(DetailView):
    model = Post

    def get(self, request, *args, **kwargs):
        return HttpResponse(get_object_or_404(Post, slug=kwargs["slug"]).title)


def archive(request, year):
    return HttpResponse(str(Post.objects.filter(published__year=year).count()))
