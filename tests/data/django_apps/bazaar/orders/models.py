from django.db import models

from bazaar.orders.signals import order_placed


class Order(models.Model):
    name = models.CharField(max_length=40)
    account_id = models.IntegerField()

    def place(self):
        order_placed(self.id)
