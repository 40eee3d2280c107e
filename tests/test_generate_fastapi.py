"""``decompose generate`` on a FastAPI monolith (tests/data/fastapi_shop): routers with
their prefixes, uvicorn services, the gateway routing FastAPI paths, and the
monolith's own HTTP suite passing through the gateway of the split system."""

from __future__ import annotations

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
from decompose import frameworks
from decompose.frameworks.fastapi import include_router_prefixes
from decompose.frameworks.fastapi import to_werkzeug as fastapi_to_werkzeug


def detect_framework(facts):
    return frameworks.detect(facts).name
from decompose.generation.output import generation_for, render_outputs, write_outputs
from decompose.planning.plan import Plan
from decompose.planning.planfile import load_plan, save_plan

from tests.generate_support import Running, tool

FIXTURE = Path(__file__).resolve().parent / "data" / "fastapi_shop"


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory) -> Path:
    """The plan ``decompose plan`` proposes for the fixture (it is the reference split)."""
    path = tmp_path_factory.mktemp("fastapi-plan") / "decompose.yaml"
    r = CliRunner().invoke(app, ["plan", str(FIXTURE), "-o", str(path), "-n", "3", "--no-history", "--no-cache"])
    assert r.exit_code == 0, r.output
    proposed = load_plan(path)
    ref = yaml.safe_load((FIXTURE / "reference.yaml").read_text(encoding="utf-8"))
    assert {n: sorted(s.modules) for n, s in proposed.services.items()} == \
           {n: sorted(s["modules"]) for n, s in ref["services"].items()}
    assert sorted(proposed.shared) == sorted(ref["shared"]["modules"])
    return path


