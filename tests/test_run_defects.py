"""Defect classes of the run stage seen on real Flask apps, each tried as a user meets it.

1. A unit that exits (or whose gunicorn keeps restarting a dying worker) while
   ``up`` waits: ``up`` stops waiting at once and names it with its exit code
   and log tail, instead of waiting its full timeout (``--local`` and Docker).
2. The gateway answers a request for a stopped service at once (503 naming the
   service, nothing internal) instead of retrying for ~30 s; GET is tried once
   more, POST is not; a service that accepts but does not answer gives 504.
3. ``/healthz`` and ``/readyz`` answer before any of the monolith's hooks: a
   ``before_request`` that redirects to a login page or raises (its database
   is down) does not touch them, while it still guards the public routes.
4. ``/readyz`` proves the service serves the routes it owns: a Blueprint its
   copy of the app does not register (here behind a feature flag the split
   system does not set) makes it 503 with the missing routes, and ``up``
   fails naming the service and the routes.  A service owning no route and no
   interface function is a warning of ``generate`` and ``up``.

The fixture is a small Flask monolith, ``desk``: an app factory with a global
login hook, three Blueprints (catalog, orders calling catalog over RPC,
reports registered only when ``DESK_FEATURES`` names it) and ``sys.exit`` when
its secret is required but missing, generated with ``decompose generate``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import httpx
import pytest
from conftest import write_fake_output
from tests.generate_support import signature

from decompose.generation.output import generation_for, render_outputs, template_env, write_outputs
from decompose.planning.plan import Plan
from decompose.planning.planfile import save_plan
from decompose.runtime.docker_build import build_all, load_manifest
from decompose.runtime.readiness import crash_loop, first_error, idle_services, probe_script, readiness_verdict
from decompose.runtime.runner import UpFailed, down_docker, down_local, free_port, run_dir, up_docker, up_local

REPO = Path(__file__).resolve().parent.parent

DESK = {
    "desk/__init__.py": "",
    "desk/app.py": '''\
"""The desk app: login required everywhere, reports behind a feature flag."""
import os
import signal
import sys

from flask import Flask, g, jsonify, redirect, request, session

from desk.catalog.views import bp as catalog_bp
from desk.orders.views import bp as orders_bp
from desk.reports.views import bp as reports_bp


def create_app():
    app = Flask(__name__)
    if os.environ.get("DESK_REQUIRE_SECRET") and not os.environ.get("DESK_SECRET_KEY"):
        sys.exit("DESK_SECRET_KEY is not set")
    if os.environ.get("DESK_WORKER_KILLED"):  # the kernel's OOM killer taking the worker while it loads the app
        os.kill(os.getpid(), signal.SIGKILL)
    app.config["SECRET_KEY"] = os.environ.get("DESK_SECRET_KEY", "dev")
    app.config["FEATURES"] = os.environ.get("DESK_FEATURES", "").split(",")

    @app.before_request
    def require_login():
        if os.environ.get("DESK_DB_DOWN"):
            raise RuntimeError("database is down")
        if request.path.startswith("/login") or session.get("user"):
            return None
        return redirect("/login?next=" + request.path)

    @app.teardown_request
    def remember_path(exc):
        g.desk_path = request.path

    @app.teardown_appcontext
    def close_session(exc):  # what Flask-SQLAlchemy does: runs after every request, also failed ones
        if os.environ.get("DESK_TEARDOWN_LOG"):
            with open(os.environ["DESK_TEARDOWN_LOG"], "a") as f:
                where = f"{os.environ.get('DECOMPOSE_SERVICE', '-')} {g.get('desk_path', '-')}"
                f.write(f"{where} {type(exc).__name__ if exc else None}\\n")

    @app.get("/login")
    def login():
        session["user"] = "ann"
        return jsonify(user="ann")

    app.register_blueprint(catalog_bp)
    app.register_blueprint(orders_bp)
    if "reports" in app.config["FEATURES"]:
        app.register_blueprint(reports_bp)
    return app
''',
    "desk/audit.py": '''\
def record(event: str) -> str:
    return event
''',
    "desk/catalog/__init__.py": "",
    "desk/catalog/service.py": '''\
ITEMS = {1: "pen", 2: "ink"}


def item_name(item_id: int) -> str:
    return ITEMS[item_id]
''',
    "desk/catalog/views.py": '''\
from flask import Blueprint, jsonify

from desk.catalog.service import ITEMS

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


@bp.get("/items")
def items():
    return jsonify(sorted(ITEMS.values()))
''',
    "desk/orders/__init__.py": "",
    "desk/orders/views.py": '''\
from flask import Blueprint, jsonify

from desk.catalog import service as catalog

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.get("/<int:item_id>")
def order(item_id):
    return jsonify(item=catalog.item_name(item_id))
''',
    "desk/reports/__init__.py": "",
    "desk/reports/views.py": '''\
from flask import Blueprint, jsonify

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/daily")
def daily():
    return jsonify(total=3)


@bp.post("/rebuild")
def rebuild():
    return jsonify(ok=True)
''',
    "pyproject.toml": '[project]\nname = "desk"\nversion = "0.1.0"\ndependencies = ["flask"]\n',
}

SERVICES = {
    "catalog": {"modules": ["desk.catalog", "desk.catalog.service", "desk.catalog.views"]},
    "orders": {"modules": ["desk.orders", "desk.orders.views"]},
    "reports": {"modules": ["desk.reports", "desk.reports.views"]},
}
DESK_ENV = ("DESK_FEATURES", "DESK_REQUIRE_SECRET", "DESK_SECRET_KEY", "DESK_DB_DOWN", "DESK_WORKER_KILLED",
            "DESK_TEARDOWN_LOG", "DECOMPOSE_READY_ROUTES")


def _generate(folder: Path, project: str, services: dict, shared: list[str]) -> Path:
    plan = Plan.from_dict({"project": project, "source": str(folder.parent / "mono"), "services": services,
                           "shared": {"modules": shared}})
    save_plan(plan, folder / "decompose.yaml")
    gen, root, facts, sources = generation_for(folder / "decompose.yaml", use_cache=False)
    out = folder / "out"
    write_outputs(out, render_outputs(gen, facts, sources, root=root).files)
    return out


@pytest.fixture(scope="module")
def mono(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("desk")
    for rel, text in DESK.items():
        path = base / "mono" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return base


@pytest.fixture(scope="module")
def desk(mono) -> Path:
    (mono / "split").mkdir()
    return _generate(mono / "split", "dkdesk", SERVICES, ["desk", "desk.app", "desk.audit"])


@pytest.fixture
def env(monkeypatch):
    """The deployment's environment (the units inherit it in --local mode); none of the desk's flags by default."""
    for k in DESK_ENV:
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    e = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "decompose", *args], capture_output=True, text=True, timeout=timeout,
                          env=e, cwd=REPO)


def _service_urls(out: Path) -> dict[str, str]:
    reg = json.loads((run_dir(out) / "local.json").read_text())
    return {p["name"]: f"http://127.0.0.1:{p['port']}" for p in reg["processes"]}


needs_gunicorn = pytest.mark.skipif(importlib.util.find_spec("gunicorn") is None,
                                    reason="the services run under gunicorn here (pip install gunicorn)")


# --------------------------------------------------------------------------- 3. probes before the app's hooks


def test_probes_answer_before_a_login_hook_that_still_guards_every_public_route(desk, env):
    env.setenv("DESK_FEATURES", "reports")
    running = up_local(load_manifest(desk), port=free_port(), timeout=90)
    try:
        urls = _service_urls(desk)
        with httpx.Client(follow_redirects=False, timeout=10) as c:
            for name in SERVICES:
                for path in ("/healthz", "/readyz"):
                    r = c.get(urls[name] + path)
                    assert r.status_code == 200, (name, path, r.status_code, r.headers.get("location"))
                    assert r.json()["service"] == name
                assert c.head(urls[name] + "/readyz").status_code == 200
                assert c.post(urls[name] + "/readyz").status_code == 405
            # the monolith's hook still runs for its own routes, through the gateway as before
            r = c.get(running.url + "/catalog/items")
            assert r.status_code == 302 and r.headers["location"] == "/login?next=/catalog/items"
            login = c.get(running.url + "/login")
            assert login.status_code == 200
            r = c.get(running.url + "/reports/daily")  # the client keeps the session cookie
            assert r.status_code == 200 and r.json() == {"total": 3}
    finally:
        down_local(desk)


def test_probes_answer_while_a_hook_raises_for_every_request(desk, env):
    env.setenv("DESK_FEATURES", "reports")
    env.setenv("DESK_DB_DOWN", "1")  # the hook's database is down: every app request is a 500
    running = up_local(load_manifest(desk), port=free_port(), timeout=90)
    try:
        urls = _service_urls(desk)
        for name in SERVICES:
            assert httpx.get(urls[name] + "/readyz", timeout=10).json()["status"] == "ready"
        assert httpx.get(running.url + "/catalog/items", timeout=10).status_code == 500
    finally:
        down_local(desk)


def test_internal_rpc_runs_outside_the_login_hook_and_the_teardown_handlers_still_run(desk, env, tmp_path):
    env.setenv("DESK_FEATURES", "reports")
    teardown_log = tmp_path / "teardown.log"
    env.setenv("DESK_TEARDOWN_LOG", str(teardown_log))
    running = up_local(load_manifest(desk), port=free_port(), timeout=90)
    try:
        urls = _service_urls(desk)
        with httpx.Client(follow_redirects=False, timeout=10) as c:
            r = c.get(running.url + "/orders/1")  # the public route still runs the login hook
            assert r.status_code == 302 and r.headers["location"] == "/login?next=/orders/1"
            assert c.get(running.url + "/login").status_code == 200
            # orders calls catalog.item_name over RPC: catalog's login hook (no session there) does not see it
            r = c.get(running.url + "/orders/1")
            assert r.status_code == 200, r.text
            assert r.json() == {"item": "pen"}
            r = c.get(running.url + "/orders/99")  # a KeyError in catalog, raised again in orders
            assert r.status_code == 500
        assert httpx.get(urls["catalog"] + "/catalog/items", timeout=10).status_code == 302  # still guarded
        # the wire format, signed by hand with the run's secret
        secret = Path(running.rpc_secret_file).read_text().strip()
        name = "/_rpc/desk.catalog.service.item_name"
        body = b'{"args": [2], "kwargs": {}}'
        r = httpx.post(urls["catalog"] + name, content=body, timeout=10,
                       headers={"content-type": "application/json", **signature(secret, "POST", name, body)})
        assert (r.status_code, r.json()) == (200, {"result": "ink"})
        r = httpx.post(urls["catalog"] + name, content=body, timeout=10)
        assert (r.status_code, r.json()) == (401, {"error": "unauthorized"})
        missing = "/_rpc/desk.catalog.service.ITEMS"
        r = httpx.post(urls["catalog"] + missing, content=body, timeout=10,
                       headers={"content-type": "application/json", **signature(secret, "POST", missing, body)})
        assert r.status_code == 404 and r.json()["error"]["cls"] == "builtins:LookupError"
        r = httpx.get(urls["catalog"] + "/_decompose/routes", timeout=10,
                      headers=signature(secret, "GET", "/_decompose/routes"))
        assert r.json() == {"service": "catalog", "routes": [{"path": "/catalog/items", "methods": ["GET"]},
                                                             {"path": "/login", "methods": ["GET"]}]}
        # every call ran the app's teardown_appcontext handler, given the exception the call raised
        calls = [ln.split() for ln in teardown_log.read_text().splitlines()]
        assert [c for c in calls if c[1] == name] == [["catalog", name, "None"], ["catalog", name, "KeyError"],
                                                      ["catalog", name, "None"]]
        assert ["orders", "/orders/99", "KeyError"] in calls and ["catalog", "/catalog/items", "None"] in calls
    finally:
        down_local(desk)


# --------------------------------------------------------------------------- 4. readiness proves the owned routes


def test_a_blueprint_the_service_app_does_not_register_fails_up_naming_the_routes(desk, env):
    # DESK_FEATURES=reports is part of the monolith's deployment, not of the split system's.
    t0 = time.monotonic()
    with pytest.raises(UpFailed) as exc:
        up_local(load_manifest(desk), port=free_port(), timeout=90)
    elapsed = time.monotonic() - t0
    try:
        (f,) = exc.value.failures
        assert f.name == "reports"
        assert f.reason == "its app does not serve 2 route(s) this service owns: GET /reports/daily, POST /reports/rebuild"
        assert any("not served by its app" in line for line in f.logs)  # the service logs it at start too
        assert elapsed < 45, elapsed  # not the 90 s timeout: the app's rules will not change
        r = httpx.get(_service_urls(desk)["reports"] + "/readyz", timeout=10)
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unavailable" and body["missing_routes_total"] == 2
        assert body["missing_routes"] == ["GET /reports/daily", "POST /reports/rebuild"]
        assert "routes: 2 owned route(s) not served by the app" in body["problems"]
    finally:
        down_local(desk)


def test_up_cli_fails_naming_the_service_and_its_missing_routes(desk, env):
    r = _cli("up", "--local", "--port", str(free_port()), "--timeout", "90", "--format", "json", str(desk))
    try:
        assert r.returncode == 1, r.stderr
        data = json.loads(r.stdout)
        assert data["ready"] is False
        assert [f["name"] for f in data["failures"]] == ["reports"]
        assert "GET /reports/daily, POST /reports/rebuild" in data["failures"][0]["reason"]
        assert "error: reports: its app does not serve 2 route(s) this service owns" in r.stderr
        assert "ready in" not in r.stderr  # never a final "ready" when a unit is not
    finally:
        _cli("down", "--local", str(desk))


def test_ready_routes_warn_lists_the_missing_routes_but_lets_up_succeed(desk, env):
    env.setenv("DECOMPOSE_READY_ROUTES", "warn")
    up_local(load_manifest(desk), port=free_port(), timeout=90)
    try:
        body = httpx.get(_service_urls(desk)["reports"] + "/readyz", timeout=10).json()
        assert body["status"] == "ready" and body["missing_routes_total"] == 2
    finally:
        down_local(desk)


def test_a_service_with_no_routes_and_no_interface_is_a_warning_of_generate_and_up(mono, env, tmp_path):
    services = {**SERVICES, "audit": {"modules": ["desk.audit"]}}
    save_plan(Plan.from_dict({"project": "dkidle", "source": str(mono / "mono"), "services": services,
                              "shared": {"modules": ["desk", "desk.app"]}}), tmp_path / "decompose.yaml")
    out = tmp_path / "out"
    r = _cli("generate", "--plan", str(tmp_path / "decompose.yaml"), "--output", str(out))
    assert r.returncode == 0, r.stderr
    warning = "warning: service audit owns no public routes and no interface functions: nothing can reach it"
    assert warning in " ".join(r.stderr.split())
    assert idle_services(load_manifest(out)) == ["audit"]
    env.setenv("DESK_FEATURES", "reports")
    r = _cli("up", "--local", "--port", str(free_port()), "--timeout", "90", "--format", "json", str(out))
    try:
        assert r.returncode == 0, r.stderr
        assert warning in " ".join(r.stderr.split())
        assert json.loads(r.stdout)["warnings"][0].startswith("service audit owns no public routes")
    finally:
        _cli("down", "--local", str(out))


# --------------------------------------------------------------------------- 1. a unit that exits while up waits


@needs_gunicorn
def test_services_exiting_at_boot_end_the_wait_at_once_with_code_and_log(desk, env):
    env.setenv("DESK_FEATURES", "reports")
    env.setenv("DESK_REQUIRE_SECRET", "1")  # the monolith's deployment sets DESK_SECRET_KEY; the split one does not
    t0 = time.monotonic()
    with pytest.raises(UpFailed) as exc:
        up_local(load_manifest(desk), port=free_port(), timeout=90)
    elapsed = time.monotonic() - t0
    try:
        failures = {f.name: f for f in exc.value.failures}
        assert set(failures) <= set(SERVICES) and failures, exc.value
        for f in failures.values():
            # sys.exit() in the factory fails gunicorn's boot (exit 3) instead of a worker restart loop
            assert f.reason == "exited with code 3", f.reason
            assert f.error == "SystemExit: DESK_SECRET_KEY is not set", f.error  # the cause, not gunicorn's lines
            assert any("DESK_SECRET_KEY is not set" in line for line in f.logs), f.logs
        assert elapsed < 30, elapsed
        assert "gateway" in exc.value.waiting or "gateway" in failures  # named, never called ready
    finally:
        down_local(desk)


@needs_gunicorn
def test_a_worker_killed_while_loading_the_app_is_a_crash_loop_not_a_timeout(desk, env):
    env.setenv("DESK_FEATURES", "reports")
    env.setenv("DESK_WORKER_KILLED", "1")
    t0 = time.monotonic()
    with pytest.raises(UpFailed) as exc:
        up_local(load_manifest(desk), port=free_port(), timeout=90)
    try:
        assert time.monotonic() - t0 < 45
        f = exc.value.failures[0]
        assert f.name in SERVICES
        assert f.reason.startswith("crash loop: its worker died"), f.reason
        assert "was sent SIGKILL" in f.reason
    finally:
        down_local(desk)


def test_a_unit_exiting_while_another_is_not_ready_yet_ends_the_wait(tmp_path):
    root = write_fake_output(tmp_path / "out", crash="cannot open database /data/greeter.db")
    data = json.loads((root / "decompose-output.json").read_text())
    data["services"][0]["ready"] = "/never"  # namer: not ready yet (would be, say, after migrations)
    (root / "decompose-output.json").write_text(json.dumps(data))
    t0 = time.monotonic()
    with pytest.raises(UpFailed) as exc:
        up_local(load_manifest(root), port=free_port(), timeout=60)
    try:
        assert time.monotonic() - t0 < 15
        (f,) = exc.value.failures
        assert (f.name, f.reason, f.error) == ("greeter", "exited with code 3", "fatal: cannot open database /data/greeter.db")
        assert f.logs == ["fatal: cannot open database /data/greeter.db"]
        assert "namer" in exc.value.waiting  # named as not ready, not waited for
    finally:
        down_local(root)


DIES_LATER = """\
import os, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.end_headers()


