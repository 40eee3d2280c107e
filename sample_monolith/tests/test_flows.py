from tests.conftest import ok


def test_full_order_lifecycle_and_customer_report(client, shop):
    lamp, bulb = shop.product(price_cents=4500, stock=3), shop.product(price_cents=350, stock=50)
    customer = shop.customer()
    order = shop.cart(customer, (lamp, 1), (bulb, 4))
    order = ok(client.post(f"/api/orders/{order['id']}/place",
                           json={"address_id": customer["address"]["id"]}))
    paid = ok(client.post(f"/api/orders/{order['id']}/pay", json={
        "method": "card", "details": {"card_number": "5555555555554444", "expiry": "10/35"}}))
    assert paid["payment"]["details"]["brand"] == "mastercard"
    shipment = ok(client.post(f"/api/orders/{order['id']}/ship"), 201)["shipment"]
    for status in ("in_transit", "delivered"):
        ok(client.post(f"/api/shipping/shipments/{shipment['id']}/events",
                       json={"status": status}), 201)
    final = ok(client.get(f"/api/orders/{order['id']}"))
    assert final["status"] == "delivered"
    history = ok(client.get(f"/api/orders/{order['id']}/history"))["items"]
    assert [h["to_status"] for h in history] == ["cart", "placed", "paid", "shipped", "delivered"]
    assert shop.templates_sent(customer) == ["welcome", "order_placed", "payment_received",
                                             "order_shipped", "shipment_delivered"]
    report = ok(client.get(f"/api/orders/reports/customers/{customer['id']}"))
    assert (report["order_count"], report["ordered_cents"], report["paid_cents"]) == (
        1, final["total_cents"], final["total_cents"])
    assert [(p["product_id"], p["quantity"]) for p in report["top_products"]] == [
        (bulb["id"], 4), (lamp["id"], 1)]


def test_refund_after_shipping_keeps_shipping_fee(client, shop):
    customer = shop.customer()
    order, _ = shop.shipped_order(customer, (shop.product(price_cents=2500, weight_grams=400), 2))
    refund = ok(client.post(f"/api/payments/{order['payment_id']}/refunds",
                            json={"reason": "returned"}), 201)
    assert refund["amount_cents"] == order["total_cents"] - order["shipping_cents"]
    assert (refund["payment_status"], refund["order_status"]) == ("partially_refunded", "refunded")
    report = ok(client.get(f"/api/orders/reports/customers/{customer['id']}"))
    assert report["net_revenue_cents"] == order["shipping_cents"] == 649


def test_cancelling_paid_order_refunds_and_restocks(client, shop):
    product = shop.product(stock=2)
    customer = shop.customer()
    order, payment = shop.paid_order(customer, (product, 2))
    assert shop.stock(product)["available"] == 0
    cancelled = ok(client.post(f"/api/orders/{order['id']}/cancel", json={"reason": "fraud check"}))
    assert cancelled["status"] == "cancelled"
    assert cancelled["refunded_cents"] == order["total_cents"]
    assert ok(client.get(f"/api/payments/{payment['id']}"))["status"] == "refunded"
    assert shop.stock(product)["available"] == 2
    assert shop.templates_sent(customer)[-2:] == ["refund_issued", "order_cancelled"]
    report = ok(client.get(f"/api/orders/reports/customers/{customer['id']}"))
    assert report["order_count"] == 0 and report["net_revenue_cents"] == 0
