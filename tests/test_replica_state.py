"""Module-level state reported for services with more than one replica (decompose.planning.replica_state).

A faithful Flask fixture (a module-level dict cache written by a view, a counter
rebound with ``global``, an ``lru_cache`` on a function querying a table, a
constant list never written) and sample_monolith's real findings, through
``generate`` (terminal, decompose-output.json, MIGRATION.md) and ``plan --check``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from decompose.cli import app
from decompose.generation.output import generation_for, render_outputs
from decompose.planning.plan import DEFAULT_REPLICAS, Plan, PlanError

from tests.generate_support import write_reference_plan

FILES = {
    "pkg/__init__.py": "",
    "pkg/app.py": (
        "from flask import Flask\n"
        "from pkg.hits.views import bp as hits_bp\n"
        "from pkg.users.views import bp as users_bp\n\n\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n"
        "    app.register_blueprint(hits_bp)\n"
        "    app.register_blueprint(users_bp)\n"
        "    return app\n"
    ),
    "pkg/hits/__init__.py": "",
    "pkg/hits/views.py": (
        "from flask import Blueprint\n\n"
        "bp = Blueprint('hits', __name__, url_prefix='/hits')\n"
        "_CACHE = {}\n"
        "COUNTER = 0\n"
        "KINDS = ['a', 'b']\n\n\n"
        "@bp.route('/<name>')\n"
        "def hit(name):\n"
        "    global COUNTER\n"
        "    COUNTER += 1\n"
        "    if name not in _CACHE:\n"
        "        _CACHE[name] = name.upper()\n"
        "    return {'value': _CACHE[name], 'count': COUNTER, 'kinds': KINDS}\n"
    ),
    "pkg/users/__init__.py": "",
    "pkg/users/views.py": (
        "import functools\n"
        "import sqlite3\n\n"
        "from flask import Blueprint\n\n"
        "bp = Blueprint('users', __name__, url_prefix='/users')\n\n\n"
        "@functools.lru_cache(maxsize=128)\n"
        "def user_name(uid):\n"
        "    row = sqlite3.connect('app.db').execute('SELECT name FROM users WHERE id = ?', (uid,)).fetchone()\n"
        "    return row[0]\n\n\n"
        "@functools.lru_cache\n"
        "def square(x):\n"
        "    return x * x\n\n\n"
        "@bp.route('/<int:uid>')\n"
        "def show(uid):\n"
        "    return {'name': user_name(uid), 'sq': square(uid)}\n"
    ),
}

PLAN = {
    "version": 1,
    "project": "counters",
    "source": "src",
    "services": {
        "hits": {"modules": ["pkg.hits", "pkg.hits.views"]},
        "users": {"modules": ["pkg.users", "pkg.users.views"]},
    },
    "shared": {"modules": ["pkg", "pkg.app"]},
}


def _monolith(tmp_path: Path, plan: dict) -> Path:
    for rel, text in FILES.items():
        p = tmp_path / "src" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (tmp_path / "src" / "pyproject.toml").write_text(
        '[project]\nname = "counters"\nversion = "1.0"\ndependencies = ["flask==3.1.3"]\n')
    path = tmp_path / "decompose.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def _state(gen) -> list[tuple]:
    return [(e["service"], e["replicas"], e["where"], e["name"], e["kind"]) for e in gen.replica_state]


def test_fixture_state_is_reported_per_service_with_file_and_line(tmp_path):
    gen, root, facts, sources = generation_for(_monolith(tmp_path, PLAN), use_cache=False)
    assert DEFAULT_REPLICAS == 2
    assert _state(gen) == [
        ("hits", 2, "pkg/hits/views.py:4", "_CACHE", "mutated"),
        ("hits", 2, "pkg/hits/views.py:5", "COUNTER", "global-write"),
        ("users", 2, "pkg/users/views.py:10", "user_name", "memoised"),
    ]  # KINDS (never written) and square (memoises no table) are not state that diverges
    cache = gen.replica_state[0]
    assert cache["writers"] == ["hit (line 14)"] and cache["module"] == "pkg.hits.views"
    assert "database or a cache service" in cache["advice"] and "`replicas: 1`" in cache["advice"]
    assert gen.replica_state[2]["tables"] == ["users"]
    replica_notes = [n for n in gen.notes if n.startswith("replicas: ")]
    assert len(replica_notes) == 3
    assert any("pkg/hits/views.py:5" in n and "COUNTER rebound with `global` by hit (line 12)" in n for n in replica_notes)

    files = render_outputs(gen, facts, sources, root=root).files
    manifest = json.loads(files["decompose-output.json"])
    assert [(e["service"], e["where"]) for e in manifest["replica_state"]] == [
        ("hits", "pkg/hits/views.py:4"), ("hits", "pkg/hits/views.py:5"), ("users", "pkg/users/views.py:10")]
    assert {s["name"]: s["replicas"] for s in manifest["services"]} == {"hits": 2, "users": 2}
    assert set(replica_notes) <= set(manifest["notes"])
    md = files["MIGRATION.md"].decode()
    section = md[md.index("## Replicas and module-level state"):]
    assert "| hits | 2 | `pkg/hits/views.py:4` | pkg.hits.views | `_CACHE` (mutated) | hit (line 14) |" in section
    assert "`user_name` (memoised: reads users)" in section
    notes_part = md[md.index("## Notes from generation"):] if "## Notes from generation" in md else ""
    assert "replicas: " not in notes_part  # the table, not a second copy in the notes


def test_replicas_1_in_the_plan_silences_that_service_only(tmp_path):
    plan = yaml.safe_load(yaml.safe_dump(PLAN))
    plan["services"]["hits"]["replicas"] = 1
    plan["services"]["users"]["replicas"] = 3
    gen, root, facts, sources = generation_for(_monolith(tmp_path, plan), use_cache=False)
    assert _state(gen) == [("users", 3, "pkg/users/views.py:10", "user_name", "memoised")]
    assert Plan.from_dict(plan).to_dict()["services"]["hits"]["replicas"] == 1
    assert "replicas" not in Plan.from_dict(PLAN).to_dict()["services"]["hits"]  # absent stays absent
    md = render_outputs(gen, facts, sources, root=root).files["MIGRATION.md"].decode()
    assert "`pkg/hits/views.py" not in md and "| users | 3 | `pkg/users/views.py:10`" in md


@pytest.mark.parametrize("value", [0, -1, 101, "2", 1.5, True, None])
def test_bad_replicas_is_one_clear_problem(value):
    plan = yaml.safe_load(yaml.safe_dump(PLAN))
    plan["services"]["hits"]["replicas"] = value
    if value is None:  # null: the default
        assert Plan.from_dict(plan).services["hits"].replica_count == DEFAULT_REPLICAS
        return
    with pytest.raises(PlanError) as exc:
        Plan.from_dict(plan, origin="x/decompose.yaml")
    assert exc.value.problems == [
        f"x/decompose.yaml: service 'hits': 'replicas' must be an integer from 1 to 100, got {value!r}"]


def test_bad_replicas_refused_by_generate_in_one_line(tmp_path):
    plan = yaml.safe_load(yaml.safe_dump(PLAN))
    plan["services"]["users"]["replicas"] = "many"
    path = _monolith(tmp_path, plan)
    r = CliRunner().invoke(app, ["generate", "--plan", str(path), "-o", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    assert "service 'users': 'replicas' must be an integer from 1 to 100, got 'many'" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def sample_plan(tmp_path_factory) -> Path:
    return write_reference_plan(tmp_path_factory.mktemp("replicas") / "decompose.yaml")


SAMPLE_STATE = {
    ("shop/catalog/service.py:22", "PRICE_CACHE", "mutated"): ["catalog"],
    ("shop/payments/providers/__init__.py:41", "_loaded", "mutated"): ["payments"],
    ("shop/config.py:66", "_current", "global-write"): [
        "catalog", "customers", "inventory", "notifications", "orders", "payments", "shipping"],
    ("shop/db.py:16", "_engine", "global-write"): [
        "catalog", "customers", "inventory", "notifications", "orders", "payments", "shipping"],
}


def test_sample_monolith_real_findings(sample_plan):
    gen, root, facts, sources = generation_for(sample_plan)
    found: dict[tuple, list[str]] = {}
    for e in gen.replica_state:
        found.setdefault((e["where"], e["name"], e["kind"]), []).append(e["service"])
    assert found == SAMPLE_STATE
    price = next(e for e in gen.replica_state if e["name"] == "PRICE_CACHE")
    assert price["writers"] == ["create_product (line 145)", "update_product (line 190)", "get_product_price (line 204)"]
    assert (root / "shop/catalog/service.py").read_text().splitlines()[21].startswith("PRICE_CACHE")
    assert len([n for n in gen.notes if n.startswith("replicas: ")]) == 4  # one per state, not per service


def test_plan_check_reports_state_in_json(sample_plan):
    r = CliRunner().invoke(app, ["plan", "--check", "--plan", str(sample_plan), "--format", "json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    found = {(e["where"], e["name"], e["kind"]) for e in summary["replica_state"]}
    assert found == set(SAMPLE_STATE)
