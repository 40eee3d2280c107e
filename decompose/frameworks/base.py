"""The one small interface every web framework adapter implements, and what they share.

A framework adapter reads the analysis facts and the monolith's source and
answers the questions generation asks about a web application:

* :meth:`WebFramework.detects`: is the monolith written with this framework?
* :meth:`WebFramework.find_app`: which module builds the app, and its factory or
  app object (``"module:attr"``), plus whatever wiring the adapter needs later
  (FastAPI's ``include_router`` prefixes);
* :meth:`WebFramework.routes` / :meth:`WebFramework.app_routes`: the
  public routes, with their full paths (Blueprint ``url_prefix``, router
  prefixes);
* :meth:`WebFramework.gateway_rule` / :meth:`WebFramework.static_prefix`: how
  the gateway matches a route path;
* :meth:`WebFramework.prune_app_module`: the app module as one service runs it;
* :meth:`WebFramework.served_static`: static folders only the services serving
  them need (Flask's app ``static_folder``);
* :meth:`WebFramework.generation_problems`: what the adapter cannot generate
  yet (one line each), so generation refuses instead of guessing;
* :meth:`WebFramework.wiring_modules`: modules the framework loads by
  convention or by name (Django's settings, urlconf tree, each app's
  ``models``/``migrations``/``templatetags``), copied into every service;
* :attr:`WebFramework.runtime_pins`, :attr:`WebFramework.server_template`,
  :attr:`WebFramework.runtime_templates`, :attr:`WebFramework.asgi`,
  :meth:`WebFramework.server_context`, :meth:`WebFramework.service_context`:
  what a generated service needs to serve it.

Adapters sit between analysis and generation: they read
:class:`~decompose.analysis.facts.ModuleFacts` (the parser records every
route-like decorator generically) and never import planning, generation or
the CLI.  Everything here is pure: source text in, plain data out.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


from decompose.analysis.facts import ModuleFacts
from decompose.frameworks.prune import PruneError, dotted, prune_imports, resolve_from  # noqa: F401  (re-exported)


@dataclass
class Route:
    """One public route of a service: full path, methods, handler, the
    Blueprint/router it hangs on (``"module:attr"``) and the gateway prefix."""

    path: str
    methods: list[str]
    function: str
    blueprint: str | None
    prefix: str
    #: the route as the framework spells it, when ``path`` is a translation (Django: the
    #: ``path()``/``re_path()`` parts joined, ``"hyperkitty/list/<list_id>/"``); "" otherwise
    native: str = ""


@dataclass
class AppInfo:
    """Where the app is built: module, factory or app object, and router wiring."""

    module: str | None = None
    factory: str | None = None
    router_prefixes: dict[str, str] = field(default_factory=dict)  # "module:attr" -> include prefix
    #: plain data the generated runtime needs (Django: settings module, ROOT_URLCONF, STATIC_URL...)
    settings: dict = field(default_factory=dict)


class WebFramework:
    """Base of the framework adapters (see the module docstring)."""

    name: str = ""
    #: What the generated runtime needs, pinned unless the monolith pins them.
    runtime_pins: dict[str, str] = {}
    #: Template of the service's API server (``templates/runtime/...``).
    server_template: str = ""
    #: More files of the service's ``decompose_rt`` package: file name -> template.
    runtime_templates: dict[str, str] = {}
    #: Served by an ASGI server (uvicorn) rather than gunicorn's WSGI workers.
    asgi: bool = False
    #: Its services take the database as a URL whatever library the monolith uses (Django's
    #: generated settings turn it into ``DATABASES``), so a PostgreSQL server can be given.
    reads_database_url: bool = False
    #: Every service runs the migrations of every installed app (Django's INSTALLED_APPS kept
    #: whole, its auth, sessions and contenttypes tables included): one database for all of them.
    one_database: bool = False

    def detects(self, tops: set[str]) -> bool:
        raise NotImplementedError

    def find_app(self, facts: dict[str, ModuleFacts], sources: dict[str, str]) -> AppInfo:
        raise NotImplementedError

    def module_routes(self, module: str, facts: ModuleFacts, source: str, app: AppInfo,
                      notes: list[str]) -> list[Route]:
        """Routes of one module (``Route.blueprint``: the module-level Blueprint/router carrying it)."""
        raise NotImplementedError

    def routes(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo,
               notes: list[str]) -> list[tuple[str, Route]]:
        """Every public route outside the app module, with the module declaring it
        (whose service serves it); by default :meth:`module_routes` per module."""
        out: list[tuple[str, Route]] = []
        for module in sorted(facts):
            if facts[module].routes:
                routes = self.module_routes(module, facts[module], sources.get(module, ""), app, notes)
                out.extend((module, r) for r in routes)
        return out

    def app_routes(self, app: AppInfo, source: str) -> list[Route]:
        """Routes declared on the app object itself (served by the default service)."""
        return [Route(path=path, methods=methods, function=f"{app.module}:<app>", blueprint=None,
                      prefix=self.static_prefix(path))
                for path, methods in decorated_app_routes(source)]

    def static_prefix(self, path: str) -> str:
        raise NotImplementedError

    def gateway_rule(self, path: str) -> str:
        """The route path as a Werkzeug rule for the gateway."""
        return path

    def prune_app_module(self, source: str, module: str, is_package: bool, drop: set[str]) -> str:
        return prune_imports(source, module, is_package, drop)

    #: text in a module's source showing that it reads the served static folders' files
    static_readers: tuple[str, ...] = ()

    def served_static(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo) -> list[str]:
        """Folders of the source tree (``"pkg/static"``, relative to the package root) whose files
        the app only serves by URL and which it does not need to start: a service that neither
        answers their URLs nor reads them can go without them (none by default)."""
        return []

    def generation_problems(self, facts: dict[str, ModuleFacts], sources: dict[str, str]) -> list[str]:
        """Why this monolith cannot be generated with this adapter (one line each; none by default)."""
        return []

    def wiring_modules(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo) -> dict[str, str]:
        """Modules every service copies because the framework loads them by name or by
        convention, not by an import the analysis sees: {module: why}.  None by default."""
        return {}

    def named_imports(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo) -> dict[str, str]:
        """Modules the framework imports by a name in the configuration, not by an import
        statement (Django's ``INSTALLED_APPS``, ``MIDDLEWARE``): {dotted name: the module
        naming it}.  They are requirements of every service holding that module.  None by default."""
        return {}

    def copies_imports_of(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo) -> set[str]:
        """Modules whose imports of other services' modules are copied as they are, never
        turned into clients: their code runs at import time in every service (Django's
        urlconf tree wraps and instantiates views: ``check(Feed())``).  None by default."""
        return set()

    def injected_callables(self, source: str) -> frozenset[str]:
        """Names a module hands to the framework to call in the module's own process, with
        values of the request, at the framework's will (FastAPI's ``Depends(f)``): like a
        decorator, never a function to call over HTTP; generation borrows its module into
        the user's service and the client re-exports it.  None by default."""
        return frozenset()

    def server_context(self, groups: list[tuple[str, str]], app: AppInfo) -> dict:
        """Extra template context of the service's ``service.py`` (``groups``: its Blueprints/routers)."""
        return {}

    def service_context(self, serves: list[str], clients: dict[str, str], owners: dict[str, str],
                        routes: dict[tuple[str, str], str], app: AppInfo) -> dict:
        """More template context of ``service.py``: ``serves``, the modules whose routes this
        service serves (its own and the shared ones, never borrowed copies); ``clients``,
        client import name -> the remote module it stands for; ``owners``, each module of its
        source tree that a service owns -> that service; ``routes``, (route as the framework
        spells it, view) -> the service owning it, for every service.  None by default."""
        return {}


