"""A type alias of another service's module used in an annotation (issue 10).

LNbits' ``lnbits/core/models/payments.py`` has ``PaymentCountField = Literal["status", "tag",
...]`` and ``lnbits/core/views/payment_api.py`` (another service) declares ``count_by:
PaymentCountField = Query("tag")``.  A module-level name assigned a value was proxied as remote
state (``RemoteObject``); FastAPI evaluates the annotation when the route is declared:
``FastAPIError: Invalid args for response field`` and the service did not boot.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


from decompose.generation.stubs import module_type_aliases
from tests.generate_support import child_env, generate_fixture, unit_source

DESK = {
    "desk/__init__.py": "",
    "desk/main.py": '''
        from fastapi import FastAPI

        from desk.api import router as api_router
        from desk.models import router as models_router

        app = FastAPI()
        app.include_router(api_router)
        app.include_router(models_router)
    ''',
    "desk/models.py": '''
        from typing import Literal, Optional

        from fastapi import APIRouter

        router = APIRouter(prefix="/models")
        CountField = Literal["status", "tag"]
        MaybeTag = Optional[str]
        COUNTS = {"status": 1, "tag": 2}


        def count(field: str) -> int:
            return COUNTS[field]


        @router.get("/fields")
        def fields():
            return sorted(COUNTS)
    ''',
    "desk/api.py": '''
        from fastapi import APIRouter, Query

        from desk.models import CountField, MaybeTag, count

        router = APIRouter(prefix="/api")


        @router.get("/count")
        def counting(count_by: CountField = Query("tag"), tag: MaybeTag = None):
            return {"by": count_by, "tag": tag}
    ''',
}


def test_module_type_aliases():
    assert module_type_aliases(textwrap.dedent(DESK["desk/models.py"])) == {"CountField", "MaybeTag"}
    assert module_type_aliases("X = CACHE['a']\nN = 3 | 4\nId = int | str\nT: TypeAlias = 'Id'\n") == {"Id", "T"}


def test_a_route_annotated_with_another_services_type_alias_boots(tmp_path):
    out, manifest = generate_fixture(tmp_path, DESK, {"models": ["desk.models"], "api": ["desk.api"]},
                                     ["desk", "desk.main"])
    src = unit_source(out, manifest, "api")
    client = (src / "decompose_rt" / "clients" / "desk_models.py").read_text()
    assert "RemoteObject(_SERVICE, 'desk.models.CountField')" not in client
    env = child_env(src, DECOMPOSE_RPC_SECRET="s" * 32)
    probe = ("from fastapi.testclient import TestClient\n"
             "from decompose_rt.server import app\n"
             "c = TestClient(app)\n"
             "print(c.get('/api/count?count_by=status').json()['by'], c.get('/api/count?count_by=x').status_code)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["status", "422"]
