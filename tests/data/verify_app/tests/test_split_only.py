from vapp import count


def test_counter_global(client):
    before = count.COUNTER
    assert client.post("/count").status_code == 200
    assert count.COUNTER == before + 1  # holds only when the request ran in this process


def test_counter_global_dispatched(app):
    before = count.COUNTER
    with app.test_request_context("/count", method="POST"):
        assert app.full_dispatch_request().status_code == 200
    assert count.COUNTER == before + 1  # holds only when the request was dispatched in this process
