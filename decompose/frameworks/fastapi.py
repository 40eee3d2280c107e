"""FastAPI: ``APIRouter(prefix=...)`` included by the app with ``include_router(prefix=...)``.

Served by uvicorn (ASGI); the generated API server is ``runtime/server_fastapi.py.j2``;
the gateway (Werkzeug) matches ``{param}`` paths as ``<param>`` rules.
"""

from __future__ import annotations

import ast
import re

from decompose.analysis.facts import ModuleFacts
from decompose.frameworks.base import (
    AppInfo,
    Route,
    WebFramework,
    constructor_prefixes,
    find_app_module,
    import_bindings,
    literal_prefix,
)

MARKERS = (".include_router(", "FastAPI(")
APP_ONLY_MARKERS = ("FastAPI(",)
CONSTRUCTORS = ("FastAPI", "fastapi.FastAPI")


def static_prefix(path: str) -> str:
    """The literal part of a FastAPI path before its first ``{param}``, up to a '/'."""
    return literal_prefix(path, "{")


def to_werkzeug(path: str) -> str:
    """A FastAPI path as a Werkzeug rule: ``{x}`` -> ``<x>``, ``{x:path}`` -> ``<path:x>``."""

    def conv(m: re.Match) -> str:
        name, _, kind = m.group(1).partition(":")
        kind = {"path": "path", "int": "int", "float": "float", "uuid": "uuid"}.get(kind.strip(), "")
        return f"<{kind}:{name.strip()}>" if kind else f"<{name.strip()}>"

    return re.sub(r"\{([^{}]+)\}", conv, path)


def include_edges(source: str, module: str, is_package: bool, modules: frozenset[str]) -> list[tuple[str, str, str]]:
    """``x.include_router(<router>, prefix="...")`` calls of one module ->
    [(receiver, "module:attr" of the router, prefix)]; ``receiver`` is the local
    name the call is made on (the app, or a router that nests another).

    ``<router>`` is a name imported from a module (``from m import router as r``),
    an attribute of an imported module (``items_api.router``) or a module-level
    router of the same module.
    """
    out: list[tuple[str, str, str]] = []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return out
    bound = import_bindings(tree, module, is_package)  # local name -> dotted name it stands for
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id not in bound:
                    bound[target.id] = f"{module}.{target.id}"
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "include_router"):
            continue
        if not node.args:
            continue
        expr = node.args[0]
        parts = []
        while isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name) or expr.id not in bound:
            continue
        dotted = ".".join([bound[expr.id], *reversed(parts)])
        mod, _, attr = dotted.rpartition(".")
        if mod not in modules:
            continue
        prefix = ""
        for kw in node.keywords:
            if kw.arg == "prefix" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                prefix = kw.value.value
        receiver = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
        out.append((receiver, f"{mod}:{attr}", prefix))
    return out


def include_router_prefixes(source: str, module: str, is_package: bool, modules: frozenset[str]) -> dict[str, str]:
    """The app module's ``include_router`` calls -> {"module:attr": prefix}."""
    return dict(sorted((child, prefix) for _r, child, prefix in include_edges(source, module, is_package, modules)))


def router_bases(facts: dict[str, ModuleFacts], sources: dict[str, str], app_module: str) -> dict[str, str]:
    """Every router the app reaches, directly or nested (``router.include_router(sub)``)
    -> the path in front of its own ``APIRouter(prefix=...)``."""
    modules = frozenset(facts)
    own: dict[str, str] = {}
    edges: dict[str, list[tuple[str, str]]] = {}  # parent key ("<app>" or module:attr) -> [(child, prefix)]
    for m in sorted(sources):
        src = sources[m]
        if m not in facts or ".include_router(" not in src:
            continue
        routers = constructor_prefixes(src, "APIRouter", "prefix")
        for prefix_name, prefix in routers.items():
            own[f"{m}:{prefix_name}"] = prefix
        for receiver, child, prefix in include_edges(src, m, facts[m].is_package, modules):
            if receiver in routers:
                parent = f"{m}:{receiver}"
            elif m == app_module:
                parent = "<app>"
            else:
                continue
            edges.setdefault(parent, []).append((child, prefix))
    for child in {c for kids in edges.values() for c, _p in kids}:
        cm, _, attr = child.partition(":")
        if child not in own:
            own[child] = constructor_prefixes(sources.get(cm, ""), "APIRouter", "prefix").get(attr, "")
    bases: dict[str, str] = {}
    queue = [("<app>", "")]
    while queue:
        parent, parent_path = queue.pop(0)
        for child, prefix in sorted(edges.get(parent, [])):
            if child in bases:
                continue
            bases[child] = parent_path + prefix
            queue.append((child, bases[child] + own.get(child, "")))
    return dict(sorted(bases.items()))


