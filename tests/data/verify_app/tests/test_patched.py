from unittest import mock


def test_greeting_patched(client):
    with mock.patch("vapp.words.greeting", return_value="patched"):
        assert client.get("/greet/ada").data == b"patched"
