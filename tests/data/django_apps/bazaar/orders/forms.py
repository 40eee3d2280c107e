from django import forms

from bazaar.orders.models import Order


class OrderForm(forms.ModelForm):
    class Meta:
        model = Order
        fields = ["name"]
