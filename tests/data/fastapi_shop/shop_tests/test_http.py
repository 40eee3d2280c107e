import uuid


def _sku() -> str:
    return "SKU-" + uuid.uuid4().hex[:8]


def _item(client, price=250, stock=10) -> dict:
    r = client.post("/items", json={"sku": _sku(), "name": "Widget", "price_cents": price, "stock": stock})
    assert r.status_code == 201, r.text
    return r.json()


def _user(client) -> dict:
    r = client.post("/api/users/", json={"email": f"{uuid.uuid4().hex[:6]}@example.com", "name": "Ann"})
    assert r.status_code == 201, r.text
    return r.json()


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_items_crud_and_validation(client):
    item = _item(client)
    assert client.get(f"/items/{item['id']}").json() == item
    assert item["id"] in [i["id"] for i in client.get("/items").json()]
    assert client.post("/items", json={"sku": item["sku"], "name": "x", "price_cents": 1}).status_code == 409
    assert client.post("/items", json={"sku": "", "name": "x", "price_cents": -1}).status_code == 422
    r = client.get("/items/999999")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert client.get("/items/not-a-number").status_code == 422


def test_stock_changes(client):
    item = _item(client, stock=3)
    assert client.post(f"/items/{item['id']}/stock", json={"delta": 2}).json()["stock"] == 5
    assert client.post(f"/items/{item['id']}/stock", json={"delta": -9}).status_code == 409


def test_users(client):
    user = _user(client)
    assert client.get(f"/api/users/{user['id']}").json() == user
    assert client.get("/api/users/999999").status_code == 404


def test_order_prices_lines_and_takes_stock(client):
    user = _user(client)
    a, b = _item(client, price=100, stock=5), _item(client, price=30, stock=5)
    r = client.post("/api/orders", json={"user_id": user["id"], "lines": [
        {"item_id": a["id"], "quantity": 2}, {"item_id": b["id"], "quantity": 1}]})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["total_cents"] == 230
    assert client.get(f"/api/orders/{order['id']}").json() == order
    assert client.get(f"/items/{a['id']}").json()["stock"] == 3


def test_order_errors_come_from_the_other_domains(client):
    item = _item(client, stock=1)
    r = client.post("/api/orders", json={"user_id": 999999, "lines": [{"item_id": item["id"], "quantity": 1}]})
    assert r.status_code == 404 and "user" in r.json()["error"]["message"]
    user = _user(client)
    r = client.post("/api/orders", json={"user_id": user["id"], "lines": [{"item_id": 999999, "quantity": 1}]})
    assert r.status_code == 404 and "item 999999" in r.json()["error"]["message"]
    r = client.post("/api/orders", json={"user_id": user["id"], "lines": [{"item_id": item["id"], "quantity": 5}]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert client.get("/api/orders/999999").status_code == 404
    assert client.get("/nope").status_code == 404
