"""Items and their stock, kept in memory."""

import threading

from fshop.errors import Conflict, NotFound

_lock = threading.Lock()
_items: dict[int, dict] = {}
_next_id = [1]


def create_item(sku: str, name: str, price_cents: int, stock: int = 0) -> dict:
    with _lock:
        if any(i["sku"] == sku for i in _items.values()):
            raise Conflict(f"sku {sku} exists")
        item = {"id": _next_id[0], "sku": sku, "name": name, "price_cents": price_cents, "stock": stock}
        _items[item["id"]] = item
        _next_id[0] += 1
        return dict(item)


def get_item(item_id: int) -> dict:
    item = _items.get(item_id)
    if item is None:
        raise NotFound(f"item {item_id} not found")
    return dict(item)


def list_items() -> list[dict]:
    return [dict(_items[k]) for k in sorted(_items)]


def adjust_stock(item_id: int, delta: int) -> dict:
    with _lock:
        item = _items.get(item_id)
        if item is None:
            raise NotFound(f"item {item_id} not found")
        if item["stock"] + delta < 0:
            raise Conflict(f"item {item_id}: only {item['stock']} in stock")
        item["stock"] += delta
        return dict(item)
