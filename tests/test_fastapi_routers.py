"""FastAPI route paths through nested ``include_router`` (router in router in app)."""

from __future__ import annotations

import textwrap

from decompose.analysis.facts import ModuleFacts, Route
from decompose.frameworks.fastapi import FastAPI, router_bases

SOURCES = {
    "p.main": """
        from fastapi import FastAPI
        from p import api
        from p.health import router as health
        app = FastAPI()
        app.include_router(api.router, prefix="/api")
        app.include_router(health)
    """,
    "p.api": """
        from fastapi import APIRouter
        from p.items import router as items
        from p import users
        router = APIRouter(prefix="/v1")
        router.include_router(items, prefix="/x")
        router.include_router(users.router)
    """,
    "p.items": """
        from fastapi import APIRouter
        router = APIRouter(prefix="/items")
        @router.get("/{item_id}")
        def get_item(item_id: int):
            return {}
    """,
    "p.users": """
        from fastapi import APIRouter
        router = APIRouter(prefix="/users")
        @router.post("")
        def create():
            return {}
    """,
    "p.health": """
        from fastapi import APIRouter
        router = APIRouter()
        @router.get("/healthcheck")
        def hc():
            return {}
    """,
    "p.orphan": """
        from fastapi import APIRouter
        router = APIRouter(prefix="/orphan")
        @router.get("/x")
        def x():
            return {}
    """,
}
SOURCES = {m: textwrap.dedent(s) for m, s in SOURCES.items()}
ROUTES = {
    "p.items": [Route("get_item", "/{item_id}", ["GET"], "router.get", 5)],
    "p.users": [Route("create", "", ["POST"], "router.post", 4)],
    "p.health": [Route("hc", "/healthcheck", ["GET"], "router.get", 4)],
    "p.orphan": [Route("x", "/x", ["GET"], "router.get", 4)],
}


def facts():
    return {m: ModuleFacts(module=m, path=m.replace(".", "/") + ".py", is_package=False, routes=ROUTES.get(m, []))
            for m in SOURCES}


def test_nested_routers_get_every_prefix_on_the_way():
    assert router_bases(facts(), SOURCES, "p.main") == {
        "p.api:router": "/api", "p.health:router": "", "p.items:router": "/api/v1/x", "p.users:router": "/api/v1",
    }


def test_full_paths_and_routers_not_reached_are_left_out_with_a_note():
    fw = FastAPI()
    app = fw.find_app(facts(), SOURCES)
    notes: list[str] = []
    paths = sorted((m, r.path, r.methods[0]) for m, r in fw.routes(facts(), SOURCES, app, notes))
    assert paths == [("p.health", "/healthcheck", "GET"), ("p.items", "/api/v1/x/items/{item_id}", "GET"),
                     ("p.users", "/api/v1/users", "POST")]
    assert any("p.orphan" in n and "not included" in n for n in notes)
