"""Issue 10's contract: every plan ``decompose plan`` writes is accepted by ``decompose generate``.

The default plan of every fixture project (sample_monolith and tests/data) goes through the
real CLI: plan, then generate, which must exit 0 (Django projects, which generate does not
support yet, are held to the predicate generate refuses plans by: no live-object bond split
across services).  The real corpus apps are run by hand (docs/plan.md gives the figures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from decompose.analysis.pipeline import analyze
from decompose.cli import app
from decompose.generation.generate import split_live_object_calls
from decompose.planning.planfile import load_plan
from decompose.planning.serializable import _Resolver

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


def _definitions(root: Path) -> tuple[list, _Resolver, dict]:
    """``root`` analyzed: its facts, their resolver and its definitions by (module, name)."""
    facts = analyze(root).facts
    return facts, _Resolver(facts, set()), {(f.module, d.name): d for f in facts for d in f.definitions}


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


JOURNAL = {
    "pyproject.toml": '[project]\nname = "journal"\nversion = "1.0"\ndependencies = ["flask"]\n',
    "journal/__init__.py": (
        "from flask import Flask\n\n"
        "def create_app(test_config=None):\n"
        "    app = Flask(__name__, instance_relative_config=True)\n"
        "    app.config.from_mapping(DATABASE='journal.sqlite')\n"
        "    from . import db\n"
        "    db.init_app(app)\n"
        "    from . import auth, entries\n"
        "    app.register_blueprint(auth.bp)\n"
        "    app.register_blueprint(entries.bp)\n"
        "    return app\n"
    ),
    "journal/db.py": (
        "import sqlite3\n"
        "from flask import current_app, g\n\n"
        "def get_db():\n"
        "    if 'db' not in g:\n"
        "        g.db = sqlite3.connect(current_app.config['DATABASE'])\n"
        "        g.db.row_factory = sqlite3.Row\n"
        "    return g.db\n\n"
        "def close_db(e=None):\n"
        "    db = g.pop('db', None)\n"
        "    if db is not None:\n"
        "        db.close()\n\n"
        "def init_app(app):\n"
        "    app.teardown_appcontext(close_db)\n"
    ),
    "journal/auth.py": (
        "import functools\n"
        "from flask import Blueprint, g, redirect\n"
        "from journal.db import get_db\n\n"
        "bp = Blueprint('auth', __name__, url_prefix='/auth')\n\n"
        "def login_required(view):\n"
        "    @functools.wraps(view)\n"
        "    def wrapped(**kw):\n"
        "        if g.get('user') is None:\n"
        "            return redirect('/auth/login')\n"
        "        return view(**kw)\n"
        "    return wrapped\n\n"
        "@bp.route('/login', methods=('GET', 'POST'))\n"
        "def login():\n"
        "    user = get_db().execute('SELECT * FROM user WHERE id = 1').fetchone()\n"
        "    return {'user': user['name']}\n"
    ),
    "journal/entries.py": (
        "from flask import Blueprint\n"
        "from journal.auth import login_required\n"
        "from journal.db import get_db\n\n"
        "bp = Blueprint('entries', __name__)\n\n"
        "@bp.route('/')\n"
        "def index():\n"
        "    rows = get_db().execute('SELECT id, title FROM entry').fetchall()\n"
        "    return {'entries': [dict(r) for r in rows]}\n\n"
        "@bp.route('/new', methods=('POST',))\n"
        "@login_required\n"
        "def create():\n"
        "    get_db().execute(\"INSERT INTO entry (title) VALUES ('x')\")\n"
        "    return {'ok': True}\n"
    ),
}


def test_request_bound_connection_helper_is_shared_not_a_reason_to_merge_blueprints(tmp_path):
    """flaskr's shape: ``get_db()`` (no annotation) returns the request's ``sqlite3``
    connection kept in ``flask.g``, and every blueprint calls it; the factory hands its app
    to ``db.init_app(app)``.  The connection cannot cross services, so the helper is copied
    into each service (shared) instead of merging the blueprints, the factory is shared as
    the app module, and each blueprint gets its own service; generate accepts the plan."""
    _write(tmp_path / "src", JOURNAL)
    plan = tmp_path / "decompose.yaml"
    r = CliRunner().invoke(app, ["plan", str(tmp_path / "src"), "--output", str(plan), "--no-history"])
    assert r.exit_code == 0, r.output
    p = load_plan(plan)
    owner = p.service_of()
    assert owner["journal"] == "" and owner["journal.db"] == "", owner
    assert owner["journal.auth"] and owner["journal.entries"] and owner["journal.auth"] != owner["journal.entries"]
    assert "the app module" in p.shared_reasons["journal"]
    # shared because the shared app module imports it (and it needs only shared code), which
    # also settles the blueprints' live-object calls of get_db()
    assert any(why in p.shared_reasons["journal.db"] for why in ("live objects", "the shared library imports it"))
    facts = analyze(tmp_path / "src").facts
    assert split_live_object_calls(p, facts) == []
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan), "--output", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    # the same helper placed in one blueprint's service is a split generate refuses
    data = yaml.safe_load(plan.read_text())
    data["shared"]["modules"].remove("journal.db")
    data["services"][owner["journal.auth"]]["modules"].append("journal.db")
    moved = tmp_path / "moved.yaml"
    moved.write_text(yaml.safe_dump(data, sort_keys=False))
    r = CliRunner().invoke(app, ["generate", "--plan", str(moved), "--output", str(tmp_path / "out2")])
    assert r.exit_code != 0 and "journal.entries" in r.output and "journal.db" in r.output, r.output


def test_unannotated_returns_are_classified_from_the_body(tmp_path):
    """The verdicts behind those bonds: a connection kept in ``flask.g`` and a generator are
    live, a dict is data, and a call of another project function takes that function's verdict."""
    from decompose.analysis.graph import build_graph
    from decompose.planning.serializable import live_object_bonds, return_verdict

    _write(tmp_path / "src", {**JOURNAL, "journal/stats.py": (
        "from journal.db import get_db\n\n"
        "def connection():\n"
        "    return get_db()\n\n"
        "def totals():\n"
        "    return {'entries': 3}\n\n"
        "def each():\n"
        "    yield 1\n"
    )})
    facts, res, defs = _definitions(tmp_path / "src")
    v, why = return_verdict(defs[("journal.db", "get_db")], "journal.db", res)
    assert v == "bad" and "sqlite3.connect" in why
    assert return_verdict(defs[("journal.stats", "connection")], "journal.stats", res)[0] == "bad"
    assert return_verdict(defs[("journal.stats", "totals")], "journal.stats", res) == ("ok", "")
    assert return_verdict(defs[("journal.stats", "each")], "journal.stats", res)[0] == "bad"
    bonds = {tuple(g) for g, _ in live_object_bonds(facts, build_graph(facts))}
    assert ("journal.entries", "journal.db") in bonds and ("journal.auth", "journal.db") in bonds


