from tests.conftest import error_code, ok


def test_quotes_for_all_methods(client):
    quotes = ok(client.post("/api/shipping/quote",
                            json={"weight_grams": 1200, "country": "us", "subtotal_cents": 5000}))
    assert {q["method"]: q["cost_cents"] for q in quotes["items"]} == {
        "standard": 799, "express": 1799, "overnight": 3799}
    free = ok(client.post("/api/shipping/quote", json={
        "weight_grams": 1200, "country": "US", "subtotal_cents": 15000, "method": "standard"}))
    assert free["items"][0]["cost_cents"] == 0 and free["items"][0]["carrier"] == "USPS"
    assert error_code(client.post("/api/shipping/quote",
                                  json={"weight_grams": 100, "country": "BR"}), 400) \
        == "validation_error"


def test_shipping_an_order_commits_stock(client, shop):
    product = shop.product(stock=6)
    order, shipment = shop.shipped_order(shop.customer(), (product, 2))
    assert order["status"] == "shipped" and order["shipment_id"] == shipment["id"]
    assert shipment["status"] == "label_created" and shipment["tracking_number"].startswith("US")
    assert (shop.stock(product)["on_hand"], shop.stock(product)["reserved"]) == (4, 0)
    tracked = ok(client.get(f"/api/shipping/track/{shipment['tracking_number']}"))
    assert tracked["order_id"] == order["id"] and tracked["events"][0]["status"] == "label_created"
    listed = ok(client.get("/api/shipping/shipments", params={"order_id": order["id"]}))["items"]
    assert [s["id"] for s in listed] == [shipment["id"]]
    assert error_code(client.post(f"/api/orders/{order['id']}/ship"), 409) == "invalid_state"


def test_tracking_updates_reach_order_and_customer(client, shop):
    customer = shop.customer()
    order, shipment = shop.shipped_order(customer, (shop.product(), 1))
    url = f"/api/shipping/shipments/{shipment['id']}/events"
    for status in ("in_transit", "out_for_delivery"):
        ok(client.post(url, json={"status": status, "location": "Oakland, CA"}), 201)
    delivered = ok(client.post(url, json={"status": "delivered", "note": "left at door"}), 201)
    assert delivered["delivered_at"] and [e["status"] for e in delivered["events"]] == [
        "label_created", "in_transit", "out_for_delivery", "delivered"]
    assert ok(client.get(f"/api/orders/{order['id']}"))["status"] == "delivered"
    assert shop.templates_sent(customer)[-3:] == ["order_shipped", "shipment_update",
                                                  "shipment_delivered"]


def test_invalid_tracking_transitions(client, shop):
    _, shipment = shop.shipped_order(shop.customer(), (shop.product(), 1))
    url = f"/api/shipping/shipments/{shipment['id']}/events"
    assert error_code(client.post(url, json={"status": "delivered"}), 409) == "invalid_state"
    assert error_code(client.post(url, json={"status": "teleported"}), 400) == "validation_error"
    assert error_code(client.get("/api/shipping/shipments/999999999"), 404) == "not_found"
    assert error_code(client.get("/api/shipping/track/NOPE123"), 404) == "not_found"
    unpaid = shop.placed_order(shop.customer(), (shop.product(), 1))
    assert error_code(client.post(f"/api/orders/{unpaid['id']}/ship"), 409) == "invalid_state"
