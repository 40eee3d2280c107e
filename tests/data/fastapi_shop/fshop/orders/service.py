"""Orders: check the user, price the lines from items, take the stock."""

import threading

from fshop.errors import NotFound
from fshop.items import service as items_service
from fshop.users.service import user_exists

_lock = threading.Lock()
_orders: dict[int, dict] = {}


def place_order(user_id: int, lines: list[dict]) -> dict:
    if not user_exists(user_id):
        raise NotFound(f"user {user_id} not found")
    priced = []
    for line in lines:
        item = items_service.get_item(line["item_id"])
        priced.append({"item_id": item["id"], "quantity": line["quantity"],
                       "unit_price_cents": item["price_cents"]})
    for line in priced:
        items_service.adjust_stock(line["item_id"], -line["quantity"])
    with _lock:
        order = {"id": len(_orders) + 1, "user_id": user_id, "lines": priced,
                 "total_cents": sum(p["quantity"] * p["unit_price_cents"] for p in priced)}
        _orders[order["id"]] = order
        return dict(order)


def get_order(order_id: int) -> dict:
    order = _orders.get(order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return dict(order)
