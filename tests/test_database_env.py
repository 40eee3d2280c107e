"""The database variable: generated services honour it outside `decompose verify` too,
and it is never a testing or development one.

* ``detect_database_env`` on a Flask config with development, testing and
  production classes (the ``DEV_DATABASE_URL`` / ``TEST_DATABASE_URL`` /
  ``DATABASE_URL`` layout many Flask apps use) picks the production variable;
* the generated ``decompose_rt/verify_config.py``, outside verify, forces the
  detected configuration keys to the URL in the service's database variable
  (a path for flaskr's ``DATABASE``, the URL for SQLAlchemy's key);
* flaskr (Flask's tutorial, from the flask sdist on PyPI via benchmarks.corpus),
  which never reads ``DATABASE_URL`` itself, split into auth and blog and run
  with ``up --local``: both services use the database file their variable
  names (a user registered through auth is in that file, a post written there
  is shown by blog).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from decompose.generation.generate import detect_database_env

from tests.cli_command import decompose_cli
from tests.generate_support import free_port

REPO = Path(__file__).resolve().parent.parent

FLASKY_CONFIG = '''
import os

class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev")

class DevelopmentConfig(Config):
    SQLALCHEMY_DATABASE_URI = os.environ.get("DEV_DATABASE_URL") or "sqlite:///dev.sqlite"

class TestingConfig(Config):
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"

class ProductionConfig(Config):
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or "sqlite:///data.sqlite"
'''


@pytest.mark.parametrize("config, expected", [
    (FLASKY_CONFIG, "DATABASE_URL"),
    (FLASKY_CONFIG.replace('"DATABASE_URL"', '"BLOG_DATABASE_URL"').replace("DEV_DATABASE_URL", "BLOG_DEV_DATABASE_URL"),
     "BLOG_DATABASE_URL"),
    ('URI = os.environ["DEVELOPMENT_DATABASE_URI"]\nT = os.environ["TESTING_DATABASE_URL"]\n', "DATABASE_URL"),
    ('URI = os.environ["LOCAL_DATABASE_URL"]\n', "DATABASE_URL"),
])
def test_the_database_variable_is_never_a_testing_or_development_one(config, expected):
    assert detect_database_env({"app.config": config, "app": "from app.config import ProductionConfig\n"}) == expected


CHECK = textwrap.dedent('''
    import importlib.util, json, os, sys
    spec = importlib.util.spec_from_file_location("vc", sys.argv[1])
    vc = importlib.util.module_from_spec(spec); spec.loader.exec_module(vc)
    verifying = vc.apply(service_env=sys.argv[2] == "1")
    import flask
    app = flask.Flask("x")
    app.config.update(DATABASE="/instance/flaskr.sqlite", SQLALCHEMY_DATABASE_URI="sqlite:///dev.db",
                      SQLALCHEMY_BINDS={"a": "sqlite:///a.db"})
    print(json.dumps({"verifying": verifying, "db": app.config["DATABASE"], "uri": app.config["SQLALCHEMY_DATABASE_URI"],
                      "binds": app.config["SQLALCHEMY_BINDS"]}))
''')


def _render_config(tmp_path: Path) -> Path:
    from decompose.generation.output import template_env

    text = template_env().get_template("runtime/verify_config.py.j2").render(
        config_keys={"DATABASE": "path", "SQLALCHEMY_DATABASE_URI": "url", "SQLALCHEMY_BINDS": "binds"},
        env_keys={"DATABASE_URL": "url"}, database_env="DATABASE_URL")
    module = tmp_path / "verify_config.py"
    module.write_text(text)
    (tmp_path / "check.py").write_text(CHECK)
    return module


def _run(tmp_path: Path, module: Path, url: str | None, service_env: bool = True) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k != "DATABASE_URL"}
    if url is not None:
        env["DATABASE_URL"] = url
    r = subprocess.run([sys.executable, str(tmp_path / "check.py"), str(module), "1" if service_env else "0"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_outside_verify_the_config_keys_follow_the_services_database_variable(tmp_path):
    module = _render_config(tmp_path)
    assert _run(tmp_path, module, "sqlite:////srv/data/shop.db") == {
        "verifying": False, "db": "/srv/data/shop.db", "uri": "sqlite:////srv/data/shop.db",
        "binds": {"a": "sqlite:///a.db"}}  # binds name other databases: left alone
    # a server database: the URL key follows it, a file setting cannot name it and is left alone
    assert _run(tmp_path, module, "postgresql://u@db/shop") == {
        "verifying": False, "db": "/instance/flaskr.sqlite", "uri": "postgresql://u@db/shop",
        "binds": {"a": "sqlite:///a.db"}}
    unchanged = {"verifying": False, "db": "/instance/flaskr.sqlite", "uri": "sqlite:///dev.db",
                 "binds": {"a": "sqlite:///a.db"}}
    assert _run(tmp_path, module, None) == unchanged  # no variable: nothing changes
    assert _run(tmp_path, module, "sqlite:////srv/x.db", service_env=False) == unchanged  # the test process


FLASKR_PLAN = """\
version: 1
project: e2edbflaskr
source: flaskr
services:
  auth:
    modules: [flaskr.auth]
  blog:
    modules: [flaskr.blog]
