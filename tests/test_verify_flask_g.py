"""Request-scoped state the app keeps in ``flask.g`` is reset after each answer of the split system (issue 10).

privacyIDEA 3.14 keeps a snapshot of its configuration in ``g`` (``get_config_object()``,
``lib/config.py``); its ``before_request`` drops it, and so does saving the config.  Its
suite pushes one app context per test class (``setUpClass``), so one ``g`` lives through
every request of the class.  Routed to the split system those requests ran in a service,
nothing dropped the test process's snapshot, and ``test_11_import_policy`` read the
policies of an earlier test: ``[]``, then 403 for every later test of the class.  A real
suite in a subprocess, with the split mode's routing to a real HTTP server standing in for
the gateway (it changes the value as a service would).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from decompose.runtime.verify import run_suite
from tests.generate_support import StandInGateway

APP = '''
import flask
from pathlib import Path

STATE = Path(__file__).with_name("state.txt")


def snapshot():
    """The app's per-request cache of its configuration, kept in g (privacyIDEA's request-local store)."""
    if "snapshot" not in flask.g:
        flask.g.snapshot = STATE.read_text()
    return flask.g.snapshot


def create_app():
    app = flask.Flask(__name__)

    @app.before_request
    def fresh():
        flask.g.pop("snapshot", None)

    @app.post("/config")
    def write():
        STATE.write_text(flask.request.get_data(as_text=True))
        flask.g.pop("snapshot", None)
        return "ok"

    return app
'''

TESTS = '''
import unittest

import flask

from gapp.app import create_app, snapshot


class ConfigCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.app = create_app()
        cls.ctx = cls.app.app_context()
        cls.ctx.push()  # one app context, one g, for the whole class

    @classmethod
    def tearDownClass(cls):
        cls.ctx.pop()

    def test_config_read_after_a_write_is_the_new_one(self):
        self.assertEqual(snapshot(), "one")
        flask.g.mine = "kept"  # the test's own name on g
        response = self.app.test_client().post("/config", data="two")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(snapshot(), "two")
        self.assertEqual(flask.g.mine, "kept")
'''


def _write_suite(tmp_path: Path, app_source: str, tests_source: str, package: str = "gapp") -> Path:
    """The monolith ``package`` (``<package>/app.py``) and its suite (``tests/test_it.py``) under ``tmp_path/mono``."""
    root = tmp_path / "mono"
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / "app.py").write_text(textwrap.dedent(app_source))
    (root / "tests").mkdir()
    (root / "tests" / "test_it.py").write_text(textwrap.dedent(tests_source))
    return root


@pytest.fixture
def suite(tmp_path):
    root = _write_suite(tmp_path, APP, TESTS)
    state = root / "gapp" / "state.txt"
    state.write_text("one")
    return root, state


@pytest.fixture
def gateway(suite):
    """The split system's gateway: writes the state as the service would."""
    _, state = suite
    with StandInGateway(lambda body: state.write_text(body.decode())) as server:
        yield server.url


def _run(root: Path, tmp_path: Path, side: str, env: dict):
    work = tmp_path / f"work-{side}"
    work.mkdir()
    repo = str(Path(__file__).resolve().parents[1])
    env = {"PYTHONPATH": f"{repo}:{root}", "DECOMPOSE_VERIFY_PACKAGES": "gapp", **env}
    return run_suite(side, python=sys.executable, tests=root / "tests", cwd=root, work=work, env=env)


def test_app_state_in_g_is_reset_after_the_split_system_answers(suite, gateway, tmp_path):
    root, state = suite
    mono = _run(root, tmp_path, "monolith", {})
    assert [t.outcome for t in mono.tests.values()] == ["passed"], mono.log_tail()
    state.write_text("one")
    split = _run(root, tmp_path, "split", {"DECOMPOSE_VERIFY_URL": gateway})
    [test] = split.tests.values()
    assert test.outcome == "passed", (test.message, split.log_tail())
    assert test.requests == 1 and state.read_text() == "two"  # the request went to the gateway


CARRIED_APP = '''
import flask


def store():
    """A request-local store made when missing (privacyIDEA's get_request_local_store)."""
    if "_store" not in flask.g:
        flask.g._store = {}
    return flask.g._store


def create_app():
    app = flask.Flask(__name__)

    @app.post("/token")
    def token():
        flask.g.serial = "T1"  # set by this request only
        store()["hits"] = 1
        flask.g.cache = "warm"
        return "ok"

    @app.post("/user")
    def user():
        note = getattr(flask.g, "note", None)  # a guarded read: fine on a fresh g too
        cache = flask.g.cache if hasattr(flask.g, "cache") else None  # so is this one
        store()
        return {"serial": flask.g.serial, "note": note, "cache": cache}  # privacyIDEA's Match.admin reads g.serial so

    return app
'''

CARRIED_TESTS = '''
import unittest

import flask

from gapp.app import create_app


class UserCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.app = create_app()
        cls.ctx = cls.app.app_context()
        cls.ctx.push()

    @classmethod
    def tearDownClass(cls):
        cls.ctx.pop()

    def test_1_token(self):
        flask.g.note = "from the test"
        with self.app.test_request_context("/token", method="POST"):
            self.assertEqual(self.app.full_dispatch_request().status_code, 200)

    def test_2_user(self):
        with self.app.test_request_context("/user", method="POST"):
            self.assertEqual(self.app.full_dispatch_request().json["serial"], "T1")
'''


def test_a_request_reading_g_state_an_earlier_request_left_is_listed(tmp_path):
    """privacyIDEA's ``APIUsersTestCase::test_10``: ``POST /user/`` reads ``g.serial``, which an earlier
    request of the class set in the class's one app context; on a service the request's g is empty
    (500), the test failed before deleting its admin policy, and the class's later tests got 403."""
    from decompose.runtime.verify import TestOutcome, reasons_and_notes

    root = _write_suite(tmp_path, CARRIED_APP, CARRIED_TESTS)
    mono = _run(root, tmp_path, "monolith", {})
    got = {tid.rsplit("::", 1)[1]: t for tid, t in mono.tests.items()}
    assert [got[n].outcome for n in ("test_1_token", "test_2_user")] == ["passed", "passed"], mono.log_tail()
    assert got["test_1_token"].g_carried == []
    # not "note" (read with getattr(g, name, default)), "cache" (after hasattr) or "_store" (made when
    # missing): the request copes with a g without them
    assert got["test_2_user"].g_carried == ["serial"]
    failed = TestOutcome(got["test_2_user"].id, "failed", requests=1)
    reasons, _ = reasons_and_notes(got["test_2_user"], failed)
    assert any("g.serial" in r and "a service's request starts with an empty g" in r for r in reasons), reasons
    passed = TestOutcome(got["test_2_user"].id, "passed", requests=1)
    assert not [r for r in reasons_and_notes(got["test_2_user"], passed)[0] if "g.serial" in r]
