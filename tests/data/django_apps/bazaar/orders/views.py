from django.http import JsonResponse

from bazaar.orders.forms import OrderForm
from bazaar.orders.models import Order


def index(request):
    OrderForm()
    return JsonResponse({"count": Order.objects.count()})
