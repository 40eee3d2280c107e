from django.contrib import admin

from bazaar.orders.models import Order

admin.bazaar.register(Order)
