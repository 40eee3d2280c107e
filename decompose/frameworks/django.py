"""Django: the settings module, its ``INSTALLED_APPS`` and ``ROOT_URLCONF``, read statically.

A Django project is found by its settings module, in this order:

1. ``DJANGO_SETTINGS_MODULE`` as the project's entry points set it:
   ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")`` (or
   ``os.environ["DJANGO_SETTINGS_MODULE"] = ...``, the value a literal or a
   name bound to one in the same scope) in ``manage.py``, ``wsgi.py``,
   ``asgi.py``, then any other production module.  The value is a module
   name as the entry point's ``sys.path`` sees it: ``settings`` next to an
   ``example_project/manage.py`` is ``example_project.settings``;
2. else (the named module is not in the source, like Weblate's
   ``weblate.settings`` that installers copy from ``settings_example.py``)
   the production module that assigns both ``INSTALLED_APPS`` and
   ``ROOT_URLCONF`` (the least nested, then by name).

The settings are read by :mod:`decompose.frameworks.django_static` (module
level statements, ``from .base import *`` chains, ``+=``/``append``, both
branches of an ``if``), never by importing them.  Each ``INSTALLED_APPS``
entry becomes an :class:`App`: the app's package (an ``AppConfig`` path
``pkg.apps.PkgConfig`` gives ``pkg``, or the ``name`` its class sets),
whether it is the monolith's own code, and whether it is Django's shared
infrastructure (``django.contrib.*`` apps: contenttypes, auth, sessions,
admin, messages, staticfiles...; never services).

Generating Django services (``decompose generate``): each service is a runnable
Django project (``templates/runtime/*_django.py.j2``):

* its settings (``decompose_rt/settings.py``) are the monolith's settings
  module, every upper-case name of it (same ``INSTALLED_APPS``, middleware,
  authentication, templates), with ``ROOT_URLCONF`` set to the service's own
  urlconf and ``DATABASES["default"]`` taken from the split system's database
  URL (SQLite file or PostgreSQL server);
* its urlconf (``decompose_rt/urls.py``) is the monolith's ``ROOT_URLCONF``
  tree with every pattern kept, so ``reverse()`` and ``{% url %}`` still give
  the paths of every service, but a pattern whose view another service owns
  (:func:`owner rule <decompose.frameworks.django_urls>`: the view's module
  for the monolith's own views, else the urlconf module declaring it) answers
  404 here: the gateway sends its path to its own service;
* what Django loads by name or by convention is in every service
  (:meth:`Django.wiring_modules`): the settings, the urlconf tree, each own
  app's package, ``apps``, ``models``, ``admin``, ``migrations`` and
  ``templatetags``, and the modules named in the settings (middleware,
  context processors, backends);
* gunicorn serves the WSGI application; ``migrate --noinput`` runs at start
  (one service at a time on a shared database); static files are served by
  whitenoise when the monolith's ``MIDDLEWARE`` has it, else by
  ``django.contrib.staticfiles``' finders under ``STATIC_URL`` (the default
  service's route in the gateway).

:meth:`Django.generation_problems` refuses, in one line naming the file, what
cannot be generated: no settings module (a reusable app), settings that cannot
be read statically, no ``ROOT_URLCONF`` in the analysed source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from decompose.analysis.facts import ModuleFacts
from decompose.analysis.graph import resolve_import
from decompose.analysis.roles import excluded_role
from decompose.frameworks.base import AppInfo, Route, WebFramework, literal_prefix
from decompose.frameworks.django_static import Reader, Unknown
from decompose.frameworks.django_urls import UrlConf, read_urlconf

SETTINGS_ENV = "DJANGO_SETTINGS_MODULE"
#: Django's own apps: shared infrastructure of every service, never a service.
INFRASTRUCTURE_PREFIX = "django.contrib."
ENTRY_POINTS = ("manage", "wsgi", "asgi")


@dataclass(frozen=True)
class SettingsRef:
    """Where the project names its settings module (file:line), and the module."""

    module: str
    named: str  # the value as written ("settings", "proj.settings")
    file: str
    line: int


@dataclass(frozen=True)
class App:
    """One ``INSTALLED_APPS`` entry."""

    entry: str  # as written: "blog", "blog.apps.BlogConfig", "django.contrib.auth"
    package: str  # the app's package: "blog", "django.contrib.auth"
    internal: bool  # the monolith's own code (its package is in the analysed source)
    infrastructure: bool  # django.contrib.*: shared by every service, never a service

    @property
    def label(self) -> str:
        return self.package.rsplit(".", 1)[-1]


@dataclass
class DjangoProject:
    """What the settings module says (and where), or why it could not be read."""

    settings: str  # the settings module
    settings_file: str
    found_by: str  # "manage.py:7 sets DJANGO_SETTINGS_MODULE" / "assigns INSTALLED_APPS and ROOT_URLCONF"
    apps: list[App] = field(default_factory=list)
    root_urlconf: str | None = None
    problems: list[str] = field(default_factory=list)  # "file:line: what could not be read"
    notes: list[str] = field(default_factory=list)

    @property
    def own_apps(self) -> list[App]:
        return [a for a in self.apps if a.internal]

    def summary(self) -> str:
        own = ", ".join(a.package for a in self.own_apps) or "none"
        return (f"settings {self.settings} ({self.settings_file}), {len(self.apps)} INSTALLED_APPS "
                f"(own: {own}), ROOT_URLCONF {self.root_urlconf or '?'}")


# --------------------------------------------------------------------------- DJANGO_SETTINGS_MODULE


def _settings_calls(source: str) -> list[tuple[str | None, int]]:
    """``DJANGO_SETTINGS_MODULE`` values a module sets -> [(value or None if not literal, line)]."""
    if SETTINGS_ENV not in source:
        return []
    try:
        wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return []
    positions = wrapper.resolve(PositionProvider)
    out: list[tuple[str | None, int]] = []

    class V(cst.CSTVisitor):
        def __init__(self):
            self.scopes: list[dict[str, str]] = [{}]

        def visit_FunctionDef(self, node):
            self.scopes.append({})

        def leave_FunctionDef(self, node):
            self.scopes.pop()

        def value(self, node) -> str | None:
            if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
                v = node.evaluated_value
                return v if isinstance(v, str) else None
            if isinstance(node, cst.Name):
                for scope in reversed(self.scopes):
                    if node.value in scope:
                        return scope[node.value]
            return None

        def visit_Assign(self, node):
            v = self.value(node.value)
            for t in node.targets:
                if isinstance(t.target, cst.Name) and v is not None:
                    self.scopes[-1].setdefault(t.target.value, v)  # the first (default) value
                if isinstance(t.target, cst.Subscript) and _is_environ(t.target.value) \
                        and _subscript_key(t.target) == SETTINGS_ENV:
                    out.append((self.value(node.value), positions[node].start.line))

        def visit_Call(self, node):
            f = node.func
            if isinstance(f, cst.Attribute) and f.attr.value == "setdefault" and _is_environ(f.value) \
                    and len(node.args) >= 2 and self.value(node.args[0].value) == SETTINGS_ENV:
                out.append((self.value(node.args[1].value), positions[node].start.line))

    wrapper.module.visit(V())
    return out


def _is_environ(node) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "environ"


def _subscript_key(node: cst.Subscript) -> str | None:
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        v = node.slice[0].slice.value
        if isinstance(v, cst.SimpleString):
            ev = v.evaluated_value
            return ev if isinstance(ev, str) else None
    return None


def _entry_rank(module: str) -> tuple[int, int, str]:
    last = module.rsplit(".", 1)[-1]
    return (ENTRY_POINTS.index(last) if last in ENTRY_POINTS else len(ENTRY_POINTS), module.count("."), module)


def _resolve_named(named: str, entry_module: str, entry_is_package: bool, modules: set[str]) -> str | None:
    """The module ``named`` stands for, seen from the entry point's folder or the root."""
    if named in modules:
        return named
    parts = entry_module.split(".")
    folder = parts if entry_is_package else parts[:-1]
    for i in range(len(folder), 0, -1):
        cand = ".".join([*folder[:i], named])
        if cand in modules:
            return cand
    return None


