"""Receivers the catalog registers (AppConfig.ready imports this module for its side effect)."""

from django.db.models.signals import pre_save
from django.dispatch import receiver


@receiver(pre_save, sender="loans.Loan")
def borrower_name_capitalised(sender, instance, **kwargs):
    instance.borrower = instance.borrower.title()
