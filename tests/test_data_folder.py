"""A monolith that keeps its SQLite files in a data folder of its own (issue 10).

LNbits keeps its databases in ``settings.lnbits_data_folder`` (a pydantic ``BaseSettings``
field, env ``LNBITS_DATA_FOLDER``, default ``./data``: relative to the working directory).  Split,
every service runs in its own copy of the tree, so each had its own ``./data``: the extensions
service ran the migrations into its folder and core, reading its own, exited on
``no such table: installed_extensions``.  Generate now takes such a variable as a database
setting of form "folder" and the services make it the folder of the database file the
deployment gives them (``up --local``: one file per shared database), or of verify's shared file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from decompose.generation.verify_keys import database_keys
from decompose.runtime.docker_build import load_manifest
from decompose.runtime.runner import down_local, free_port, up_local
from tests.generate_support import generate_fixture

SETTINGS = textwrap.dedent('''
    from pydantic import BaseModel, BaseSettings, Field


    class NodeSettings(BaseModel):
        phoenixd_data_dir: str | None = Field(default=None)  # an external daemon's folder


    class Settings(NodeSettings, BaseSettings):
        lnbits_data_folder: str = Field(default="./data")
        lnbits_database_url: str | None = Field(default=None)  # postgres:// only: not forced
        lnbits_data_folder_size: int = 3

        class Config:
            env_file = ".env"
''')


def test_data_folder_fields_of_settings_classes_are_database_settings():
    keys = database_keys({"app.settings": SETTINGS}, database_env="DATABASE_URL", flask=False)
    assert keys == {"config": {}, "env": {"DATABASE_URL": "url", "LNBITS_DATA_FOLDER": "folder"}}
    prefixed = SETTINGS.replace('env_file = ".env"', 'env_prefix = "shop_"')
    assert database_keys({"s": prefixed}, flask=False)["env"] == {"SHOP_LNBITS_DATA_FOLDER": "folder"}
    # a class that is no settings class reads nothing from the environment
    assert database_keys({"s": SETTINGS.replace("BaseSettings", "Base")}, flask=False)["env"] == {}
    # an environment read of a folder variable counts like a database's
    read = 'import os\nDATA = os.environ.get("APP_DATA_DIR", "./data")\n'
    assert database_keys({"s": read}, flask=False)["env"] == {"APP_DATA_DIR": "folder"}


def test_lnbits_settings_name_its_data_folder():
    from benchmarks.corpus import APPS, corpus_dir

    spec = APPS["lnbits"]
    path = corpus_dir() / "src" / f"{spec.dist}-{spec.version}" / "lnbits" / "settings.py"
    if not path.is_file():
        pytest.skip("lnbits 1.6.2 is not in the corpus cache (python -m benchmarks.corpus --apps lnbits)")
    keys = database_keys({"lnbits.settings": path.read_text()}, database_env="DATABASE_URL", flask=False)
    assert keys["env"] == {"DATABASE_URL": "url", "LNBITS_DATA_FOLDER": "folder"}


CHECK = textwrap.dedent('''
    import importlib.util, json, os, sys
    spec = importlib.util.spec_from_file_location("verify_config", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.apply(service_env=sys.argv[2] == "1")
    print(json.dumps(os.environ.get("APP_DATA_FOLDER")))
''')


def _folder(tmp_path: Path, service_env: bool = True, **env: str) -> str | None:
    from decompose.generation.output import template_env

    module = tmp_path / "verify_config.py"
    module.write_text(template_env().get_template("runtime/verify_config.py.j2").render(
        config_keys={}, env_keys={"APP_DATA_FOLDER": "folder", "DATABASE_URL": "url"}, database_env="DATABASE_URL"))
    (tmp_path / "check.py").write_text(CHECK)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("DECOMPOSE_") and k not in ("DATABASE_URL", "APP_DATA_FOLDER")}
    r = subprocess.run([sys.executable, str(tmp_path / "check.py"), str(module), "1" if service_env else "0"],
                       capture_output=True, text=True, env={**base, **env}, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_data_folder_is_the_folder_of_the_services_database(tmp_path):
    assert _folder(tmp_path, DATABASE_URL="sqlite:////srv/shared-db/shared.db") == "/srv/shared-db"
    # the deployment's own setting wins; a server database has no folder; nothing set: nothing changes
    assert _folder(tmp_path, DATABASE_URL="sqlite:////srv/s.db", APP_DATA_FOLDER="/mine") == "/mine"
    assert _folder(tmp_path, DATABASE_URL="postgresql://u@db/shop") is None
    assert _folder(tmp_path) is None
    # under verify: the folder of the shared file, in the services and the test process alike
    assert _folder(tmp_path, DECOMPOSE_DATABASE="/v/db.sqlite3", APP_DATA_FOLDER="/mine") == "/v"
    assert _folder(tmp_path, service_env=False, DECOMPOSE_DATABASE="/v/db.sqlite3") == "/v"


DESK = {
    "desk/__init__.py": "",
    "desk/store.py": '''
        import os
        import sqlite3

        DATA = os.environ.get("DESK_DATA_FOLDER", "./data")


        def connect() -> sqlite3.Connection:
            os.makedirs(DATA, exist_ok=True)
            conn = sqlite3.connect(os.path.join(DATA, "desk.sqlite3"))
            conn.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT)")
            return conn
    ''',
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

        from desk.store import connect

        router = APIRouter(prefix="/notes")


        @router.post("/{text}")
        def add(text: str):
            with connect() as conn:
                conn.execute("INSERT INTO notes VALUES (?)", (text,))
            return {"ok": True}
    ''',
    "desk/board.py": '''
        from fastapi import APIRouter

        from desk.store import connect

        router = APIRouter(prefix="/board")


        @router.get("")
        def board():
            with connect() as conn:
                return [t for (t,) in conn.execute("SELECT text FROM notes")]
    ''',
}


def test_services_sharing_a_database_share_the_monoliths_data_folder(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("DESK_DATA_FOLDER", raising=False)
    out, manifest = generate_fixture(tmp_path, DESK, {"notes": ["desk.notes"], "board": ["desk.board"]},
                                     ["desk", "desk.main", "desk.store"], project="datafolder")
    assert manifest["verify"]["database_keys"]["env"]["DESK_DATA_FOLDER"] == "folder"
    running = up_local(load_manifest(out), port=free_port(), timeout=90)
    try:
        gw = running.url
        assert httpx.post(gw + "/notes/hello", timeout=10).json() == {"ok": True}
        # written by notes, read by board: one folder, as in the monolith's one process
        assert httpx.get(gw + "/board", timeout=10).json() == ["hello"]
        assert not any((out / "services" / s / "app" / "data").exists() for s in ("notes", "board"))
    finally:
        down_local(out)
