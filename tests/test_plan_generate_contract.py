"""Issue 10's contract: every plan ``decompose plan`` writes is accepted by ``decompose generate``.

The default plan of every fixture project (sample_monolith and tests/data) goes through the
real CLI: plan, then generate, which must exit 0 (Django projects, which generate does not
support yet, are held to the predicate generate refuses plans by: no live-object bond split
across services).  The real corpus apps are run by hand (docs/plan.md gives the figures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decompose.analysis.pipeline import analyze
from decompose.cli import app
from decompose.generation.generate import split_live_object_calls
from decompose.planning.planfile import load_plan

REPO = Path(__file__).resolve().parents[1]
FLASK_LIKE = ["sample_monolith", "tests/data/fastapi_shop", "tests/data/layered_flask", "tests/data/verify_app"]
DJANGO = ["tests/data/django_apps", "tests/data/django_site"]


def _default_plan(src: Path, tmp_path: Path) -> Path:
    work = tmp_path / "src"
    shutil.copytree(src, work, ignore=shutil.ignore_patterns(".decompose_cache", "__pycache__", "decompose.yaml"))
    plan = tmp_path / "decompose.yaml"
    r = CliRunner().invoke(app, ["plan", str(work), "--output", str(plan), "--no-history"])
    assert r.exit_code == 0, r.output
    return plan


@pytest.mark.parametrize("project", FLASK_LIKE)
def test_default_plan_is_accepted_by_generate(project, tmp_path):
    plan = _default_plan(REPO / project, tmp_path)
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan), "--output", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "compose.yaml").is_file()


@pytest.mark.parametrize("project", DJANGO)
def test_default_django_plan_splits_no_live_object_call(project, tmp_path):
    plan = _default_plan(REPO / project, tmp_path)
    p = load_plan(plan)
    facts = analyze(tmp_path / "src").facts
    assert split_live_object_calls(p, facts) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_cross_domain_live_object_call_and_app_factory_stay_in_one_service(tmp_path):
    """Two domains (accounts, notes) each with routes and tables; notes' views hand an ORM row
    to a helper of accounts, and the app factory passes its Flask app to each package's
    ``init_app(app)`` (no annotation: by name, the application object).  Neither may cross
    services in the default plan, and generate accepts that plan."""
    model = (
        "from flask_sqlalchemy import SQLAlchemy\n"
        "db = SQLAlchemy()\n"
    )
    _write(tmp_path / "src", {
        "pyproject.toml": '[project]\nname = "memo"\nversion = "1.0"\ndependencies = ["flask", "flask-sqlalchemy"]\n',
        "memo/__init__.py": (
            "from flask import Flask\n"
            "from memo.ext import db\n"
            "from memo import accounts, notes\n\n"
            "def create_app():\n"
            "    app = Flask(__name__)\n"
            "    db.init_app(app)\n"
            "    accounts.init_app(app)\n"
            "    notes.init_app(app)\n"
            "    return app\n"
        ),
        "memo/ext.py": model,
        "memo/accounts/__init__.py": (
            "from memo.accounts.views import bp\n\n"
            "def init_app(app):\n"
            "    app.register_blueprint(bp)\n"
        ),
        "memo/accounts/models.py": (
            "from memo.ext import db\n\n"
            "class User(db.Model):\n"
            "    __tablename__ = 'user'\n"
            "    id = db.Column(db.Integer, primary_key=True)\n"
            "    name = db.Column(db.String(80))\n"
        ),
        "memo/accounts/helpers.py": (
            "from memo.accounts.models import User\n\n"
            "def display_name(user: User) -> str:\n"
            "    return user.name.title()\n"
        ),
        "memo/accounts/views.py": (
            "from flask import Blueprint\n"
            "from memo.accounts.models import User\n\n"
            "bp = Blueprint('accounts', __name__)\n\n"
            "@bp.get('/users/<int:uid>')\n"
            "def show(uid: int):\n"
            "    return {'name': User.query.get(uid).name}\n"
        ),
        "memo/notes/__init__.py": (
            "from memo.notes.views import bp\n\n"
            "def init_app(app):\n"
            "    app.register_blueprint(bp)\n"
        ),
        "memo/notes/models.py": (
            "from memo.ext import db\n\n"
            "class Note(db.Model):\n"
            "    __tablename__ = 'note'\n"
            "    id = db.Column(db.Integer, primary_key=True)\n"
            "    author_id = db.Column(db.Integer)\n"
        ),
        "memo/notes/views.py": (
            "from flask import Blueprint\n"
            "from memo.notes.models import Note\n"
            "from memo.accounts.models import User\n"
            "from memo.accounts.helpers import display_name\n\n"
            "bp = Blueprint('notes', __name__)\n\n"
            "@bp.get('/notes/<int:nid>')\n"
            "def show(nid: int):\n"
            "    note = Note.query.get(nid)\n"
            "    return {'author': display_name(User.query.get(note.author_id))}\n"
        ),
    })
    plan = tmp_path / "decompose.yaml"
    r = CliRunner().invoke(app, ["plan", str(tmp_path / "src"), "--output", str(plan), "--no-history"])
    assert r.exit_code == 0, r.output
    p = load_plan(plan)
    owner = p.service_of()
    assert owner["memo.notes.views"] == owner["memo.accounts.helpers"] or "" in (
        owner["memo.notes.views"], owner["memo.accounts.helpers"])
    for pkg in ("memo.accounts", "memo.notes"):  # init_app(app) called by the factory
        assert owner[pkg] in ("", owner["memo"]) or owner["memo"] == "", (pkg, owner)
    facts = analyze(tmp_path / "src").facts
    assert split_live_object_calls(p, facts) == []
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan), "--output", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
