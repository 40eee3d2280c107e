from django import forms

from bazaar.accounts.models import Account


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["name"]