def test_an_object_handed_out_of_a_request_local_store_is_live(tmp_path):
    """privacyIDEA's ``get_config_object()`` returns ``store['config_object']``, an object
    cloned into a dict kept on ``flask.g``: another service would answer from its own
    request, and the object cannot be encoded.  An item of a plain parameter stays unknown."""
    from decompose.analysis.graph import build_graph
    from decompose.planning.serializable import live_object_bonds, return_verdict

    _write(tmp_path / "src", {
        "pi/__init__.py": "",
        "pi/framework.py": (
            "from flask import g\n\n"
            "def get_request_local_store():\n"
            "    if '_store' not in g:\n"
            "        g._store = {}\n"
            "    return g._store\n"
        ),
        "pi/config.py": (
            "from pi.framework import get_request_local_store\n\n"
            "def get_config_object():\n"
            "    store = get_request_local_store()\n"
            "    if 'config_object' not in store:\n"
            "        store['config_object'] = object()\n"
            "    return store['config_object']\n\n"
            "def first(rows):\n"
            "    return rows[0]\n"
        ),
        "pi/realm.py": (
            "from pi.config import get_config_object, first\n\n"
            "def realms():\n"
            "    return get_config_object().realm\n\n"
            "def one():\n"
            "    return first([1, 2])\n"
        ),
    })
    facts, res, defs = _definitions(tmp_path / "src")
    v, why = return_verdict(defs[("pi.config", "get_config_object")], "pi.config", res)
    assert v == "bad" and "flask.g" in why, why
    assert return_verdict(defs[("pi.config", "first")], "pi.config", res)[0] == "unknown"
    bonds = {tuple(g): r for g, r in live_object_bonds(facts, build_graph(facts))}
    assert ("pi.realm", "pi.config") in bonds or ("pi.config", "pi.realm") in bonds, bonds


def test_a_factory_passed_as_a_value_is_a_bond_but_a_decorator_is_not(tmp_path):
    """FlaskBB's shape: a view class gets ``authentication_manager_factory`` (not called
    there) and calls it per request; the factory returns an object with behaviour, so over
    RPC the call fails: a bond like a call.  A decorator applied by name (``@login_required``)
    is no such reference: generation borrows the decorator's module."""
    from decompose.analysis.graph import build_graph
    from decompose.planning.serializable import live_object_bonds

    _write(tmp_path / "src", {**JOURNAL, "journal/managers.py": (
        "class LoginManager:\n"
        "    def __init__(self, db):\n"
        "        self.db = db\n\n"
        "    def login(self, name):\n"
        "        return self.db.execute('SELECT 1').fetchone()\n\n"
        "def login_manager_factory():\n"
        "    from journal.db import get_db\n"
        "    return LoginManager(get_db())\n"
    ), "journal/views.py": (
        "from flask import Blueprint\n"
        "from flask.views import MethodView\n"
        "from journal.managers import login_manager_factory\n\n"
        "bp = Blueprint('views', __name__)\n\n"
        "class Login(MethodView):\n"
        "    def __init__(self, factory):\n"
        "        self.factory = factory\n\n"
        "    def post(self):\n"
        "        return {'ok': bool(self.factory().login('x'))}\n\n"
        "bp.add_url_rule('/login2', view_func=Login.as_view('login2', factory=login_manager_factory))\n"
    )})
    facts = analyze(tmp_path / "src").facts
    bonds = {tuple(g): why for g, why in live_object_bonds(facts, build_graph(facts))}
    assert ("journal.views", "journal.managers") in bonds
    assert "passes on" in bonds[("journal.views", "journal.managers")]
    assert ("journal.entries", "journal.auth") not in bonds  # @login_required
