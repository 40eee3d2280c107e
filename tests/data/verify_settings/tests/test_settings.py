from setapp.settings import Method, settings


def test_signup_is_closed_by_default(client):
    assert client.post("/accounts/signup", params={"name": "bob"}).status_code == 403


def test_signup_opened_by_a_fixture(client, open_signup):
    r = client.post("/accounts/signup", params={"name": "ada"})
    assert r.status_code == 200
    # the accounts service reads the news service's headline: both see the suite's settings
    assert r.json() == {"name": "ada", "admin": True, "welcome": "WELCOME ABOARD"}


def test_a_setting_changed_by_the_test_itself(client):
    settings.motd = "changed"
    assert client.get("/news/motd").json() == {"motd": "changed"}


def test_a_setting_the_app_changes_is_what_the_test_reads(client):
    assert client.put("/news/motd", params={"text": "new"}).json() == {"motd": "new"}
    assert settings.motd == "new"
    # and what the app reads elsewhere (split: the accounts service)
    assert client.get("/accounts/motd").json() == {"motd": "new"}


def test_a_setting_changed_in_a_call_between_services(client):
    assert client.post("/accounts/announce", params={"text": "via rpc"}).json() == {"motd": "via rpc"}
    assert settings.motd == "via rpc"
    assert client.get("/news/motd").json() == {"motd": "via rpc"}


def test_settings_are_back_to_the_apps_own_after_a_test_changed_them(client):
    assert client.get("/news/motd").json() == {"motd": "hello"}
    assert client.post("/accounts/signup", params={"name": "bob"}).status_code == 403


def test_the_app_sees_the_test_client_s_address(client):
    # TestClient's scope names the client "testclient" (on the split system: not the gateway)
    assert client.get("/news/client").json() == {"host": "testclient"}


def test_an_enum_list_setting(client):
    assert client.post("/accounts/login", params={"method": "token"}).status_code == 403
    settings.methods = [Method.password, Method.token]
    assert client.post("/accounts/login", params={"method": "token"}).status_code == 200
