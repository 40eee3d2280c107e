"""End-to-end HTTP fixtures.

With ``SHOP_BASE_URL`` set the tests talk to a running server through httpx;
otherwise they drive an in-process app on a fresh SQLite database. Tests create
their own data and never assume empty tables or particular ids."""

from __future__ import annotations

import os
import tempfile
import uuid

import pytest

VALID_CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39"}
DECLINED_CARD = {"card_number": "4000000000000002", "expiry": "12/39"}


class InProcessResponse:
    def __init__(self, response) -> None:
        self._response = response
        self.status_code = response.status_code

    def json(self):
        return self._response.get_json()

    @property
    def text(self) -> str:
        return self._response.get_data(as_text=True)


class InProcessClient:
    """The subset of ``httpx.Client`` the tests use, backed by Flask's test client."""

    def __init__(self, app) -> None:
        self._client = app.test_client()

    def request(self, method: str, path: str, json=None, params=None) -> InProcessResponse:
        return InProcessResponse(self._client.open(path, method=method, json=json,
                                                   query_string=params))

    def get(self, path, params=None):
        return self.request("GET", path, params=params)

    def post(self, path, json=None, params=None):
        return self.request("POST", path, json=json, params=params)

    def put(self, path, json=None, params=None):
        return self.request("PUT", path, json=json, params=params)

    def patch(self, path, json=None, params=None):
        return self.request("PATCH", path, json=json, params=params)

    def delete(self, path, params=None):
        return self.request("DELETE", path, params=params)


@pytest.fixture(scope="session")
def client():
    base_url = os.environ.get("SHOP_BASE_URL")
    if base_url:
        import httpx

        with httpx.Client(base_url=base_url, timeout=30) as http:
            yield http
        return
    from shop import db
    from shop.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(database_url=f"sqlite:///{tmp}/shop-test.db")
        yield InProcessClient(app)
        db.shutdown_session()
        db.get_engine().dispose()


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ok(response, status: int = 200):
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def error_code(response, status: int) -> str:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()["error"]["code"]


class ShopDriver:
    """Builds test data through the public API."""

    def __init__(self, client) -> None:
        self.client = client

    def product(self, price_cents=2500, stock=10, weight_grams=400, **fields) -> dict:
        payload = {"sku": unique("SKU"), "name": fields.pop("name", unique("Widget")),
                   "price_cents": price_cents, "weight_grams": weight_grams, **fields}
        product = ok(self.client.post("/api/catalog/products", json=payload), 201)
        if stock:
            ok(self.client.post(f"/api/inventory/stock/{product['id']}/adjust",
                                json={"delta": stock, "reason": "restock"}))
        return product

    def customer(self, country="US", postal_code="94107", email=None, **fields) -> dict:
        payload = {"email": email or f"{unique('buyer')}@example.com",
                   "full_name": fields.pop("full_name", "Ada Lovelace"), **fields}
        customer = ok(self.client.post("/api/customers", json=payload), 201)
        if country:
            customer["address"] = ok(self.client.post(
                f"/api/customers/{customer['id']}/addresses",
                json={"line1": "1 Market St", "city": "Springfield",
                      "postal_code": postal_code, "country": country}), 201)
        return customer

    def cart(self, customer, *lines) -> dict:
        items = [{"product_id": product["id"], "quantity": qty} for product, qty in lines]
        return ok(self.client.post("/api/orders", json={"customer_id": customer["id"],
                                                         "items": items}), 201)

    def placed_order(self, customer, *lines, shipping_method="standard") -> dict:
        order = self.cart(customer, *lines)
        return ok(self.client.post(f"/api/orders/{order['id']}/place",
                                   json={"shipping_method": shipping_method}))

    def paid_order(self, customer, *lines) -> tuple[dict, dict]:
        order = self.placed_order(customer, *lines)
        result = ok(self.client.post(f"/api/orders/{order['id']}/pay",
                                     json={"method": "card", "details": VALID_CARD}))
        return result["order"], result["payment"]

    def shipped_order(self, customer, *lines) -> tuple[dict, dict]:
        order, _ = self.paid_order(customer, *lines)
        result = ok(self.client.post(f"/api/orders/{order['id']}/ship"), 201)
        return result["order"], result["shipment"]

    def stock(self, product) -> dict:
        return ok(self.client.get(f"/api/inventory/stock/{product['id']}"))

    def templates_sent(self, customer) -> list[str]:
        page = ok(self.client.get("/api/notifications", params={
            "customer_id": customer["id"], "per_page": 100}))
        return [n["template"] for n in reversed(page["items"]) if n["channel"] == "email"]


@pytest.fixture
def shop(client) -> ShopDriver:
    return ShopDriver(client)
