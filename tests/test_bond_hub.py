"""A live-object hub on a running split system: a helper every blueprint calls returns an ORM
row of its own table (``get_setting()`` -> ``Setting``).  The default plan shares the helper with
its table (a hub, called from three domains) instead of merging the three blueprints into one
service; the generated system boots under ``up --local`` with the installed CLI, each service
answers its own routes, and the hub's table lives in the one shared database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.cli_command import decompose_cli
from tests.generate_support import free_port

REPO = Path(__file__).resolve().parents[1]
HUB = {
    'hubapp/__init__.py': 'from flask import Flask\n\nfrom hubapp.ext import Base, engine\n\n\ndef create_app():\n    app = Flask(__name__)\n    from hubapp import alpha, beta, gamma\n    for m in (alpha, beta, gamma):\n        app.register_blueprint(m.bp)\n    Base.metadata.create_all(engine)\n    return app\n',
    'hubapp/alpha.py': 'from flask import Blueprint\nfrom sqlalchemy import Column, Integer, String, select\n\nfrom hubapp.ext import Base, Session\nfrom hubapp.settings import get_setting\n\nbp = Blueprint("alpha", __name__, url_prefix="/alpha")\n\n\nclass AlphaItem(Base):\n    __tablename__ = "alpha_item"\n    id = Column(Integer, primary_key=True)\n    name = Column(String(40))\n\n\n@bp.get("/")\ndef index():\n    with Session() as s:\n        names = [i.name for i in s.scalars(select(AlphaItem))]\n    return {"setting": get_setting("alpha").value, "items": names}\n\n\n@bp.post("/")\ndef add():\n    with Session() as s:\n        s.add(AlphaItem(name="x"))\n        s.commit()\n    return {"ok": True}\n',
    'hubapp/beta.py': 'from flask import Blueprint\nfrom sqlalchemy import Column, Integer, String, select\n\nfrom hubapp.ext import Base, Session\nfrom hubapp.settings import get_setting\n\nbp = Blueprint("beta", __name__, url_prefix="/beta")\n\n\nclass BetaItem(Base):\n    __tablename__ = "beta_item"\n    id = Column(Integer, primary_key=True)\n    name = Column(String(40))\n\n\n@bp.get("/")\ndef index():\n    with Session() as s:\n        names = [i.name for i in s.scalars(select(BetaItem))]\n    return {"setting": get_setting("beta").value, "items": names}\n\n\n@bp.post("/")\ndef add():\n    with Session() as s:\n        s.add(BetaItem(name="x"))\n        s.commit()\n    return {"ok": True}\n',
    'hubapp/ext.py': 'import os\n\nfrom sqlalchemy import create_engine\nfrom sqlalchemy.orm import DeclarativeBase, sessionmaker\n\nengine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///hub.sqlite"))\nSession = sessionmaker(engine, expire_on_commit=False)\n\n\nclass Base(DeclarativeBase):\n    pass\n',
    'hubapp/gamma.py': 'from flask import Blueprint\nfrom sqlalchemy import Column, Integer, String, select\n\nfrom hubapp.ext import Base, Session\nfrom hubapp.settings import get_setting\n\nbp = Blueprint("gamma", __name__, url_prefix="/gamma")\n\n\nclass GammaItem(Base):\n    __tablename__ = "gamma_item"\n    id = Column(Integer, primary_key=True)\n    name = Column(String(40))\n\n\n@bp.get("/")\ndef index():\n    with Session() as s:\n        names = [i.name for i in s.scalars(select(GammaItem))]\n    return {"setting": get_setting("gamma").value, "items": names}\n\n\n@bp.post("/")\ndef add():\n    with Session() as s:\n        s.add(GammaItem(name="x"))\n        s.commit()\n    return {"ok": True}\n',
    'hubapp/settings.py': 'from sqlalchemy import Column, Integer, String, select\n\nfrom hubapp.ext import Base, Session\n\n\nclass Setting(Base):\n    __tablename__ = "setting"\n    id = Column(Integer, primary_key=True)\n    key = Column(String(40), unique=True)\n    value = Column(String(200))\n\n\ndef get_setting(key):\n    with Session() as s:\n        row = s.scalars(select(Setting).where(Setting.key == key)).first()\n        if row is None:\n            row = Setting(key=key, value="default-" + key)\n            s.add(row)\n            s.commit()\n        return row\n',
    'pyproject.toml': '[project]\nname = "hubapp"\nversion = "1.0"\ndependencies = ["flask", "sqlalchemy"]\n',
}


def cli(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([*decompose_cli(), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}, cwd=REPO)


@pytest.mark.slow
def test_bonded_hub_is_shared_with_its_table_and_the_split_system_serves_every_blueprint(tmp_path):
    src = tmp_path / "src"
    for rel, text in HUB.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    plan_file = tmp_path / "decompose.yaml"
    r = cli("plan", src, "--output", plan_file, "--no-history")
    assert r.returncode == 0, r.stdout + r.stderr
    plan = yaml.safe_load(plan_file.read_text())
    owner = {m: s for s, v in plan["services"].items() for m in v["modules"]}
    assert {owner["hubapp.alpha"], owner["hubapp.beta"], owner["hubapp.gamma"]} == {"alpha", "beta", "gamma"}
    assert "hubapp.settings" in plan["shared"]["modules"]
    assert "live objects" in plan["shared"]["reasons"]["hubapp.settings"]
    out = tmp_path / "out"
    r = cli("generate", "--plan", plan_file, "--output", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "shared tables: setting" in " ".join(r.stdout.split())
    port = free_port()
    try:
        r = cli("up", "--local", out, "--python", sys.executable, "--port", port, "--timeout", "120")
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for name in ("alpha", "beta", "gamma"):
                assert client.post(f"/{name}/").json() == {"ok": True}
                assert client.get(f"/{name}/").json() == {"items": ["x"], "setting": f"default-{name}"}
        dbs = list((out / ".decompose-run" / "volumes").rglob("*.db"))
        assert len(dbs) == 1, dbs  # --local on SQLite: one database file the services share
        with sqlite3.connect(dbs[0]) as conn:
            keys = sorted(k for (k,) in conn.execute("SELECT key FROM setting"))
            items = [conn.execute(f"SELECT count(*) FROM {n}_item").fetchone()[0] for n in ("alpha", "beta", "gamma")]
        assert keys == ["alpha", "beta", "gamma"] and items == [1, 1, 1]
    finally:
        cli("down", "--local", out)
