from django.db import models

from bazaar.orders.models import Order


class Account(models.Model):
    name = models.CharField(max_length=40)

    def last_order(self):
        return Order.objects.filter(account_id=self.id).last()