# --------------------------------------------------------------------------- shared helpers


def import_bindings(tree: ast.Module, module: str, is_package: bool) -> dict[str, str]:
    """Import bindings anywhere in ``module``: local name -> dotted name it stands for
    (``import a.b`` binds ``a``; relative imports resolved; star imports skipped)."""
    out: dict[str, str] = {}
    pkg = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".", 1)[0]] = a.name if a.asname else a.name.split(".", 1)[0]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg[: len(pkg) - (node.level - 1)] if node.level - 1 <= len(pkg) else []
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for a in node.names:
                if a.name != "*":
                    out[a.asname or a.name] = f"{base}.{a.name}" if base else a.name
    return out


def call_name(call: ast.Call) -> str:
    """Dotted name of what a call calls (``flask.Flask`` for ``flask.Flask(...)``)."""
    f = call.func
    parts = []
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    if isinstance(f, ast.Name):
        parts.append(f.id)
    return ".".join(reversed(parts))


def find_app_module(facts: dict[str, ModuleFacts], sources: dict[str, str], markers: tuple[str, ...],
                    constructors: tuple[str, ...]) -> tuple[str | None, str | None]:
    """The first module (by name) whose source contains every marker, and its
    factory (a function calling one of ``constructors``) or app object."""
    candidates = sorted(m for m, src in sources.items() if all(k in src for k in markers) and m in facts)
    if not candidates:
        return None, None
    module = candidates[0]
    try:
        tree = ast.parse(sources[module])
    except SyntaxError:
        return module, None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and call_name(sub) in constructors:
                    return module, f"{module}:{node.name}"
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and call_name(node.value) in constructors:
            for t in node.targets:
                if isinstance(t, ast.Name):
                    return module, f"{module}:{t.id}"
    return module, None


