"""Startups calling each other: held until the callee is ready, cycles answered (issue 10).

LNbits' lifespan runs ``migrate_databases()``, ``check_admin_settings()`` and more in every
service, each an RPC call into the one service owning them.  Answered at once while that service
was still starting, twenty such calls ran the monolith's once-only startup work twenty times at
once on one SQLite file; each took over 30 s and the callers' startups died on
``httpcore.ReadTimeout``.  Now a starting peer's call is held until the callee's own startup is
done (so that work runs once, alone, as in the monolith), a call the callee's startup itself
waits for (a cycle of startups) is answered at once and logged in one line, and a startup call's
read timeout is the startup budget, not the 30 s of an ordinary call.

The fixtures, shaped as LNbits' (its app's startup in a module of its own, ``lnbits.app``, calling
the owners' functions): ``helpers.migrate_databases`` migrates, slowly (longer than the read
timeout ``DECOMPOSE_RPC_TIMEOUT`` of the run), and every service's startup calls it.  In
:data:`ONCE` helpers keeps the versions itself: crud's startup waits for helpers, and the
migration runs once.  In :data:`DESK` it keeps them in crud: crud's startup waits for helpers,
whose startup waits for crud, a cycle, which one of them answers at once and names.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from decompose.runtime.docker_build import load_manifest
from decompose.runtime.runner import down_local, free_port, up_local
from tests.generate_support import generate_fixture

DESK = {
    "desk/__init__.py": "",
    "desk/main.py": '''
        from contextlib import asynccontextmanager

        from fastapi import FastAPI

        from desk.crud import router as crud_router
        from desk.helpers import router as helpers_router
        from desk.startup import startup


        @asynccontextmanager
        async def lifespan(app):
            await startup()
            yield


        app = FastAPI(lifespan=lifespan)
        app.include_router(crud_router)
        app.include_router(helpers_router)
    ''',
    "desk/startup.py": '''
        from desk.crud import load_settings
        from desk.helpers import migrate_databases


        async def startup() -> None:
            await migrate_databases()
            await load_settings()
    ''',
    "desk/crud.py": '''
        from fastapi import APIRouter

        router = APIRouter(prefix="/crud")
        VERSIONS: dict = {}


        async def get_version(name: str) -> int:
            return VERSIONS.get(name, 0)


        async def set_version(name: str, version: int) -> None:
            VERSIONS[name] = version


        async def load_settings() -> int:
            return len(VERSIONS)


        @router.get("/versions")
        async def versions():
            return VERSIONS
    ''',
    "desk/helpers.py": '''
        import asyncio

        from fastapi import APIRouter

        from desk.crud import get_version, set_version

        router = APIRouter(prefix="/helpers")
        MIGRATED: list = []


        async def migrate_databases() -> int:
            if await get_version("core") < 1:
                MIGRATED.append(1)
                await asyncio.sleep(4)  # a migration: longer than the run's read timeout
                await set_version("core", 1)
            return len(MIGRATED)


        @router.get("/migrated")
        async def migrated():
            return len(MIGRATED)
    ''',
}
SERVICES = {"crud": ["desk.crud"], "helpers": ["desk.helpers"]}


ONCE = {
    "desk/__init__.py": "",
    "desk/main.py": DESK["desk/main.py"],
    "desk/startup.py": '''
        from desk.helpers import migrate_databases


        async def startup() -> None:
            await migrate_databases()
    ''',
    "desk/crud.py": '''
        from fastapi import APIRouter

        router = APIRouter(prefix="/crud")


        @router.get("/ping")
        async def ping():
            return "pong"
    ''',
    "desk/helpers.py": '''
        import asyncio

        from fastapi import APIRouter

        router = APIRouter(prefix="/helpers")
        VERSIONS: dict = {}
        MIGRATED: list = []


        async def migrate_databases() -> int:
            if VERSIONS.get("core", 0) < 1:
                MIGRATED.append(1)
                await asyncio.sleep(4)  # a migration: longer than the run's read timeout
                VERSIONS["core"] = 1
            return len(MIGRATED)


        @router.get("/migrated")
        async def migrated():
            return len(MIGRATED)
    ''',
}


def _up(tmp_path: Path, monkeypatch, files: dict):
    out, _ = generate_fixture(tmp_path, files, SERVICES, ["desk", "desk.main", "desk.startup"], project="starthold")
    clients = (out / "services" / "crud" / "app" / "decompose_rt" / "clients").glob("*.py")
    assert any("migrate_databases" in p.read_text() for p in clients), "crud's startup must call helpers"
    monkeypatch.setenv("DECOMPOSE_RPC_TIMEOUT", "2")  # shorter than the migration: a startup call outlives it
    return out, up_local(load_manifest(out), port=free_port(), timeout=90)


def _logs(out: Path) -> dict[str, str]:
    return {p.stem: p.read_text(errors="replace") for p in (out / ".decompose-run" / "logs").glob("*.log")}


def test_a_startup_calling_a_starting_peer_waits_for_it_and_the_work_runs_once(tmp_path: Path, monkeypatch):
    out, running = _up(tmp_path, monkeypatch, ONCE)
    try:
        # crud's call was held until helpers' own startup had migrated: the migration ran once
        # (answered at once it ran twice, concurrently, and crud's startup died on a ReadTimeout)
        assert httpx.get(running.url + "/helpers/migrated", timeout=10).json() == 1
        assert httpx.get(running.url + "/crud/ping", timeout=10).json() == "pong"
        logs = _logs(out)
        assert not any("ReadTimeout" in text or "startup cycle" in text for text in logs.values())
        assert "POST /_rpc/desk.helpers.migrate_databases HTTP/1.1\" 503" in logs["helpers"]  # held, retried
    finally:
        down_local(out)


def test_startups_calling_each_other_come_up_and_name_the_cycle(tmp_path: Path, monkeypatch):
    out, running = _up(tmp_path, monkeypatch, DESK)
    try:
        assert httpx.get(running.url + "/crud/versions", timeout=10).json() == {"core": 1}
        logs = _logs(out)
        cycles = [ln for text in logs.values() for ln in text.splitlines() if "startup cycle" in ln]
        # one line per service that saw it (either end, or both when their calls crossed)
        forms = ("startup cycle crud -> helpers -> crud: service 'crud' answers the call",
                 "startup cycle helpers -> crud -> helpers: service 'helpers' answers the call")
        assert 1 <= len(cycles) <= 2 and all(any(f in ln for f in forms) for ln in cycles), cycles
        assert len({ln.split("service ")[1].split(" ")[0] for ln in cycles}) == len(cycles), cycles
        assert not any("ReadTimeout" in text for text in logs.values())
    finally:
        down_local(out)
