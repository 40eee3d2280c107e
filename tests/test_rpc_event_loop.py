"""An async function called over RPC runs on the callee's own event loop (issue 10).

LNbits' services call ``lnbits.core.helpers.migrate_databases()`` (async) of the extensions
service at startup; the RPC endpoint awaited each call in a new loop (``asyncio.run``), while
LNbits' database lock belonged to the loop the app started on: ``RuntimeError: <asyncio.locks.Lock
...> is bound to a different event loop`` came back to two callers and they did not boot.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.generate_support import child_env, generate_fixture, unit_source

DESK = {
    "desk/__init__.py": "",
    "desk/main.py": '''
        from contextlib import asynccontextmanager

        from fastapi import FastAPI

        from desk import models
        from desk.api import router as api_router
        from desk.models import router as models_router


        @asynccontextmanager
        async def lifespan(app):
            models.remember_loop()
            yield


        app = FastAPI(lifespan=lifespan)
        app.include_router(api_router)
        app.include_router(models_router)
    ''',
    "desk/models.py": '''
        import asyncio

        from fastapi import APIRouter

        router = APIRouter(prefix="/models")
        LOOPS: list[int] = []


        def remember_loop() -> None:
            LOOPS.append(id(asyncio.get_running_loop()))


        async def on_startup_loop() -> bool:
            await asyncio.sleep(0)
            return LOOPS[-1:] == [id(asyncio.get_running_loop())]


        @router.get("/loops")
        def loops():
            return len(LOOPS)
    ''',
    "desk/api.py": '''
        from fastapi import APIRouter

        from desk.models import on_startup_loop

        router = APIRouter(prefix="/api")


        @router.get("/same")
        async def same():
            return {"same": await on_startup_loop()}
    ''',
}

PROBE = textwrap.dedent('''
    import hashlib, hmac, sys, time
    from fastapi.testclient import TestClient
    from decompose_rt.server import app

    def signed(path, body):
        t = str(int(time.time()))
        msg = "\\n".join(("decompose-v1", t, "POST", path, hashlib.sha256(body).hexdigest())).encode()
        mac = hmac.new(b"s" * 32, msg, hashlib.sha256).hexdigest()
        return {"X-Decompose-Signature": f"t={t},v1={mac}", "content-type": "application/json"}

    with TestClient(app) as c:   # runs the lifespan, on the loop the app serves on
        body = b'{"args": [], "kwargs": {}}'
        path = "/_rpc/desk.models.on_startup_loop"
        print(c.post(path, content=body, headers=signed(path, body)).json())
''')


def test_an_async_function_called_over_rpc_runs_on_the_loop_the_app_started_on(tmp_path: Path):
    out, manifest = generate_fixture(tmp_path, DESK, {"models": ["desk.models"], "api": ["desk.api"]},
                                     ["desk", "desk.main"])
    src = unit_source(out, manifest, "models")
    env = child_env(src, DECOMPOSE_RPC_SECRET="s" * 32)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "{'result': True}", done.stdout[-2000:]
