"""Shared helpers of the generate tests: a plan from sample_monolith/reference.yaml,
one generated output folder per session, and running the generated units as processes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from decompose.planning.plan import Plan
from decompose.runtime.database import load_server, local_env
from decompose.planning.planfile import save_plan

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_monolith"


def reference_plan(source: Path = SAMPLE, project: str = "shop") -> Plan:
    ref = yaml.safe_load((source / "reference.yaml").read_text(encoding="utf-8"))
    return Plan.from_dict({"project": project, "source": str(source), **ref})


def write_reference_plan(path: Path) -> Path:
    save_plan(reference_plan(), path)
    return path


def signature(secret: str, method: str, path: str, body: bytes = b"", now: float | None = None) -> dict[str, str]:
    """The ``X-Decompose-Signature`` header of a request, computed as docs/generate.md describes
    (independently of the generated runtime, so the documented scheme is what is tested)."""
    t = str(int(time.time() if now is None else now))
    message = "\n".join(("decompose-v1", t, method, path, hashlib.sha256(body).hexdigest())).encode()
    return {"X-Decompose-Signature": f"t={t},v1={hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()}"}


class SignedAuth(httpx.Auth):
    """httpx auth signing every request with the deployment's RPC secret."""

    requires_request_body = True

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def auth_flow(self, request):
        request.headers.update(signature(self.secret, request.method, request.url.path, request.content))
        yield request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    def __init__(self, out: Path, data: Path, names: list[str] | None = None):
        self.out = out
        manifest = json.loads((out / "decompose-output.json").read_text())
        self.manifest = manifest
        units = manifest["services"] + [manifest["gateway"]]
        self.units = [u for u in units if names is None or u["name"] in names]
        self.ports = {u["name"]: free_port() for u in units}
        self.data = data
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = data / "logs"
        self.secret = secrets.token_hex(32)  # this run's RPC secret, given to every service (not the gateway)
        self.auth = SignedAuth(self.secret)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, timeout: float = 90) -> "Running":
        self.logs.mkdir(parents=True, exist_ok=True)
        all_units = self.manifest["services"] + [self.manifest["gateway"]]
        for u in self.units:
            env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k != "PYTHONPATH"}
            env.update(u["env"])
            for v in all_units:
                env[v["url_env"]] = self.url(v["name"])
            src = self.out / u["source"]
            env.update(PORT=str(self.ports[u["name"]]), HOST="127.0.0.1", DECOMPOSE_LOCAL_DATA=str(self.data),
                       PYTHONPATH=str(src), PYTHONUNBUFFERED="1")
            if u["role"] == "service":
                env["DECOMPOSE_RPC_SECRET"] = self.secret
                server = load_server(self.out)
                if server is not None:  # as `up --local` runs them: SQLite files, one per database
                    local_env(env, server, u["name"], self.data / "volumes")
            argv = [sys.executable if u["command"][0] == "python" else u["command"][0], *u["command"][1:]]
            with open(self.logs / f"{u['name']}.log", "wb") as log:
                self.procs[u["name"]] = subprocess.Popen(
                    argv, cwd=src, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        deadline = time.monotonic() + timeout
        for u in self.units:
            while True:
                if self.procs[u["name"]].poll() is not None:
                    self.stop()
                    raise AssertionError(f"{u['name']} exited:\n{self.log(u['name'])}")
                try:
                    if httpx.get(self.url(u["name"]) + u["readiness"], timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"{u['name']} not ready in {timeout}s:\n{self.log(u['name'])}")
                time.sleep(0.2)
        return self

    def log(self, name: str) -> str:
        try:
            return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


def tool(name: str) -> str:
    """A validator installed by the test extra: on PATH or next to this Python; missing is a failure."""
    import os
    import shutil
    import sys

    path = shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))
    assert path, f"{name} not found: pip install -e '.[test]'"
    return path


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """``files`` (relative path -> text, dedented) written under ``root``."""
    import textwrap

    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def generate_fixture(tmp_path: Path, files: dict[str, str], services: dict[str, list[str]], shared: list[str],
                     project: str = "desk") -> tuple[Path, dict]:
    """A small monolith of ``files`` (dedented) written to ``tmp_path/mono``, planned by hand
    (service -> modules, the shared modules) and generated with the CLI into ``tmp_path/out``:
    (the output folder, its decompose-output.json)."""
    import json

    from typer.testing import CliRunner

    from decompose.cli import app
    from decompose.planning.plan import Plan, Service
    from decompose.planning.planfile import save_plan

    root = write_tree(tmp_path / "mono", files)
    plan = Plan(project=project, source=str(root),
                services={n: Service(name=n, modules=m) for n, m in services.items()}, shared=list(shared))
    save_plan(plan, tmp_path / "decompose.yaml")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "decompose.yaml"), "--output", str(out)])
    assert r.exit_code == 0, r.output
    return out, json.loads((out / "decompose-output.json").read_text())


def unit_source(out: Path, manifest: dict, name: str) -> Path:
    """The source folder (``app/``) of service ``name`` in a generated output."""
    return out / next(u["source"] for u in manifest["services"] if u["name"] == name)


def child_env(src: Path, **extra: str) -> dict[str, str]:
    """The environment of a process running a generated service's code from ``src``: this
    process's, without DECOMPOSE_* and PYTHONPATH, plus PYTHONPATH=src and ``extra``."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(src), **extra)
    return env


class StandInGateway:
    """A real HTTP server on loopback standing in for the split system's gateway: each POST runs
    ``on_post(body)`` (what a service would do) and answers 200 ``ok``.  A context manager; ``url``."""

    def __init__(self, on_post):
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                on_post(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "StandInGateway":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
