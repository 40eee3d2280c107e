"""The database variable of a settings object and the URL scheme the app requires (issue 10).

LNbits reads its database from the pydantic ``BaseSettings`` field ``lnbits_database_url`` (env
``LNBITS_DATABASE_URL``) and ``lnbits/db.py`` raises ``ValueError`` unless the URL starts with
``postgres://``.  Split and run in Docker, the services were given ``DATABASE_URL`` (which LNbits
never reads) in SQLAlchemy's ``postgresql+psycopg://`` form, so each fell back to a SQLite file of its
own and exited on ``no such table: installed_extensions``.  Now:

* the variable is the settings field's environment name (after ``env_prefix``, or its own ``env=``);
* the services' PostgreSQL URLs use the scheme the app's own check lets through;
* ``up --local`` and verify never put a ``sqlite:///`` URL into a variable the app refuses it in:
  the app keeps its SQLite files in its data folder, which becomes the shared one;
* ``generate --database sqlite`` on such an app stops with one line naming the check's file and line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decompose.cli import app
from decompose.generation.database_url import (
    DEFAULT_SCHEME,
    detect_database_env,
    required_schemes,
    settings_url_fields,
    url_scheme,
)
from decompose.runtime.database import LOCAL_DATABASE_ENV, load_server, local_env
from tests.generate_support import generate_fixture

SETTINGS = textwrap.dedent('''
    from pydantic import BaseModel, Field
    from pydantic_settings import BaseSettings


    class EnvSettings(BaseModel):
        desk_database_url: str | None = Field(default=None)
        desk_data_folder: str = Field(default="./data")
        test_database_url: str | None = None


    class Settings(EnvSettings, BaseSettings):
        pass


    settings = Settings()
''')

CHECK = textwrap.dedent('''
    from desk.settings import settings

    if settings.desk_database_url:
        url = settings.desk_database_url
        if url.startswith("cockroachdb://"):
            KIND = "cockroach"
        else:
            if not url.startswith("postgres://"):
                raise ValueError("Please use the 'postgres://...' format for the database URL.")
            KIND = "postgres"
    else:
        KIND = "sqlite"
''')


def test_the_variable_of_a_settings_field():
    assert settings_url_fields(SETTINGS) == ["DESK_DATABASE_URL"]  # TEST_DATABASE_URL is a testing one
    prefixed = SETTINGS.replace("    pass\n", '    model_config = SettingsConfigDict(env_prefix="shop_")\n')
    assert settings_url_fields(prefixed) == ["SHOP_DESK_DATABASE_URL"]
    own = SETTINGS.replace('desk_database_url: str | None = Field(default=None)',
                           'dsn: str = Field(default="", env="ORDERS_DB_DSN")')
    assert settings_url_fields(own) == ["ORDERS_DB_DSN"]
    # a model that no settings class is in reads nothing from the environment
    assert settings_url_fields(SETTINGS.replace("BaseSettings", "Base")) == []
    # a literal variable the code reads wins; the settings field beats the bare DATABASE_URL
    assert detect_database_env({"desk.settings": SETTINGS}) == "DESK_DATABASE_URL"
    assert detect_database_env({"desk.settings": SETTINGS,
                                "desk.env": 'import os\nos.environ.get("SHOP_DATABASE_URL")\n'}) == "SHOP_DATABASE_URL"
    assert detect_database_env({"desk.settings": SETTINGS, "desk.env": 'DB = "DATABASE_URL"\n'}) == "DESK_DATABASE_URL"
    # test code never counts
    assert detect_database_env({"tests.conftest": SETTINGS}) == "DATABASE_URL"


def test_the_scheme_the_apps_own_check_requires():
    checks = required_schemes({"desk.db": CHECK, "desk.settings": SETTINGS})
    assert [(c.module, c.line, c.schemes) for c in checks] == [("desk.db", 9, ("postgres",))]
    assert url_scheme(checks[0].schemes) == "postgres"
    # a check that only rewrites (Heroku's postgres:// fix) requires nothing
    heroku = 'import os\nurl = os.environ["DATABASE_URL"]\nif url.startswith("postgres://"):\n' \
             '    url = url.replace("postgres://", "postgresql://", 1)\n'
    assert required_schemes({"app.config": heroku}) == []
    assert url_scheme(()) == DEFAULT_SCHEME
    # SQLAlchemy's own scheme among those let through keeps psycopg's; a tuple counts as several
    both = 'def check(u):\n    if not u.startswith(("postgresql+psycopg://", "sqlite://")):\n        raise ValueError(u)\n'
    assert url_scheme(required_schemes({"app.db": both})[0].schemes) == DEFAULT_SCHEME
    # no URL scheme, a test module: no requirement
    assert required_schemes({"app.x": 'if not name.startswith("http://"):\n    raise ValueError\n'}) == []
    assert required_schemes({"tests.test_db": CHECK}) == []


DESK = {
    "pyproject.toml": '''
        [project]
        name = "desk"
        version = "1.0"
        dependencies = ["fastapi", "sqlalchemy", "pydantic-settings"]
    ''',
    "desk/__init__.py": "",
    "desk/settings.py": SETTINGS,
    "desk/db.py": CHECK,
    "desk/main.py": '''
        from fastapi import FastAPI

        from desk.board import router as board_router
        from desk.notes import router as notes_router

        app = FastAPI()
        app.include_router(notes_router)
        app.include_router(board_router)
    ''',
    "desk/notes.py": '''
        from fastapi import APIRouter

        from desk.db import KIND

        router = APIRouter(prefix="/notes")


        @router.get("")
        def notes():
            return {"kind": KIND}
    ''',
    "desk/board.py": '''
        from fastapi import APIRouter

        from desk.db import KIND

        router = APIRouter(prefix="/board")


        @router.get("")
        def board():
            return {"kind": KIND}
    ''',
}
SERVICES = {"notes": ["desk.notes"], "board": ["desk.board"]}
SHARED = ["desk", "desk.main", "desk.settings", "desk.db"]


def test_generate_gives_the_apps_variable_in_the_apps_scheme(tmp_path: Path):
    out, manifest = generate_fixture(tmp_path, DESK, SERVICES, SHARED)
    database = manifest["database"]
    assert database["engine"] == "postgresql"
    assert database["env"] == "DESK_DATABASE_URL" and database["schemes"] == ["postgres"]
    assert database["server"]["url_scheme"] == "postgres"
    assert all(u.startswith("postgres://") for u in database["per_service"].values()), database["per_service"]
    notes = next(u for u in manifest["services"] if u["name"] == "notes")
    assert "DESK_DATABASE_URL_FILE" in json.dumps(notes)
    # make-secrets.py writes URLs the app takes
    r = subprocess.run([sys.executable, "make-secrets.py"], cwd=out, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    urls = [p.read_text().strip() for p in sorted((out / "secrets").glob("db-*-url"))]
    assert urls and all(u.startswith("postgres://") for u in urls), urls
    # the running system's credentials use it too (decompose up writes them from the manifest)
    server = load_server(out)
    assert server is not None and server.url("notes", "pw").startswith("postgres://notes:pw@")
    assert not server.takes_sqlite
    # verify removes the variable (the app keeps SQLite in its data folder, forced to the shared one)
    keys = manifest["verify"]["database_keys"]["env"]
    assert keys["DESK_DATABASE_URL"] == "unset" and keys["DESK_DATA_FOLDER"] == "folder"
    # up --local gives no SQLite URL in the variable, the file in DECOMPOSE_LOCAL_DATABASE instead
    env = {"DESK_DATABASE_URL_FILE": "/run/secrets/x"}
    local_env(env, server, "notes", tmp_path / "volumes")
    assert "DESK_DATABASE_URL" not in env and "DESK_DATABASE_URL_FILE" not in env
    assert env[LOCAL_DATABASE_ENV].startswith("sqlite:///") and env[LOCAL_DATABASE_ENV].endswith(".db")


PROBE = textwrap.dedent('''
    import importlib.util, json, os, sys
    spec = importlib.util.spec_from_file_location("verify_config", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.apply(service_env=True)
    print(json.dumps({k: os.environ.get(k) for k in ("DESK_DATABASE_URL", "DESK_DATA_FOLDER")}))
''')


def _probe(out: Path, manifest: dict, **env: str) -> dict:
    from tests.generate_support import unit_source

    module = unit_source(out, manifest, "notes") / "decompose_rt" / "verify_config.py"
    (out.parent / "probe.py").write_text(PROBE)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DECOMPOSE_", "DESK_"))}
    r = subprocess.run([sys.executable, str(out.parent / "probe.py"), str(module)], capture_output=True, text=True,
                       env={**base, **env}, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_services_runtime_never_hands_the_app_a_url_it_refuses(tmp_path: Path):
    out, manifest = generate_fixture(tmp_path, DESK, SERVICES, SHARED)
    # verify: the deployment's URL goes, the data folder is the shared database's
    assert _probe(out, manifest, DECOMPOSE_DATABASE="/v/db.sqlite3", DESK_DATABASE_URL="postgres://u:p@h/d") == {
        "DESK_DATABASE_URL": None, "DESK_DATA_FOLDER": "/v"}
    # up --local: the data folder is the folder of the service's file
    assert _probe(out, manifest, DECOMPOSE_LOCAL_DATABASE="sqlite:////o/volumes/shared-db/shared.db") == {
        "DESK_DATABASE_URL": None, "DESK_DATA_FOLDER": "/o/volumes/shared-db"}
    # a deployment with a server: its URL is left as it is
    assert _probe(out, manifest, DESK_DATABASE_URL="postgres://u:p@h/d") == {
        "DESK_DATABASE_URL": "postgres://u:p@h/d", "DESK_DATA_FOLDER": None}


def test_generate_refuses_sqlite_urls_the_app_would_refuse(tmp_path: Path):
    from decompose.planning.plan import Plan, Service
    from decompose.planning.planfile import save_plan
    from tests.generate_support import write_tree

    root = write_tree(tmp_path / "mono", DESK)
    save_plan(Plan(project="desk", source=str(root), services={n: Service(name=n, modules=m) for n, m in SERVICES.items()},
                   shared=SHARED), tmp_path / "decompose.yaml")
    r = CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "decompose.yaml"), "--output",
                                 str(tmp_path / "out"), "--database", "sqlite"])
    assert r.exit_code != 0
    assert "desk/db.py:8: the app refuses database URLs other than postgres://" in " ".join(r.output.split())
    assert "Traceback" not in r.output and not (tmp_path / "out").exists()


def test_lnbits_reads_its_database_from_its_settings_in_postgres_form():
    from benchmarks.corpus import APPS, corpus_dir

    spec = APPS["lnbits"]
    root = corpus_dir() / "src" / f"{spec.dist}-{spec.version}"
    if not (root / "lnbits" / "db.py").is_file():
        pytest.skip("lnbits 1.6.2 is not in the corpus cache (python -m benchmarks.corpus --apps lnbits)")
    sources = {".".join(p.relative_to(root).with_suffix("").parts): p.read_text(encoding="utf-8", errors="replace")
               for p in (root / "lnbits").rglob("*.py")}
    assert detect_database_env(sources) == "LNBITS_DATABASE_URL"
    checks = required_schemes(sources)
    assert [(c.module, c.schemes) for c in checks] == [("lnbits.db", ("postgres",))]
    assert url_scheme(checks[0].schemes) == "postgres"


@pytest.mark.docker
def test_the_readiness_probe_reaches_the_server_of_a_bare_postgres_url(tmp_path: Path, docker_client_fixture):
    """LNbits' services got ``postgres://`` URLs (its own scheme) and SQLAlchemy 1.4: the probe opened
    them with SQLAlchemy, which has no such dialect, and every service stayed unready
    (``database: NoSuchModuleError``).  It reaches the server through psycopg now."""
    import time

    out, manifest = generate_fixture(tmp_path, DESK, SERVICES, SHARED)
    from tests.generate_support import unit_source

    app_dir = unit_source(out, manifest, "notes")
    client = docker_client_fixture
    pg = client.containers.run("postgres:15", detach=True, environment={"POSTGRES_PASSWORD": "pw"},
                               name="decompose-test-probe-pg", remove=True)
    try:
        pg.reload()
        ip = next(iter(pg.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
        check = ("import json, sys; from decompose_rt import probes; "
                 "print(json.dumps([probes.database_problems(u) for u in sys.argv[1:]]))")
        urls = [f"postgres://postgres:pw@{ip}:5432/postgres", f"postgresql+psycopg://postgres:pw@{ip}:5432/postgres",
                f"postgres://postgres:wrong@{ip}:5432/postgres"]
        deadline = time.monotonic() + 60
        while True:
            r = subprocess.run([sys.executable, "-c", check, *urls], cwd=app_dir, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(app_dir)}, timeout=60)
            assert r.returncode == 0, r.stderr
            answers = json.loads(r.stdout)
            if answers[0] == [] or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert answers == [[], [], ["database: OperationalError"]], answers
    finally:
        pg.remove(force=True)