def _production(facts: dict[str, ModuleFacts]) -> list[str]:
    return sorted(m for m, f in facts.items() if excluded_role(m, f.path) is None)


def find_settings(facts: dict[str, ModuleFacts], sources: dict[str, str]) -> tuple[SettingsRef | None, list[str]]:
    """The settings module (see the module docstring) and notes on what was tried.

    Tried in order: what ``manage.py``/``wsgi.py``/``asgi.py`` name; the module
    assigning both ``INSTALLED_APPS`` and ``ROOT_URLCONF``; what any other
    production module names (a Celery or tooling entry point may name a
    settings module of its own); a module assigning ``INSTALLED_APPS`` only
    (a reusable app's defaults)."""
    notes: list[str] = []
    modules = set(facts)
    production = _production(facts)
    named_by: list[tuple[bool, SettingsRef]] = []
    for module in sorted(production, key=_entry_rank):
        entry = module.rsplit(".", 1)[-1] in ENTRY_POINTS
        for named, line in _settings_calls(sources.get(module, "")):
            path = facts[module].path
            if named is None:
                notes.append(f"{path}:{line}: {SETTINGS_ENV} is not a literal; looking for the settings module")
                continue
            found = _resolve_named(named, module, facts[module].is_package, modules)
            if found is not None:
                named_by.append((entry, SettingsRef(found, named, path, line)))
            else:
                notes.append(f"{path}:{line}: {SETTINGS_ENV} names {named}, which is not in the analysed source")
    assigns: dict[str, set[str]] = {}
    for module in production:
        names = {d.name for d in facts[module].definitions if d.kind == "variable"}
        assigns[module] = names & {"INSTALLED_APPS", "ROOT_URLCONF"}

    def assigning(wanted: set[str]) -> SettingsRef | None:
        cands = sorted((m for m, n in assigns.items() if wanted <= n), key=lambda m: (m.count("."), m))
        if not cands:
            return None
        if len(cands) > 1:
            notes.append(f"settings: {cands[0]} chosen of the modules assigning {' and '.join(sorted(wanted))}: "
                         + ", ".join(cands))
        return SettingsRef(cands[0], cands[0], facts[cands[0]].path, 0)

    for entry, ref in named_by:
        if entry:
            return ref, notes
    both = assigning({"INSTALLED_APPS", "ROOT_URLCONF"})
    if both is not None:
        return both, notes
    if named_by:
        return named_by[0][1], notes
    return assigning({"INSTALLED_APPS"}), notes


