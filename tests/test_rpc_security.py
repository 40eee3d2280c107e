"""Security of the generated system (issue 14, item 9), tried from outside as a user would.

* The gateway forwards public routes only: ``/_rpc/...``, ``/_decompose/...``
  (however spelled: ``%2F``, ``//``, ``..``) and the services' probes get its own
  404, and nothing reaches a service.
* Every internal endpoint of a service checks an HMAC signature made with the
  deployment's RPC secret: without it 401 and nothing else (no function name,
  no exception, no attribute); with it, it works, and errors still carry what
  the calling client needs to raise them again.
* Generated files name where the secret lives (a compose secret file, a Kubernetes
  Secret from each overlay's secretGenerator) and never hold one.

For Flask (sample_monolith) and FastAPI (tests/data/fastapi_shop) as processes,
through ``decompose up --local`` and, with Docker, ``decompose up`` (project
``secshop``, so nothing collides with the other Docker tests).
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from decompose.generation.output import generation_for, render_outputs, write_outputs
from decompose.runtime.database import load_server, local_env
from decompose.planning.plan import Plan
from decompose.planning.planfile import save_plan

from tests.generate_support import REPO, SAMPLE, Running, free_port, reference_plan, signature

PROJECT = "secshop"
FASTAPI_FIXTURE = REPO / "tests" / "data" / "fastapi_shop"
MARK_DELIVERED = "/_rpc/shop.orders.service.mark_delivered"
UNAUTHORIZED = {"error": "unauthorized"}

#: Ways of asking the gateway for something internal; none may be forwarded.
INTERNAL_VIA_GATEWAY = [
    ("POST", MARK_DELIVERED),
    ("POST", "/_rpc/shop.catalog.service.product_exists"),
    ("GET", "/_rpc/"),
    ("GET", "/_rpc"),
    ("GET", "/_decompose/routes"),
    ("GET", "/_decompose"),
    ("POST", "/_rpc%2Fshop.orders.service.mark_delivered"),
    ("POST", "/%5Frpc/shop.orders.service.mark_delivered"),
    ("POST", "/_rpc%252Fshop.orders.service.mark_delivered"),
    ("POST", "//_rpc/shop.orders.service.mark_delivered"),
    ("POST", "/api/../_rpc/shop.orders.service.mark_delivered"),
    ("POST", "/api/orders/..%2F..%2F_rpc/shop.orders.service.mark_delivered"),
    ("GET", "/./_decompose/routes"),
    ("GET", "/readyz/."),
    ("GET", "/healthz/../readyz"),
    ("GET", "/healthz/."),
]


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "decompose", *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=REPO)


def generate(plan: Plan, folder: Path) -> Path:
    save_plan(plan, folder / "decompose.yaml")
    gen, root, facts, sources = generation_for(folder / "decompose.yaml", use_cache=False)
    out = folder / "out"
    write_outputs(out, render_outputs(gen, facts, sources, root=root).files)
    return out


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(reference_plan(project=PROJECT), tmp_path_factory.mktemp("secshop"))


class Answer:
    def __init__(self, status_code: int, text: str) -> None:
        self.status_code = status_code
        self.text = text

    def json(self):
        return json.loads(self.text)


def raw(method: str, url: str, path: str, body: bytes = b"", headers: dict | None = None) -> Answer:
    """A request whose path goes on the wire exactly as written (http.client does not normalise it)."""
    hostport = url.split("://", 1)[1]
    conn = http.client.HTTPConnection(hostport, timeout=15)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Answer(r.status, r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def assert_gateway_forwards_nothing_internal(gateway: str, logs=None) -> None:
    for method, path in INTERNAL_VIA_GATEWAY:
        r = raw(method, gateway, path, b'{"args": [999999]}', {"content-type": "application/json"})
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert r.json() == {"error": {"code": "not_found", "message": "no such public route"}}, (method, path)
    if logs is not None:
        text = logs()
        assert "_rpc" not in text and "_decompose" not in text, text[-3000:]


def assert_unsigned_calls_learn_nothing(service: str, secret: str) -> None:
    """``service``: base URL of the orders service, reached directly."""
    body = json.dumps({"args": [999999]}).encode()
    json_ct = {"content-type": "application/json"}
    stale = signature(secret, "POST", MARK_DELIVERED, body, now=time.time() - 3600)
    future = signature(secret, "POST", MARK_DELIVERED, body, now=time.time() + 3600)
    wrong_secret = signature("x" * 64, "POST", MARK_DELIVERED, body)
    other_body = signature(secret, "POST", MARK_DELIVERED, b'{"args": [1]}')
    other_path = signature(secret, "POST", "/_rpc/shop.orders.service.get_order", body)
    attempts = [
        ("POST", MARK_DELIVERED, {}),
        ("POST", MARK_DELIVERED, {"X-Decompose-Signature": "t=1,v1=" + "0" * 64}),
        ("POST", MARK_DELIVERED, {"X-Decompose-Signature": secret}),
        ("POST", MARK_DELIVERED, {"Authorization": f"Bearer {secret}"}),
        ("POST", MARK_DELIVERED, stale),
        ("POST", MARK_DELIVERED, future),
        ("POST", MARK_DELIVERED, wrong_secret),
        ("POST", MARK_DELIVERED, other_body),
        ("POST", MARK_DELIVERED, other_path),
        ("POST", "/_rpc/no.such.function", {}),
        ("GET", MARK_DELIVERED, {}),
        ("GET", "/_decompose/routes", {}),
        ("GET", "/_decompose/nothing", {}),
        ("POST", "/_rpc%2Fshop.orders.service.mark_delivered", {}),
    ]
    for method, path, headers in attempts:
        r = raw(method, service, path, body, {**json_ct, **headers})
        assert r.status_code == 401, (method, path, headers, r.status_code, r.text)
        assert r.json() == UNAUTHORIZED, (method, path, r.text)
        assert "shop" not in r.text and "NotFound" not in r.text


def assert_signed_calls_work(service: str, secret: str) -> None:
    body = json.dumps({"args": [999999]}).encode()
    r = raw("POST", service, MARK_DELIVERED, body,
            {"content-type": "application/json", **signature(secret, "POST", MARK_DELIVERED, body)})
    # the function ran: orders raised its own NotFound, which a calling client raises again
    assert r.status_code == 500, r.text
    error = r.json()["error"]
    assert error["__t__"] == "exception" and error["cls"] == "shop.utils.errors:NotFound", error
    r = raw("GET", service, "/_decompose/routes", b"", signature(secret, "GET", "/_decompose/routes"))
    assert r.status_code == 200 and r.json()["service"] == "orders", r.text


# --------------------------------------------------------------------------- generated files


def test_generated_files_name_where_the_secret_lives_and_hold_none(out):
    m = json.loads((out / "decompose-output.json").read_text())
    services = [u["name"] for u in m["services"]]
    assert m["rpc_auth"]["units"] == services and m["rpc_auth"]["header"] == "X-Decompose-Signature"
    compose = yaml.safe_load((out / "compose.yaml").read_text())
    mount = "/run/secrets/decompose/rpc-secret"  # where `up` and Kubernetes mount it too (runtime.run_secret)
    header = (out / "compose.yaml").read_text().split("\nname:", 1)[0]
    assert "python3 make-secrets.py" in header and "secrets/rpc-secret" in header and mount in header
    assert "rpc.env" not in header and "env_file" not in header
    assert compose["secrets"]["rpc-secret"] == {"file": "secrets/rpc-secret"}
    for name, svc in compose["services"].items():
        assert "env_file" not in svc, name  # the secret is a mounted file, never an environment value
        assert "DECOMPOSE_RPC_SECRET" not in svc["environment"]
        rpc = [s for s in svc.get("secrets", []) if isinstance(s, dict) and s.get("source") == "rpc-secret"]
        if name in services:
            assert rpc == [{"source": "rpc-secret", "target": mount}], name
            assert svc["environment"]["DECOMPOSE_RPC_SECRET_FILE"] == mount, name
        else:
            assert rpc == [] and "DECOMPOSE_RPC_SECRET_FILE" not in svc["environment"], name
        for ref in svc.get("secrets", []):  # every secret a service names is declared with a file
            assert (ref["source"] if isinstance(ref, dict) else ref) in compose["secrets"], (name, ref)
        assert ("ports" in svc) == (name == "gateway")
    for folder in ("secrets", "k8s/overlays/dev/secrets", "k8s/overlays/prod/secrets"):
        ignore = (out / folder / ".gitignore").read_text().splitlines()
        assert "*" in ignore and "!.gitignore" in ignore, folder
    for overlay in ("dev", "prod"):
        k = yaml.safe_load((out / "k8s/overlays" / overlay / "kustomization.yaml").read_text())
        assert [g for g in k["secretGenerator"] if g["name"] == "decompose-rpc"] == [{  # (+ the database's)
            "name": "decompose-rpc", "namespace": PROJECT, "type": "Opaque", "files": ["rpc-secret=secrets/rpc-secret"],
            "options": {"labels": {"app.kubernetes.io/name": "decompose-rpc", "app.kubernetes.io/part-of": PROJECT,
                                   "app.kubernetes.io/managed-by": "decompose"}},
        }]
    gateway_files = "\n".join(p.read_text() for p in (out / "gateway").rglob("*") if p.is_file())
    assert "DECOMPOSE_RPC_SECRET" not in gateway_files  # the gateway never holds the secret
    hexes = re.compile(rb"\b[0-9a-f]{40,}\b")
    for p in out.rglob("*"):
        if p.is_file():
            assert not hexes.search(p.read_bytes()), p  # no secret-looking value anywhere


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runtime_signs_and_verifies_with_rotation_skew_and_file_reload(out, tmp_path, monkeypatch):
    path = out / "services/orders/app/decompose_rt/auth.py"
    old, new = "o" * 40, "n" * 40
    monkeypatch.delenv("DECOMPOSE_RPC_SECRET_FILE", raising=False)
    monkeypatch.setenv("DECOMPOSE_RPC_SECRET", f"{new}, {old} short")
    auth = _load(path, "secshop_auth_env")
    assert "DECOMPOSE_RPC_SECRET" not in os.environ  # read once, then gone from the environment
    assert auth.secrets() == (new.encode(), old.encode())  # "short" is ignored (< 32 characters)
    # the generated runtime signs exactly as docs/generate.md says (computed independently in generate_support)
    assert auth.sign("POST", "/_rpc/a.b", b"{}", now=1_700_000_000) == signature(new, "POST", "/_rpc/a.b", b"{}",
                                                                                now=1_700_000_000)
    header = auth.sign("POST", "/_rpc/a.b", b"{}")["X-Decompose-Signature"]
    assert auth.verify("POST", "/_rpc/a.b", b"{}", header)
    assert auth.verify("POST", "/_rpc/a.b", b"{}", signature(old, "POST", "/_rpc/a.b", b"{}")["X-Decompose-Signature"])
    assert not auth.verify("POST", "/_rpc/a.b", b"{ }", header)
    assert not auth.verify("POST", "/_rpc/a.c", b"{}", header)
    assert not auth.verify("GET", "/_rpc/a.b", b"{}", header)
    assert not auth.verify("POST", "/_rpc/a.b", b"{}", header, now=time.time() + 301)
    assert auth.verify("POST", "/_rpc/a.b", b"{}", header, now=time.time() + 250)
    for internal in ("/_rpc", "/_rpc/x", "//_rpc/x", "/a/../_rpc/x", "/_rpc%2Fx", "/%5Fdecompose/routes", "/_decompose"):
        assert auth.is_internal(internal), internal
    for public in ("/", "/api/orders", "/_rpcx", "/api/_rpc", "/healthz"):
        assert not auth.is_internal(public), public

    secret_file = tmp_path / "rpc-secret"
    secret_file.write_text(old + "\n")
    monkeypatch.setenv("DECOMPOSE_RPC_SECRET_FILE", str(secret_file))
    monkeypatch.setenv("DECOMPOSE_RPC_SECRET", "e" * 40)  # the file wins
    auth = _load(path, "secshop_auth_file")
    assert auth.secrets() == (old.encode(),) and auth.problems() == []
    time.sleep(0.01)
    secret_file.write_text(f"{new}\n{old}\n")  # rotation step 1: the new one signs, the old one still verifies
    assert auth.secrets() == (new.encode(), old.encode())
    secret_file.write_text("")
    assert auth.secrets() == () and auth.problems()
    with pytest.raises(auth.MissingSecret):
        auth.sign("POST", "/_rpc/a.b")


# --------------------------------------------------------------------------- processes (Flask)


def full_log(running: Running, name: str) -> str:
    return (running.logs / f"{name}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def running(out, tmp_path_factory):
    run = Running(out, tmp_path_factory.mktemp("secshop-run")).start()
    yield run
    run.stop()


def test_public_routes_work_through_the_gateway_and_nothing_internal_is_forwarded(running):
    gw = httpx.Client(base_url=running.url("gateway"), timeout=30)
    product = gw.post("/api/catalog/products", json={"sku": "SEC-1", "name": "Sec widget", "price_cents": 100})
    assert product.status_code == 201, product.text
    # a cross-service call (inventory -> catalog) is signed by the generated client and accepted
    r = gw.post(f"/api/inventory/stock/{product.json()['id']}/adjust", json={"delta": 2, "reason": "restock"})
    assert r.status_code == 200 and r.json()["on_hand"] == 2, r.text
    assert gw.get("/health").status_code == 200 and gw.get("/healthz").json()["service"] == "gateway"
    assert gw.get("/api/nope").json()["error"]["code"] == "not_found"  # the monolith's own 404 still
    logs = {name: len(full_log(running, name)) for name in running.ports if name != "gateway"}
    assert_gateway_forwards_nothing_internal(
        running.url("gateway"), lambda: "".join(full_log(running, n)[start:] for n, start in logs.items()))


def test_a_service_refuses_unsigned_calls_and_answers_signed_ones(running):
    before = len(full_log(running, "orders"))
    assert_unsigned_calls_learn_nothing(running.url("orders"), running.secret)
    answered = re.findall(r'"(?:GET|POST) /_(?:rpc|decompose)[^"]*" (\d{3}) ', full_log(running, "orders")[before:])
    assert answered and set(answered) == {"401"}  # every one refused before the app saw it
    assert_signed_calls_work(running.url("orders"), running.secret)


def test_a_service_without_the_secret_is_not_ready_and_refuses_everything(out, tmp_path):
    unit = next(u for u in json.loads((out / "decompose-output.json").read_text())["services"] if u["name"] == "catalog")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k != "PYTHONPATH"}
    env.update(unit["env"], PORT=str(port), HOST="127.0.0.1", DECOMPOSE_LOCAL_DATA=str(tmp_path),
               PYTHONPATH=str(out / unit["source"]), DECOMPOSE_RPC_SECRET="too-short")
    local_env(env, load_server(out), "catalog", tmp_path / "volumes")  # as `up --local`: SQLite, no server
    log = tmp_path / "catalog.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "decompose_rt"], cwd=out / unit["source"], env=env, stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.2)
        ready = httpx.get(url + "/readyz", timeout=5)
        assert ready.status_code == 503 and any("rpc secret" in p for p in ready.json()["problems"])
        body = b'{"args": [1]}'
        for secret in ("too-short", "x" * 64):
            r = raw("POST", url, "/_rpc/shop.catalog.service.product_exists", body,
                    {"content-type": "application/json",
                     **signature(secret, "POST", "/_rpc/shop.catalog.service.product_exists", body)})
            assert r.status_code == 401 and r.json() == UNAUTHORIZED
        assert "no RPC secret configured" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(15)


# --------------------------------------------------------------------------- processes (FastAPI)


@pytest.fixture(scope="module")
def fastapi_running(tmp_path_factory):
    ref = yaml.safe_load((FASTAPI_FIXTURE / "reference.yaml").read_text(encoding="utf-8"))
    folder = tmp_path_factory.mktemp("secfshop")
    out = generate(Plan.from_dict({"project": "secfshop", "source": str(FASTAPI_FIXTURE), **ref}), folder)
    run = Running(out, folder / "run").start()
    yield run
    run.stop()


def test_fastapi_services_check_the_signature_too(fastapi_running):
    run = fastapi_running
    name = "/_rpc/fshop.users.service.user_exists"
    body = b'{"kwargs": {"user_id": 1000000000}}'
    ct = {"content-type": "application/json"}
    for headers in ({}, signature("x" * 64, "POST", name, body), signature(run.secret, "POST", name, b"{}")):
        r = raw("POST", run.url("users"), name, body, {**ct, **headers})
        assert r.status_code == 401 and r.json() == UNAUTHORIZED, r.text
    assert raw("GET", run.url("users"), "/_decompose/routes").status_code == 401
    r = raw("POST", run.url("users"), name, body, {**ct, **signature(run.secret, "POST", name, body)})
    assert r.status_code == 200 and r.json() == {"result": False}, r.text
    r = raw("GET", run.url("users"), "/_decompose/routes", b"", signature(run.secret, "GET", "/_decompose/routes"))
    assert r.status_code == 200 and r.json()["service"] == "users"
    for method, path in (("POST", name), ("GET", "/_decompose/routes"), ("POST", "/_rpc%2Ffshop.users.service.user_exists")):
        r = raw(method, run.url("gateway"), path, body, ct)
        assert r.status_code == 404, (path, r.text)


# --------------------------------------------------------------------------- decompose up --local / up (Docker)


def _copy(out: Path, dest: Path) -> Path:
    shutil.copytree(out, dest, ignore=shutil.ignore_patterns(".decompose-run", ".decompose-local"))
    return dest


def test_up_local_makes_a_secret_per_run_and_only_services_get_it(out, tmp_path):
    root = _copy(out, tmp_path / "out")
    port = free_port()
    up = cli("up", "--local", "--port", str(port), "--timeout", "120", "--format", "json", str(root))
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        data = json.loads(up.stdout)
        secret_file = Path(data["rpc_secret_file"])
        assert secret_file == root / ".decompose-run/rpc-secret.local"
        assert secret_file.stat().st_mode & 0o777 == 0o600 and secret_file.parent.stat().st_mode & 0o077 == 0
        secret = secret_file.read_text().strip()
        assert re.fullmatch(r"[0-9a-f]{64}", secret)
        gateway = data["url"]
        r = httpx.get(gateway + "/api/catalog/categories", timeout=30)
        assert r.status_code == 200, r.text
        assert_gateway_forwards_nothing_internal(gateway)
        orders = "http://" + data["units"]["orders"]
        assert_unsigned_calls_learn_nothing(orders, secret)
        assert_signed_calls_work(orders, secret)
        # the secret is a file for the services, and nowhere in any process' environment
        registry = json.loads((root / ".decompose-run/local.json").read_text())
        for p in registry["processes"]:
            environ = Path(f"/proc/{p['pid']}/environ").read_bytes().split(b"\0")
            assert not any(e.startswith(b"DECOMPOSE_RPC_SECRET=") for e in environ), p["name"]
            has_file = f"DECOMPOSE_RPC_SECRET_FILE={secret_file.resolve()}".encode() in environ
            assert has_file == (p["name"] != "gateway"), p["name"]
    finally:
        down = cli("down", "--local", str(root))
    assert down.returncode == 0 and not (root / ".decompose-run/rpc-secret.local").exists()


@pytest.mark.docker
@pytest.mark.slow
def test_up_in_docker_only_the_services_hold_the_secret(out, tmp_path, base_image, docker_client_fixture):
    root = _copy(out, tmp_path / "out")
    build = cli("build", "--base-image", base_image, "-q", str(root), timeout=2400)
    assert build.returncode == 0, build.stderr[-3000:]
    port = free_port()
    try:
        up = cli("up", "--port", str(port), "--timeout", "180", "--format", "json", str(root))
        assert up.returncode == 0, up.stderr[-3000:]
        data = json.loads(up.stdout)
        secret_file = root / ".decompose-run/rpc-secret.docker"
        assert Path(data["rpc_secret_file"]) == secret_file and secret_file.stat().st_mode & 0o777 == 0o600
        secret = secret_file.read_text().strip()
        gateway = data["url"]
        r = httpx.get(gateway + "/api/catalog/categories", timeout=30)
        assert r.status_code == 200, r.text
        containers = {c.labels["io.decompose.service"]: c for c in
                      docker_client_fixture.containers.list(filters={"label": f"io.decompose.project={PROJECT}"})}
        orders_logs = containers["orders"].logs().decode("utf-8", "replace")
        assert_gateway_forwards_nothing_internal(
            gateway, lambda: containers["orders"].logs().decode("utf-8", "replace")[len(orders_logs):])
        for name, c in containers.items():
            env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
            assert secret not in json.dumps(docker_client_fixture.api.inspect_container(c.id)), name  # a file only
            assert "DECOMPOSE_RPC_SECRET" not in env, name
            is_service = c.labels.get("io.decompose.role") == "service"  # not the gateway, not the database
            assert ("DECOMPOSE_RPC_SECRET_FILE" in env) == is_service, name
        ip = containers["orders"].attrs["NetworkSettings"]["Networks"][PROJECT]["IPAddress"]
        orders = f"http://{ip}:8000"  # reached directly, as a neighbour on the network would
        assert_unsigned_calls_learn_nothing(orders, secret)
        assert_signed_calls_work(orders, secret)
    finally:
        down = cli("down", str(root))
    assert down.returncode == 0, down.stderr
    assert not secret_file.exists()
