from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.generic import DetailView

from catalog.models import Book


def index(request):
    return render(request, "catalog/index.html", {"books": Book.objects.all()})


class BookDetail(DetailView):
    model = Book
    template_name = "catalog/book.html"


def book_json(request, pk: int):
    book = get_object_or_404(Book, pk=pk)
    return JsonResponse({"id": book.pk, "title": book.title, "slug": book.slug, "copies": book.copies})


def book_by_slug(request, slug: str):
    book = Book.objects.filter(slug=slug).first()
    if book is None:
        raise Http404("no such book")
    return JsonResponse({"id": book.pk, "title": book.title})
