from django.http import HttpResponse
from django.views import View

from shop.models import Order


def cart(request):
    return HttpResponse(str(Order.objects.count()))


class CheckoutView(View):
    def post(self, request):
        return HttpResponse("ok")