srv = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
print("ready", flush=True)
time.sleep(2)
print("lost the database", flush=True)
os._exit(5)
"""


def test_a_unit_dying_after_it_was_ready_ends_the_wait_and_is_not_called_ready(tmp_path):
    root = write_fake_output(tmp_path / "out")
    (root / "services/greeter/dies_later.py").write_text(DIES_LATER)
    data = json.loads((root / "decompose-output.json").read_text())
    data["services"][0]["ready"] = "/never"  # namer keeps up waiting
    data["services"][1]["command"] = ["python", "dies_later.py"]
    (root / "decompose-output.json").write_text(json.dumps(data))
    t0 = time.monotonic()
    with pytest.raises(UpFailed) as exc:
        up_local(load_manifest(root), port=free_port(), timeout=60)
    try:
        assert time.monotonic() - t0 < 15
        (f,) = exc.value.failures
        assert (f.name, f.reason, f.error) == ("greeter", "exited with code 5", "")  # no line says what went wrong
        assert f.logs == ["ready", "lost the database"]
        assert "namer" in exc.value.waiting
    finally:
        down_local(root)


@pytest.mark.docker
def test_docker_a_container_exiting_while_another_is_not_ready_ends_the_wait(tmp_path, docker_client_fixture,
                                                                            base_image):
    client = docker_client_fixture
    project = "dkdefects"
    root = write_fake_output(tmp_path / "out", project=project, crash="cannot open database /data/greeter.db")
    data = json.loads((root / "decompose-output.json").read_text())
    data["services"][0]["ready"] = "/never"
    (root / "decompose-output.json").write_text(json.dumps(data))
    m = load_manifest(root)
    down_docker(project, client=client)
    _, failed = build_all(m, client=client, base_image=base_image)
    assert not failed, [str(f) for f in failed]
    try:
        t0 = time.monotonic()
        with pytest.raises(UpFailed) as exc:
            up_docker(m, port=free_port(), timeout=90, client=client)
        assert time.monotonic() - t0 < 30  # not the 90 s timeout
        (f,) = exc.value.failures
        assert (f.name, f.reason, f.error) == ("greeter", "exited with code 3", "fatal: cannot open database /data/greeter.db")
        assert f.logs == ["fatal: cannot open database /data/greeter.db"]
        assert "namer" in exc.value.waiting  # named as not ready, not waited for
    finally:
        down_docker(project, client=client)
        for u in m.units:
            client.images.remove(u.image, force=True)


# --------------------------------------------------------------------------- 2. the gateway and a dead backend


def test_gateway_answers_at_once_for_a_stopped_service(desk, env):
    env.setenv("DESK_FEATURES", "reports")
    running = up_local(load_manifest(desk), port=free_port(), timeout=90)
    try:
        reg = json.loads((run_dir(desk) / "local.json").read_text())
        catalog = next(p for p in reg["processes"] if p["name"] == "catalog")
        os.killpg(catalog["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", catalog["port"]), timeout=0.5).close()
                time.sleep(0.1)
            except OSError:
                break
        for method in ("GET", "POST"):
            t0 = time.monotonic()
            r = httpx.request(method, running.url + "/catalog/items", timeout=60)
            took = time.monotonic() - t0
            assert r.status_code == 503 and took < 2, (method, r.status_code, took)
            assert r.json() == {"error": {"code": "service_unavailable", "message": "service catalog is unavailable"}}
            assert str(catalog["port"]) not in r.text and "Error" not in r.text
    finally:
        down_local(desk)


@pytest.fixture
def gateway(tmp_path, monkeypatch):
    """The generated gateway module for one service ``catalog`` owning ``/catalog/...``, imported here."""
    tpl = template_env()
    pkg = tmp_path / "gw" / "decompose_gateway"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "app.py").write_text(tpl.get_template("gateway/app.py.j2").render())
    (pkg / "routes.py").write_text(tpl.get_template("gateway/routes.py.j2").render(
        routes=[{"path": "/catalog/items", "methods": ["GET", "POST"], "service": "catalog"}],
        default_service="catalog", services=["catalog"]))
    monkeypatch.syspath_prepend(str(tmp_path / "gw"))

    def load(url: str, **env: str):
        monkeypatch.setenv("DECOMPOSE_CATALOG_URL", url)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        for name in ("decompose_gateway.app", "decompose_gateway.routes", "decompose_gateway"):
            sys.modules.pop(name, None)
        return importlib.import_module("decompose_gateway.app")

    yield load
    for name in ("decompose_gateway.app", "decompose_gateway.routes", "decompose_gateway"):
        sys.modules.pop(name, None)


def _call(gw, method: str, path: str = "/catalog/items"):
    from werkzeug.test import Client

    t0 = time.monotonic()
    r = Client(gw.app).open(path, method=method)
    return r, time.monotonic() - t0


def test_gateway_names_its_caller_to_the_service_and_adds_no_forwarded_headers(gateway, monkeypatch):
    """The service must see the caller the monolith saw (IP-bound policies, audit logs, rate
    limits): the gateway names its own peer in X-Decompose-Client, never a caller's claim of it,
    and forwards the caller's X-Forwarded-For as it came.  Under verify only, the suite's
    process names the client of its in-process request (none: an empty value)."""
    from werkzeug.test import Client

    sent = []

    def capture(self, method, url, headers=None, content=None, **kw):
        sent.append({k.lower(): v for k, v in headers})
        return httpx.Response(200, text="ok")

    monkeypatch.setattr(httpx.Client, "request", capture)
    claim = {"X-Decompose-Client": "6.6.6.6", "X-Forwarded-For": "198.51.100.1", "X-Decompose-Remote-User": "eve"}
    gw = gateway("http://127.0.0.1:9")
    r = Client(gw.app).open("/catalog/items", environ_base={"REMOTE_ADDR": "203.0.113.7"}, headers=claim)
    assert r.status_code == 200
    first = sent[-1]
    assert first["x-decompose-client"] == "203.0.113.7" and "x-decompose-remote-user" not in first
    assert first["x-forwarded-for"] == "198.51.100.1"
    assert sorted(k for k in first if k.startswith("x-forwarded-")) == ["x-forwarded-for"]
    Client(gw.app).open("/catalog/items", environ_base={"REMOTE_USER": "ada"})  # its server authenticated ada
    assert sent[-1]["x-decompose-remote-user"] == "ada"
    gw = gateway("http://127.0.0.1:9", DECOMPOSE_GATEWAY_TRUST_CLIENT="1")
    Client(gw.app).open("/catalog/items", environ_base={"REMOTE_ADDR": "203.0.113.7"}, headers=claim)
    assert sent[-1]["x-decompose-client"] == "6.6.6.6" and sent[-1]["x-decompose-remote-user"] == "eve"
    Client(gw.app).open("/catalog/items", headers={"X-Decompose-Client": ""})
    assert sent[-1]["x-decompose-client"] == ""


def test_gateway_refused_connection_is_503_naming_the_service_and_retried(gateway, monkeypatch):
    gw = gateway(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    attempts = []
    real = httpx.Client.request

    def counting(self, method, *a, **kw):
        attempts.append(method)
        return real(self, method, *a, **kw)

    monkeypatch.setattr(httpx.Client, "request", counting)
    # a refused connection never carried the request: sending it again is safe for every method
    for method, tries in (("GET", 3), ("HEAD", 3), ("POST", 3)):
        attempts.clear()
        r, took = _call(gw, method)
        assert r.status_code == 503 and took < 1.5, (method, r.status_code, took)
        assert attempts == [method] * tries
        assert r.headers["Retry-After"] == "1"
        if method != "HEAD":
            assert r.get_json() == {"error": {"code": "service_unavailable",
                                              "message": "service catalog is unavailable"}}


def test_gateway_retries_a_dropped_read_never_a_dropped_write(gateway, monkeypatch):
    """A replica killed mid-request drops the connection without an answer: a GET goes again (on a new
    connection, so to another replica), a POST never (the write may have happened): 502."""
    gw = gateway("http://127.0.0.1:9")
    calls = []

    def dropping(self, method, *a, **kw):
        calls.append(method)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json={"items": []})

    monkeypatch.setattr(httpx.Client, "request", dropping)
    r, _ = _call(gw, "GET")
    assert r.status_code == 200 and calls == ["GET", "GET"]
    calls.clear()
    r, _ = _call(gw, "POST")
    assert r.status_code == 502 and calls == ["POST"]
    assert r.get_json()["error"]["code"] == "bad_gateway"


def test_gateway_keeps_a_content_encoding_it_did_not_decode(gateway, monkeypatch):
    """httpx decodes gzip (the body goes out decoded, without the header); a Content-Encoding it does not
    decode (hyperkitty's attachment view sets ``Content-Encoding: utf-8``) left the body as sent: kept."""
    import gzip

    gw = gateway("http://127.0.0.1:9")
    answers = {"utf-8": b"caf\xc3\xa9", "gzip": gzip.compress(b"hello")}
    coding = []

    def answering(self, method, *a, **kw):
        return httpx.Response(200, headers={"Content-Encoding": coding[-1]}, content=answers[coding[-1]])

    monkeypatch.setattr(httpx.Client, "request", answering)
    coding.append("utf-8")
    r, _ = _call(gw, "GET")
    assert (r.status_code, r.headers.get("Content-Encoding"), r.data) == (200, "utf-8", b"caf\xc3\xa9")
    coding.append("gzip")
    r, _ = _call(gw, "GET")
    assert (r.status_code, r.headers.get("Content-Encoding"), r.data) == (200, None, b"hello")


def test_gateway_retry_reaches_a_service_that_just_came_back(gateway, monkeypatch):
    gw = gateway("http://127.0.0.1:9")
    calls = []

    def flaky(self, method, *a, **kw):
        calls.append(method)
        if len(calls) == 1:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={"items": []})

    monkeypatch.setattr(httpx.Client, "request", flaky)
    r, _ = _call(gw, "GET")
    assert r.status_code == 200 and calls == ["GET", "GET"]


