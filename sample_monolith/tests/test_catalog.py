from tests.conftest import error_code, ok, unique


def test_create_and_get_product_in_category(client, shop):
    category = ok(client.post("/api/catalog/categories",
                              json={"name": unique("Garden Tools")}), 201)
    product = shop.product(price_cents=1999, stock=0, category_id=category["id"],
                           description="Steel spade")
    fetched = ok(client.get(f"/api/catalog/products/{product['id']}"))
    assert fetched["price"] == "$19.99"
    assert fetched["category_id"] == category["id"] and fetched["active"] is True
    assert ok(client.get(f"/api/catalog/categories/{category['id']}"))["product_count"] == 1
    categories = ok(client.get("/api/catalog/categories"))["items"]
    assert category["slug"] in [c["slug"] for c in categories]


def test_decimal_price_and_duplicate_sku(client):
    sku = unique("DUP")
    product = ok(client.post("/api/catalog/products",
                             json={"sku": sku, "name": "Lamp", "price": "12.345"}), 201)
    assert product["price_cents"] == 1235 and product["sku"] == sku.upper()
    again = client.post("/api/catalog/products", json={"sku": sku, "name": "Lamp", "price": "1"})
    assert error_code(again, 409) == "conflict"


def test_invalid_product_payloads(client):
    for payload in ({"sku": unique(), "price": "3.00"},
                    {"sku": unique(), "name": "X", "price": "-1"},
                    {"sku": unique(), "name": "X", "price_cents": 0},
                    {"sku": unique(), "name": "X", "price": "abc"}):
        assert error_code(client.post("/api/catalog/products", json=payload), 400) \
            == "validation_error"
    assert error_code(client.post("/api/catalog/products",
                                  json={"sku": unique(), "name": "X", "price": "1",
                                        "category_id": 10**9}), 404) == "not_found"
    missing = client.get("/api/catalog/products/999999999")
    assert error_code(missing, 404) == "not_found"
    assert missing.json()["error"]["details"]["resource"] == "product"


def test_update_and_deactivate_product(client, shop):
    category = ok(client.post("/api/catalog/categories", json={"name": unique("Lamps")}), 201)
    product = shop.product(price_cents=1000, stock=0, category_id=category["id"])
    updated = ok(client.patch(f"/api/catalog/products/{product['id']}",
                              json={"price": "15.50", "name": "Desk lamp"}))
    assert (updated["price_cents"], updated["name"]) == (1550, "Desk lamp")
    ok(client.patch(f"/api/catalog/products/{product['id']}", json={"active": False}))
    listing = ok(client.get("/api/catalog/products", params={"category_id": category["id"]}))
    assert listing["total"] == 0
    listing = ok(client.get("/api/catalog/products",
                            params={"category_id": category["id"], "include_inactive": "true"}))
    assert [p["id"] for p in listing["items"]] == [product["id"]]


def test_search_ranks_name_matches_first_and_filters_price(client, shop):
    token = unique("zq").replace("-", "")
    in_description = shop.product(price_cents=500, stock=0, name="Plain mug",
                                  description=f"glazed {token} ceramic")
    in_name = shop.product(price_cents=3000, stock=0, name=f"{token} teapot")
    result = ok(client.get("/api/catalog/search", params={"q": token}))
    assert [p["id"] for p in result["items"]] == [in_name["id"], in_description["id"]]
    assert result["items"][0]["score"] > result["items"][1]["score"]
    cheap = ok(client.get("/api/catalog/search", params={"q": token, "max_price_cents": 1000}))
    assert [p["id"] for p in cheap["items"]] == [in_description["id"]]
    by_price = ok(client.get("/api/catalog/search", params={"q": token, "sort": "price_desc"}))
    assert by_price["items"][0]["id"] == in_name["id"]


def test_search_validation(client):
    assert error_code(client.get("/api/catalog/search", params={"q": " "}), 400) \
        == "validation_error"
    assert error_code(client.get("/api/catalog/search", params={"q": "mug", "sort": "x"}), 400) \
        == "validation_error"
