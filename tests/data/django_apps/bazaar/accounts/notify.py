from bazaar.accounts.models import Account


def welcome(name: str) -> int:
    return Account.objects.create(name=name).id
