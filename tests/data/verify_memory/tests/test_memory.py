import time

from memapp import auth
from memapp.cache import cache


def test_1_login(client):
    assert client.post("/auth/login", params={"user": "alan", "password": "secret"}).status_code == 200


def test_2_throttle_resets_after_success(client):
    """As LNbits' test_login_throttles...: the test reads and rewrites the throttle in its own process."""
    key = auth.throttle_key("alan")
    cache.pop(key)
    try:
        for _ in range(auth.LIMIT):
            assert client.post("/auth/login", params={"user": "alan", "password": "wrong"}).status_code == 401
        assert client.post("/auth/login", params={"user": "alan", "password": "secret"}).status_code == 429
        state = cache.get(key)
        assert state is not None and state["failures"] == auth.LIMIT
        cache.set(key, {**state, "blocked_until": time.time() - 1})
        assert client.post("/auth/login", params={"user": "alan", "password": "secret"}).status_code == 200
    finally:
        cache.pop(key)


def test_3_login_again(client):
    """Passes on its own; in the suite's order, after test 2, only if the throttle it reset is the app's."""
    assert client.post("/auth/login", params={"user": "alan", "password": "secret"}).status_code == 200


def test_4_shop_sees_the_last_login(client):
    """The shop reads what the login route cached: one object on the monolith, two in the split system."""
    assert client.post("/auth/login", params={"user": "bob", "password": "hunter2"}).status_code == 200
    assert client.get("/shop/last-login").json() == {"user": "bob"}


def test_5_items(client):
    assert client.get("/shop/items").json() == [{"id": 1, "name": "book"}]


def test_6_restart_is_asked_for(client):
    """As LNbits' admin tests read lnbits.server.server_restart after the route set it."""
    auth.restart.clear()
    assert client.post("/auth/restart").json() == {"restarting": True}
    assert auth.restart.is_set()
