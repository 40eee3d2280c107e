from flask import session


def test_greet(client):
    assert client.get("/greet/ada").data == b"howdy ada"


def test_query_string_and_unknown_route(client):
    assert client.get("/greet/ada", query_string={"x": "1"}).status_code == 200
    assert client.get("/nowhere").status_code == 404


def test_rows_the_fixture_inserted_are_served(client):
    assert client.get("/notes").get_json() == ["written by the fixture"]


def test_a_file_a_row_names_relative_to_the_suite_is_served(client):
    assert client.get("/attachments/motd").data == b"closed on sundays\n"


def test_login_session(client):
    response = client.post("/login", data={"user": "ada"})
    assert response.headers["Location"] == "/whoami"
    assert client.get("/whoami").data == b"ada"
    with client:
        client.get("/whoami")
        assert session["user"] == "ada"


def test_redirects_are_followed_by_the_client(client):
    response = client.post("/login", data={"user": "bob"}, follow_redirects=True)
    assert response.data == b"bob"
