"""`decompose verify`: the monolith's own suite on the monolith and on the split system.

* pure parts: cookies after a response, the request target of a WSGI environ,
  the settings naming a database, classification and verdicts;
* the generated ``decompose_rt/verify_config.py`` forcing Flask config keys
  (in a subprocess: it patches Flask);
* the fixture app ``tests/data/verify_app`` end to end with ``--local``: a test
  that mock.patches an app function is classified, one that calls the app
  directly is in-process only, one whose expectation holds only in process is a
  regression (exit status 1), rows a fixture inserts are seen by the services
  (and are not with ``--database generated``);
* flaskr (Flask's tutorial, from the flask sdist on PyPI, cached by
  ``benchmarks.corpus``) planned by hand into ``auth`` and ``blog``: 24/24 on
  both sides with ``--local`` and with Docker;
* sample_monolith: 48/48 on both sides with ``--local``;
* Django's test ``Client`` sent to a gateway, and a ``TestCase``'s rows committed to the
  services' database (subprocesses: they patch Django).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from decompose.generation.verify_keys import database_keys, form_of, names_database
from decompose.runtime import verify_plugin as plugin
from decompose.runtime.verify import (
    CLASSIFIED, REGRESSION, SAME, SPLIT_ONLY, SuiteRun, TestOutcome, app_packages, compare, reasons_and_notes,
    suite_root, verdict,
)
from tests.cli_command import decompose_cli

REPO = Path(__file__).resolve().parent.parent
FIXTURE_APP = REPO / "tests" / "data" / "verify_app"
SAMPLE = REPO / "sample_monolith"


def cli(*args: str, cwd: Path = REPO, timeout: float = 1800) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    argv = [str(a) for a in args]
    if argv and argv[0] == "verify" and "--python" not in argv:
        # The CLI under test may be a wheel in its own venv (CI): the suites and
        # the local services run in this test environment, as a user names theirs.
        at = argv.index("--") if "--" in argv else len(argv)
        argv[at:at] = ["--python", sys.executable]
    return subprocess.run([*decompose_cli(), *argv], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=cwd)


def check(r: subprocess.CompletedProcess, *codes: int) -> subprocess.CompletedProcess:
    assert r.returncode in (codes or (0,)), f"exit {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-6000:]}"
    return r


def verify_json(out: Path, tests: Path, *extra: str, code: int | tuple[int, ...] = 0) -> dict:
    r = check(cli("verify", out, "--tests", tests, "--format", "json", *extra),
              *((code,) if isinstance(code, int) else code))
    return json.loads(r.stdout)


def rows(report: dict) -> dict[str, dict]:
    return {t["id"]: t for t in report["tests"]}


# --------------------------------------------------------------------------- pure parts


def test_another_interpreter_gets_a_copy_of_the_plugin_even_a_venv_of_the_same_binary(tmp_path):
    """A virtualenv's python resolves to the very binary running decompose, yet cannot
    import decompose: it must get the stdlib-only copy of the plugin (it did not: pytest
    exited 4, 'Error importing plugin "decompose.runtime.verify_plugin"')."""
    import venv

    from decompose.runtime.verify import PLUGIN, PLUGIN_COPY, plugin_args

    venv.create(tmp_path / "venv", with_pip=False, symlinks=True)
    py = tmp_path / "venv" / "bin" / "python"
    args, env = plugin_args(str(py), tmp_path / "work")
    assert args == ["-p", PLUGIN_COPY] and (Path(env["PYTHONPATH"]) / f"{PLUGIN_COPY}.py").is_file()
    found = subprocess.run([str(py), "-c", f"import {PLUGIN_COPY}"], env={**os.environ, **env},
                           capture_output=True, text=True)
    assert "No module named 'pytest'" in found.stderr  # the copy is found; the bare venv has no pytest
    assert plugin_args(sys.executable, tmp_path / "work") == (["-p", PLUGIN], {})


def test_cookies_after_a_response_are_set_replaced_and_deleted():
    merged = plugin.merge_cookies("a=1; session=old", [
        "session=new; HttpOnly; Path=/",
        "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/",
        "b=2; Max-Age=60",
    ])
    assert merged == "session=new; b=2"
    assert plugin.merge_cookies("", ['s="x.y"; Path=/']) == 's="x.y"'


def test_request_target_keeps_the_query_string_and_quotes_the_path():
    environ = {"PATH_INFO": "/a b/ü".encode().decode("latin-1"), "QUERY_STRING": "x=1&y=%20", "SCRIPT_NAME": "",
               "REQUEST_URI": "/a b/ü"}  # Werkzeug's REQUEST_URI has neither quoting nor the query
    assert plugin.request_target(environ) == "/a%20b/%C3%BC?x=1&y=%20"


_DJANGO_CLIENT = textwrap.dedent("""
    import json, os, sys, threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(302)
            self.send_header("Location", "/done/?form=" + str(b"name=\\"u\\"" in body))
            self.send_header("Set-Cookie", "sessionid=abc; Path=/; HttpOnly")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            data = json.dumps({"path": self.path, "cookie": self.headers.get("Cookie")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Served-By", "gateway")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ.update(DECOMPOSE_VERIFY_MODE="split", DECOMPOSE_VERIFY_URL=f"http://127.0.0.1:{server.server_port}")

    import django
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import re_path

    urlpatterns = [re_path(".*", lambda request: HttpResponse("in process"))]
    settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"])
    django.setup()
    import decompose.runtime.verify_plugin  # noqa: F401 - what pytest -p loads under verify
    from django.test import Client

    client = Client()
    response = client.post("/login/", {"u": "x"}, follow=True)
    print(json.dumps({"status": response.status_code, "chain": response.redirect_chain, "json": response.json(),
                      "served_by": response["X-Served-By"], "cookie": client.cookies["sessionid"].value}))
""")


def test_django_test_client_goes_to_the_gateway_with_its_form_cookies_and_redirects(tmp_path):
    pytest.importorskip("django")
    script = tmp_path / "client.py"
    script.write_text(_DJANGO_CLIENT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "status": 200, "chain": [["/done/?form=True", 302]], "served_by": "gateway", "cookie": "abc",
        "json": {"path": "/done/?form=True", "cookie": "sessionid=abc"},
    }


_DJANGO_SUITE = {
    "conftest.py": """
        import django
        import pytest
        from django.conf import settings


        def pytest_configure():  # what pytest-django does with --ds
            settings.configure(SECRET_KEY="x", USE_TZ=True, ROOT_URLCONF="conftest", ALLOWED_HOSTS=["*"],
                               INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
                               DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
            django.setup()


        urlpatterns = []


        @pytest.fixture(scope="session", autouse=True)
        def test_database():
            from django.db import connection
            from django.test.utils import setup_test_environment

            setup_test_environment()
            connection.creation.create_test_db(verbosity=0)
    """,
    "test_rows.py": """
        import os
        import sqlite3

        from django.contrib.auth.models import User
        from django.test import TestCase


        class Rows(TestCase):
            @classmethod
            def setUpTestData(cls):
                User.objects.create(username="fixture")

            def test_a_row_is_seen_by_another_connection(self):
                User.objects.create(username="alice")
                other = sqlite3.connect(os.environ["DECOMPOSE_DATABASE"])
                assert sorted(r[0] for r in other.execute("select username from auth_user")) == ["alice", "fixture"]

            def test_b_rows_of_the_test_before_are_gone(self):
                assert list(User.objects.values_list("username", flat=True)) == ["fixture"]
    """,
}


@pytest.mark.parametrize("mode, outcome", [("split", "2 passed"), ("monolith", "1 failed, 1 passed")])
def test_django_testcase_rows_are_committed_to_the_services_database_under_verify(tmp_path, mode, outcome):
    """In the split system's run, a Django TestCase's rows reach the services' SQLite file and are flushed after
    each test; in the monolith's run they stay in the test's transaction on Django's own test database."""
    pytest.importorskip("django")
    for name, text in _DJANGO_SUITE.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
    env.update(DECOMPOSE_VERIFY_MODE=mode, DECOMPOSE_VERIFY_URL="http://127.0.0.1:9",
               DECOMPOSE_DATABASE=str(tmp_path / "db.sqlite3"),
               PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), str(tmp_path)]))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                           "decompose.runtime.verify_plugin", "test_rows.py"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert outcome in proc.stdout.splitlines()[-1], proc.stdout + proc.stderr


