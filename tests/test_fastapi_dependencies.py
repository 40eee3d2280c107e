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

import subprocess
import sys
import textwrap


from decompose.frameworks.fastapi import dependency_names
from tests.generate_support import child_env, generate_fixture, unit_source

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
    out, manifest = generate_fixture(tmp_path, DESK, {"auth": ["desk.auth"], "api": ["desk.api"]},
                                     ["desk", "desk.main"])
    src = unit_source(out, manifest, "api")
    client = (src / "decompose_rt" / "clients" / "desk_auth.py").read_text()
    assert "async def check_token" not in client   # never an RPC stub: FastAPI calls it here
    env = child_env(src, DECOMPOSE_RPC_SECRET="s" * 32)
    probe = ("from fastapi.testclient import TestClient\n"
             "from decompose_rt.server import app\n"
             "c = TestClient(app)\n"
             "print(c.get('/api/items', headers={'x-token': 'abc'}).json()['who'], c.get('/api/items').json()['who'])\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["abc", "anonymous"]
