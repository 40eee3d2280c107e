from tests.conftest import error_code, ok


def test_adjust_stock_records_movements(client, shop):
    product = shop.product(stock=0)
    assert shop.stock(product)["on_hand"] == 0
    ok(client.post(f"/api/inventory/stock/{product['id']}/adjust",
                   json={"delta": 12, "reason": "restock", "reference": "PO-1"}))
    level = ok(client.post(f"/api/inventory/stock/{product['id']}/adjust",
                           json={"delta": -2, "reason": "damaged"}))
    assert (level["on_hand"], level["reserved"], level["available"]) == (10, 0, 10)
    movements = shop.stock(product)["movements"]
    assert [(m["delta"], m["reason"]) for m in movements] == [(-2, "damaged"), (12, "restock")]


def test_adjust_stock_rejects_bad_input(client, shop):
    product = shop.product(stock=3)
    url = f"/api/inventory/stock/{product['id']}/adjust"
    assert error_code(client.post(url, json={"delta": 1, "reason": "gift"}), 400) \
        == "validation_error"
    assert error_code(client.post(url, json={"delta": 0, "reason": "restock"}), 400) \
        == "validation_error"
    assert error_code(client.post(url, json={"delta": -4, "reason": "correction"}), 409) \
        == "conflict"
    assert error_code(client.get("/api/inventory/stock/999999999"), 404) == "not_found"
    assert error_code(client.post("/api/inventory/stock/999999999/adjust",
                                  json={"delta": 1, "reason": "restock"}), 404) == "not_found"


def test_cannot_remove_reserved_stock(client, shop):
    product = shop.product(stock=5)
    order = shop.placed_order(shop.customer(), (product, 4))
    assert (shop.stock(product)["reserved"], shop.stock(product)["available"]) == (4, 1)
    response = client.post(f"/api/inventory/stock/{product['id']}/adjust",
                           json={"delta": -2, "reason": "shrinkage"})
    assert error_code(response, 409) == "conflict"
    reservations = ok(client.get("/api/inventory/reservations",
                                 params={"order_id": order["id"]}))["items"]
    assert [(r["product_id"], r["quantity"], r["status"]) for r in reservations] == [
        (product["id"], 4, "active")]


def test_low_stock_report(client, shop):
    product = shop.product(stock=3)
    level = ok(client.put(f"/api/inventory/stock/{product['id']}/reorder-level",
                          json={"reorder_level": 5}))
    assert level["needs_reorder"] is True
    low = ok(client.get("/api/inventory/low-stock", params={"per_page": 100}))
    assert product["id"] in [item["product_id"] for item in low["items"]]


def test_stock_valuation_uses_current_prices(client, shop):
    first = shop.product(price_cents=250, stock=4)
    second = shop.product(price_cents=1000, stock=2)
    ok(client.patch(f"/api/catalog/products/{second['id']}", json={"price_cents": 1200}))
    valuation = ok(client.get("/api/inventory/valuation",
                              params={"product_id": [first["id"], second["id"]]}))
    assert valuation["total_value_cents"] == 4 * 250 + 2 * 1200
