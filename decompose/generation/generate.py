"""What ``decompose generate`` produces, decided from the plan and the facts (pure core).

Input: a :class:`~decompose.planning.plan.Plan`, the analysed modules' facts and their
source text.  Output: a :class:`Generation` describing, for every service,

* which modules its source tree holds: its own, the shared ones, the
  monolith's app module (pruned to the service's routes, see
  :mod:`decompose.generation.codemods`) and *borrowed* modules of other services that it
  cannot reach over HTTP (it uses a class of theirs: an ORM model, an
  exception, a TypedDict...);
* which imports are rewritten into imports of generated HTTP clients, and what
  each client module offers (functions with the original signatures, shared
  objects as remote proxies, literal constants, re-exported borrowed classes);
* its interface (what other services call: the plan's interface plus every
  remote symbol the code actually uses), its public routes (full paths with
  the Blueprint's ``url_prefix``), the tables it uses and whether it needs the
  shared database, its third-party requirements.

Nothing here touches the filesystem; :mod:`decompose.generation.output` renders and
writes the files.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from decompose.analysis.facts import Definition, ModuleFacts
from decompose.analysis.roles import is_test_module
from decompose.analysis.graph import STDLIB, resolve_import
from decompose.analysis.resolve import shadowed_submodules, use_module
from decompose.planning.plan import SERVICE_NAME_RE, Plan
from decompose.planning import replica_state as _replica_state
from decompose.planning.serializable import bond_detail
from decompose.frameworks import AppInfo, Route, WebFramework
from decompose import frameworks as _frameworks
from decompose.generation import database as _db
from decompose.generation import database_url as _db_url
from decompose.generation import system_packages as _system
from decompose.generation.database_url import detect_database_env  # noqa: F401  (re-exported)
from decompose.generation import requirements as _req
from decompose.generation.stubs import (  # noqa: F401  (re-exported: tests and output use them from here)
    ClientFunction,
    ModuleLiterals,
    client_function,
    import_time_calls,
    module_code_values,
    module_instances,
    module_type_aliases,
)

RUNTIME_PACKAGE = "decompose_rt"
CLIENTS_PACKAGE = f"{RUNTIME_PACKAGE}.clients"
PORT = 8000
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
GATEWAY_NAME = "gateway"
DATA_MOUNT = "/data"
SHARED_MOUNT = "/shared-data"
DEFAULT_BASE_IMAGE = "python:3.11-slim"

#: The gateway's own pins (the monolith's are used when they fit, see requirements.gateway_requirements).
GATEWAY_PINS = {"werkzeug": "werkzeug==3.1.8", "httpx": "httpx==0.28.1", "gunicorn": "gunicorn==27.0.1"}
# Image references: registry/name[:tag][@digest], nothing that could break a Dockerfile line.
IMAGE_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REMOTABLE = ("function", "async_function", "variable")


class GenerateError(Exception):
    """The plan cannot be generated; ``problems`` lists every reason, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class ClientModule:
    """A generated module standing in for remote module ``module`` inside one service."""

    module: str  # the remote module it replaces, e.g. shop.catalog.service
    service: str  # the service owning it
    import_name: str  # dotted name of the client module, e.g. decompose_rt.clients.shop_catalog_service
    functions: list[ClientFunction] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)  # module-level objects proxied remotely
    constants: dict[str, str] = field(default_factory=dict)  # name -> literal source, copied
    reexports: list[str] = field(default_factory=list)  # classes taken from the borrowed module itself
    #: submodules of the borrowed package used as its attributes (``fido2.challenge.f()``), imported
    #: when first asked for, as the monolith's attribute access finds them (never at the client's import)
    submodules: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.import_name.replace(".", "/") + ".py"


@dataclass
class Export:
    name: str  # fully qualified: module.attr
    module: str
    attr: str
    kind: str
    used_by: list[str] = field(default_factory=list)


#: One public route of a service (full path, methods, view, Blueprint/router, gateway prefix).
RouteSpec = Route