def test_gateway_service_that_accepts_but_never_answers_is_504_after_the_read_timeout(gateway):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])  # never answers
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        gw = gateway(f"http://127.0.0.1:{srv.getsockname()[1]}", DECOMPOSE_GATEWAY_TIMEOUT="0.5")
        r, took = _call(gw, "GET")
        assert r.status_code == 504 and 0.4 < took < 3, (r.status_code, took)
        assert r.get_json() == {"error": {"code": "gateway_timeout", "message": "service catalog did not answer in time"}}
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        srv.close()


def test_gateway_connect_timeout_is_short_and_separate_from_the_read_timeout(gateway):
    # A service whose accept queue is full (stalled): its SYNs go unanswered, as from a host that drops them.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    queued = socket.create_connection(srv.getsockname(), timeout=1)
    try:
        gw = gateway(f"http://127.0.0.1:{srv.getsockname()[1]}", DECOMPOSE_GATEWAY_CONNECT_TIMEOUT="0.3")
        assert gw.TIMEOUT.connect == 0.3 and gw.TIMEOUT.read == 60
        # three connection attempts of 0.3 s and two 0.2 s pauses: an unanswered SYN never carried the
        # request, so a POST is retried like a GET
        for method in ("GET", "POST"):
            r, took = _call(gw, method)
            assert r.status_code == 503 and 1.2 < took < 3, (method, r.status_code, took)
    finally:
        queued.close()
        srv.close()