def test_the_suite_apps_configuration_goes_to_the_services_with_copies_of_its_files_for_containers(tmp_path):
    from decompose.runtime.verify import write_app_config

    results, shared = tmp_path / "monolith-results", tmp_path / "shared"
    results.mkdir()
    key = tmp_path / "suite" / "testdata" / "private.pem"
    key.parent.mkdir(parents=True)
    key.write_text("KEY")
    (results / "app-config-41.json").write_text(json.dumps({
        "PI_AUDIT_KEY_PRIVATE": str(key), "TESTING": True, "WTF_CSRF_ENABLED": False, "SERVER_NAME": "localhost",
        "PI_LOGCONFIG": "/nowhere/log.cfg", "NESTED": {"keys": [str(key)]}}))
    keys, warnings = write_app_config(shared, results, containers=True)
    got = json.loads((shared / "app-config.json").read_text())
    # the test process's own serving (SERVER_NAME) is not the services'; a named file is copied once
    assert keys == 5 and warnings == [] and "SERVER_NAME" not in got
    assert got["PI_AUDIT_KEY_PRIVATE"] == "/decompose-verify/files/0/private.pem" == got["NESTED"]["keys"][0]
    assert (shared / "files" / "0" / "private.pem").read_text() == "KEY"
    assert got["PI_LOGCONFIG"] == "/nowhere/log.cfg" and got["TESTING"] is True and got["WTF_CSRF_ENABLED"] is False
    # a second verify on the same folder (a system kept running) copies them afresh, folders too
    gpg = tmp_path / "suite" / "testdata" / "gpg"
    gpg.mkdir()
    (gpg / "pubring.kbx").write_text("RING")
    (results / "app-config-41.json").write_text(json.dumps({"PI_AUDIT_KEY_PRIVATE": str(key), "PI_GNUPG_HOME": str(gpg)}))
    assert write_app_config(shared, results, containers=True) == (2, [])
    key.write_text("KEY2")
    (gpg / "pubring.kbx").write_text("RING2")
    assert write_app_config(shared, results, containers=True) == (2, [])
    got = json.loads((shared / "app-config.json").read_text())
    assert Path(got["PI_GNUPG_HOME"].replace("/decompose-verify", str(shared))).joinpath("pubring.kbx").read_text() == "RING2"
    assert Path(got["PI_AUDIT_KEY_PRIVATE"].replace("/decompose-verify", str(shared))).read_text() == "KEY2"
    # local services read the host's files where they are
    write_app_config(tmp_path / "local", results, containers=False)
    assert json.loads((tmp_path / "local" / "app-config.json").read_text())["PI_AUDIT_KEY_PRIVATE"] == str(key)
    # no app served a request on the monolith: nothing to take on
    assert write_app_config(tmp_path / "none", tmp_path / "empty", containers=True) == (0, [])