shared:
  modules: [flaskr, flaskr.db]
"""


def cli(*args, env=None, timeout=600) -> subprocess.CompletedProcess:
    r = subprocess.run([*decompose_cli(), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}, cwd=REPO)
    return r


@pytest.mark.slow
def test_flaskr_services_use_the_database_their_variable_names_local(tmp_path):
    from benchmarks.corpus import APPS, app_source

    src = app_source(APPS["flaskr"])
    shutil.copytree(src, tmp_path / "flaskr",
                    ignore=shutil.ignore_patterns("__pycache__", ".decompose_cache", "instance", "*.egg-info"))
    (tmp_path / "plan.yaml").write_text(FLASKR_PLAN)
    out = tmp_path / "out"
    r = cli("generate", "--plan", tmp_path / "plan.yaml", "--output", out)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "decompose-output.json").read_text())
    assert manifest["database"]["env"] == "DATABASE_URL"
    units = {s["name"]: s for s in manifest["services"]}
    assert units["auth"]["env"]["DATABASE_URL"] == units["blog"]["env"]["DATABASE_URL"] == "sqlite:////shared-data/shared.db"
    port = free_port()
    try:
        r = cli("up", "--local", out, "--python", sys.executable, "--port", port, "--timeout", "120")
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        # `up --local` keeps the images' /shared-data in .decompose-run/volumes/shared-data: flaskr's
        # tables go there (flaskr opens its database per request, so the running services see them)
        db_file = out / ".decompose-run" / "volumes" / "shared-data" / "shared.db"
        with sqlite3.connect(db_file) as conn:
            conn.executescript((tmp_path / "flaskr" / "flaskr" / "schema.sql").read_text())
            conn.execute("INSERT INTO user (username, password) VALUES ('writer', 'x')")
            conn.execute("INSERT INTO post (title, body, author_id) VALUES ('Seen by blog', 'body', 1)")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            reg = client.post("/auth/register", data={"username": "reader", "password": "pw"})
            assert reg.status_code == 302 and reg.headers["location"].endswith("/auth/login"), reg.text[:500]
            index = client.get("/")
            assert index.status_code == 200 and "Seen by blog" in index.text, index.text[:500]
        with sqlite3.connect(db_file) as conn:
            users = {u for (u,) in conn.execute("SELECT username FROM user")}
        assert users == {"writer", "reader"}
    finally:
        cli("down", "--local", out)
    # and nothing went to flaskr's default instance database
    assert not list(out.rglob("flaskr.sqlite"))
