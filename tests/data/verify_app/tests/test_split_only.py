from vapp import count


def test_counter_global(client):
    before = count.COUNTER
    assert client.post("/count").status_code == 200
    assert count.COUNTER == before + 1  # holds only when the request ran in this process