def test_xdist_arguments_are_recognised_for_the_serial_split_run():
    from decompose.runtime.verify import distributes

    assert distributes(["-q", "-n", "2", "--dist", "loadfile"]) and distributes(["-nauto"])
    assert distributes(["--numprocesses=4"]) and distributes(["--numprocesses", "auto"])
    assert not distributes(["-n", "0"]) and not distributes(["-q", "-k", "login"]) and not distributes(["--noconftest"])


def test_settings_naming_a_database():
    assert all(names_database(n) for n in ("DATABASE", "DB", "APP_DATABASE", "DATABASE_URL", "SQLALCHEMY_DATABASE_URI",
                                          "SHOP_DATABASE_URL", "DB_PATH", "SQLALCHEMY_BINDS"))
    assert not any(names_database(n) for n in ("DB_HOST", "DATABASE_POOL_SIZE", "SQLALCHEMY_ECHO", "DEBUG"))
    assert (form_of("DATABASE"), form_of("DATABASE_URL"), form_of("SQLALCHEMY_BINDS")) == ("path", "url", "binds")
    flaskr_db = 'g.db = sqlite3.connect(current_app.config["DATABASE"])\n'
    factory = 'app.config.from_mapping(SECRET_KEY="dev", DATABASE=os.path.join(app.instance_path, "x"))\n'
    env = 'url = os.environ.get("APP_DB_URL") or os.getenv("DB_HOST")\n'
    keys = database_keys({"a.db": flaskr_db, "a": factory, "a.settings": env}, database_env="DATABASE_URL")
    assert keys["config"] == {"DATABASE": "path", "SQLALCHEMY_BINDS": "binds", "SQLALCHEMY_DATABASE_URI": "url"}
    assert keys["env"] == {"APP_DB_URL": "url", "DATABASE_URL": "url"}
    assert database_keys({"a": env}, flask=False)["config"] == {}


def _outcome(tid: str, outcome: str, requests: int = 1, **kw) -> TestOutcome:
    return TestOutcome(id=tid, outcome=outcome, requests=requests, **kw)


def test_classification_and_verdicts():
    assert verdict("passed", "passed", False) == SAME
    assert verdict("passed", "failed", False) == REGRESSION
    assert verdict("passed", "not run", False) == REGRESSION
    assert verdict("passed", "failed", True) == CLASSIFIED
    assert verdict("failed", "passed", False) == SPLIT_ONLY
    patched = _outcome("t", "passed", app_patches=["shop.pay.charge (mock.patch)"])
    reasons, _ = reasons_and_notes(patched, _outcome("t", "failed"))
    assert reasons and "shop.pay.charge (mock.patch)" in reasons[0]
    reasons, _ = reasons_and_notes(_outcome("t", "passed", requests=0, direct_calls={"shop.x.f": 2}),
                                   _outcome("t", "passed", requests=0))
    assert reasons == ["in-process only: made no request through a client of the app (calls shop.x.f directly); "
                       "it tests code in the test process, not the split system"]
    # requests on the monolith: not in-process only, even when the split run failed before making any
    assert reasons_and_notes(_outcome("t", "passed"), _outcome("t", "error", requests=0)) == ([], [])
    reasons, notes = reasons_and_notes(_outcome("t", "passed", env_patches=["monkeypatch.setenv TZ"]), None)
    assert reasons == [] and "monkeypatch.setenv TZ" in notes[0]

    def run(side, tests):
        return SuiteRun(side, {t.id: t for t in tests}, 0, 1.0, Path("/dev/null"), [])

    table = compare(run("monolith", [_outcome("a", "passed"), _outcome("b", "passed"), _outcome("c", "passed")]),
                    run("split", [_outcome("a", "passed"), _outcome("b", "failed", message="boom")]))
    assert [(r.id, r.verdict, r.split, r.message) for r in table] == [
        ("a", SAME, "passed", ""), ("b", REGRESSION, "failed", "boom"), ("c", REGRESSION, "not run", "")]


