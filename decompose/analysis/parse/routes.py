"""Routes: the one place the parser knows web frameworks' route decorators.

A route is a top-level function decorated with ``<obj>.<method>(path, ...)``
where ``<method>`` is one of :data:`ROUTE_METHODS` (``get``, ``post``... the
verb shortcuts of Flask and FastAPI) or :data:`ROUTE_GENERIC` (Flask's
``route``, FastAPI's ``api_route``); the path is the first positional
argument or ``path=``/``rule=``, the methods come from ``methods=[...]`` or
the verb (``GET`` for the generic ones).  The parser does not decide what
``<obj>`` is (a Flask app or ``Blueprint``, a FastAPI app or ``APIRouter``):
it records the decorator's source text in ``Route.decorator`` and the
adapters in ``decompose/frameworks/`` resolve it (prefixes, mounting).

This vocabulary is meant to be fed by those adapters (each declaring the
decorator names its framework uses) instead of being hard-coded here; until
then, a framework whose route decorators differ needs its names added below.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from decompose.analysis.facts import ModuleFacts, Route
from decompose.analysis.parse.nodes import Attribute, string_value

#: Decorator methods named after the HTTP verb they serve (``@app.get("/x")``).
ROUTE_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
#: Decorator methods taking the verbs in ``methods=`` (``@bp.route("/x", methods=["POST"])``).
ROUTE_GENERIC = frozenset({"route", "api_route"})


class RoutesMixin:
    """Walker part: ``ModuleFacts.routes`` (appended directly; line set by a hook)."""

    def _finish_routes(self, facts: ModuleFacts) -> None:
        facts.routes.sort(key=lambda r: (r.line, r.function))

    def _routes(self, fn: cst.FunctionDef) -> None:
        """The routes a top-level function's decorators declare."""
        for dec in fn.decorators:
            self._route(fn, dec.decorator)

    def _route(self, fn: cst.FunctionDef, dec: Any) -> None:
        if dec.__class__ is not cst.Call or dec.func.__class__ is not Attribute:
            return
        attr = dec.func.attr.value
        if attr not in ROUTE_METHODS and attr not in ROUTE_GENERIC:
            return
        path = None
        methods: list[str] | None = None
        for i, arg in enumerate(dec.args):
            kw = arg.keyword.value if arg.keyword is not None else None
            if (kw is None and i == 0 and not arg.star) or kw in ("path", "rule"):
                if path is None:
                    path = string_value(arg.value)
            elif kw == "methods":
                methods = []
                value = arg.value
                if value.__class__ in (cst.List, cst.Tuple, cst.Set):
                    for el in value.elements:
                        s = string_value(el.value)
                        if s is not None:
                            methods.append(s.upper())
        if path is None:
            return
        if methods is None:
            methods = [attr.upper()] if attr in ROUTE_METHODS else ["GET"]
        route = Route(function=fn.name.value, path=path, methods=methods, decorator=self.code(dec.func), line=0)
        self.facts.routes.append(route)
        self._hook_line(dec, route)
