from tests.conftest import DECLINED_CARD, VALID_CARD, error_code, ok


def test_card_payment_marks_order_paid(client, shop):
    customer = shop.customer()
    order, payment = shop.paid_order(customer, (shop.product(price_cents=3000), 1))
    assert order["status"] == "paid" and order["payment_id"] == payment["id"]
    assert (payment["status"], payment["amount_cents"]) == ("captured", order["total_cents"])
    assert payment["details"] == {"brand": "visa", "last4": "4242"}
    assert shop.templates_sent(customer) == ["welcome", "order_placed", "payment_received"]
    assert ok(client.get(f"/api/payments/{payment['id']}"))["provider_reference"].startswith("ch_")


def test_declined_card_keeps_order_payable(client, shop):
    order = shop.placed_order(shop.customer(), (shop.product(), 1))
    url = f"/api/orders/{order['id']}/pay"
    declined = client.post(url, json={"method": "card", "details": DECLINED_CARD})
    assert error_code(declined, 402) == "payment_declined"
    assert declined.json()["error"]["details"]["decline_code"] == "card_declined"
    assert ok(client.get(f"/api/orders/{order['id']}"))["status"] == "placed"
    expired = client.post(url, json={"method": "card",
                                     "details": {**VALID_CARD, "expiry": "01/20"}})
    assert expired.json()["error"]["details"]["decline_code"] == "expired_card"
    ok(client.post(url, json={"method": "card", "details": VALID_CARD}))
    payments = ok(client.get("/api/payments", params={"order_id": order["id"]}))["items"]
    assert [p["status"] for p in payments] == ["declined", "declined", "captured"]


def test_invalid_payment_requests(client, shop):
    order = shop.placed_order(shop.customer(), (shop.product(), 1))
    url = f"/api/orders/{order['id']}/pay"
    assert error_code(client.post(url, json={"method": "bitcoin"}), 400) == "validation_error"
    bad_number = client.post(url, json={"method": "card", "details": {"card_number": "1234"}})
    assert error_code(bad_number, 402) == "payment_declined"
    cart = shop.cart(shop.customer(), (shop.product(), 1))
    assert error_code(client.post(f"/api/orders/{cart['id']}/pay",
                                  json={"method": "card", "details": VALID_CARD}), 409) \
        == "invalid_state"


def test_invoice_payment_requires_company(client, shop):
    order = shop.placed_order(shop.customer(), (shop.product(), 1))
    url = f"/api/orders/{order['id']}/pay"
    refused = client.post(url, json={"method": "invoice"})
    assert refused.json()["error"]["details"]["decline_code"] == "company_required"
    result = ok(client.post(url, json={"method": "invoice", "details": {"company": "ACME Ltd"}}))
    assert result["payment"]["provider_reference"].startswith("INV-")
    assert result["payment"]["details"]["company"] == "ACME Ltd"
    assert result["payment"]["details"]["due_date"] > result["payment"]["captured_at"][:10]
    again = client.post(url, json={"method": "card", "details": VALID_CARD})
    assert error_code(again, 409) == "invalid_state"


def test_partial_then_full_refund_before_shipping(client, shop):
    product = shop.product(stock=5)
    customer = shop.customer()
    order, payment = shop.paid_order(customer, (product, 2))
    url = f"/api/payments/{payment['id']}/refunds"
    partial = ok(client.post(url, json={"amount_cents": 1000, "reason": "damaged box"}), 201)
    assert (partial["payment_status"], partial["order_status"]) == ("partially_refunded", "paid")
    too_much = client.post(url, json={"amount_cents": order["total_cents"]})
    assert error_code(too_much, 400) == "validation_error"
    assert too_much.json()["error"]["details"]["refundable_cents"] == order["total_cents"] - 1000
    rest = ok(client.post(url, json={}), 201)
    assert rest["amount_cents"] == order["total_cents"] - 1000
    assert (rest["payment_status"], rest["order_status"]) == ("refunded", "refunded")
    assert (shop.stock(product)["on_hand"], shop.stock(product)["reserved"]) == (5, 0)
    assert error_code(client.post(url, json={}), 409) == "invalid_state"
    refunds = ok(client.get(f"/api/payments/{payment['id']}"))["refunds"]
    assert [r["amount_cents"] for r in refunds] == [1000, order["total_cents"] - 1000]
    assert shop.templates_sent(customer)[-2:] == ["refund_issued", "refund_issued"]


def test_payment_methods_and_missing_payment(client):
    methods = ok(client.get("/api/payments/methods"))["items"]
    assert [(m["name"], m["default"]) for m in methods] == [("card", True), ("invoice", False)]
    assert error_code(client.get("/api/payments/999999999"), 404) == "not_found"
    assert error_code(client.get("/api/payments"), 400) == "validation_error"