class FastAPI(WebFramework):
    name = "fastapi"
    runtime_pins = {"fastapi": "fastapi==0.165.0", "httpx": "httpx==0.28.1", "uvicorn": "uvicorn==0.54.0"}
    server_template = "runtime/server_fastapi.py.j2"
    runtime_templates = {"lifespan.py": "runtime/lifespan.py.j2"}
    asgi = True

    def detects(self, tops: set[str]) -> bool:
        return "fastapi" in tops

    def find_app(self, facts: dict[str, ModuleFacts], sources: dict[str, str]) -> AppInfo:
        module, factory = find_app_module(facts, sources, MARKERS, CONSTRUCTORS)
        if module is None:  # an app including no router: its routes are declared on it (``@app.post``)
            module, factory = find_app_module(facts, sources, APP_ONLY_MARKERS, CONSTRUCTORS)
        included = router_bases(facts, sources, module) if module else {}
        return AppInfo(module=module, factory=factory, router_prefixes=included)

    def module_routes(self, module: str, facts: ModuleFacts, source: str, app: AppInfo,
                      notes: list[str]) -> list[Route]:
        """Full path = include_router prefix + APIRouter prefix + path."""
        routes: list[Route] = []
        if module == app.module:
            return routes  # the app's own routes: see app_routes
        prefixes = constructor_prefixes(source, "APIRouter", "prefix")
        for r in facts.routes:
            obj = r.decorator.rsplit(".", 1)[0] if "." in r.decorator else ""
            if obj not in prefixes:
                notes.append(f"{module}: route {r.path} is not on a module-level APIRouter; left out")
                continue
            key = f"{module}:{obj}"
            if app.module and key not in app.router_prefixes:
                notes.append(f"{module}: router {obj} is not included by {app.module}; its routes are left out")
                continue
            router_prefix = app.router_prefixes.get(key, "") + prefixes[obj]
            path = router_prefix + r.path
            prefix = router_prefix.rstrip("/") or static_prefix(path)
            routes.append(Route(path=path, methods=sorted(r.methods), function=f"{module}.{r.function}",
                                blueprint=key, prefix=prefix))
        return routes

    def static_prefix(self, path: str) -> str:
        return static_prefix(path)

    def gateway_rule(self, path: str) -> str:
        return to_werkzeug(path)

    def injected_callables(self, source: str) -> frozenset[str]:
        """The dependencies a module declares, ``Depends(f)`` / ``Security(f)`` (also
        ``Depends(dependency=mod.f)``, in ``Annotated[...]``, defaults and ``dependencies=[...]``):
        FastAPI reads their signatures (LNbits' ``check_access_token`` takes ``Annotated[str |
        None, Depends(oauth2_scheme)]``) and calls them with the request's values."""
        return dependency_names(source)

    def server_context(self, groups: list[tuple[str, str]], app: AppInfo) -> dict:
        """Routers are mounted with their ``include_router`` prefix."""
        return {"routers": [(m, a, app.router_prefixes.get(f"{m}:{a}", "")) for m, a in groups]}


def dependency_names(source: str) -> frozenset[str]:
    """The last name of each callable given to ``Depends``/``Security`` in ``source`` (``f`` of
    ``Depends(mod.f)``); a string annotation is not read."""
    if "Depends" not in source and "Security" not in source:
        return frozenset()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    out: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        callee = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if callee not in ("Depends", "Security"):
            continue
        given = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "dependency"), None)
        if isinstance(given, ast.Name):
            out.add(given.id)
        elif isinstance(given, ast.Attribute):
            out.add(given.attr)
    return frozenset(out)
