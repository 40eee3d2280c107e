import json

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from catalog.stock import copies_of, shelf_total
from loans.models import Loan


def index(request):
    loans = Loan.objects.select_related("book")
    return render(request, "loans/index.html", {"loans": loans, "on_shelf": shelf_total() - loans.count()})


def for_book(request, book_id: int):
    loans = list(Loan.objects.filter(book_id=book_id).values_list("number", flat=True))
    return JsonResponse({"book": book_id, "loans": loans, "copies": copies_of(book_id),
                         "catalog": reverse("catalog:book", args=[book_id])})


@require_http_methods(["POST"])
def lend(request):
    data = json.loads(request.body or b"{}")
    book_id = int(data["book"])
    if Loan.objects.filter(book_id=book_id).count() >= copies_of(book_id):
        return JsonResponse({"error": "no copy left"}, status=409)
    loan = Loan.objects.create(book_id=book_id, borrower=data["borrower"], number=int(data["number"]))
    return JsonResponse({"number": loan.number, "url": reverse("loans:for-book", args=[book_id])}, status=201)


def loan_by_number(request, number: str):
    loan = Loan.objects.filter(number=int(number)).first()
    if loan is None:
        raise Http404("no such loan")
    return JsonResponse({"number": loan.number, "borrower": loan.borrower, "book": loan.book_id})
