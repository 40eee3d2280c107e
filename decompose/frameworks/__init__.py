"""Web framework adapters: one module per framework behind one small interface.

:class:`~decompose.frameworks.base.WebFramework` is the interface (detect the
framework, find the app module and factory, the routes with their full paths,
how the gateway matches them, prune the app module for one service, what a
service needs to serve it).  :data:`FRAMEWORKS` lists the adapters;
:func:`detect` picks one; add a framework by writing a module like
:mod:`decompose.frameworks.flask` and listing its adapter here.
"""

from __future__ import annotations

from collections.abc import Callable

from decompose.analysis.facts import ModuleFacts
from decompose.frameworks.base import AppInfo, PruneError, Route, WebFramework
from decompose.frameworks.django import Django, find_settings
from decompose.frameworks.fastapi import FastAPI
from decompose.frameworks.flask import Flask

FRAMEWORKS: dict[str, WebFramework] = {"django": Django(), "fastapi": FastAPI(), "flask": Flask()}


def imported_tops(facts: dict[str, ModuleFacts]) -> set[str]:
    """Top-level packages the monolith imports at run time (absolute imports only)."""
    return {imp.module.split(".", 1)[0] for f in facts.values() for imp in f.imports
            if imp.module and not imp.level and imp.context != "type_checking" and imp.kind != "string"}


def detect(facts: dict[str, ModuleFacts], sources: dict[str, str] | None = None) -> WebFramework:
    """Django when the monolith imports django and either has a settings module
    (:func:`decompose.frameworks.django.find_settings`) or imports neither flask
    nor fastapi (a Django project is never taken for Flask); else FastAPI when it
    imports fastapi and not flask; else Flask."""
    tops = imported_tops(facts)
    django, fastapi, flask = FRAMEWORKS["django"], FRAMEWORKS["fastapi"], FRAMEWORKS["flask"]
    if django.detects(tops) and (not (fastapi.detects(tops) or flask.detects(tops))
                                 or find_settings(facts, sources or {})[0] is not None):
        return django
    return fastapi if fastapi.detects(tops) and not flask.detects(tops) else flask


def declared_routes(facts: dict[str, ModuleFacts], read: Callable[[str], str]) -> dict[str, list[Route]]:
    """Routes a framework declares outside route decorators (Django's urlconf tree), by the
    module whose service serves them; ``{}`` for Flask and FastAPI, whose routes are facts.
    ``read(path)`` gives a module's source; nothing is read unless the monolith imports django."""
    if not FRAMEWORKS["django"].detects(imported_tops(facts)):
        return {}
    return plan_inputs(facts, read)[0]


def plan_inputs(facts: dict[str, ModuleFacts], read: Callable[[str], str]) -> tuple[dict[str, list[Route]], list[str]]:
    """What planning takes from the framework, the project read once: the routes declared
    outside decorators (:func:`declared_routes`) and the app module (the module creating the
    Flask/FastAPI app or its factory; Django's settings module) as a list of none or one.
    Generation copies the app module into every service, pruned to the service's routes."""
    tops = imported_tops(facts)
    if not any(fw.detects(tops) for fw in FRAMEWORKS.values()):
        return {}, []
    sources = {m: read(f.path) for m, f in facts.items()}
    fw = detect(facts, sources)
    app = fw.find_app(facts, sources)
    routes: dict[str, list[Route]] = {}
    if fw.name == "django":
        for module, route in fw.routes(facts, sources, app, []):
            if module in facts:
                routes.setdefault(module, []).append(route)
    return routes, ([app.module] if app.module in facts else [])


def get(name: str) -> WebFramework:
    return FRAMEWORKS[name]


__all__ = ["FRAMEWORKS", "AppInfo", "PruneError", "Route", "WebFramework", "declared_routes", "detect",
           "get", "imported_tops", "plan_inputs"]