# --------------------------------------------------------------------------- reading the settings


def _app_package(entry: str, reader: Reader, modules: set[str]) -> str:
    """The package of an ``INSTALLED_APPS`` entry (an AppConfig path gives its ``name``)."""
    if entry in modules or entry.startswith(INFRASTRUCTURE_PREFIX):
        return entry
    mod, _, cls = entry.rpartition(".")
    if mod in modules:
        ref = reader.namespace(mod).get(cls)
        if ref is not None:  # class XConfig(AppConfig): name = "..."
            name = _class_name_attr(reader.sources[mod], cls)
            if name:
                return name
            return mod.rpartition(".")[0] or mod
    if mod.endswith(".apps"):
        return mod.rpartition(".")[0]
    if any(m.startswith(entry + ".") for m in modules):
        return entry  # a namespace package
    return entry


def _class_name_attr(source: str, cls: str) -> str | None:
    try:
        tree = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None
    for stmt in tree.body:
        if isinstance(stmt, cst.ClassDef) and stmt.name.value == cls:
            for inner in stmt.body.body:
                if isinstance(inner, cst.SimpleStatementLine):
                    for small in inner.body:
                        if isinstance(small, cst.Assign) and isinstance(small.value, cst.SimpleString) and any(
                                isinstance(t.target, cst.Name) and t.target.value == "name" for t in small.targets):
                            v = small.value.evaluated_value
                            return v if isinstance(v, str) else None
    return None


