from tests.conftest import error_code, ok, unique


def test_templates_are_listed_and_rendered(client, shop):
    templates = {t["name"]: t for t in ok(client.get("/api/notifications/templates"))["items"]}
    assert "total" in templates["order_placed"]["placeholders"]
    assert templates["order_shipped"]["has_sms"] and not templates["welcome"]["has_sms"]
    customer = shop.customer(full_name="Alan Turing")
    order = shop.placed_order(customer, (shop.product(price_cents=123456, weight_grams=0), 1))
    message = ok(client.get("/api/notifications", params={
        "customer_id": customer["id"], "template": "order_placed"}))["items"][0]
    assert message["subject"] == f"Order {order['reference']} received"
    assert message["body"].startswith("Hi Alan,") and "Subtotal $1,234.56" in message["body"]


def test_dispatch_sends_queued_messages(client, shop):
    customer = shop.customer(country=None)
    queued = ok(client.get("/api/notifications", params={"customer_id": customer["id"]}))
    message = queued["items"][0]
    assert (message["status"], message["recipient"]) == ("queued", customer["email"])
    result = ok(client.post("/api/notifications/dispatch", json={"customer_id": customer["id"]}))
    assert result["sent"] == 1
    sent = ok(client.get(f"/api/notifications/{message['id']}"))
    assert sent["status"] == "sent" and sent["attempts"] == 1 and sent["sent_at"]
    assert error_code(client.get("/api/notifications/999999999"), 404) == "not_found"


def test_undeliverable_messages_fail_after_retries(client, shop):
    customer = shop.customer(country=None, email=f"{unique('bounce')}@mail.invalid")
    for expected in ("retrying", "retrying", "failed"):
        result = ok(client.post("/api/notifications/dispatch",
                                json={"customer_id": customer["id"]}))
        assert result[expected] == 1
    failed = ok(client.get("/api/notifications", params={"customer_id": customer["id"],
                                                         "status": "failed"}))["items"]
    assert failed[0]["attempts"] == 3 and "mailbox unavailable" in failed[0]["last_error"]


def test_sms_copy_for_opted_in_customers(client, shop):
    customer = shop.customer(phone="+44 20 7946 0000", sms_opt_in=True)
    order = shop.placed_order(customer, (shop.product(price_cents=1000), 1))
    messages = ok(client.get("/api/notifications", params={
        "customer_id": customer["id"], "template": "order_placed"}))["items"]
    sms = [m for m in messages if m["channel"] == "sms"]
    assert len(messages) == 2 and sms[0]["recipient"] == "+442079460000"
    assert sms[0]["body"] == f"Order {order['reference']} received, total {order['total']}."
