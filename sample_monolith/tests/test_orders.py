from tests.conftest import error_code, ok


def test_cart_merges_lines_and_removes_items(client, shop):
    mug, plate = shop.product(price_cents=800), shop.product(price_cents=1200)
    order = shop.cart(shop.customer(), (mug, 1))
    assert (order["status"], order["reference"][:4]) == ("cart", "ORD-")
    order = ok(client.post(f"/api/orders/{order['id']}/items",
                           json={"product_id": mug["id"], "quantity": 2}), 201)
    order = ok(client.post(f"/api/orders/{order['id']}/items",
                           json={"product_id": plate["id"], "quantity": 1}), 201)
    assert [(line["product_id"], line["quantity"]) for line in order["lines"]] == [
        (mug["id"], 3), (plate["id"], 1)]
    assert order["subtotal_cents"] == 3 * 800 + 1200
    order = ok(client.delete(f"/api/orders/{order['id']}/items/{order['lines'][0]['id']}"))
    assert order["subtotal_cents"] == 1200 and order["item_count"] == 1


def test_place_order_computes_shipping_and_tax(shop):
    product = shop.product(price_cents=2500, weight_grams=400)
    order = shop.placed_order(shop.customer(), (product, 2))
    assert order["status"] == "placed"
    totals = (order["subtotal_cents"], order["shipping_cents"], order["tax_cents"])
    assert totals == (5000, 649, 466)
    assert order["total_cents"] == 6115 and order["total"] == "$61.15"
    assert order["lines"][0]["tax_cents"] == 413
    assert order["shipping_address"]["postal_code"] == "94107"
    assert (shop.stock(product)["reserved"], shop.stock(product)["available"]) == (2, 8)


def test_free_shipping_and_express(shop):
    product = shop.product(price_cents=2000, weight_grams=400)
    customer = shop.customer()
    free = shop.placed_order(customer, (product, 6))
    assert (free["shipping_cents"], free["tax_cents"], free["total_cents"]) == (0, 990, 12990)
    express = shop.placed_order(customer, (product, 1), shipping_method="express")
    assert express["shipping_cents"] == 1299


def test_international_order_is_tax_free(shop):
    product = shop.product(price_cents=2500, weight_grams=400)
    order = shop.placed_order(shop.customer(country="DE", postal_code="10115"), (product, 1))
    assert (order["shipping_cents"], order["tax_cents"], order["total_cents"]) == (1247, 0, 3747)


def test_out_of_stock_releases_partial_reservations(client, shop):
    plenty, scarce = shop.product(stock=5), shop.product(stock=1)
    order = shop.cart(shop.customer(), (plenty, 1), (scarce, 2))
    response = client.post(f"/api/orders/{order['id']}/place", json={})
    assert error_code(response, 409) == "out_of_stock"
    assert response.json()["error"]["details"] == {
        "product_id": scarce["id"], "requested": 2, "available": 1}
    assert shop.stock(plenty)["available"] == 5
    assert ok(client.get(f"/api/orders/{order['id']}"))["status"] == "cart"


def test_place_order_rejects_bad_states(client, shop):
    customer = shop.customer()
    empty = shop.cart(customer)
    assert error_code(client.post(f"/api/orders/{empty['id']}/place", json={}), 400) \
        == "validation_error"
    order = shop.placed_order(customer, (shop.product(), 1))
    assert error_code(client.post(f"/api/orders/{order['id']}/place", json={}), 409) \
        == "invalid_state"
    assert error_code(client.post(f"/api/orders/{order['id']}/items",
                                  json={"product_id": order["lines"][0]["product_id"],
                                        "quantity": 1}), 409) == "invalid_state"
    no_address = shop.cart(shop.customer(country=None), (shop.product(), 1))
    assert error_code(client.post(f"/api/orders/{no_address['id']}/place", json={}), 400) \
        == "validation_error"
    assert error_code(client.post("/api/orders", json={"customer_id": 999999999}), 404) \
        == "not_found"


def test_checkout_uses_current_price(client, shop):
    product = shop.product(price_cents=1000)
    order = shop.cart(shop.customer(), (product, 1))
    ok(client.patch(f"/api/catalog/products/{product['id']}", json={"price_cents": 1500}))
    order = ok(client.post(f"/api/orders/{order['id']}/place", json={}))
    assert order["lines"][0]["unit_price_cents"] == 1500 and order["subtotal_cents"] == 1500


def test_discontinued_product_cannot_be_ordered(client, shop):
    product = shop.product()
    ok(client.patch(f"/api/catalog/products/{product['id']}", json={"active": False}))
    response = client.post("/api/orders", json={
        "customer_id": shop.customer()["id"],
        "items": [{"product_id": product["id"], "quantity": 1}]})
    assert error_code(response, 400) == "validation_error"


def test_cancel_placed_order_releases_stock(client, shop):
    product = shop.product(stock=4)
    customer = shop.customer()
    order = shop.placed_order(customer, (product, 3))
    cancelled = ok(client.post(f"/api/orders/{order['id']}/cancel", json={"reason": "no"}))
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    assert shop.stock(product)["available"] == 4
    assert shop.templates_sent(customer)[-1] == "order_cancelled"
    assert error_code(client.post(f"/api/orders/{order['id']}/cancel", json={}), 409) \
        == "invalid_state"
    history = ok(client.get(f"/api/orders/{order['id']}/history"))["items"]
    assert [h["to_status"] for h in history] == ["cart", "placed", "cancelled"]


def test_list_orders_by_customer_and_email(client, shop):
    customer = shop.customer()
    first = shop.cart(customer, (shop.product(), 1))
    second = shop.placed_order(customer, (shop.product(), 1))
    by_id = ok(client.get("/api/orders", params={"customer_id": customer["id"]}))
    assert [o["id"] for o in by_id["items"]] == [second["id"], first["id"]]
    by_email = ok(client.get("/api/orders", params={"email": customer["email"], "status": "cart"}))
    assert [o["id"] for o in by_email["items"]] == [first["id"]]
