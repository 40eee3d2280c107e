"""The run stage on a FastAPI monolith, tried as a user meets it.

1. Internal RPC between services is answered before the monolith's own ASGI
   middleware and its app-wide dependencies: an API-key dependency and a
   client-header middleware on every route would refuse a call between
   services (401/403, the caller a 500); they still guard every public route.
2. A uvicorn unit whose app fails at startup (its lifespan raises) ends
   ``up`` at once, naming the service and the first error line of its log,
   never "ready" (``--local``; Docker in ``test_docker_...``); a server that
   keeps restarting dying workers (uvicorn's supervisor) is a crash loop.

The fixture ``fdesk``: an app factory with ``FastAPI(dependencies=[...],
lifespan=...)`` and an ``@app.middleware("http")``, a catalog router and an
orders router calling the catalog over RPC, generated with ``decompose generate``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from decompose.generation.output import generation_for, render_outputs, write_outputs
from decompose.planning.plan import Plan
from decompose.planning.planfile import save_plan
from decompose.runtime.docker_build import build_all, load_manifest
from decompose.runtime.runner import (
    CONTAINER_SECRET_FILE, UpFailed, down_docker, down_local, forget_rpc_secret, free_port, run_dir, up_docker, up_local,
)

from tests.generate_support import signature

REPO = Path(__file__).resolve().parent.parent

FDESK = {
    "fdesk/__init__.py": "",
    "fdesk/app.py": '''\
"""The fdesk app: an API key on every route, known clients only, a broker opened at startup."""
import os
import signal
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from fdesk.catalog.api import router as catalog_router
from fdesk.orders.api import router as orders_router


def require_api_key(x_api_key: str | None = Header(default=None)) -> None:
    if x_api_key != "desk-key":
        raise HTTPException(status_code=401, detail="api key required")


@asynccontextmanager
async def lifespan(app):
    if os.environ.get("FDESK_BROKER_DOWN"):
        raise ConnectionRefusedError("cannot reach the message broker at broker:5672")
    yield


def create_app() -> FastAPI:
    if os.environ.get("FDESK_WORKER_KILLED"):  # the kernel's OOM killer taking the worker while it loads the app
        os.kill(os.getpid(), signal.SIGKILL)
    app = FastAPI(title="fdesk", dependencies=[Depends(require_api_key)], lifespan=lifespan)

    @app.middleware("http")
    async def known_clients_only(request: Request, call_next):
        if request.headers.get("x-client") != "desk":
            return JSONResponse({"detail": "unknown client"}, status_code=403)
        return await call_next(request)

    app.include_router(catalog_router)
    app.include_router(orders_router)
    return app


app = create_app()
''',
    "fdesk/catalog/__init__.py": "",
    "fdesk/catalog/service.py": '''\
ITEMS = {1: "pen", 2: "ink"}


def item_name(item_id: int) -> str:
    return ITEMS[item_id]
''',
    "fdesk/catalog/api.py": '''\
from fastapi import APIRouter

from fdesk.catalog.service import ITEMS

router = APIRouter(prefix="/catalog")


@router.get("/items")
def items() -> list[str]:
    return sorted(ITEMS.values())
''',
    "fdesk/orders/__init__.py": "",
    "fdesk/orders/api.py": '''\
from fastapi import APIRouter

from fdesk.catalog import service as catalog

router = APIRouter(prefix="/orders")


@router.get("/{item_id}")
def order(item_id: int) -> dict:
    return {"item": catalog.item_name(item_id)}
''',
    "pyproject.toml": ('[project]\nname = "fdesk"\nversion = "0.1.0"\n'
                       'dependencies = ["fastapi==0.165.0", "uvicorn==0.54.0"]\n'),
}
SERVICES = {
    "catalog": {"modules": ["fdesk.catalog", "fdesk.catalog.service", "fdesk.catalog.api"]},
    "orders": {"modules": ["fdesk.orders", "fdesk.orders.api"]},
}
HEADERS = {"x-client": "desk", "x-api-key": "desk-key"}
BROKEN = "ConnectionRefusedError: cannot reach the message broker at broker:5672"


@pytest.fixture(scope="module")
def fdesk(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("fdesk")
    for rel, text in FDESK.items():
        path = base / "mono" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    plan = Plan.from_dict({"project": "rpcfdesk", "source": str(base / "mono"), "services": SERVICES,
                           "shared": {"modules": ["fdesk", "fdesk.app"]}})
    save_plan(plan, base / "decompose.yaml")
    gen, root, facts, sources = generation_for(base / "decompose.yaml", use_cache=False)
    out = base / "out"
    write_outputs(out, render_outputs(gen, facts, sources, root=root).files)
    return out


@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv("FDESK_BROKER_DOWN", raising=False)
    return monkeypatch


def _service_urls(out: Path) -> dict[str, str]:
    reg = json.loads((run_dir(out) / "local.json").read_text())
    return {p["name"]: f"http://127.0.0.1:{p['port']}" for p in reg["processes"]}


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    e = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "decompose", *args], capture_output=True, text=True, timeout=timeout,
                          env=e, cwd=REPO)


# --------------------------------------------------------------------------- 1. internal RPC


def test_internal_rpc_is_answered_before_the_apps_middleware_and_global_dependencies(fdesk, env):
    running = up_local(load_manifest(fdesk), port=free_port(), timeout=90)
    try:
        gw = running.url
        # the public routes keep the monolith's middleware and its global dependency
        assert httpx.get(gw + "/orders/1", timeout=10).status_code == 403
        r = httpx.get(gw + "/orders/1", headers={"x-client": "desk"}, timeout=10)
        assert (r.status_code, r.json()) == (401, {"detail": "api key required"})
        # orders calls catalog.item_name over RPC: neither the middleware nor the dependency sees that call
        r = httpx.get(gw + "/orders/1", headers=HEADERS, timeout=10)
        assert (r.status_code, r.json()) == (200, {"item": "pen"}), r.text
        assert httpx.get(gw + "/orders/99", headers=HEADERS, timeout=10).status_code == 500  # KeyError raised again
        catalog = _service_urls(fdesk)["catalog"]
        assert httpx.get(catalog + "/catalog/items", timeout=10).status_code == 403  # still guarded, reached directly
        secret = Path(running.rpc_secret_file).read_text().strip()
        name = "/_rpc/fdesk.catalog.service.item_name"
        for args, answer in (([2], (200, {"result": "ink"})),):
            body = json.dumps({"args": args, "kwargs": {}}).encode()
            r = httpx.post(catalog + name, content=body, timeout=10,
                           headers={"content-type": "application/json", **signature(secret, "POST", name, body)})
            assert (r.status_code, r.json()) == answer
        body = b'{"args": [99]}'
        r = httpx.post(catalog + name, content=body, timeout=10,
                       headers={"content-type": "application/json", **signature(secret, "POST", name, body)})
        assert r.status_code == 500 and r.json()["error"]["cls"] == "builtins:KeyError"
        assert httpx.post(catalog + name, content=body, timeout=10).status_code == 401  # unsigned
        r = httpx.get(catalog + "/_decompose/routes", timeout=10, headers=signature(secret, "GET", "/_decompose/routes"))
        assert r.json() == {"service": "catalog", "routes": [{"path": "/catalog/items", "methods": ["GET"]}]}
    finally:
        down_local(fdesk)


# --------------------------------------------------------------------------- 2. startup failures


def test_a_uvicorn_unit_whose_lifespan_fails_ends_up_naming_the_service_and_the_error(fdesk, env):
    env.setenv("FDESK_BROKER_DOWN", "1")
    t0 = time.monotonic()
    with pytest.raises(UpFailed) as exc:
        up_local(load_manifest(fdesk), port=free_port(), timeout=90)
    try:
        assert time.monotonic() - t0 < 30  # not the 90 s timeout
        f = exc.value.failures[0]
        assert f.name in SERVICES
        assert (f.reason, f.error) == ("exited with code 3", BROKEN), f
        assert any("Application startup failed" in line for line in f.logs)
        assert "gateway" in exc.value.waiting or "gateway" in {x.name for x in exc.value.failures}  # never "ready"
    finally:
        down_local(fdesk)


def test_up_cli_prints_one_line_naming_the_service_and_the_first_error_line(fdesk, env):
    env.setenv("FDESK_BROKER_DOWN", "1")
    r = _cli("up", "--local", "--port", str(free_port()), "--timeout", "90", "--format", "json", str(fdesk))
    try:
        assert r.returncode == 1, r.stderr
        data = json.loads(r.stdout)
        assert data["ready"] is False
        first = data["failures"][0]
        assert first["name"] in SERVICES and (first["reason"], first["error"]) == ("exited with code 3", BROKEN)
        assert f"error: {first['name']}: exited with code 3: {BROKEN}" in r.stderr.splitlines()
        assert "ready in" not in r.stderr
    finally:
        _cli("down", "--local", str(fdesk))


def _with_workers(fdesk: Path, out: Path, flag: str) -> Path:
    """The output with catalog run as a user may set it: uvicorn's supervisor with two workers,
    ``flag`` set for catalog only (the other units come up)."""
    shutil.copytree(fdesk, out, ignore=shutil.ignore_patterns(".decompose-run"))
    data = json.loads((out / "decompose-output.json").read_text())
    catalog = next(u for u in data["services"] if u["name"] == "catalog")
    catalog["command"] = ["python", "-m", "uvicorn", "decompose_rt.server:app", "--host", "127.0.0.1",
                          "--port", "{port}", "--workers", "2"]
    catalog["env"][flag] = "1"
    (out / "decompose-output.json").write_text(json.dumps(data))
    return out


def test_uvicorn_restarting_its_dying_workers_is_a_crash_loop_not_a_timeout(fdesk, env, tmp_path):
    out = _with_workers(fdesk, tmp_path / "out", "FDESK_WORKER_KILLED")  # each new worker is killed too
    t0 = time.monotonic()
    with pytest.raises(UpFailed) as exc:
        up_local(load_manifest(out), port=free_port(), timeout=90)
    try:
        assert time.monotonic() - t0 < 60  # not the 90 s timeout
        (f,) = exc.value.failures
        assert f.name == "catalog" and f.reason.startswith("crash loop: its worker died"), f
        assert "(Child process [" in f.reason
    finally:
        down_local(out)


def test_uvicorn_workers_whose_lifespan_fails_end_up_with_the_error(fdesk, env, tmp_path):
    out = _with_workers(fdesk, tmp_path / "out", "FDESK_BROKER_DOWN")  # uvicorn stops (exit 0) after a failed start
    with pytest.raises(UpFailed) as exc:
        up_local(load_manifest(out), port=free_port(), timeout=90)
    try:
        (f,) = exc.value.failures
        assert (f.name, f.error) == ("catalog", BROKEN) and f.reason.startswith("exited with code "), f
    finally:
        down_local(out)


# --------------------------------------------------------------------------- Docker: the same, and the RPC secret


@pytest.fixture(scope="module")
def fdesk_images(fdesk, docker_client_fixture, base_image):
    client = docker_client_fixture
    m = load_manifest(fdesk)
    down_docker(m.project, client=client)
    _, failed = build_all(m, client=client, base_image=base_image)
    assert not failed, [str(f) for f in failed]
    yield m
    down_docker(m.project, client=client)
    forget_rpc_secret(fdesk, "docker")
    for u in m.units:
        client.images.remove(u.image, force=True)


@pytest.mark.docker
def test_docker_internal_rpc_works_and_no_container_shows_the_rpc_secret(fdesk_images, docker_client_fixture):
    client = docker_client_fixture
    m = fdesk_images
    running = up_docker(m, port=free_port(), timeout=180, client=client)
    try:
        gw = running.url
        assert httpx.get(gw + "/orders/1", headers={"x-client": "desk"}, timeout=30).status_code == 401
        r = httpx.get(gw + "/orders/1", headers=HEADERS, timeout=30)  # orders -> catalog over signed RPC
        assert (r.status_code, r.json()) == (200, {"item": "pen"}), r.text
        secret = Path(running.rpc_secret_file).read_text().strip()
        assert len(secret) == 64
        containers = {c.labels["io.decompose.service"]: c
                      for c in client.containers.list(filters={"label": f"io.decompose.project={m.project}"})}
        assert set(containers) == {"catalog", "orders", "gateway"}
        for name, c in containers.items():
            inspected = json.dumps(client.api.inspect_container(c.id))  # all `docker inspect` shows
            assert secret not in inspected, name
            env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
            assert "DECOMPOSE_RPC_SECRET" not in env, name
            mounts = {mt["Destination"]: mt for mt in c.attrs["Mounts"]}
            if name == "gateway":
                assert "DECOMPOSE_RPC_SECRET_FILE" not in env and CONTAINER_SECRET_FILE not in mounts
                continue
            assert env["DECOMPOSE_RPC_SECRET_FILE"] == CONTAINER_SECRET_FILE
            assert mounts[CONTAINER_SECRET_FILE]["RW"] is False
            code, out = c.exec_run(["python", "-c", f"print(open({CONTAINER_SECRET_FILE!r}).read().strip())"])
            assert (code, out.decode().strip()) == (0, secret), name  # the service's user reads it
            code, _ = c.exec_run(["sh", "-c", f"echo x > {CONTAINER_SECRET_FILE}"])
            assert code != 0  # read-only
    finally:
        down_docker(m.project, client=client)
        forget_rpc_secret(m.root, "docker")
    assert not list(run_dir(m.root).glob("rpc-secret.docker*"))


@pytest.mark.docker
def test_docker_a_lifespan_failure_ends_up_naming_the_service_and_the_error(fdesk_images, docker_client_fixture,
                                                                           tmp_path):
    client = docker_client_fixture
    out = tmp_path / "out"  # the same images, catalog's environment as its deployment sets it
    shutil.copytree(fdesk_images.root, out, ignore=shutil.ignore_patterns(".decompose-run"))
    data = json.loads((out / "decompose-output.json").read_text())
    next(u for u in data["services"] if u["name"] == "catalog")["env"]["FDESK_BROKER_DOWN"] = "1"
    (out / "decompose-output.json").write_text(json.dumps(data))
    m = load_manifest(out)
    t0 = time.monotonic()
    with pytest.raises(UpFailed) as exc:
        up_docker(m, port=free_port(), timeout=180, client=client)
    try:
        assert time.monotonic() - t0 < 60  # not the 180 s timeout
        (f,) = exc.value.failures
        assert (f.name, f.reason, f.error) == ("catalog", "exited with code 3", BROKEN), f
        assert "gateway" in exc.value.waiting or "orders" in exc.value.waiting or not exc.value.waiting
    finally:
        down_docker(m.project, client=client)
        forget_rpc_secret(out, "docker")