@dataclass
class ServiceSpec:
    name: str
    modules: list[str]  # its own modules
    copied: list[str]  # every module in its source tree (own, shared, app, borrowed)
    borrowed: dict[str, str]  # borrowed module -> why
    clients: dict[str, ClientModule]  # remote module -> client
    rewrites: dict[str, dict[str, str]]  # copied module -> {remote module: client import name}
    exports: list[Export]
    routes: list[RouteSpec]
    blueprints: list[tuple[str, str]]
    calls: list[str]
    called_by: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # tables its own modules define
    uses_tables: list[str] = field(default_factory=list)  # tables any module of its tree defines/touches
    database: str = "own"  # "own" | "shared"
    requirements: list[str] = field(default_factory=list)
    unpinned: list[str] = field(default_factory=list)
    constraints: list[str] | None = None  # its constraints.txt (None: the monolith's)
    lines: int = 0
    call_weight_out: int = 0
    call_weight_in: int = 0
    replicas: int = 1  # the plan's (default DEFAULT_REPLICAS): prod overlay and `up --swarm`
    # folders of its app/ the monolith writes into at run time (a shipped folder holding only
    # dotfiles, such as FlaskBB's logs/.gitkeep): writable volumes on the read-only root
    writable: list[str] = field(default_factory=list)
    # holds the app's served static folders (Generation.served_static): it answers their URLs
    # (the default service) or its own code reads them (``app.static_folder``)
    serves_static: bool = True
    #: Debian packages its image installs: what its code runs or wraps (generation.system_packages)
    #: and the plan's ``system_packages``
    system_packages: list[str] = field(default_factory=list)

    @property
    def route_prefixes(self) -> list[str]:
        return sorted({r.prefix for r in self.routes})

    @property
    def idle(self) -> bool:
        """Owns no public route and offers no interface function: nothing would ever reach it."""
        return not self.routes and not self.exports


@dataclass
class Generation:
    project: str
    version: str
    base_image: str
    database_env: str
    app_module: str | None
    app_factory: str | None  # "module:attr"
    default_service: str
    services: dict[str, ServiceSpec]
    shared_tables: list[str]
    constraints: list[str]  # the monolith's pinned dependencies
    notes: list[str] = field(default_factory=list)
    framework: str = "flask"  # "flask" | "fastapi" | "django" (detected, see decompose.frameworks.detect)
    router_prefixes: dict[str, str] = field(default_factory=dict)  # FastAPI: "module:attr" -> include_router prefix
    app_settings: dict = field(default_factory=dict)  # AppInfo.settings (Django: settings module, ROOT_URLCONF...)
    python: str = "3.11"  # the images' Python: the monolith's (generation.pyversion) or the base image's
    python_requires: str = ""  # what the monolith declares ("" when nothing)
    python_accepts: tuple[str, ...] = ()  # supported Pythons meeting it, when decompose chose the base image
    gateway_requirements: list[str] = field(default_factory=lambda: sorted(GATEWAY_PINS.values()))
    gateway_constraints: list[str] | None = None  # None: the monolith's
    database_engine: str = "postgresql"  # "postgresql" | "sqlite" (decompose.generation.database)
    database_image: str = _db.DEFAULT_IMAGE  # the PostgreSQL server's image
    #: the only URL schemes the app lets through (its own checks, decompose.generation.database_url); () any
    database_schemes: tuple[str, ...] = ()
    #: module-level state of services with more than one replica (decompose.planning.replica_state)
    replica_state: list[dict] = field(default_factory=list)
    #: submodules their package rebinds (decompose.analysis.resolve.shadowed_submodules): the codemods
    #: read ``from pkg import name`` of those as the package's name, never the submodule
    shadowed: list[str] = field(default_factory=list)
    #: folders of app/ the app only serves by URL (WebFramework.served_static): copied only into
    #: the services whose ``serves_static`` is set
    served_static: list[str] = field(default_factory=list)

    def constraints_of(self, unit: str) -> list[str]:
        """constraints.txt of one unit (a service or the gateway)."""
        if unit == GATEWAY_NAME:
            found = self.gateway_constraints
        else:
            found = self.services[unit].constraints if unit in self.services else None
        return self.constraints if found is None else found

    @property
    def shared_db_services(self) -> list[str]:
        return sorted(n for n, s in self.services.items() if s.database == "shared")

    @property
    def database_url_scheme(self) -> str:
        """The scheme of the services' PostgreSQL URLs (decompose.generation.database_url.url_scheme)."""
        return _db_url.url_scheme(self.database_schemes)


