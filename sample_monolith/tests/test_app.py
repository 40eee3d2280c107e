from tests.conftest import error_code, ok


def test_health(client):
    assert ok(client.get("/health"))["status"] == "ok"


def test_unknown_route_returns_json_404(client):
    assert error_code(client.get("/api/nope"), 404) == "not_found"


def test_wrong_method_returns_json_405(client):
    assert error_code(client.delete("/api/catalog/categories"), 405) == "method_not_allowed"


def test_non_json_body_is_rejected(client):
    assert error_code(client.post("/api/customers"), 400) == "validation_error"