def definitions_of(facts: dict[str, ModuleFacts]) -> dict[str, dict[str, tuple[str, int]]]:
    """module -> {name: (kind, line)} of top-level functions and classes bound only once."""
    out: dict[str, dict[str, tuple[str, int]]] = {}
    for m, f in facts.items():
        seen: dict[str, list] = {}
        for d in f.definitions:
            seen.setdefault(d.name, []).append(d)
        out[m] = {n: ("class" if ds[0].kind == "class" else "function", ds[0].line) for n, ds in seen.items()
                  if len(ds) == 1 and ds[0].kind in ("function", "async_function", "class")}
    return out


def reader_for(facts: dict[str, ModuleFacts], sources: dict[str, str]) -> Reader:
    known = {m: sources[m] for m in facts if m in sources}
    return Reader(known, {m for m, f in facts.items() if f.is_package}, {m: f.path for m, f in facts.items()})


def read_project(facts: dict[str, ModuleFacts], sources: dict[str, str]) -> DjangoProject | None:
    """The Django project of the monolith, or None when it has no settings module."""
    ref, notes = find_settings(facts, sources)
    if ref is None:
        return None
    reader = reader_for(facts, sources)
    settings_file = facts[ref.module].path
    found_by = (f"{ref.file}:{ref.line} sets {SETTINGS_ENV}" if ref.line
                else "it assigns INSTALLED_APPS and ROOT_URLCONF")
    project = DjangoProject(settings=ref.module, settings_file=settings_file, found_by=found_by, notes=notes)
    ns = reader.namespace(ref.module)
    if ref.module in reader.parse_errors:
        project.problems.append(f"{settings_file}: cannot parse: {reader.parse_errors[ref.module]}")
        return project
    modules = set(facts)
    apps = reader.lookup(ref.module, "INSTALLED_APPS") if "INSTALLED_APPS" in ns else None
    if apps is None:
        project.problems.append(f"{settings_file}: no INSTALLED_APPS")
    elif isinstance(apps, Unknown):
        project.problems.append(f"{apps.where()}: INSTALLED_APPS cannot be read statically ({apps.why})")
    elif not isinstance(apps, (list, tuple)):
        project.problems.append(f"{settings_file}: INSTALLED_APPS is not a list or tuple")
    else:
        seen: set[str] = set()
        for entry in apps:
            if isinstance(entry, Unknown):
                project.problems.append(f"{entry.where()}: an INSTALLED_APPS entry cannot be read statically "
                                        f"({entry.why})")
                continue
            if not isinstance(entry, str) or entry in seen:
                continue
            seen.add(entry)
            package = _app_package(entry, reader, modules)
            internal = package in modules or any(m.startswith(package + ".") for m in modules)
            project.apps.append(App(entry=entry, package=package, internal=internal,
                                    infrastructure=package.startswith(INFRASTRUCTURE_PREFIX)))
    urlconf = reader.lookup(ref.module, "ROOT_URLCONF") if "ROOT_URLCONF" in ns else None
    if isinstance(urlconf, str):
        project.root_urlconf = urlconf
    elif isinstance(urlconf, Unknown):
        project.problems.append(f"{urlconf.where()}: ROOT_URLCONF cannot be read statically ({urlconf.why})")
    else:
        project.problems.append(f"{settings_file}: no ROOT_URLCONF")
    return project


# --------------------------------------------------------------------------- what services copy

#: Settings whose values are dotted paths Django imports (a list of them, or one).
NAMED_SETTINGS = ("MIDDLEWARE", "AUTHENTICATION_BACKENDS", "PASSWORD_HASHERS", "SESSION_ENGINE",
                  "MESSAGE_STORAGE", "DEFAULT_FILE_STORAGE", "STATICFILES_STORAGE", "STATICFILES_FINDERS",
                  "EMAIL_BACKEND")
