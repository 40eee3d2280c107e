"""Requests a test builds with ``app.test_request_context`` and dispatches in process
(``app.full_dispatch_request()``), as privacyIDEA's API suite does: requests to the app."""


def test_dispatch_in_a_request_context(app):
    with app.test_request_context("/greet/ada", method="GET", query_string={"x": "1"}):
        res = app.full_dispatch_request()
        assert res.status_code == 200 and res.data == b"howdy ada"


def test_dispatch_posts_a_form(app):
    with app.test_request_context("/login", method="POST", data={"user": "eve"}):
        res = app.full_dispatch_request()
        assert res.status_code == 302 and res.headers["Location"] == "/whoami"


def test_dispatch_reads_the_rows_the_fixture_inserted(app):
    with app.test_request_context("/notes", headers={"Accept": "application/json"}):
        assert app.full_dispatch_request().get_json() == ["written by the fixture"]


def test_dispatch_leaves_what_the_request_set_in_g(app):
    # privacyIDEA's `self.app_context.g.audit_object` after a dispatch: the request context
    # reuses the app context the test pushed, so the app's before_request fills the test's g
    with app.app_context() as ctx:
        with app.test_request_context("/greet/ada"):
            app.full_dispatch_request()
        assert ctx.g.handled_by == "vapp"


def test_the_app_sees_the_client_address_the_request_has(app):
    # a request context of its own has no REMOTE_ADDR (on the split system: not the gateway's)
    with app.test_request_context("/client"):
        assert app.full_dispatch_request().get_json() == {"remote_addr": None, "forwarded": None, "remote_user": None}
    # privacyIDEA's REMOTE_USER tests: the user a web server in front authenticated
    with app.test_request_context("/client", environ_base={"REMOTE_USER": "cornelius"}):
        assert app.full_dispatch_request().get_json()["remote_user"] == "cornelius"
    client = app.test_client()
    assert client.get("/client").get_json() == {"remote_addr": "127.0.0.1", "forwarded": None, "remote_user": None}
    got = client.get("/client", environ_base={"REMOTE_ADDR": "10.1.2.3"}, headers={"X-Forwarded-For": "192.0.2.1"})
    assert got.get_json() == {"remote_addr": "10.1.2.3", "forwarded": "192.0.2.1", "remote_user": None}