def test_app_packages_and_where_pytest_runs(tmp_path):
    manifest = {"services": [{"modules": ["flaskr.auth"], "borrowed_modules": ["flaskr.db"]},
                             {"modules": ["flaskr.blog", "extra"]}]}
    assert app_packages(manifest) == ["extra", "flaskr"]
    (tmp_path / "proj" / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "proj" / "pyproject.toml").write_text("")
    assert suite_root(tmp_path / "proj" / "tests" / "unit") == (tmp_path / "proj").resolve()


VERIFY_CONFIG_CHECK = textwrap.dedent('''
    import importlib.util, json, os, sys
    spec = importlib.util.spec_from_file_location("vc", sys.argv[1])
    vc = importlib.util.module_from_spec(spec); spec.loader.exec_module(vc)
    assert vc.apply() is True
    import flask

    class MyConfig(flask.Config):
        pass

    class MyFlask(flask.Flask):
        config_class = MyConfig

    app = flask.Flask("x")
    app.config.update(DATABASE="/elsewhere.db", SECRET_KEY="dev", SQLALCHEMY_BINDS={"a": "sqlite:///a", "b": "x"})
    other = MyFlask("y")
    other.config["DATABASE"] = "/tmp/other.db"
    print(json.dumps({
        "db": app.config["DATABASE"], "get": app.config.get("DATABASE"), "uri": app.config.get("SQLALCHEMY_DATABASE_URI"),
        "setdefault": app.config.setdefault("SQLALCHEMY_DATABASE_URI", None), "binds": app.config["SQLALCHEMY_BINDS"],
        "secret": app.secret_key, "untouched": app.config["DEBUG"], "subclass": other.config["DATABASE"],
        "is_my_config": isinstance(other.config, MyConfig), "env": os.environ["DATABASE_URL"],
    }))
''')


