from unittest import mock

import mock as mock_backport  # the backport, as privacyIDEA's suite imports it


def test_greeting_patched(client):
    with mock.patch("vapp.words.greeting", return_value="patched"):
        assert client.get("/greet/ada").data == b"patched"


def test_greeting_patched_with_the_backport(client):
    with mock_backport.patch("vapp.words.greeting", return_value="patched"):
        assert client.get("/greet/ada").data == b"patched"


def test_greeting_replaced_with_testfixtures(client):
    from testfixtures import Replace  # privacyIDEA's Replace('privacyidea.models.utils.datetime', ...)

    with Replace("vapp.words.greeting", lambda name: "replaced"):
        assert client.get("/greet/ada").data == b"replaced"
