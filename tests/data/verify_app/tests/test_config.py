"""A key of the app's configuration that a test sets in its process (privacyIDEA's
``app.config['APP_READY'] = False``): on the split system the services read it too."""


def test_a_config_key_the_test_sets_is_what_the_services_read(app, client):
    assert client.get("/mode").json == {"shout": False}
    assert client.get("/config/vapp").json == {}
    app.config["SHOUT"] = True
    assert client.get("/mode").json == {"shout": True}


def test_the_app_iterating_its_config_sees_the_keys_a_test_set(app, client):
    assert client.get("/config/vapp").json == {}
    app.config["VAPP_REPORT_KEY"] = "shown"
    app.config["VAPP_REPORT_PATH"] = "/opt/hsm/module.so"  # a path, no file: a value as any other
    assert client.get("/config/vapp").json == {"VAPP_REPORT_KEY": "shown", "VAPP_REPORT_PATH": "/opt/hsm/module.so"}


def test_the_next_test_has_the_apps_own_configuration_again(client):
    assert client.get("/mode").json == {"shout": False}
    assert client.get("/config/vapp").json == {}