#: Submodules of an app that Django loads by convention, never by an import: the AppConfig
#: (``apps``), ``models``, ``admin`` (admin autodiscovery), ``migrations`` (``migrate``) and
#: ``templatetags`` (``{% load %}``).  What the AppConfig's module imports (``ready()``
#: importing ``signals`` or ``checks`` to register receivers) is in every service too: an
#: import for its side effect, which an HTTP client would never make.
CONVENTIONAL = ("apps", "models", "admin", "migrations", "templatetags")
#: A dotted path as the settings name what Django imports.
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_DOTTED_STRING = re.compile(r"""["']([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+)["']""")


def root_urlconf_module(project: DjangoProject, facts: dict[str, ModuleFacts]) -> str | None:
    """The analysed module ``ROOT_URLCONF`` names (seen from the settings' folder), or None."""
    if not project.root_urlconf:
        return None
    return _resolve_named(project.root_urlconf, project.settings, facts[project.settings].is_package, set(facts))


def named_in_settings(source: str, modules: set[str]) -> list[str]:
    """The monolith's modules a settings source names in strings (``"pkg.middleware.Tz"``,
    ``"pkg.context_processors.common"``): Django imports them by name."""
    out: set[str] = set()
    for text in _DOTTED_STRING.findall(source):
        for cand in (text, text.rpartition(".")[0]):
            if cand in modules:
                out.add(cand)
                break
    return sorted(out)


def static_settings(reader: Reader, settings: str) -> dict:
    """``STATIC_URL`` (a local path, or "") and whether ``MIDDLEWARE`` has whitenoise."""
    ns = reader.namespace(settings)
    url = reader.lookup(settings, "STATIC_URL") if "STATIC_URL" in ns else None
    static_url = url if isinstance(url, str) and "://" not in url and not url.startswith("//") else ""
    if static_url:
        static_url = "/" + static_url.strip("/") + "/"
    mw = reader.lookup(settings, "MIDDLEWARE") if "MIDDLEWARE" in ns else None
    whitenoise = isinstance(mw, (list, tuple)) and any(isinstance(m, str) and m.startswith("whitenoise.")
                                                         for m in mw)
    return {"static_url": static_url, "whitenoise": whitenoise}


# --------------------------------------------------------------------------- the adapter


