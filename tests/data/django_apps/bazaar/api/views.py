from django.http import JsonResponse

from bazaar.api.serializers import describe


def index(request):
    return JsonResponse(describe())