def decorated_app_routes(source: str, app_names: tuple[str, ...] = ("app",)) -> list[tuple[str, list[str]]]:
    """Routes declared on the app object itself (``@app.get("/health")``), anywhere in the module."""
    out: list[tuple[str, list[str]]] = []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return out
    verbs = {"get": ["GET"], "post": ["POST"], "put": ["PUT"], "patch": ["PATCH"], "delete": ["DELETE"]}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for dec in node.decorator_list:
            if not isinstance(dec, ast.Call) or not isinstance(dec.func, ast.Attribute):
                continue
            if not (isinstance(dec.func.value, ast.Name) and dec.func.value.id in app_names):
                continue
            if not dec.args or not isinstance(dec.args[0], ast.Constant) or not isinstance(dec.args[0].value, str):
                continue
            verb = dec.func.attr
            if verb in verbs:
                out.append((dec.args[0].value, verbs[verb]))
            elif verb == "route":
                methods = ["GET"]
                for kw in dec.keywords:
                    if kw.arg == "methods" and isinstance(kw.value, (ast.List, ast.Tuple)):
                        methods = sorted(str(e.value).upper() for e in kw.value.elts if isinstance(e, ast.Constant))
                out.append((dec.args[0].value, methods))
    return sorted(out)


def constructor_prefixes(source: str, ctor: str, keyword: str) -> dict[str, str]:
    """Module-level ``name = <ctor>(..., <keyword>="...")`` -> {name: prefix}
    (Flask ``Blueprint``/``url_prefix``, FastAPI ``APIRouter``/``prefix``)."""
    out: dict[str, str] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return out
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if call_name(node.value).rsplit(".", 1)[-1] != ctor:
                continue
            prefix = ""
            for kw in node.value.keywords:
                if kw.arg == keyword and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    prefix = kw.value.value
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = prefix
    return out


def literal_prefix(path: str, open_var: str) -> str:
    """The literal part of a route path before its first variable, up to a '/'."""
    head = path.split(open_var, 1)[0]
    if open_var in path:
        head = head.rsplit("/", 1)[0] or "/"
    return head.rstrip("/") or "/"
