"""How many copies of a book are on the shelf (the loans service asks over RPC)."""

from catalog.models import Book


def copies_of(book_id: int) -> int:
    book = Book.objects.filter(pk=book_id).first()
    return book.copies if book is not None else 0


def shelf_total() -> int:
    return sum(Book.objects.values_list("copies", flat=True))
