from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from shop.models import Order, Product


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name"]


class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Order.objects.all()

    @action(detail=True, methods=["post"], url_path="cancel")
    def cancel(self, request, pk=None):
        return Response({"cancelled": pk})


class ProductViewSet(viewsets.ModelViewSet):
    queryset = Product.objects.all()
    serializer_class = ProductSerializer
