"""A test passing on writes a request left uncommitted in a session its requests share is listed (issue 10).

privacyIDEA 3.14's ``Token.add_tokengroup`` only ``db.session.add``s the association, and
``POST /token/group/<serial>/<group>`` commits nothing after it.  Its suite pushes one app
context per test class, so Flask-SQLAlchemy gives every request of the class one session: the
next request's query autoflushes the association into the same transaction and
``APITokengroupTestCase::test_01_add_tokengroups`` sees it.  In production each request has its own
app context, its session is removed at the end and the write is rolled back; a service of the split
system does the same, and the test fails there.  That is no defect of the cut: the plugin records,
in the monolith run, which requests left writes uncommitted that a later query of the same session
saw, and verify lists the test with that reason.  A real suite (Flask-SQLAlchemy, SQLite) in a
subprocess.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from decompose.runtime.verify import PASSED, TestOutcome, reasons_and_notes, run_suite
from tests.test_verify_flask_g import _write_suite

APP = '''
import flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class Group(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(40), nullable=False)


class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.String(40), nullable=False)


def create_app(uri):
    app = flask.Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    db.init_app(app)

    @app.post("/group/<name>")
    def add_group(name):
        db.session.add(Group(name=name))  # never committed (privacyIDEA's add_tokengroup)
        return "ok"

    @app.post("/flushed/<name>")
    def add_flushed(name):
        db.session.add(Group(name=name))
        db.session.flush()  # in the transaction, still uncommitted
        return "ok"

    @app.post("/note/<text>")
    def add_note(text):
        db.session.add(Note(text=text))
        db.session.commit()
        return "ok"

    @app.post("/later/<text>")
    def add_later(text):
        db.session.add(Note(text=text))  # committed by the teardown below, still the same request
        return "ok"

    @app.teardown_request
    def commit_later(exc):
        if flask.request.path.startswith("/later/"):
            db.session.commit()

    @app.get("/groups")
    def groups():
        return {"groups": [g.name for g in db.session.execute(db.select(Group)).scalars()]}

    @app.get("/notes")
    def notes():
        return {"notes": [n.text for n in db.session.execute(db.select(Note)).scalars()]}

    return app
'''

TESTS = '''
import os
import unittest

from napp.app import Group, create_app, db


class SharedContextCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.app = create_app(os.environ["NAPP_DATABASE"])
        cls.ctx = cls.app.app_context()
        cls.ctx.push()  # one app context, one session, for the whole class (privacyIDEA's base class)
        db.create_all()

    @classmethod
    def tearDownClass(cls):
        db.session.rollback()
        cls.ctx.pop()

    def tearDown(self):
        db.session.rollback()

    def test_1_group_seen_by_the_next_request(self):
        with self.app.test_request_context("/group/g1", method="POST"):
            self.assertEqual(self.app.full_dispatch_request().status_code, 200)
        with self.app.test_request_context("/groups"):
            self.assertEqual(self.app.full_dispatch_request().json["groups"], ["g1"])

    def test_2_flushed_group_seen_by_the_test(self):
        self.assertEqual(self.app.test_client().post("/flushed/g2").status_code, 200)
        self.assertEqual([g.name for g in db.session.execute(db.select(Group)).scalars()], ["g2"])

    def test_3_committed_note(self):
        with self.app.test_request_context("/note/n1", method="POST"):
            self.assertEqual(self.app.full_dispatch_request().status_code, 200)
        with self.app.test_request_context("/notes"):
            self.assertEqual(self.app.full_dispatch_request().json["notes"], ["n1"])

    def test_4_note_committed_in_teardown(self):
        with self.app.test_request_context("/later/n2", method="POST"):
            self.assertEqual(self.app.full_dispatch_request().status_code, 200)
        with self.app.test_request_context("/notes"):
            self.assertEqual(self.app.full_dispatch_request().json["notes"], ["n1", "n2"])

    def test_5_left_but_never_read(self):
        with self.app.test_request_context("/group/g3", method="POST"):
            self.assertEqual(self.app.full_dispatch_request().status_code, 200)
'''


def _monolith_run(tmp_path: Path):
    root = _write_suite(tmp_path, APP, TESTS, package="napp")
    work = tmp_path / "work"
    work.mkdir()
    repo = str(Path(__file__).resolve().parents[1])
    env = {"PYTHONPATH": f"{repo}:{root}", "DECOMPOSE_VERIFY_PACKAGES": "napp",
           "NAPP_DATABASE": f"sqlite:///{tmp_path / 'napp.db'}"}
    run = run_suite("monolith", python=sys.executable, tests=root / "tests", cwd=root, work=work, env=env)
    return {tid.rsplit("::", 1)[1]: t for tid, t in run.tests.items()}, run


def test_writes_a_request_left_uncommitted_and_a_later_query_saw_are_recorded(tmp_path):
    got, run = _monolith_run(tmp_path)
    assert {n: t.outcome for n, t in got.items()} == {
        "test_1_group_seen_by_the_next_request": PASSED, "test_2_flushed_group_seen_by_the_test": PASSED,
        "test_3_committed_note": PASSED, "test_4_note_committed_in_teardown": PASSED,
        "test_5_left_but_never_read": PASSED}, run.log_tail()
    # pending at the end of the request, autoflushed by the next request's query
    assert got["test_1_group_seen_by_the_next_request"].uncommitted == ["POST /group/g1"]
    # flushed inside the request (a client's request, through wsgi_app), read by the test's own query
    assert got["test_2_flushed_group_seen_by_the_test"].uncommitted == ["POST /flushed/g2"]
    # committed by the view, or by the request's own teardown: nothing left
    assert got["test_3_committed_note"].uncommitted == []
    assert got["test_4_note_committed_in_teardown"].uncommitted == []
    # left, but rolled back by the test's tearDown before anything read it
    assert got["test_5_left_but_never_read"].uncommitted == []


def test_a_test_that_fails_on_the_split_system_after_such_writes_is_listed(tmp_path):
    got, _ = _monolith_run(tmp_path)
    mono = got["test_1_group_seen_by_the_next_request"]
    failed = TestOutcome(mono.id, "failed", requests=2, message="AssertionError: [] != ['g1']")
    reasons, _ = reasons_and_notes(mono, failed)
    assert any("POST /group/g1 left uncommitted" in r and "as the monolith does in production" in r
               for r in reasons), reasons
    # passing on the split system too: nothing to explain
    passed = TestOutcome(mono.id, PASSED, requests=2)
    assert not [r for r in reasons_and_notes(mono, passed)[0] if "uncommitted" in r]
    # a test whose requests committed their writes gets no such reason when it fails
    committed = got["test_3_committed_note"]
    assert not [r for r in reasons_and_notes(committed, TestOutcome(committed.id, "failed", requests=2))[0]
                if "uncommitted" in r]


def test_with_containers_the_suites_temporary_folders_are_open_to_the_services(tmp_path):
    """privacyIDEA's CA connector test stores a ``tmp_path`` folder in the database and a service writes
    its certificate requests there: under verify with containers the suite's TMPDIR is a folder mounted at
    the same path in every service, and pytest's 0700 folders and ``tempfile.mkdtemp``'s are opened up."""
    import os
    import stat
    import subprocess

    shared_tmp = tmp_path / "shared" / "tmp"
    shared_tmp.mkdir(parents=True)
    (tmp_path / "test_tmp.py").write_text(textwrap.dedent('''
        import os, stat, tempfile

        def mode(p):
            return stat.S_IMODE(os.stat(p).st_mode)

        def test_folders(tmp_path):
            assert str(tmp_path).startswith(os.environ["TMPDIR"])
            assert mode(tmp_path) == 0o777 and mode(tmp_path.parent) == 0o777
            (tmp_path / "ca").mkdir()
            assert mode(tmp_path / "ca") == 0o777  # the umask is cleared: what the test makes is open too
            made = tempfile.mkdtemp()
            assert mode(made) == 0o777
        '''))
    repo = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": repo, "TMPDIR": str(shared_tmp), "DECOMPOSE_VERIFY_MODE": "split",
           "DECOMPOSE_VERIFY_URL": "http://127.0.0.1:9"}

    def suite(containers: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                               "decompose.runtime.verify_plugin", "test_tmp.py"], cwd=tmp_path,
                              env={**env, "DECOMPOSE_VERIFY_CONTAINERS": containers},
                              capture_output=True, text=True, timeout=120)

    run = suite("1")
    assert run.returncode == 0, run.stdout + run.stderr
    # without containers (local services share the host's folders) nothing is changed
    run = suite("")
    assert run.returncode == 1 and "448 == 511" in run.stdout, run.stdout[-2000:]  # 0o700, not 0o777
    assert stat.S_IMODE(os.stat(shared_tmp).st_mode) in (0o755, 0o775, 0o777)
