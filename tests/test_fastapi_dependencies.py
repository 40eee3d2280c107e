"""A FastAPI dependency of another service's module (issue 10).

LNbits' ``lnbits/core/views/blockexplorer_api.py`` declares ``access_token:
Annotated[str | None, Depends(check_access_token)]`` with ``check_access_token`` of
``lnbits/decorators.py`` (another service), itself taking ``Annotated[str | None,
Depends(oauth2_scheme)]``.  FastAPI reads a dependency's signature when the route is
declared and calls it in its own process with the request's values; the generated client
stub kept the signature as text its module cannot evaluate and the service did not boot
(``NameError: name 'Annotated' is not defined`` at the router's decorator).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from decompose.cli import app
from decompose.frameworks.fastapi import dependency_names
from decompose.planning.plan import Plan, Service
from decompose.planning.planfile import save_plan

DESK = {
    "desk/__init__.py": "",
    "desk/main.py": '''
        from fastapi import FastAPI

        from desk.api import router as api_router
        from desk.auth import router as auth_router

        app = FastAPI()
        app.include_router(api_router)
        app.include_router(auth_router)
    ''',
    "desk/auth.py": '''
        from typing import Annotated

        from fastapi import APIRouter, Depends, Header
        from fastapi.security import APIKeyHeader

        router = APIRouter(prefix="/auth")
        api_key_header = APIKeyHeader(name="x-token", auto_error=False)


        async def check_token(header_token: Annotated[str | None, Depends(api_key_header)]) -> str | None:
            return header_token


        def user_name(token: str) -> str:
            return f"user-{token}"


        @router.get("/me")
        async def me(token: Annotated[str | None, Header(alias="x-token")] = None):
            return {"token": token}
    ''',
    "desk/api.py": '''
        from typing import Annotated

        from fastapi import APIRouter, Depends

        from desk import auth
        from desk.auth import check_token

        router = APIRouter(prefix="/api")


        async def _guard(token: Annotated[str | None, Depends(check_token)]) -> str:
            return token or "anonymous"


        @router.get("/items", dependencies=[Depends(auth.check_token)])
        async def items(who: Annotated[str, Depends(_guard)]):
            return {"who": who}
    ''',
}


def test_dependency_names_of_a_module():
    assert dependency_names(textwrap.dedent(DESK["desk/api.py"])) == {"check_token", "_guard"}
    assert dependency_names("x = Security(dependency=mod.scheme, scopes=['a'])\ny = Depends()\n") == {"scheme"}
    assert dependency_names("def f(): pass\n") == frozenset()


def test_a_route_depending_on_another_services_function_boots_and_runs_it_locally(tmp_path):
    root = tmp_path / "mono"
    for rel, text in DESK.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    plan = Plan(project="desk", source=str(root),
                services={"auth": Service(name="auth", modules=["desk.auth"]),
                          "api": Service(name="api", modules=["desk.api"])},
                shared=["desk", "desk.main"])
    save_plan(plan, tmp_path / "decompose.yaml")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "decompose.yaml"), "--output", str(out)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "decompose-output.json").read_text())
    svc = next(u for u in manifest["services"] if u["name"] == "api")
    src = out / svc["source"]
    client = (src / "decompose_rt" / "clients" / "desk_auth.py").read_text()
    assert "async def check_token" not in client   # never an RPC stub: FastAPI calls it here
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(src), DECOMPOSE_RPC_SECRET="s" * 32)
    probe = ("from fastapi.testclient import TestClient\n"
             "from decompose_rt.server import app\n"
             "c = TestClient(app)\n"
             "print(c.get('/api/items', headers={'x-token': 'abc'}).json()['who'], c.get('/api/items').json()['who'])\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["abc", "anonymous"]
