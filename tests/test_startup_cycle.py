"""Services whose startups call each other come up (issue 10).

LNbits' app lifespan runs ``migrate_databases()`` (``lnbits.core.helpers``) in every service,
and it calls functions of other services (``lnbits.core.crud``...).  Split, every service runs
that lifespan: the helpers service calls crud, which is in its own startup calling helpers.
uvicorn listened only once a lifespan startup was complete, so each waited for the other until
``up`` timed out.  The generated server now completes the server's lifespan at once and runs
the app's startup in the background (``decompose_rt.lifespan``): RPC calls from a peer that is
starting too are answered at once, public routes answer 503 until the startup is done, and
``/readyz`` says which service this one's startup waits for.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from decompose.runtime.docker_build import load_manifest
from decompose.runtime.runner import down_local, free_port, up_local
from tests.generate_support import child_env, generate_fixture, signature, unit_source

SECRET = "s" * 32

DESK = {
    "desk/__init__.py": "",
    "desk/main.py": '''
        from contextlib import asynccontextmanager

        from fastapi import FastAPI

        from desk.crud import router as crud_router
        from desk.helpers import router as helpers_router
        from desk.migrations import migrate_databases


        @asynccontextmanager
        async def lifespan(app):
            await migrate_databases()
            yield


        app = FastAPI(lifespan=lifespan)
        app.include_router(crud_router)
        app.include_router(helpers_router)
    ''',
    "desk/crud.py": '''
        import asyncio

        from fastapi import APIRouter

        router = APIRouter(prefix="/crud")
        VERSIONS: dict = {}
        RUNS: list = []


        async def record_run() -> int:
            RUNS.append(1)
            return len(RUNS)


        async def get_version(name: str) -> int:
            await asyncio.sleep(0)
            return VERSIONS.get(name, 0)


        async def set_version(name: str, version: int) -> None:
            VERSIONS[name] = version


        @router.get("/versions")
        async def versions():
            return VERSIONS
    ''',
    "desk/helpers.py": '''
        from fastapi import APIRouter

        from desk.crud import RUNS

        router = APIRouter(prefix="/helpers")


        @router.get("/runs")
        async def runs():
            return len(RUNS)
    ''',
    "desk/migrations.py": '''
        from desk.crud import get_version, record_run, set_version

        MIGRATIONS = {"core": 2, "ext": 1}


        async def migrate_databases() -> int:
            runs = await record_run()
            for name, version in MIGRATIONS.items():
                if await get_version(name) < version:
                    await set_version(name, version)
            return runs
    ''',
}
SERVICES = {"crud": ["desk.crud"], "helpers": ["desk.helpers", "desk.migrations"]}


def test_a_service_whose_startup_calls_a_starting_peer_comes_up(tmp_path: Path):
    # helpers' startup calls crud over RPC while crud runs its own startup (the generator copies
    # desk.migrations into crud, so crud's startup is local: this fixture is not a full cycle)
    out, _ = generate_fixture(tmp_path, DESK, SERVICES, ["desk", "desk.main"], project="startcycle")
    t0 = time.monotonic()
    running = up_local(load_manifest(out), port=free_port(), timeout=90)
    try:
        assert time.monotonic() - t0 < 60
        gw = running.url
        # both startups ran, helpers' calling into crud
        assert httpx.get(gw + "/helpers/runs", timeout=10).json() == 2
        assert httpx.get(gw + "/crud/versions", timeout=10).json() == {"core": 2, "ext": 1}
    finally:
        down_local(out)


def _call(url: str, name: str, *, starting: str = "") -> httpx.Response:
    """``starting``: the chains of startups waiting for the call (its X-Decompose-Starting)."""
    body = b'{"args": ["core"], "kwargs": {}}'
    path = f"/_rpc/{name}"
    headers = {"content-type": "application/json", **signature(SECRET, "POST", path, body)}
    if starting:
        headers["x-decompose-starting"] = starting
    return httpx.post(url + path, content=body, headers=headers, timeout=30)


def test_a_service_still_starting_serves_starting_peers_and_says_whom_it_waits_for(tmp_path: Path):
    out, manifest = generate_fixture(tmp_path, DESK, SERVICES, ["desk", "desk.main"], project="startcycle")
    port, nobody = free_port(), free_port()  # crud never comes up: helpers' startup waits for it
    src = unit_source(out, manifest, "helpers")
    env = child_env(src, PORT=str(port), DECOMPOSE_RPC_SECRET=SECRET,
                    DECOMPOSE_CRUD_URL=f"http://127.0.0.1:{nobody}", DECOMPOSE_STARTUP_RPC_WAIT="1",
                    DECOMPOSE_STARTUP_HOLD_ROUND="1")
    proc = subprocess.Popen([sys.executable, "-m", "decompose_rt"], cwd=src, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "helpers never listened while its startup waited"
            time.sleep(0.2)
        time.sleep(1.5)  # a few refused retries of the call to crud
        ready = httpx.get(url + "/readyz", timeout=10)
        assert ready.status_code == 503
        (problem,) = [p for p in ready.json()["problems"] if p.startswith("starting")]
        assert "waiting for service 'crud' (desk.crud.record_run, " in problem, problem
        assert "connection refused" in problem
        public = httpx.get(url + "/helpers/runs", timeout=10)
        assert (public.status_code, public.headers.get("retry-after")) == (503, "2")
        # a peer in its own startup is held a round (DECOMPOSE_STARTUP_HOLD_ROUND) until helpers'
        # startup is done, then hears "still starting" (and retries); a call helpers' own startup
        # waits for (helpers is in its chain: crud's startup, waited for by helpers') is answered at
        # once - holding it would never end - and the cycle is named; any other caller waits, then
        # hears "still starting" (helpers' interface is empty: answered at all, it is a 404)
        t0 = time.monotonic()
        held = _call(url, "desk.crud.get_version", starting="crud")
        assert (held.status_code, held.json()["starting"]) == (503, "helpers")
        assert 0.9 < time.monotonic() - t0 < 10
        assert _call(url, "desk.crud.get_version", starting="helpers>crud;crud").status_code == 404
        cycle = [p for p in httpx.get(url + "/readyz", timeout=10).json()["problems"] if p.startswith("starting")]
        assert "startup cycles (answered at once): helpers -> crud -> helpers" in cycle[0], cycle
        late = _call(url, "desk.crud.get_version")
        assert (late.status_code, late.json()["starting"]) == (503, "helpers")
        assert "'helpers' is still starting" in late.json()["error"]["message"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