class Django(WebFramework):
    name = "django"
    runtime_pins = {"httpx": "httpx==0.28.1", "gunicorn": "gunicorn==27.0.1"}
    server_template = "runtime/server_django.py.j2"
    runtime_templates = {"prepare.py": "runtime/prepare_django.py.j2", "settings.py": "runtime/settings_django.py.j2",
                         "urls.py": "runtime/urls_django.py.j2"}
    asgi = False
    reads_database_url = True
    one_database = True

    def __init__(self):
        self._last: tuple | None = None  # (facts, sources, project): one project read per generation

    def detects(self, tops: set[str]) -> bool:
        return "django" in tops

    def project(self, facts: dict[str, ModuleFacts], sources: dict[str, str]) -> DjangoProject | None:
        last = self._last
        if last is not None and last[0] is facts and last[1] is sources:
            return last[2]
        project = read_project(facts, sources)
        self._last = (facts, sources, project)
        return project

    def find_app(self, facts: dict[str, ModuleFacts], sources: dict[str, str]) -> AppInfo:
        """The app module of a Django project is its settings module; ``settings`` carries
        what the generated runtime needs (``ROOT_URLCONF`` resolved, ``STATIC_URL``...)."""
        project = self.project(facts, sources)
        if project is None:
            return AppInfo()
        data: dict = {"settings": project.settings,
                      "root_urlconf": root_urlconf_module(project, facts) or "",
                      "internal_tops": sorted({m.split(".", 1)[0] for m in facts}),
                      "staticfiles": any(a.package == "django.contrib.staticfiles" for a in project.apps)}
        data.update(static_settings(reader_for(facts, sources), project.settings))
        return AppInfo(module=project.settings, settings=data)

    def url_patterns(self, facts: dict[str, ModuleFacts], sources: dict[str, str],
                     project: DjangoProject | None = None) -> UrlConf:
        """Every URL pattern of ``ROOT_URLCONF`` (see :mod:`decompose.frameworks.django_urls`)."""
        project = project or self.project(facts, sources)
        if project is None or not project.root_urlconf:
            return UrlConf(notes=["no ROOT_URLCONF: no URL patterns"] if project else [])
        root = root_urlconf_module(project, facts)
        if root is None:
            return UrlConf(notes=[f"{project.settings_file}: ROOT_URLCONF {project.root_urlconf} is not in the "
                                  "analysed source: no URL patterns"])
        known = {m: sources[m] for m in facts if m in sources}
        classes = {m: {d.name: {"bases": list(d.bases), "methods": list(d.methods), "actions": []}
                       for d in f.definitions if d.kind == "class"} for m, f in facts.items()}
        return read_urlconf(root, known, {m for m, f in facts.items() if f.is_package},
                            {m: f.path for m, f in facts.items()}, definitions_of(facts), classes)

    def module_routes(self, module: str, facts: ModuleFacts, source: str, app: AppInfo,
                      notes: list[str]) -> list[Route]:
        return []  # a Django module's routes exist only through the urlconf tree: see routes

    def routes(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo,
               notes: list[str]) -> list[tuple[str, Route]]:
        """Every URL pattern with the module whose service serves it (the view's module,
        else the urlconf module declaring it)."""
        conf = self.url_patterns(facts, sources)
        notes.extend(conf.notes)
        project = self.project(facts, sources)
        notes.extend(f"{p}: the services' settings still add it at run time (they are the monolith's), but an "
                     "app of the monolith's own source added so is not copied into every service"
                     for p in (project.problems if project else []) if _entry_only(p))
        return [(p.module, Route(path=p.path, methods=list(p.methods), function=p.view, blueprint=None,
                                 prefix=p.prefix, native=p.route)) for p in conf.patterns]

    def app_routes(self, app: AppInfo, source: str) -> list[Route]:
        """Static files under ``STATIC_URL`` (served by the default service): every URL
        pattern is in the urlconf tree."""
        url = app.settings.get("static_url", "")
        if not url or not (app.settings.get("staticfiles") or app.settings.get("whitenoise")):
            return []
        return [Route(path=f"{url}<path:path>", methods=["GET", "HEAD"], function=STATIC_VIEW, blueprint=None,
                      prefix=url.rstrip("/") or "/", native=static_route(url))]

    def static_prefix(self, path: str) -> str:
        return literal_prefix(path, "<")

    def wiring_modules(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo) -> dict[str, str]:
        """What Django loads by name or by convention, in every service: the settings
        module, the urlconf tree, each own app's package and its conventional
        submodules (:data:`CONVENTIONAL`, with their submodules: every migration),
        and the modules the settings name in strings (middleware, context
        processors, authentication backends)."""
        project = self.project(facts, sources)
        if project is None:
            return {}
        modules = set(facts)
        out: dict[str, str] = {project.settings: "the settings module"}
        for m in named_in_settings(sources.get(project.settings, ""), modules):
            out.setdefault(m, f"named in the settings ({project.settings})")
        module_of_file = {f.path: m for m, f in facts.items()}
        for p in self.url_patterns(facts, sources, project).patterns:
            if p.file in module_of_file:
                out.setdefault(module_of_file[p.file], "in the urlconf tree (ROOT_URLCONF)")
        root = root_urlconf_module(project, facts)
        if root:
            out.setdefault(root, "ROOT_URLCONF")
        for a in project.own_apps:
            if a.package in modules:
                out.setdefault(a.package, f"INSTALLED_APPS {a.entry}")
            for sub in CONVENTIONAL:
                base = f"{a.package}.{sub}"
                for m in sorted(modules):
                    if m == base or m.startswith(base + "."):
                        out.setdefault(m, f"Django loads {sub} of INSTALLED_APPS {a.entry}")
            config = f"{a.package}.apps"
            if config in facts:
                for imp in facts[config].imports:
                    if imp.context == "type_checking":
                        continue
                    for t in resolve_import(imp, modules):
                        if t != config:
                            out.setdefault(t, f"imported by {config} (AppConfig.ready registers it)")
        return {m: out[m] for m in sorted(out) if excluded_role(m, facts[m].path) is None}

    def named_imports(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo) -> dict[str, str]:
        """What the settings name for Django to import: every ``INSTALLED_APPS`` entry, and the
        dotted paths of :data:`NAMED_SETTINGS` (middleware, backends, storages...), by the
        settings module (``"compressor"``, ``"allauth.account.middleware.AccountMiddleware"``)."""
        project = self.project(facts, sources)
        if project is None:
            return {}
        out = {a.entry: project.settings for a in project.apps}
        reader = reader_for(facts, sources)
        ns = reader.namespace(project.settings)
        for name in NAMED_SETTINGS:
            value = reader.lookup(project.settings, name) if name in ns else None
            for v in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(v, str) and _DOTTED.fullmatch(v):
                    out.setdefault(v, project.settings)
        return dict(sorted(out.items()))

    def copies_imports_of(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo) -> set[str]:
        """The urlconf tree: every service imports it whole (its patterns are kept for
        ``reverse()``), so the views it imports, wraps and instantiates are the real ones
        (copied), never HTTP clients; only this service's views are served
        (``decompose_rt.urls``)."""
        project = self.project(facts, sources)
        if project is None:
            return set()
        module_of_file = {f.path: m for m, f in facts.items()}
        out = {module_of_file[p.file] for p in self.url_patterns(facts, sources, project).patterns
               if p.file in module_of_file}
        root = root_urlconf_module(project, facts)
        return out | ({root} if root else set())

    def service_context(self, serves: list[str], clients: dict[str, str], owners: dict[str, str],
                        routes: dict[tuple[str, str], str], app: AppInfo) -> dict:
        s = app.settings
        return {"django": {"routes": [[r, v, n] for (r, v), n in sorted(routes.items())],"settings": s.get("settings", ""), "root_urlconf": s.get("root_urlconf", ""),
                           "serves": sorted(serves), "clients": dict(sorted(clients.items())),
                           "owners": dict(sorted(owners.items())),
                           "internal_tops": list(s.get("internal_tops", [])),
                           "static_url": s.get("static_url", "") if s.get("staticfiles") else "",
                           "static_route": static_route(s.get("static_url", "")) if s.get("static_url") else "",
                           "whitenoise": bool(s.get("whitenoise"))}}

    def generation_problems(self, facts: dict[str, ModuleFacts], sources: dict[str, str]) -> list[str]:
        """What cannot be generated, one line each naming the file: no settings module,
        settings that cannot be read, no ROOT_URLCONF in the analysed source."""
        project = self.project(facts, sources)
        if project is None:
            return ["the monolith imports django but has no settings module (no manage.py/wsgi.py/asgi.py "
                    f"setting {SETTINGS_ENV}, no module assigning INSTALLED_APPS): a reusable Django app is not "
                    "a project decompose can split, and it is never treated as Flask"]
        problems = [f"{p}: a Django project is generated from its settings; make the value a literal (or a "
                    "list of literals) in the settings module" for p in project.problems if not _entry_only(p)]
        if project.root_urlconf and root_urlconf_module(project, facts) is None:
            problems.append(f"{project.settings_file}: ROOT_URLCONF {project.root_urlconf!r} is not a module of "
                            "the analysed source; name the project's urlconf module (or analyse the folder that "
                            "holds it)")
        return problems


def _entry_only(problem: str) -> bool:
    """A problem of one ``INSTALLED_APPS`` entry (``for ep in entry_points(): INSTALLED_APPS.append(...)``,
    a plugin list): the settings run as they are in every service, so it is a note, not a refusal."""
    return ": an INSTALLED_APPS entry cannot be read statically" in problem


#: The view serving ``STATIC_URL`` without whitenoise (``django.contrib.staticfiles``' finders).
STATIC_VIEW = "django.contrib.staticfiles.views.serve"


def static_route(url: str) -> str:
    """The regex of the generated urlconf's static pattern under ``url`` (``/static/``)."""
    return "^" + re.escape(url.lstrip("/")) + "(?P<path>.*)$"
