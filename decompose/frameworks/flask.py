"""Flask: Blueprints with ``url_prefix``, the app factory, routes on the app object.

Served by gunicorn (WSGI); the generated API server is ``runtime/server.py.j2``.
"""

from __future__ import annotations

from decompose.analysis.facts import ModuleFacts
from decompose.frameworks.base import (
    AppInfo,
    Route,
    WebFramework,
    constructor_prefixes,
    decorated_app_routes,
    find_app_module,
    literal_prefix,
)

#: text every Flask app module contains, and the names of the app constructor
MARKERS = (".register_blueprint(",)
CONSTRUCTORS = ("Flask", "flask.Flask")


def join_route(prefix: str, rule: str) -> str:
    """What Flask's ``BlueprintSetupState.add_url_rule`` does with a ``url_prefix``."""
    if not prefix:
        return rule or "/"
    if rule:
        return "/".join((prefix.rstrip("/"), rule.lstrip("/")))
    return prefix


def static_prefix(path: str) -> str:
    """The literal part of a Werkzeug rule before its first ``<variable>``, up to a '/'."""
    return literal_prefix(path, "<")


class Flask(WebFramework):
    name = "flask"
    runtime_pins = {"flask": "flask==3.1.3", "httpx": "httpx==0.28.1", "gunicorn": "gunicorn==27.0.1"}
    server_template = "runtime/server.py.j2"
    asgi = False

    def detects(self, tops: set[str]) -> bool:
        return "flask" in tops

    def find_app(self, facts: dict[str, ModuleFacts], sources: dict[str, str]) -> AppInfo:
        module, factory = find_app_module(facts, sources, MARKERS, CONSTRUCTORS)
        return AppInfo(module=module, factory=factory)

    def module_routes(self, module: str, facts: ModuleFacts, source: str, app: AppInfo,
                      notes: list[str]) -> tuple[list[Route], list[tuple[str, str]]]:
        prefixes = constructor_prefixes(source, "Blueprint", "url_prefix")
        routes: list[Route] = []
        blueprints: list[tuple[str, str]] = []
        for r in facts.routes:
            obj = r.decorator.rsplit(".", 1)[0] if "." in r.decorator else ""
            bp = f"{module}:{obj}" if obj in prefixes else None
            path = join_route(prefixes.get(obj, ""), r.path)
            prefix = prefixes.get(obj, "").rstrip("/") or static_prefix(path)
            routes.append(Route(path=path, methods=sorted(r.methods), function=f"{module}.{r.function}",
                                blueprint=bp, prefix=prefix))
            if bp and (module, obj) not in blueprints:
                blueprints.append((module, obj))
        return routes, blueprints

    def app_routes(self, app: AppInfo, source: str) -> list[Route]:
        return [Route(path=path, methods=methods, function=f"{app.module}:<app>", blueprint=None,
                      prefix=static_prefix(path))
                for path, methods in decorated_app_routes(source)]

    def static_prefix(self, path: str) -> str:
        return static_prefix(path)