def test_generated_verify_config_forces_the_database_keys_and_the_secret_key(tmp_path):
    from decompose.generation.output import template_env

    text = template_env().get_template("runtime/verify_config.py.j2").render(
        config_keys={"DATABASE": "path", "SQLALCHEMY_DATABASE_URI": "url", "SQLALCHEMY_BINDS": "binds"},
        env_keys={"DATABASE_URL": "url"}, database_env="DATABASE_URL")
    module = tmp_path / "verify_config.py"
    module.write_text(text)
    (tmp_path / "secret").write_text("s3cret\n")
    script = tmp_path / "check.py"
    script.write_text(VERIFY_CONFIG_CHECK)
    env = {**os.environ, "DECOMPOSE_DATABASE": "/shared/db.sqlite3", "DECOMPOSE_SECRET_KEY_FILE": str(tmp_path / "secret")}
    r = subprocess.run([sys.executable, str(script), str(module)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got == {"db": "/shared/db.sqlite3", "get": "/shared/db.sqlite3", "uri": "sqlite:////shared/db.sqlite3",
                   "setdefault": "sqlite:////shared/db.sqlite3",
                   "binds": {"a": "sqlite:////shared/db.sqlite3", "b": "sqlite:////shared/db.sqlite3"},
                   "secret": "s3cret", "untouched": False, "subclass": "/shared/db.sqlite3", "is_my_config": True,
                   "env": "sqlite:////shared/db.sqlite3"}
    # not verifying: nothing changes
    r = subprocess.run([sys.executable, "-c", f"import importlib.util as u; s=u.spec_from_file_location('vc', {str(module)!r}); "
                        "m=u.module_from_spec(s); s.loader.exec_module(m); print(m.apply())"],
                       capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")})
    assert r.stdout.strip() == "False", r.stderr


ONE_CONNECTION_CHECK = textwrap.dedent('''
    import importlib.util, json, sys
    spec = importlib.util.spec_from_file_location("vc", sys.argv[1])
    vc = importlib.util.module_from_spec(spec); spec.loader.exec_module(vc)
    assert vc.apply() is True
    import flask
    import sqlalchemy as sa

    def engine_of(app):
        """What Flask-SQLAlchemy's init_app does with the two keys."""
        options = dict(app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {}))
        return sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], **options), options

    # FlaskBB's TestingConfig: an in-memory database, so ONE connection in the monolith's tests
    app = flask.Flask("forum")
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    engine, options = engine_of(app)
    meta = sa.MetaData()
    topics = sa.Table("topics", meta, sa.Column("id", sa.Integer, primary_key=True))
    meta.create_all(engine)
    session = engine.connect()            # a test's session, its transaction left open
    session.execute(topics.insert().values(id=1))
    meta.drop_all(engine)                 # the fixture's teardown on "another" connection
    out = {"url": str(engine.url), "pool": type(engine.pool).__name__}
    session.close()

    # a file database stays as it was: its own pool
    other = flask.Flask("other")
    other.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:////tmp/x.sqlite3"
    other.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"echo": False}
    out["file_options"] = other.config["SQLALCHEMY_ENGINE_OPTIONS"]
    print(json.dumps(out))
''')


def test_verify_config_keeps_the_one_connection_of_an_in_memory_database(tmp_path):
    """An app whose own database was in memory ran on one shared connection (Flask-SQLAlchemy's
    StaticPool): on the shared file its tests' open transaction would lock out drop_all on a second
    connection ("database is locked"), so the test process keeps one connection."""
    from decompose.generation.output import template_env

    text = template_env().get_template("runtime/verify_config.py.j2").render(
        config_keys={"SQLALCHEMY_DATABASE_URI": "url", "SQLALCHEMY_BINDS": "binds"}, env_keys={},
        database_env="DATABASE_URL")
    module = tmp_path / "verify_config.py"
    module.write_text(text)
    script = tmp_path / "check.py"
    script.write_text(ONE_CONNECTION_CHECK)
    shared = tmp_path / "db.sqlite3"
    env = {**os.environ, "DECOMPOSE_DATABASE": str(shared)}
    r = subprocess.run([sys.executable, str(script), str(module)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got == {"url": f"sqlite:///{shared}", "pool": "StaticPool", "file_options": {"echo": False}}
    assert shared.is_file()


# --------------------------------------------------------------------------- the fixture app, --local

FIXTURE_PLAN = """\
version: 1
project: verifyapp
source: vapp
services:
  greet:
    modules: [vapp.greet, vapp.words]
  count:
    modules: [vapp.count]
shared:
  modules: [vapp, vapp.db]
"""


@pytest.fixture(scope="module")
def fixture_out(tmp_path_factory) -> tuple[Path, Path]:
    """tests/data/verify_app copied, planned by hand into greet and count, generated."""
    work = tmp_path_factory.mktemp("verify-app")
    shutil.copytree(FIXTURE_APP, work / "vapp", ignore=shutil.ignore_patterns("__pycache__", "instance"))
    (work / "plan.yaml").write_text(FIXTURE_PLAN)
    check(cli("generate", "--plan", work / "plan.yaml", "--output", work / "out"))
    return work / "out", work / "vapp"


def test_fixture_suite_classifies_patched_and_in_process_tests_and_fails_on_a_split_only_failure(fixture_out):
    out, app = fixture_out
    report = verify_json(out, app / "tests", "--local", code=1)
    by_id = rows(report)
    assert report["monolith"]["counts"] == {"passed": 23}
    # both ways of sending a request to the app went to the split system: the module global
    # the request changes is not this process's any more
    assert report["regressions"] == ["tests/test_split_only.py::test_counter_global",
                                     "tests/test_split_only.py::test_counter_global_dispatched"]
    assert report["ok"] is False and report["stopped"] is True
    patched = by_id["tests/test_patched.py::test_greeting_patched"]
    assert (patched["monolith"], patched["split"], patched["verdict"]) == ("passed", "failed", CLASSIFIED)
    assert "vapp.words.greeting (mock.patch)" in patched["reasons"][0]
    backport = by_id["tests/test_patched.py::test_greeting_patched_with_the_backport"]
    assert (backport["split"], backport["verdict"]) == ("failed", CLASSIFIED)
    assert "vapp.words.greeting (mock.patch)" in backport["reasons"][0]
    replaced = by_id["tests/test_patched.py::test_greeting_replaced_with_testfixtures"]
    assert (replaced["split"], replaced["verdict"]) == ("failed", CLASSIFIED), replaced
    # the replacement is named once: not again when Replace restores the original
    assert replaced["reasons"][0] == ("patches the app in the test process: vapp.words.greeting "
                                      "(testfixtures.Replace); the services run it unpatched"), replaced
    for name, how in (("caplog", "caplog"), ("assert_logs", "assertLogs"), ("log_capture", "testfixtures.LogCapture")):
        row = by_id[f"tests/test_logs.py::test_greeting_is_logged_{name}"]
        assert (row["monolith"], row["split"], row["verdict"]) == ("passed", "failed", CLASSIFIED), row
        assert row["reasons"] == [f"reads the log records of the test process ({how}); the split system's "
                                  "request handling logs in the services' processes"], row
    direct = by_id["tests/test_inprocess.py::test_words_directly"]
    assert direct["verdict"] == CLASSIFIED and direct["reasons"][0].startswith("in-process only")
    assert "vapp.words.greeting" in direct["reasons"][0]
    for name in ("test_greet", "test_query_string_and_unknown_route", "test_rows_the_fixture_inserted_are_served",
                 "test_a_file_a_row_names_relative_to_the_suite_is_served", "test_login_session", "test_redirects_are_followed_by_the_client"):
        row = by_id[f"tests/test_basic.py::{name}"]
        assert (row["monolith"], row["split"], row["verdict"]) == ("passed", "passed", SAME), row
    for name in ("test_dispatch_in_a_request_context", "test_dispatch_posts_a_form",
                 "test_dispatch_reads_the_rows_the_fixture_inserted",
                 "test_the_app_sees_the_client_address_the_request_has"):
        row = by_id[f"tests/test_dispatch.py::{name}"]
        assert (row["monolith"], row["split"], row["verdict"]) == ("passed", "passed", SAME), row
    assert "with client:" in by_id["tests/test_basic.py::test_login_session"]["notes"][0]
    in_g = by_id["tests/test_dispatch.py::test_dispatch_leaves_what_the_request_set_in_g"]
    assert (in_g["monolith"], in_g["split"], in_g["verdict"]) == ("passed", "failed", CLASSIFIED), in_g
    assert in_g["reasons"] == ["reads g.handled_by in the test process, which the app's request handling set there "
                               "on the monolith; the split system handles the request in a service"]
    for name in ("test_a_config_key_the_test_sets_is_what_the_services_read",
                 "test_the_app_iterating_its_config_sees_the_keys_a_test_set",
                 "test_the_next_test_has_the_apps_own_configuration_again"):
        row = by_id[f"tests/test_config.py::{name}"]
        assert (row["monolith"], row["split"], row["verdict"]) == ("passed", "passed", SAME), row
    assert report["summary"] == {"regression": 2, "classified": 8, "split only": 0, "both fail": 0, "same": 13}
    # the table names the regression; the split system was stopped
    assert not (out / ".decompose-run" / "local.json").exists()


def test_a_suite_whose_only_difference_is_classified_exits_0(fixture_out):
    out, app = fixture_out
    r = check(cli("verify", out, "--tests", app / "tests" / "test_patched.py", "--local"))
    assert "classified" in r.stdout and "vapp.words.greeting (mock.patch)" in r.stdout
    assert "0 regression(s)" in r.stdout


def test_a_suite_on_xdist_workers_runs_serially_against_the_split_systems_one_database(fixture_out):
    out, app = fixture_out
    report = verify_json(out, app / "tests" / "test_basic.py", "--local", "--", "-n", "2")
    assert report["monolith"]["counts"] == {"passed": 6} and report["split"]["counts"] == {"passed": 6}
    assert any("-n 0" in w for w in report["warnings"])
    results = out / ".decompose-run" / "verify"
    assert {"results-gw0.json", "results-gw1.json"} <= {p.name for p in (results / "monolith-results").glob("*.json")}
    assert [p.name for p in (results / "split-results").glob("results-*.json")] == ["results-main.json"]


def test_without_the_shared_database_the_fixture_rows_are_not_seen(fixture_out):
    out, app = fixture_out
    report = verify_json(out, app / "tests" / "test_basic.py", "--local", "--database", "generated", "--",
                         "-k", "rows_the_fixture", code=1)
    assert report["regressions"] == ["tests/test_basic.py::test_rows_the_fixture_inserted_are_served"]


def test_verify_uses_a_split_system_already_running_and_leaves_it_running(fixture_out, tmp_path):
    from decompose.runtime.runner import free_port

    out, app = fixture_out
    port = free_port()
    check(cli("up", "--local", out, "--python", sys.executable, "--port", port, "--verify-dir", tmp_path / "shared"))
    try:
        report = verify_json(out, app / "tests" / "test_basic.py", "--local", code=1)
        assert report["started"] is False and report["url"] == f"http://127.0.0.1:{port}"
        # started before verify handed the suite's folder over: its services cannot see tests/motd.txt,
        # and verify says so
        assert report["regressions"] == ["tests/test_basic.py::test_a_file_a_row_names_relative_to_the_suite_is_served"]
        assert any("started before the suite's folder 'tests'" in w for w in report["warnings"]), report["warnings"]
        assert report["split"]["counts"] == {"passed": 5, "failed": 1}
        assert report["verify_dir"] == str((tmp_path / "shared").resolve())
        assert (out / ".decompose-run" / "local.json").exists()
    finally:
        check(cli("down", "--local", out))


def test_another_interpreter_runs_the_suite_with_a_copy_of_the_plugin(fixture_out, tmp_path):
    out, app = fixture_out
    wrapper = tmp_path / "python"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    report = verify_json(out, app / "tests" / "test_patched.py", "--local", "--python", wrapper)
    assert report["monolith"]["command"][0] == str(wrapper)
    assert "decompose_verify_plugin" in report["split"]["command"]
    assert rows(report)["tests/test_patched.py::test_greeting_patched"]["verdict"] == CLASSIFIED


def test_bad_input_is_exit_2(fixture_out, tmp_path):
    out, app = fixture_out
    r = cli("verify", out, "--tests", tmp_path / "nope", "--local")
    assert r.returncode == 2 and "no such test file or folder" in r.stderr
    (tmp_path / "test_broken.py").write_text("import does_not_exist\n")
    r = cli("verify", out, "--tests", tmp_path / "test_broken.py", "--local", "--cwd", app)
    assert r.returncode == 2 and "the suite did not run on the monolith" in r.stderr


# --------------------------------------------------------------------------- flaskr

FLASKR_PLAN = """\
version: 1
project: {project}
source: flaskr
services:
  auth:
    modules: [flaskr.auth]
  blog:
    modules: [flaskr.blog]
shared:
  modules: [flaskr, flaskr.db]
"""

FLASKR_CLASSIFIED = {
    "tests/test_db.py::test_get_close_db",  # no request: get_db() in the test process
    "tests/test_db.py::test_init_db_command",  # monkeypatch.setattr("flaskr.db.init_db"), CLI runner in process
    "tests/test_factory.py::test_config",  # create_app() only
}


@pytest.fixture(scope="module")
def flaskr_out(tmp_path_factory) -> tuple[Path, Path]:
    """Flask's tutorial app from the flask sdist (PyPI, cached by benchmarks.corpus), planned by hand, generated."""
    from benchmarks.corpus import APPS, app_source

    src = app_source(APPS["flaskr"])
    work = tmp_path_factory.mktemp("verify-flaskr")
    shutil.copytree(src, work / "flaskr",
                    ignore=shutil.ignore_patterns("__pycache__", ".decompose_cache", "instance", "*.egg-info"))
    (work / "plan.yaml").write_text(FLASKR_PLAN.format(project="verifyflaskr"))
    check(cli("generate", "--plan", work / "plan.yaml", "--output", work / "out"))
    return work / "out", work / "flaskr"


def assert_flaskr_passes_on_both(report: dict) -> None:
    by_id = rows(report)
    assert report["monolith"]["counts"] == {"passed": 24}, report["monolith"]
    assert report["split"]["counts"] == {"passed": 24}, [r for r in report["tests"] if r["split"] != "passed"]
    assert report["regressions"] == []
    assert {t for t, r in by_id.items() if r["verdict"] == CLASSIFIED} == FLASKR_CLASSIFIED
    assert "flaskr.db.init_db (monkeypatch.setattr)" in by_id["tests/test_db.py::test_init_db_command"]["reasons"][0]
    # sessions: the login cookie the auth service signed is read in the test process (`with client:`)
    assert "with client:" in by_id["tests/test_auth.py::test_login"]["notes"][0]
    # the database: the user the auth service inserted is read by the test, the post the test updated by blog
    for t in ("tests/test_auth.py::test_register", "tests/test_blog.py::test_author_required"):
        assert by_id[t]["verdict"] == SAME


@pytest.mark.slow
def test_flaskr_split_into_auth_and_blog_passes_its_own_suite_local(flaskr_out):
    out, src = flaskr_out
    report = verify_json(out, src / "tests", "--local")
    assert report["mode"] == "local" and report["started"] and report["stopped"]
    assert_flaskr_passes_on_both(report)


@pytest.mark.docker
@pytest.mark.slow
def test_flaskr_split_into_auth_and_blog_passes_its_own_suite_docker(flaskr_out, base_image, docker_client_fixture):
    out, src = flaskr_out
    try:
        report = verify_json(out, src / "tests", "--build", "--base-image", base_image, "--timeout", "180")
    finally:
        check(cli("down", out))
    assert report["mode"] == "docker" and report["stopped"]
    assert_flaskr_passes_on_both(report)


# --------------------------------------------------------------------------- sample_monolith


@pytest.mark.slow
def test_sample_monolith_suite_passes_48_of_48_on_both_sides_local(tmp_path):
    plan = tmp_path / "decompose.yaml"
    check(cli("plan", SAMPLE, "--output", plan), 0, 1)
    check(cli("generate", "--plan", plan, "--output", tmp_path / "out"))
    report = verify_json(tmp_path / "out", SAMPLE / "tests", "--local")
    assert report["monolith"]["counts"] == {"passed": 48}
    assert report["split"]["counts"] == {"passed": 48}
    assert report["summary"]["same"] == 48 and report["regressions"] == []


# --------------------------------------------------------------------------- generate: decorators are borrowed


def test_a_decorator_from_another_service_is_borrowed_not_called_over_http(tmp_path):
    """flaskr's blog decorates its views with auth's login_required: it runs at import time, locally."""
    pkg = tmp_path / "mono" / "app"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        from flask import Flask

        def create_app():
            app = Flask(__name__)
            from . import auth, blog
            app.register_blueprint(auth.bp)
            app.register_blueprint(blog.bp)
            return app
    '''))
    (pkg / "auth.py").write_text(textwrap.dedent('''
        import functools
        from flask import Blueprint

        bp = Blueprint("auth", __name__, url_prefix="/auth")

        def login_required(view):
            @functools.wraps(view)
            def wrapped(**kw):
                return view(**kw)
            return wrapped

        def user_name(uid):
            return "ada"

        @bp.get("/me")
        def me():
            return "me"
    '''))
    (pkg / "blog.py").write_text(textwrap.dedent('''
        from flask import Blueprint
        from .auth import login_required, user_name

        bp = Blueprint("blog", __name__)

        @bp.get("/")
        @login_required
        def index():
            return user_name(1)
    '''))
    (tmp_path / "plan.yaml").write_text(textwrap.dedent('''
        version: 1
        project: deco
        source: mono
        services:
          auth: {modules: [app.auth]}
          blog: {modules: [app.blog]}
        shared: {modules: [app]}
    '''))
    check(cli("generate", "--plan", tmp_path / "plan.yaml", "--output", tmp_path / "out"))
    client = (tmp_path / "out/services/blog/app/decompose_rt/clients/app_auth.py").read_text()
    assert "from app.auth import (" in client and "    login_required,\n" in client  # the borrowed module's own
    assert "def user_name(uid):" in client and "_rpc.call(" in client  # a plain function stays a call to auth
    assert (tmp_path / "out/services/blog/app/app/auth.py").is_file()
    manifest = json.loads((tmp_path / "out/decompose-output.json").read_text())
    blog = next(s for s in manifest["services"] if s["name"] == "blog")
    assert blog["borrowed_modules"] == ["app.auth"]


def test_the_suite_folder_copied_for_containers_leaves_out_sockets_and_caches(tmp_path):
    """privacyIDEA's tests/testdata/gpg holds a gpg-agent's sockets: copying the suite's folder
    for the containers failed with shutil.Error and verify stopped."""
    import socket

    from decompose.runtime.verify import _hand_suite_folder_or_warn, write_app_config

    mono = tmp_path / "m"
    (mono / "tests" / "testdata" / "gpg").mkdir(parents=True)
    (mono / "tests" / "__pycache__").mkdir()
    (mono / "tests" / "__pycache__" / "x.pyc").write_bytes(b"")
    (mono / "tests" / "testdata" / "passwords").write_text("hans:x:1000\n")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(mono / "tests" / "testdata" / "gpg" / "S.agent"))
    try:
        name, warned = _hand_suite_folder_or_warn(tmp_path / "shared", mono / "tests" / "test_a.py", mono, link=False)
        # the same folder named by the suite's app configuration (PI_GNUPG_HOME), copied for the containers
        results = tmp_path / "monolith-results"
        results.mkdir()
        (results / "app-config-1.json").write_text(json.dumps({"PI_GNUPG_HOME": str(mono / "tests" / "testdata" / "gpg")}))
        keys, config_warnings = write_app_config(tmp_path / "shared", results, containers=True)
    finally:
        sock.close()
    assert (name, warned) == ("tests", [])
    assert (keys, config_warnings) == (1, [])
    assert json.loads((tmp_path / "shared" / "app-config.json").read_text())["PI_GNUPG_HOME"] == "/decompose-verify/files/0/gpg"
    assert list((tmp_path / "shared" / "files" / "0" / "gpg").iterdir()) == []
    copy = tmp_path / "shared" / "suite" / "tests"
    assert (copy / "testdata" / "passwords").read_text() == "hans:x:1000\n"
    assert sorted(p.name for p in copy.rglob("*")) == ["gpg", "passwords", "testdata"]
    # locally a link to the folder itself
    name, warned = _hand_suite_folder_or_warn(tmp_path / "shared2", mono / "tests" / "test_a.py", mono, link=True)
    assert (tmp_path / "shared2" / "suite" / "tests").resolve() == (mono / "tests").resolve()
    # a suite outside the working directory: nothing to mirror
    assert _hand_suite_folder_or_warn(tmp_path / "shared3", tmp_path / "elsewhere" / "t.py", mono, link=False) == (None, [])
