from tests.conftest import error_code, ok, unique


def test_register_customer_sends_welcome(client, shop):
    customer = shop.customer(country=None, full_name="Grace Hopper")
    assert customer["status"] == "active" and customer["default_address"] is None
    assert shop.templates_sent(customer) == ["welcome"]
    assert ok(client.get(f"/api/customers/{customer['id']}"))["full_name"] == "Grace Hopper"


def test_duplicate_and_invalid_email(client):
    email = f"{unique('dup')}@Example.com"
    ok(client.post("/api/customers", json={"email": email, "full_name": "A"}), 201)
    again = client.post("/api/customers", json={"email": email.lower(), "full_name": "B"})
    assert error_code(again, 409) == "conflict"
    bad = client.post("/api/customers", json={"email": "not-an-email", "full_name": "C"})
    assert error_code(bad, 400) == "validation_error"


def test_addresses_are_normalized_and_default_switches(client, shop):
    customer = shop.customer(country="GB", postal_code="sw1a 1aa")
    first = customer["address"]
    assert (first["country"], first["postal_code"], first["is_default"]) == ("GB", "SW1A 1AA", True)
    assert first["recipient"] == customer["full_name"]
    second = ok(client.post(f"/api/customers/{customer['id']}/addresses", json={
        "line1": "2 Canal St", "city": "Amsterdam", "postal_code": "1012 AB",
        "country": "nl", "label": "work", "default": True}), 201)
    addresses = ok(client.get(f"/api/customers/{customer['id']}/addresses"))["items"]
    assert [(a["id"], a["is_default"]) for a in addresses] == [(first["id"], False),
                                                             (second["id"], True)]
    assert ok(client.get(f"/api/customers/{customer['id']}"))["default_address"]["city"] \
        == "Amsterdam"


def test_invalid_addresses(client, shop):
    customer = shop.customer(country=None)
    url = f"/api/customers/{customer['id']}/addresses"
    base = {"line1": "1 Main St", "city": "Springfield"}
    assert error_code(client.post(url, json={**base, "postal_code": "ABCDE", "country": "US"}),
                      400) == "validation_error"
    assert error_code(client.post(url, json={**base, "postal_code": "123", "country": "ZZ"}),
                      400) == "validation_error"
    assert error_code(client.post(url, json={**base, "country": "US"}), 400) == "validation_error"


def test_update_customer_profile(client, shop):
    customer = shop.customer(country=None)
    url = f"/api/customers/{customer['id']}"
    assert error_code(client.patch(url, json={"sms_opt_in": True}), 400) == "validation_error"
    updated = ok(client.patch(url, json={"phone": "+1 (415) 555-0100", "sms_opt_in": True}))
    assert (updated["phone"], updated["sms_opt_in"]) == ("+14155550100", True)
    ok(client.patch(url, json={"status": "closed"}))
    assert error_code(client.patch(url, json={"status": "active"}), 409) == "conflict"
    assert error_code(client.get("/api/customers/999999999"), 404) == "not_found"


def test_list_customers_by_email(client, shop):
    customer = shop.customer(country=None)
    page = ok(client.get("/api/customers", params={"email": customer["email"].upper()}))
    assert page["total"] == 1 and page["items"][0]["id"] == customer["id"]
