"""Package roots and loose modules: a stray top-level file outside every package root never
shadows an installed package (``dockerfiles/settings/celery.py`` is not the project's Celery)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from decompose.analysis.pipeline import analyze
from decompose.analysis.resolve import hidden_from, loose_modules, package_roots
from decompose.cli import app
from decompose.config import load_config
from decompose.guard.check import run_check
from decompose.guard.gather import Facts, cold_state


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


STRAY = {
    "shop/__init__.py": "",
    "shop/tasks.py": "import celery\nfrom celery import Celery\nfrom base import X\napp = Celery('shop')\n",
    "dockerfiles/settings/celery.py": "from base import X\nBROKER = X\n",
    "dockerfiles/settings/base.py": "X = 1\n",
    "tests/helpers.py": "def make():\n    return 1\n",
    "tests/unit/test_tasks.py": "import helpers\nimport shop.tasks\n\ndef test_it():\n    assert helpers.make()\n",
}


def test_a_stray_file_named_like_a_package_does_not_capture_its_imports(tmp_path):
    an = analyze(_tree(tmp_path / "p", STRAY), use_cache=False)
    g = an.graph
    assert g.roots == [""]
    assert g.loose == {"base": "dockerfiles/settings", "celery": "dockerfiles/settings", "helpers": "tests",
                       "test_tasks": "tests/unit"}
    # the package's `import celery` is the installed Celery: an external edge, no internal one
    assert set(g.internal.successors("shop.tasks")) == set()
    assert set(g.external.successors("shop.tasks")) == {"base", "celery"}
    # ... and the stray file still imports its sibling, a test below tests/ its helper
    assert set(g.internal.successors("celery")) == {"base"}
    assert set(g.internal.successors("test_tasks")) == {"helpers", "shop.tasks"}
    assert not any(u.module == "shop.tasks" for u in g.unresolved)


def test_the_guard_resolves_loose_modules_as_the_analysis_does(tmp_path):
    root = _tree(tmp_path / "p", STRAY)
    state = cold_state(root, load_config(root), Facts(tmp_path / "cache"))
    an = analyze(root, use_cache=False)
    for m in state.info:
        assert sorted(state.out[m]) == sorted(an.graph.internal.successors(m)), m
    result = run_check(root, cache_dir=tmp_path / "cache2", cwd=root)
    assert not [f for f in result.findings if f.rule == "DC201"]  # `import celery` is not an unresolved internal import


def test_package_roots_cover_src_layouts_namespaces_and_folders_holding_packages():
    entries = [
        ("shop", "src/shop/__init__.py", True), ("shop.orders", "src/shop/orders.py", False),
        ("ns.pkg", "lib/ns/pkg/__init__.py", True), ("ns.pkg.m", "lib/ns/pkg/m.py", False),
        ("app", "backend/app/__init__.py", True), ("run", "backend/run.py", False),
        ("manage", "manage.py", False), ("celery", "deploy/celery.py", False),
    ]
    assert package_roots(entries) == ["", "backend", "lib", "src"]
    # backend/run.py sits next to a package (backend/ is on sys.path): not loose
    assert loose_modules(entries) == {"celery": "deploy"}
    assert hidden_from("deploy/x.py", {"celery": "deploy"}) == frozenset()
    assert hidden_from("deploy/sub/x.py", {"celery": "deploy"}) == frozenset()
    assert hidden_from("src/shop/orders.py", {"celery": "deploy"}) == {"celery"}
    assert hidden_from("deployment/x.py", {"celery": "deploy"}) == {"celery"}


def test_analyze_reports_the_roots_it_used(tmp_path):
    root = _tree(tmp_path / "p", {**STRAY, "src/core/__init__.py": ""})
    r = CliRunner().invoke(app, ["analyze", str(root), "--no-cache", "-q", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["roots"] == [".", "src"]
    assert {x["module"]: x["folder"] for x in d["loose"]}["celery"] == "dockerfiles/settings"
    r = CliRunner().invoke(app, ["analyze", str(root), "--no-cache", "-q"])
    assert "package roots" in r.output and "src/" in r.output
    assert "dockerfiles/settings/: base, celery" in r.output