# --------------------------------------------------------------------------- pure helpers


@pytest.fixture
def probes(tmp_path, monkeypatch):
    """The generated ``decompose_rt.probes`` with a stand-in ``decompose_rt.service``."""
    pkg = types.ModuleType("decompose_rt")
    pkg.__path__ = []
    service = types.ModuleType("decompose_rt.service")
    service.NAME = "reports"
    service.OWNED_ROUTES = []
    pkg.service = service
    monkeypatch.setitem(sys.modules, "decompose_rt", pkg)
    monkeypatch.setitem(sys.modules, "decompose_rt.service", service)
    path = tmp_path / "probes.py"
    path.write_text(template_env().get_template("runtime/probes.py.j2").render())
    spec = importlib.util.spec_from_file_location("decompose_rt.probes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_routes_compares_shapes_and_methods(probes):
    owned = [("/a/<int:x>", ["GET"], "m.f"), ("/a/<int:x>", ["PATCH"], "m.g"), ("/b/", ["POST"], "m.h"),
             ("/items/{item_id}", ["GET"], "m.i"), ("/ws", ["GET"], "m.j"), ("/gone", ["GET", "POST"], "m.k")]
    served = [("/a/<x>", {"GET", "HEAD", "OPTIONS"}), ("/b", {"POST"}), ("/items/{item_id}", {"GET"}), ("/ws", None)]
    assert probes.missing_routes(owned, served) == ["PATCH /a/<int:x>", "GET /gone", "POST /gone"]
    assert probes.missing_routes([], served) == []


def test_readiness_lists_missing_routes_capped_and_respects_the_mode(probes, monkeypatch):
    probes.service.OWNED_ROUTES = [(f"/r{i}", ["GET"], "m.f") for i in range(30)]
    status, body = probes.readiness([], [])
    assert status == 503 and body["missing_routes_total"] == 30 and len(body["missing_routes"]) == probes.MAX_LISTED
    monkeypatch.setenv("DECOMPOSE_READY_ROUTES", "warn")
    assert probes.readiness([], [])[0] == 200
    monkeypatch.setenv("DECOMPOSE_READY_ROUTES", "off")
    assert probes.readiness([], []) == (200, {"status": "ready", "service": "reports"})
    assert probes.readiness(["database: OperationalError"], [])[0] == 503


def test_readiness_verdict_reads_what_the_service_says():
    body = json.dumps({"status": "unavailable", "missing_routes": ["GET /a", "POST /b"], "missing_routes_total": 12})
    assert readiness_verdict("HTTP 503", body) == (
        "its app does not serve 12 route(s) this service owns: GET /a, POST /b (+10 more)", True)
    body = json.dumps({"status": "unavailable", "problems": ["database: OperationalError"]})
    assert readiness_verdict("HTTP 503", body) == ("HTTP 503: database: OperationalError", False)
    assert readiness_verdict("HTTP 404", "<html>") == ("HTTP 404", False)


def test_crash_loop_needs_repeated_worker_deaths():
    boot = "[2026-01-01 00:00:00 +0000] [7] [INFO] Booting worker with pid: 8"
    died = "[2026-01-01 00:00:01 +0000] [7] [ERROR] Worker (pid:8) exited with code 1."
    killed = "[2026-01-01 00:00:02 +0000] [7] [ERROR] Worker (pid:9) was sent SIGKILL! Perhaps out of memory?"
    assert crash_loop([boot]) == "" and crash_loop([boot, died]) == ""
    assert crash_loop([boot, died, boot, killed]) == "crash loop: its worker died 2 times while starting (Worker (pid:9) was sent SIGKILL)"
    uvicorn = ["INFO:     Started parent process [7]", "INFO:     Waiting for child process [8]",
               "INFO:     Child process [8] died", "INFO:     Waiting for child process [9]", "INFO:     Child process [9] died"]
    assert crash_loop(uvicorn[:3]) == ""
    assert crash_loop(uvicorn) == "crash loop: its worker died 2 times while starting (Child process [9] died)"


def test_first_error_is_the_first_tracebacks_exception_else_the_first_error_line():
    gunicorn = """\
[2026-01-01 00:00:00 +0000] [7] [INFO] Booting worker with pid: 8
[2026-01-01 00:00:01 +0000] [8] [ERROR] Exception in worker process
Traceback (most recent call last):
  File "/app/decompose_rt/server.py", line 88, in _build_with_retries
    return _base_app()
           ^^^^^^^^^^^
SystemExit: DESK_SECRET_KEY is not set

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/opt/venv/lib/python3.11/site-packages/gunicorn/arbiter.py", line 608, in spawn_worker
RuntimeError: building the app called sys.exit('DESK_SECRET_KEY is not set')
[2026-01-01 00:00:01 +0000] [8] [INFO] Worker exiting (pid: 8)
[2026-01-01 00:00:02 +0000] [7] [ERROR] Worker (pid:8) exited with code 3
[2026-01-01 00:00:02 +0000] [7] [ERROR] Shutting down: Master
[2026-01-01 00:00:02 +0000] [7] [ERROR] Reason: Worker failed to boot.""".splitlines()
    assert first_error(gunicorn) == "SystemExit: DESK_SECRET_KEY is not set"
    assert first_error(gunicorn[:2] + gunicorn[-4:]) == "[2026-01-01 00:00:02 +0000] [7] [ERROR] Shutting down: Master"
    assert first_error(["INFO:     Waiting for application startup.", "ERROR:    Traceback (most recent call last):",
                        '  File "/app/fdesk/app.py", line 18, in lifespan', "    raise X", "X: broker down", "",
                        "ERROR:    Application startup failed. Exiting."]) == "X: broker down"
    assert first_error(["starting", "fatal:   cannot  open database", "error: later"]) == "fatal: cannot open database"
    assert first_error(["ready", "lost the database", "no errors found"]) == ""


def test_probe_script_prints_the_status_and_the_body_of_a_failed_readiness():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            data = json.dumps({"status": "unavailable", "missing_routes": ["GET /x"]}, indent=2).encode()
            self.send_response(503)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = subprocess.run([sys.executable, "-c", probe_script(srv.server_address[1], "/readyz")], capture_output=True,
                           text=True)
        assert r.returncode == 1
        status, body = r.stdout.strip().splitlines()
        assert status.startswith("HTTP Error 503")
        assert readiness_verdict(status, body)[1] is True
    finally:
        srv.shutdown()
