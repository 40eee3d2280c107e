from django.http import JsonResponse

from bazaar.accounts.forms import AccountForm
from bazaar.accounts.models import Account


def index(request):
    AccountForm()
    return JsonResponse({"count": Account.objects.count()})
