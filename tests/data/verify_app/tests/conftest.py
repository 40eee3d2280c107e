import os
import tempfile

import pytest

from vapp import create_app
from vapp.db import get_db, init_db


@pytest.fixture
def app():
    fd, path = tempfile.mkstemp()
    # SALUTATIONS: a data file of the suite, named relative to where pytest runs; the services
    # (which hold no tests/ folder) must read it too
    app = create_app({"TESTING": True, "DATABASE": path, "SALUTATIONS": "tests/salutations.txt"})
    with app.app_context():
        init_db()
        db = get_db()
        db.execute("INSERT INTO note (body) VALUES ('written by the fixture')")
        # a row naming a file of the suite relative to where pytest runs (privacyIDEA's resolvers
        # store "tests/testdata/passwords" so): the services must find it at that path too
        db.execute("INSERT INTO attachment (name, path) VALUES ('motd', 'tests/motd.txt')")
        db.commit()
    yield app
    os.close(fd)
    os.unlink(path)


@pytest.fixture
def client(app):
    return app.test_client()
