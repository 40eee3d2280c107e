from django.db import models


class Loan(models.Model):
    book = models.ForeignKey("catalog.Book", on_delete=models.CASCADE, related_name="loans")
    borrower = models.CharField(max_length=100)
    number = models.PositiveIntegerField(unique=True)

    class Meta:
        ordering = ["number"]