def test_reference_plan_generates_the_same(plan_file, generated, tmp_path):
    ref = yaml.safe_load((FIXTURE / "reference.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "decompose.yaml"
    save_plan(Plan.from_dict({"project": "fshop", "source": str(FIXTURE), **ref}), path)
    gen, root, facts, sources = generation_for(path, use_cache=False)
    assert {n: [(r.path, r.methods) for r in s.routes] for n, s in gen.services.items()} == \
           {n: [(r.path, r.methods) for r in s.routes] for n, s in generated[0].services.items()}


@pytest.fixture(scope="module")
def generated(plan_file):
    gen, root, facts, sources = generation_for(plan_file, use_cache=False)
    return gen, render_outputs(gen, facts, sources, root=root)


@pytest.fixture(scope="module")
def out_dir(generated, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fastapi-generated") / "out"
    write_outputs(out, generated[1].files)
    return out


# --------------------------------------------------------------------------- the model


def test_framework_app_and_routes_with_prefixes(generated):
    gen = generated[0]
    assert gen.framework == "fastapi"
    assert gen.app_factory == "fshop.app:create_app"
    # include_router prefix + APIRouter prefix + route path, as FastAPI joins them
    assert gen.router_prefixes == {"fshop.items.api:router": "", "fshop.orders.api:router": "/api",
                                   "fshop.users.api:router": "/api/users"}
    routes = {n: [(r.path, r.methods) for r in s.routes] for n, s in gen.services.items()}
    assert routes["orders"] == [("/api/orders", ["POST"]), ("/api/orders/{order_id}", ["GET"])]
    assert routes["users"] == [("/api/users/", ["POST"]), ("/api/users/{user_id}", ["GET"])]
    assert ("/items/{item_id}/stock", ["POST"]) in routes["items"]
    assert gen.services["orders"].route_prefixes == ["/api/orders"]
    assert gen.services["orders"].calls == ["items", "users"]
    assert {e.name for e in gen.services["items"].exports} == {"fshop.items.service.get_item",
                                                               "fshop.items.service.adjust_stock"}


def test_helpers():
    assert fastapi_to_werkzeug("/items/{item_id}/x/{rest:path}") == "/items/<item_id>/x/<path:rest>"
    src = ("from fastapi import FastAPI\nfrom . import a\nfrom .b import router as rb\nimport p.c\n"
           "app = FastAPI()\napp.include_router(a.router, prefix='/a')\napp.include_router(rb)\n"
           "app.include_router(p.c.r, prefix='/c')\n")
    mods = frozenset({"p", "p.app", "p.a", "p.b", "p.c"})
    assert include_router_prefixes(src, "p.app", False, mods) == {"p.a:router": "/a", "p.b:router": "", "p.c:r": "/c"}


def test_framework_detection():
    from decompose.analysis.facts import ImportFact, ModuleFacts

    def facts(*mods):
        return {"m": ModuleFacts(module="m", path="m.py", is_package=False, imports=[ImportFact(module=x, names=[], line=1) for x in mods])}

    assert detect_framework(facts("flask")) == "flask"
    assert detect_framework(facts("fastapi", "flask")) == "flask"
    assert detect_framework(facts("fastapi.routing")) == "fastapi"


def test_generated_files(out_dir):
    items = out_dir / "services/items"
    assert not (items / "app/gunicorn.conf.py").exists()
    assert '"uvicorn", "decompose_rt.server:app"' in (items / "Dockerfile").read_text()
    reqs = (items / "requirements.txt").read_text()
    assert "fastapi==0.165.0" in reqs and "uvicorn==0.54.0" in reqs and "flask" not in reqs and "gunicorn" not in reqs
    app_src = (out_dir / "services/orders/app/fshop/app.py").read_text()
    assert "orders_router" in app_src and "items_api" not in app_src and "users_router" not in app_src
    svc = (out_dir / "services/orders/app/fshop/orders/service.py").read_text()
    assert "from decompose_rt.clients import fshop_items_service as items_service" in svc
    assert "from decompose_rt.clients.fshop_users_service import user_exists" in svc
    routes = (out_dir / "gateway/app/decompose_gateway/routes.py").read_text()
    assert "('/items/<item_id>', ['GET'], 'items')" in routes
    assert (out_dir / "gateway/app/gunicorn.conf.py").exists()


def test_generated_python_compiles_and_every_service_imports(out_dir, tmp_path):
    for f in sorted(out_dir.rglob("*.py")):
        py_compile.compile(str(f), cfile=str(tmp_path / "x.pyc"), doraise=True)
    m = json.loads((out_dir / "decompose-output.json").read_text())
    for u in m["services"] + [m["gateway"]]:
        module = "decompose_rt.server" if u["role"] == "service" else "decompose_gateway.app"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k != "PYTHONPATH"}
        env.update(PYTHONPATH=str(out_dir / u["source"]))
        r = subprocess.run([sys.executable, "-c", f"import {module}; print({module}.app)"], cwd=out_dir / u["source"],
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{u['name']}: {r.stderr[-2000:]}"


# --------------------------------------------------------------------------- the generated system runs


@pytest.fixture(scope="module")
def running(out_dir, tmp_path_factory):
    run = Running(out_dir, tmp_path_factory.mktemp("fastapi-run")).start()
    yield run
    run.stop()


def test_services_answer_healthz_readyz_and_serve_their_routes(running):
    for u in running.units:
        r = httpx.get(running.url(u["name"]) + "/healthz", timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "ok", u["name"]
        assert httpx.get(running.url(u["name"]) + "/readyz", timeout=5).status_code == 200, u["name"]
    for u in running.manifest["services"]:
        served = httpx.get(running.url(u["name"]) + "/_decompose/routes", timeout=5,
                           auth=running.auth).json()["routes"]
        assert [(r["path"], r["methods"]) for r in served if r["path"] != "/health"] == \
               [(r["path"], r["methods"]) for r in u["routes"] if r["path"] != "/health"], u["name"]


def test_rpc_interface_is_exactly_the_exports(running):
    items = running.url("items")
    r = httpx.post(items + "/_rpc/fshop.items.service.create_item", json={"args": ["x", "y", 1]}, timeout=5,
                   auth=running.auth)
    assert r.status_code == 404
    r = httpx.post(items + "/_rpc/fshop.items.service.get_item", json={"args": [], "kwargs": {"item_id": 10**9}},
                   timeout=5, auth=running.auth)
    assert r.status_code == 500 and "NotFound" in r.json()["error"]["cls"]
    r = httpx.post(running.url("users") + "/_rpc/fshop.users.service.user_exists", json={"kwargs": {"user_id": 10**9}},
                   timeout=5, auth=running.auth)
    assert r.status_code == 200 and r.json() == {"result": False}


def test_fixture_http_suite_passes_through_the_gateway(running):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k != "PYTHONPATH"}
    env["SHOP_BASE_URL"] = running.url("gateway")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "shop_tests"], cwd=FIXTURE, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "6 passed" in r.stdout
    # the orders service reached items and users over HTTP
    assert "POST /_rpc/fshop.items.service.get_item" in running.log("items")
    assert "POST /_rpc/fshop.users.service.user_exists" in running.log("users")


def test_dockerfiles_pass_hadolint(out_dir):
    hadolint = tool("hadolint")
    for f in sorted(out_dir.glob("services/*/Dockerfile")) + [out_dir / "gateway/Dockerfile"]:
        r = subprocess.run([hadolint, "--failure-threshold", "style", "--no-color", str(f)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and not r.stdout.strip(), f"{f}:\n{r.stdout}{r.stderr}"


def test_an_app_declaring_its_routes_on_itself_is_found_and_served(tmp_path):
    """oak-health: one module-level ``app = FastAPI(...)`` with ``@app.post`` routes and no
    ``include_router``: the app was not found, the service built an empty FastAPI app and
    answered 404 to every one of its 19 routes."""
    root = tmp_path / "mono" / "src" / "oakish"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "data.py").write_text("PLANS = {'p1': {'name': 'PPO'}}\n")
    (root / "main.py").write_text(
        "from fastapi import FastAPI, HTTPException\n"
        "from fastapi.middleware.cors import CORSMiddleware\n\n"
        "from oakish.data import PLANS\n\n"
        "app = FastAPI(\n    title='Oak',\n    version='1.0',\n)\n"
        "app.add_middleware(CORSMiddleware, allow_origins=['*'])\n\n\n"
        "@app.get('/plans/{plan_id}')\n"
        "def get_plan(plan_id: str):\n"
        "    if plan_id not in PLANS:\n"
        "        raise HTTPException(404, 'no such plan')\n"
        "    return PLANS[plan_id]\n\n\n"
        "@app.post('/search_benefits', tags=['Benefits'])\n"
        "def search_benefits(body: dict):\n"
        "    return {'found': sorted(PLANS)}\n")
    plan, out = tmp_path / "p.yaml", tmp_path / "out"
    r = CliRunner().invoke(app, ["plan", str(tmp_path / "mono"), "-n", "1", "--no-history", "--no-cache", "-o", str(plan)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "is not on a module-level APIRouter" not in r.output
    m = json.loads((out / "decompose-output.json").read_text())
    (svc,) = m["services"]
    owned = {(x["path"], tuple(x["methods"])) for x in svc["routes"]}
    assert owned == {("/plans/{plan_id}", ("GET",)), ("/search_benefits", ("POST",))}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(out / svc["source"]), DECOMPOSE_RPC_SECRET="s" * 32)
    probe = ("from fastapi.testclient import TestClient\n"
             "from decompose_rt.server import app\n"
             "c = TestClient(app)\n"
             "print(c.get('/plans/p1').json(), c.post('/search_benefits', json={}).json(), "
             "c.get('/plans/x').status_code, c.get('/readyz').status_code)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=out / svc["source"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[-2] == "{'name': 'PPO'} {'found': ['p1']} 404 200", done.stdout