# --------------------------------------------------------------------------- helpers


def env_key(service: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", service.upper())


def url_env(service: str) -> str:
    """Variable holding a service's base URL, as the generated clients read it."""
    return f"DECOMPOSE_{env_key(service)}_URL"


def client_import_name(module: str) -> str:
    return f"{CLIENTS_PACKAGE}.{module.replace('.', '_')}"


def validate_service_name(name: str) -> str | None:
    if not isinstance(name, str) or not SERVICE_NAME_RE.match(name):
        return f"service name {name!r} must be a DNS-1123 label (lower-case letters, digits and '-', at most 63)"
    if name == GATEWAY_NAME:
        return f"service name {name!r} is reserved for the generated gateway"
    return None


def validate_base_image(image: str) -> str | None:
    if not IMAGE_RE.match(image or ""):
        return f"base image {image!r} is not an image reference like python:3.11-slim"
    return None


def ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


# --------------------------------------------------------------------------- database env


# --------------------------------------------------------------------------- the model


def live_bonds(facts: list[ModuleFacts]) -> list[tuple[list[str], str]]:
    """Module pairs whose calls pass live objects (ORM rows, sessions, callables,
    objects with behaviour): :func:`decompose.planning.serializable.live_object_bonds`."""
    from decompose.analysis.graph import build_graph
    from decompose.planning.serializable import live_object_bonds

    return live_object_bonds(facts, build_graph(facts))


def split_live_object_calls(plan: Plan, facts: list[ModuleFacts],
                            bonds: list[tuple[list[str], str]] | None = None) -> list[str]:
    """Calls the plan puts across services although they pass live objects
    (ORM rows, sessions, callables, objects with behaviour): they cannot become
    HTTP calls, so the generated system would fail at run time.  ``decompose
    plan`` never proposes such a split; an edited plan can."""
    from decompose.planning.serializable import split_bonds

    return split_bonds(plan.service_of(), live_bonds(facts) if bonds is None else bonds)


def build_generation(
    plan: Plan,
    facts: list[ModuleFacts],
    sources: dict[str, str],
    *,
    dependencies: _req.Declarations | dict[str, str] | None = None,
    version: str = "0.1.0",
    base_image: str = DEFAULT_BASE_IMAGE,
    database_env: str | None = None,
    python: str | None = None,
    python_requires: str = "",
    python_accepts: tuple[str, ...] = (),
    database: str = "auto",
    database_image: str = _db.DEFAULT_IMAGE,
) -> Generation:
    problems: list[str] = []
    for name in sorted(plan.services):
        p = validate_service_name(name)
        if p:
            problems.append(p)
    if not SERVICE_NAME_RE.match(plan.project or ""):
        problems.append(f"project {plan.project!r} must be a DNS-1123 label")
    p = validate_base_image(base_image)
    if p:
        problems.append(p)
    if not IMAGE_RE.match(database_image or ""):
        problems.append(f"PostgreSQL image {database_image!r} is not an image reference like postgres:15")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$", version or ""):
        problems.append(f"version {version!r} is not a valid image tag")
    if database_env is not None and not ENV_NAME_RE.match(database_env):
        problems.append(f"database variable {database_env!r} is not an environment variable name")
    fb = {f.module: f for f in facts}
    owner = plan.service_of()
    unknown = sorted(m for m in owner if m not in fb)
    if unknown:
        problems.append("plan names modules that are not in the analysed source: " + ", ".join(unknown[:10]))
    excluded = set(plan.excluded)
    unplaced = sorted(m for m in fb if m not in owner and m not in excluded)
    bonds: list[tuple[list[str], str]] = []
    if not problems:
        bonds = live_bonds(facts)
        problems.extend(split_live_object_calls(plan, facts, bonds))
    if problems:
        raise GenerateError(problems)

    notes: list[str] = []
    if unplaced:
        notes.append("modules in no service, copied where imported: " + ", ".join(unplaced[:10]))
    modules = frozenset(fb)
    # submodules their package rebinds (`from .db import db` in pkg/__init__.py): `from pkg import db`
    # and `pkg.db.x` mean the package's object, never the module (decompose.analysis.resolve)
    shadowed = shadowed_submodules(facts, modules)
    fw: WebFramework = _frameworks.detect(fb, sources)
    unsupported = fw.generation_problems(fb, sources)
    if unsupported:
        raise GenerateError(unsupported)
    framework = fw.name
    app: AppInfo = fw.find_app(fb, sources)
    app_module, app_factory, included = app.module, app.factory, app.router_prefixes
    routes_by_module: dict[str, list[RouteSpec]] = defaultdict(list)
    for m, route in fw.routes(fb, sources, app, notes):
        routes_by_module[m].append(route)
    # Modules of other services that the app module imports are pruned from
    # its copy when they carry routes (their service serves them); anything
    # else it needs (extensions, config, utilities) is copied in.
    route_modules = set(routes_by_module) | {m for m, f in fb.items() if f.routes}
    # What the framework loads by name or convention (Django: settings, urlconf tree,
    # each app's models/migrations/templatetags): in every service, borrowed when another owns it.
    wiring = {m: why for m, why in fw.wiring_modules(fb, sources, app).items() if m in modules and m not in excluded}
    copies_imports = fw.copies_imports_of(fb, sources, app) & modules
    db_env = database_env or detect_database_env(sources)
    scheme_checks = _db_url.required_schemes(sources)
    if isinstance(dependencies, _req.Declarations):
        decl = dependencies
    else:  # {name: requirement} as [project] dependencies lists them
        decl = _req.collect({"pyproject.toml": _req.pyproject_with(sorted((dependencies or {}).values()))})

    def kind_of(module: str, symbol: str) -> str | None:
        f = fb.get(module)
        if f is None:
            return None
        if f"{module}.{symbol}" in modules and f"{module}.{symbol}" not in shadowed:
            return "module"
        for d in f.definitions:
            if d.name == symbol:
                return d.kind
        return None

    def definition(module: str, symbol: str) -> Definition | None:
        for d in fb[module].definitions:
            if d.name == symbol:
                return d
        return None

    # What each module uses of each internal module it imports at run time.
    def runtime_targets(mod: str) -> dict[str, set[str]]:
        """{imported internal module: symbols used from it ('*' = unknown/star)}."""
        f = fb[mod]
        out: dict[str, set[str]] = defaultdict(set)
        for imp in f.imports:
            if imp.context == "type_checking" or not imp.module or imp.kind == "string":
                continue
            for t in resolve_import(imp, modules, shadowed):
                if t == mod:
                    continue
                out[t]
                if t == imp.module:
                    for n in imp.names:
                        if n == "*":
                            out[t].add("*")
                        elif f"{t}.{n}" not in modules or f"{t}.{n}" in shadowed:
                            out[t].add(n)
        for use in f.uses:
            target = use.target
            tm = use_module(target, modules, shadowed, use.start)
            if tm is not None and tm not in out and tm != mod:
                # a submodule reached as an attribute of an imported package (`from pkg import
                # models`, then `models.profile.Profile`): the package's client must offer it
                pkg = tm.rpartition(".")[0]
                while pkg and pkg not in out:
                    pkg = pkg.rpartition(".")[0]
                if pkg and pkg != mod:
                    out[pkg].add(tm[len(pkg) + 1:].split(".", 1)[0])
                continue
            if tm is None or tm == mod:
                continue
            rest = target[len(tm) + 1:]
            if rest:
                out[tm].add(rest.split(".", 1)[0])
        return out

    def by_name_targets(mod: str) -> dict[str, int]:
        """{internal module: line} that ``mod`` imports by a name in a string (``from_object("a.b.C")``,
        ``import_string("a.b:f")``): the module itself is loaded, never a client, so it is copied."""
        out: dict[str, int] = {}
        for imp in fb[mod].imports:
            if imp.kind == "string" and imp.context != "type_checking":
                targets = resolve_import(imp, modules)
                if imp.names == ["*"] and targets:  # a name built at run time: any module of the package
                    targets = sorted(m for m in modules if m.startswith(imp.module + "."))
                for t in targets:
                    if t != mod:
                        out.setdefault(t, imp.line)
        return out

    targets_cache: dict[str, dict[str, set[str]]] = {}
    instances_cache: dict[str, frozenset[str]] = {}

    def instances_of(mod: str) -> frozenset[str]:
        """Module-level objects built by calling a class (``bp = Blueprint(...)``,
        ``db = SQLAlchemy()``), structures holding the module's functions or classes
        (:func:`module_code_values`) and type aliases (:func:`module_type_aliases`): live
        objects, never HTTP proxies."""
        if mod not in instances_cache:
            text = sources.get(mod, "")
            instances_cache[mod] = module_instances(text) | module_code_values(text) | module_type_aliases(text)
        return instances_cache[mod]

    literals_cache: dict[str, ModuleLiterals] = {}

    def literals_of(mod: str) -> ModuleLiterals:
        if mod not in literals_cache:
            literals_cache[mod] = ModuleLiterals(sources.get(mod, ""))
        return literals_cache[mod]

    decorators_cache: dict[str, frozenset[str]] = {}

    def decorators_of(mod: str) -> frozenset[str]:
        """Names ``mod`` decorates its definitions and their methods with (``@login_required``,
        ``@auth.login_required(...)``): they run at import time and wrap functions, never callable
        over HTTP; the names it hands to the framework to call in its process
        (``Depends(check_token)``, WebFramework.injected_callables); and the functions it calls
        while it is imported (:func:`import_time_calls`: they change the importing process)."""
        if mod not in decorators_cache:
            text = sources.get(mod, "")
            decorators_cache[mod] = frozenset(dec.split("(", 1)[0].strip().rsplit(".", 1)[-1]
                                              for d in fb[mod].definitions
                                              for dec in (*d.decorators, *d.method_decorators)) \
                | fw.injected_callables(text) | import_time_calls(text)
        return decorators_cache[mod]

    def targets_of(mod: str) -> dict[str, set[str]]:
        if mod not in targets_cache:
            targets_cache[mod] = runtime_targets(mod)
        return targets_cache[mod]

    # {caller module: {callee module: why}}: calls passing live objects (the plan keeps each
    # pair in one service; a copy of the caller elsewhere must take the callee with it)
    live_calls: dict[str, dict[str, str]] = defaultdict(dict)
    for (a, b), why in bonds:
        live_calls[a][b] = bond_detail(why)
    shared = set(plan.shared)
    services: dict[str, ServiceSpec] = {}
    # remote symbols used: (caller service, remote module, symbol)
    remote_uses: dict[str, dict[str, set[str]]] = {}
    for name in sorted(plan.services):
        svc = plan.services[name]
        own = set(svc.modules)
        local = own | shared | ({app_module} if app_module else set())
        copied: set[str] = set()
        borrowed: dict[str, str] = {}
        queue: list[str] = []

        def add(m: str, why: str | None = None) -> None:
            for a in [*ancestors(m), m]:
                if a in modules and a not in copied and a not in excluded:
                    copied.add(a)
                    queue.append(a)
                    if a not in local and owner.get(a, "") not in ("", name):
                        borrowed.setdefault(a, why or f"package of {m}")

        for m in sorted(local):
            if m in modules:
                add(m)
        for m, why in wiring.items():
            add(m, why)
        while queue:
            x = queue.pop()
            for t, line in sorted(by_name_targets(x).items()):
                if t not in copied:
                    add(t, f"{x} imports it by name (line {line})")
            for t, symbols in sorted(targets_of(x).items()):
                if t in copied:
                    continue
                t_owner = owner.get(t)
                if x == app_module and t_owner not in (None, "", name) and x not in own:
                    # Another service's route module: what the app module takes from it
                    # only to register it (its Blueprint/router, the module itself) is
                    # pruned; anything else it calls (helpers, classes) needs the module.
                    helpers = sorted(s for s in symbols if s != "*" and s not in instances_of(t)
                                     and f"{t}.{s}" not in modules)
                    if t in route_modules and not helpers:
                        continue  # pruned from the app module: WebFramework.prune_app_module
                    why = f"the app module {x} uses {', '.join(helpers)}" if t in route_modules else \
                        f"the app module {x} needs it to build the app"
                    add(t, why)
                    continue
                if t_owner in (None, "", name):
                    add(t)
                    continue
                if x in copies_imports:
                    add(t, f"{x} imports it (the framework runs {x} whole in every service)")
                    continue
                if t in live_calls.get(x, {}):
                    # copied code not of this service (borrowed, shared) handing live objects to
                    # another service's module: an HTTP call cannot carry them, the callee comes along
                    add(t, f"{x} {live_calls[x][t]}")
                    continue
                needs = sorted(s for s in symbols
                               if kind_of(t, s) not in REMOTABLE or s in instances_of(t) or s in decorators_of(x))
                if needs:
                    add(t, f"{x} uses {', '.join(needs)} (not callable over HTTP)")
                    for s in needs:
                        if f"{t}.{s}" in modules and f"{t}.{s}" not in shadowed:  # a submodule used as an attribute
                            add(f"{t}.{s}", f"{x} uses {t}.{s}")
        # imports rewritten to clients, and what each client must offer
        rewrites: dict[str, dict[str, str]] = {}
        used: dict[str, set[str]] = defaultdict(set)
        for x in sorted(copied):
            if x == app_module and x not in own:
                continue
            for t, symbols in targets_of(x).items():
                t_owner = owner.get(t)
                if t_owner in (None, "", name) or t == app_module:
                    continue
                if (x in borrowed or x in copies_imports or t in live_calls.get(x, {})) and t in copied:
                    continue  # borrowed code keeps its own module's internals (and its live-object calls)
                rewrites.setdefault(x, {})[t] = client_import_name(t)
                used[t] |= symbols
        clients: dict[str, ClientModule] = {}
        for t in sorted(used):
            cm = ClientModule(module=t, service=owner[t], import_name=client_import_name(t))
            symbols = used[t]
            if "*" in symbols:
                symbols = {d.name for d in fb[t].definitions if not d.private}
            for s in sorted(symbols):
                k = kind_of(t, s)
                d = definition(t, s) if k not in (None, "module") else None
                if k in ("function", "async_function") and d is not None and t in copied and any(
                        s in decorators_of(x) for x in copied if t in targets_of(x)):
                    cm.reexports.append(s)  # a decorator: the borrowed module's own function
                elif k in ("function", "async_function") and d is not None:
                    cm.functions.append(client_function(d))
                elif k == "variable" and d is not None and t in copied and s in instances_of(t):
                    cm.reexports.append(s)  # a live object (Blueprint, extension...): the borrowed module's own
                elif k == "variable" and d is not None:
                    lit = None if d.mutable else literals_of(t).get(s)
                    if lit is not None:
                        cm.constants[s] = lit
                    else:
                        cm.objects.append(s)
                elif t in copied and k == "module":
                    cm.submodules.append(s)
                elif t in copied:
                    cm.reexports.append(s)
                else:
                    notes.append(f"{name}: {t}.{s} is used but is neither a definition nor borrowable; left out of the client")
            clients[t] = cm
        remote_uses[name] = {t: set(used[t]) for t in used}
        services[name] = ServiceSpec(
            name=name,
            modules=sorted(own),
            copied=sorted(copied),
            borrowed=dict(sorted(borrowed.items())),
            clients=clients,
            rewrites={k: dict(sorted(v.items())) for k, v in sorted(rewrites.items())},
            exports=[],
            routes=[],
            blueprints=[],
            calls=sorted({owner[t] for t in used}),
            lines=sum(fb[m].lines for m in own if m in fb),
        )

    # Interfaces: the plan's items plus everything actually called.
    exports: dict[str, dict[str, Export]] = {n: {} for n in services}
    for item_service, svc in sorted(plan.services.items()):
        for item in svc.interface:
            mod, _, attr = item.name.rpartition(".")
            k = kind_of(mod, attr) if mod in fb else None
            if k in REMOTABLE:
                exports[item_service][item.name] = Export(item.name, mod, attr, k, sorted(item.used_by))
    for caller, per_module in sorted(remote_uses.items()):
        for t, symbols in sorted(per_module.items()):
            callee = owner[t]
            cm = services[caller].clients[t]
            offered = {f.name for f in cm.functions} | set(cm.objects)
            for s in sorted(symbols & offered):
                qn = f"{t}.{s}"
                e = exports[callee].get(qn)
                if e is None:
                    e = exports[callee][qn] = Export(qn, t, s, kind_of(t, s) or "function", [])
                    if plan.services[callee].interface:
                        notes.append(f"{callee}: {qn} is called by {caller} but not in the plan's interface; exposed anyway")
                if caller not in e.used_by:
                    e.used_by = sorted({*e.used_by, caller})
    for n, spec in services.items():
        spec.exports = [exports[n][k] for k in sorted(exports[n])]
        spec.called_by = sorted({c for c, s in services.items() if n in s.calls and c != n})

    # Coupling figures for MIGRATION.md: static uses across the boundary.
    for caller, per_module in remote_uses.items():
        for t in per_module:
            callee = owner[t]
            weight = 0
            for x in services[caller].copied:
                if x in services[caller].borrowed:
                    continue
                for use in fb[x].uses:
                    if use.target == t or use.target.startswith(t + "."):
                        weight += use.count
            services[caller].call_weight_out += weight
            services[callee].call_weight_in += weight

    # Routes: every route of the framework, with its full path (Blueprint/router prefixes).
    for m in sorted(routes_by_module):
        svc_name = owner.get(m)
        if not svc_name:
            notes.append(f"{m}: routes in a module of no service (or shared) are served by every service that copies it")
            continue
        spec = services[svc_name]
        for route in routes_by_module[m]:
            spec.routes.append(route)
            if route.blueprint:
                group = tuple(route.blueprint.split(":", 1))
                if group not in spec.blueprints:
                    spec.blueprints.append(group)
    for spec in services.values():
        spec.routes.sort(key=lambda r: (r.path, r.methods, r.function))
        spec.blueprints.sort()

    # Tables and databases.
    table_users: dict[str, set[str]] = defaultdict(set)
    for n, spec in services.items():
        spec.tables = sorted({d.table for m in spec.modules for d in fb[m].data if d.how in ("model", "table")})
        spec.uses_tables = sorted({d.table for m in spec.copied for d in fb[m].data})
        for t in spec.uses_tables:
            table_users[t].add(n)
    shared_tables = sorted(t for t, users in table_users.items() if len(users) > 1)
    for spec in services.values():
        if set(spec.uses_tables) & set(shared_tables) or fw.one_database:
            spec.database = "shared"
    if fw.one_database and len(services) > 1:
        notes.append(f"database: every service uses the shared database ({fw.name}: each service runs the "
                     "migrations of every installed app, the framework's auth, sessions and content types too)")

    # Requirements: third-party imports of the copied modules, resolved through what
    # the monolith declares (decompose.generation.requirements).
    python = python or _req.target_environment(base_image)["python_version"]
    env = _req.target_environment(base_image, python=python)
    local_tops = {x.split(".", 1)[0] for x in modules}
    named_imports = {n: by for n, by in fw.named_imports(fb, sources, app).items()
                     if n.split(".", 1)[0] not in local_tops and n.split(".", 1)[0] not in STDLIB}
    every = [_req.ImportUse(module=imp.module, by=m) for m in sorted(fb) for imp in fb[m].imports
             if imp.module and not imp.level and imp.kind != "string" and not is_test_module(m)]
    every += [_req.ImportUse(module=name, by=by) for name, by in sorted(named_imports.items())]
    everywhere = _req.unimported(every, decl, env)  # what the monolith installs and no module imports
    guarded: dict[str, frozenset[int]] = {}
    for spec in services.values():
        uses: list[_req.ImportUse] = []
        for m in spec.copied:
            for imp in fb[m].imports:
                if imp.context == "type_checking" or not imp.module or imp.level or imp.kind == "string":
                    continue
                top = imp.module.split(".", 1)[0]
                if top in STDLIB or top in local_tops:
                    continue
                if m not in guarded:
                    guarded[m] = _req.guarded_import_lines(sources.get(m, ""))
                uses.append(_req.ImportUse(module=imp.module, by=m, optional=imp.line in guarded[m]))
        for name, by in sorted(named_imports.items()):  # imported by the framework, by name
            if by in spec.copied:
                uses.append(_req.ImportUse(module=name, by=by, named=True))
        r = _req.service_requirements(spec.name, uses, decl, _req.Runtime(pins=dict(fw.runtime_pins)), env,
                                      everywhere=everywhere)
        spec.requirements, spec.unpinned, spec.constraints = r.requirements, r.unpinned, r.constraints
        notes.extend(r.notes)
    unimported_note = _req.unimported_note(everywhere)
    if unimported_note:
        notes.append(unimported_note)
    gateway = _req.gateway_requirements(decl, dict(GATEWAY_PINS), env)
    notes.extend(gateway.notes)
    dists, merge_notes = _req.merge(decl, env)
    notes.extend(f"requirements: {n}" for n in decl.notes + merge_notes)

    default_service = owner.get(app_module or "", "") or ""
    if not default_service:
        default_service = sorted(services, key=lambda n: (-len(services[n].routes), n))[0]
    if app_module:
        # Routes of the app itself are in every service's copy of the app
        # module; the gateway sends them to the default service.
        spec = services[default_service]
        spec.routes.extend(fw.app_routes(app, sources.get(app_module, "")))
        spec.routes.sort(key=lambda r: (r.path, r.methods, r.function))
    constraints = _req.constraint_lines(dists)
    engine, db_notes, db_problems = _db.resolve_engine(
        database, {n: s.requirements for n, s in services.items()}, sorted(services), reads_url=fw.reads_database_url)
    db_problems += _db_url.engine_problems(engine, scheme_checks, db_env, {f.module: f.path for f in facts})
    if db_problems:
        raise GenerateError(db_problems)
    notes.extend(db_notes)
    needed: dict[tuple[str, str], list[str]] = defaultdict(list)  # (package, why) -> services
    for name, spec in services.items():
        spec.replicas = plan.services[name].replica_count
        needs = _system.service_packages(spec.copied, sources, is_test_module)
        spec.system_packages = sorted({n.package for n in needs} | set(plan.services[name].system_packages))
        for package in sorted({n.package for n in needs}):
            first = next(n for n in needs if n.package == package)
            needed[(package, f"{first.module} line {first.line} {first.why}")].append(name)
    for (package, why), names in sorted(needed.items()):
        notes.append(f"system package {package} in the image of {', '.join(sorted(names))}: {why}")
    served_static = fw.served_static(fb, sources, app)
    if served_static:
        for name, spec in services.items():
            spec.serves_static = name == default_service or any(
                marker in sources.get(m, "") for m in spec.modules for marker in fw.static_readers)
        readers = sorted(n for n, s in services.items() if s.serves_static and n != default_service)
        notes.append(f"static files: {', '.join(f + '/' for f in served_static)} (the app's static folder) only in "
                     f"{default_service}, which answers their URLs"
                     + (f", and in {', '.join(readers)}, whose code reads it" if readers else ""))
    state = _replica_state.findings({n: s.copied for n, s in services.items()},
                                    {n: s.replicas for n, s in services.items()}, facts)
    notes.extend(_replica_state.notes(state))
    return Generation(
        project=plan.project,
        version=version,
        base_image=base_image,
        database_env=db_env,
        database_schemes=tuple(sorted({sch for c in scheme_checks for sch in c.schemes})),
        app_module=app_module,
        app_factory=app_factory,
        default_service=default_service,
        services=services,
        shared_tables=shared_tables,
        constraints=constraints,
        notes=sorted(set(notes)),
        framework=framework,
        router_prefixes=included,
        app_settings=app.settings,
        python=python,
        python_requires=python_requires,
        python_accepts=tuple(python_accepts),
        gateway_requirements=gateway.requirements,
        gateway_constraints=gateway.constraints,
        database_engine=engine,
        database_image=database_image,
        replica_state=state,
        shadowed=sorted(shadowed),
        served_static=served_static,
    )


def extraction_order(gen: Generation) -> list[ServiceSpec]:
    """Strangler-fig order: least coupled first.

    Coupling = static uses across its boundary (in + out) + 10 x shared tables
    it touches; ties broken by fewer lines, then name.
    """

    def score(s: ServiceSpec) -> tuple[int, int, str]:
        shared = len(set(s.uses_tables) & set(gen.shared_tables))
        return (s.call_weight_in + s.call_weight_out + 10 * shared, s.lines, s.name)

    return sorted(gen.services.values(), key=score)


def coupling_score(gen: Generation, s: ServiceSpec) -> int:
    return s.call_weight_in + s.call_weight_out + 10 * len(set(s.uses_tables) & set(gen.shared_tables))
