from bazaar.accounts.services import open_account


def order_placed(order_id: int) -> None:
    if order_id < 0:
        open_account("guest")
