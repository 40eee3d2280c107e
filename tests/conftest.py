"""Shared fixtures: paths to the bundled sample monolith and to real-world corpora."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_monolith"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# tests/data holds fixture monoliths with suites of their own (run by the tests
# that split those monoliths, against the split system); never collected here.
collect_ignore = ["data"]


@pytest.fixture(scope="session")
def sample_monolith() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def django_source() -> Path:
    """Django's source from PyPI (downloaded once, cached under ~/.cache/decompose-corpus)."""
    from benchmarks.corpus import django_source as fetch

    return fetch()


# ---------------------------------------------------------------------------
# Docker engine and run fixtures (build/up/down tests; owner: issue 5).
# Tests marked ``@pytest.mark.docker`` are skipped ONLY when no engine answers,
# and then loudly (reason on every test + a banner in the summary).  With
# DECOMPOSE_REQUIRE_DOCKER=1 (CI, after .ci/docker-setup.sh) they fail instead.

_DOCKER_STATE: dict = {}


def docker_unreachable_reason() -> str | None:
    """None when a Docker engine answers a ping, else why not (checked once)."""
    if "reason" not in _DOCKER_STATE:
        reason = None
        try:
            from decompose.runtime.docker_build import EngineUnavailable, docker_client

            docker_client(timeout=10).close()
        except EngineUnavailable as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure to connect means "no engine"
            reason = f"cannot reach a Docker engine: {exc}"
        _DOCKER_STATE["reason"] = reason
    return _DOCKER_STATE["reason"]


def pytest_collection_modifyitems(config, items):
    docker_items = [it for it in items if it.get_closest_marker("docker")]
    if not docker_items:
        return
    reason = docker_unreachable_reason()
    if reason is None:
        return
    if os.environ.get("DECOMPOSE_REQUIRE_DOCKER") == "1":
        _DOCKER_STATE["required_missing"] = True  # each test fails in pytest_runtest_setup
        return
    _DOCKER_STATE["skipped"] = len(docker_items)
    skip = pytest.mark.skip(reason=f"NO DOCKER ENGINE - Docker test skipped: {reason}")
    for it in docker_items:
        it.add_marker(skip)


def pytest_runtest_setup(item):
    if _DOCKER_STATE.get("required_missing") and item.get_closest_marker("docker"):
        pytest.fail(f"DECOMPOSE_REQUIRE_DOCKER=1 but {docker_unreachable_reason()}", pytrace=False)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    n = _DOCKER_STATE.get("skipped")
    if n:
        tr = terminalreporter
        tr.write_sep("!", f"{n} DOCKER TESTS SKIPPED: no Docker engine", red=True, bold=True)
        tr.write_line(f"  {_DOCKER_STATE['reason']}", red=True)
        tr.write_line("  Start one as root with: bash .ci/docker-setup.sh", red=True)


@pytest.fixture(scope="session")
def docker_client_fixture():
    from decompose.runtime.docker_build import docker_client

    client = docker_client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image() -> str:
    """A locally available Python base image for test builds (.ci/docker-setup.sh tags it)."""
    return os.environ.get("DECOMPOSE_TEST_BASE_IMAGE", "python:3.11-slim")


# A tiny "generate" output (stdlib-only services, so builds need no PyPI):
# greeter -> namer over HTTP by service name, and a gateway publishing /hello.
_FAKE_APP = r'''
import json, os, sys, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = os.environ.get("ROLE", "namer")
ROUTES = {"/hello": "DECOMPOSE_GREETER_URL", "/state": "DECOMPOSE_NAMER_URL"}


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        sys.stderr.write("%s %s\n" % (ROLE, a[0] % a[1:]))

    def send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path in ("/healthz", "/readyz"):
            return self.send(200, {"status": "ok", "role": ROLE})
        if ROLE == "namer" and self.path == "/state":
            with open(os.environ["STATE_FILE"]) as f:
                return self.send(200, {"lines": sorted(f.read().split())})
        if ROLE == "namer" and self.path == "/name":
            return self.send(200, {"name": os.environ.get("NAME", "world")})
        if ROLE == "greeter" and self.path == "/hello":
            with urllib.request.urlopen(os.environ["DECOMPOSE_NAMER_URL"] + "/name", timeout=5) as r:
                name = json.load(r)["name"]
            return self.send(200, {"greeting": "hello " + name})
        if ROLE == "gateway" and self.path in ROUTES:
            with urllib.request.urlopen(os.environ[ROUTES[self.path]] + self.path, timeout=5) as r:
                return self.send(r.status, json.load(r))
        self.send(404, {"error": "not_found"})


if __name__ == "__main__":
    if os.environ.get("CRASH"):
        print("fatal: " + os.environ["CRASH"], flush=True)
        sys.exit(3)
    if os.environ.get("STATE_FILE"):  # services sharing a volume both write here
        with open(os.environ["STATE_FILE"], "a") as f:
            f.write(ROLE + "\n")
    port = int(os.environ.get("PORT", "8000"))
    print(ROLE + " listening on %d" % port, flush=True)
    ThreadingHTTPServer((os.environ.get("HOST", "0.0.0.0"), port), H).serve_forever()
'''

_FAKE_DOCKERFILE = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY app.py /app/app.py
RUN mkdir -p /shared-data && chown 65534:65534 /shared-data
USER 65534
EXPOSE 8000
CMD ["python", "/app/app.py"]
"""


def write_fake_output(
    root: Path, project: str = "fakeshop", *, crash: str = "", dockerfile_extra: str = "", shared_volume: bool = False
) -> Path:
    """Write a generate-style output folder with ``namer``, ``greeter`` and ``gateway``.

    ``shared_volume``: namer and greeter mount volume ``state`` at /shared-data
    and append their role to /shared-data/state.txt on start (GET /state).
    """
    import json

    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in ("namer", "greeter", "gateway"):
        ctx = root / ("gateway" if name == "gateway" else f"services/{name}")
        ctx.mkdir(parents=True, exist_ok=True)
        (ctx / "app.py").write_text(_FAKE_APP)
        (ctx / "Dockerfile").write_text(_FAKE_DOCKERFILE + (dockerfile_extra if name == "greeter" else ""))
        env = {"ROLE": name}
        if crash and name == "greeter":
            env["CRASH"] = crash
        volumes = []
        if shared_volume and name != "gateway":
            env["STATE_FILE"] = "/shared-data/state.txt"
            volumes = [{"name": "state", "path": "/shared-data"}]
        entries.append(
            {
                "name": name,
                "context": str(ctx.relative_to(root)),
                "image": f"{project}/{name}:0.1.0",
                "port": 8000,
                "health": "/healthz",
                "ready": "/readyz",
                "env": env,
                "calls": {"greeter": ["namer"], "gateway": ["greeter"]}.get(name, []),
                "routes": ["/hello"] if name == "greeter" else [],
                "command": ["python", "app.py"],
                "volumes": volumes,
            }
        )
    manifest = {"project": project, "version": "0.1.0", "services": entries[:2], "gateway": entries[2]}
    (root / "decompose-output.json").write_text(json.dumps(manifest, indent=2))
    return root
