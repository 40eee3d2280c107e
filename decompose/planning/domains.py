"""Domain candidates from the project's own structure (pure): plain facts in, module -> domain out.

A domain expert reads a monolith's folders before its imports.  This module
does the same and gives every production module a *domain key*: the name of
the business domain its place in the tree says it serves.  Clustering then
lets coupling decide merges and splits among these candidates (the
``structure`` signal of :mod:`decompose.planning.signals`), and services are
named after the keys they hold.

Rules, applied to each module's dotted path below its top-level package:

1. **Apps.**  A package is an *app* when it has a direct child named like a
   framework's app parts (``models``, ``views``, ``urls``, ``apps``,
   ``admin``, ``api``, ``routes``, ``serializers``, ``forms`` ... see
   :data:`APP_PARTS`), or a direct child module that declares routes or
   tables (a Flask Blueprint's views, a FastAPI router, a Django app's
   models).  A module inside an app belongs to the deepest app holding it:
   its forms, serializers, schemas, admin, templatetags, API views and
   migrations go with the domain they serve.  A package named like an app
   part (``models/``, ``views/``, ``api/``) is a layer, never an app of its
   own, nor is the project's configuration package (``settings``,
   ``wsgi``/``asgi`` beside ``urls``).  The top-level package is the project, not an app (unless the
   project is several top-level apps side by side).
2. **Layers.**  Outside apps, components named like a technical layer
   (``api``, ``lib``, ``core``, ``models``, ``services``, ``crud``, ``v1``
   ... see :data:`LAYER_WORDS`) are looked through: ``app.api.v1.users``,
   ``app.crud.user`` and ``app.models.user`` all serve the domain ``user``
   (names compared singular, without ``_api``/``_views``-like suffixes).
3. Otherwise the first component below the project is the key
   (``shop.utils.money`` -> ``utils``); a top-level module is its own key.

Migrations found by :func:`decompose.analysis.roles.is_migration_module`
keep the key of the app holding them (Django); Alembic folders outside
every app get their own key and are placed with their tables by the
proposal.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from decompose.analysis.facts import ModuleFacts
from decompose.analysis.roles import TEST_PARTS, is_migration_module

#: Children that make their package a web app (Django app files, Flask/FastAPI layers).
APP_PARTS = frozenset(
    {"models", "views", "urls", "apps", "admin", "api", "routes", "routers", "endpoints", "serializers",
     "viewsets", "schemas", "forms", "crud", "blueprints", "resources"}
)
#: Children that make a package an app by themselves (the others need a child declaring routes or tables).
APP_FILES = frozenset({"models", "views", "urls", "apps", "routes", "routers", "endpoints"})
#: Children of a project's configuration package (Django settings, ROOT_URLCONF, WSGI/ASGI entry).
PROJECT_FILES = frozenset({"settings", "wsgi", "asgi"})
#: Technical layers looked through outside apps (``api/``, ``lib/``, ``v1/`` ...).
LAYER_WORDS = APP_PARTS | frozenset(
    {"lib", "libs", "core", "services", "service", "handlers", "controllers", "repositories", "repository",
     "db", "database", "web", "http", "rest", "graphql", "schema", "model", "view", "route", "router",
     "endpoint", "serializer", "form", "modules", "domain", "domains", "features", "components"}
)
_VERSION = re.compile(r"^(api)?v?\d+$|^api_?v\d+$|^apiv\d+$")
_SUFFIX = re.compile(r"_(api|apis|views?|routes?|routers?|blueprints?|bp|models?|crud|schemas?|services?|endpoints?)$")


def normalise(name: str) -> str:
    """Compare names singular and without layer suffixes: ``tokens`` / ``token_api`` -> ``token``."""
    n = _SUFFIX.sub("", name.lower()) or name.lower()
    if len(n) > 4 and n.endswith("ies"):
        return n[:-3] + "y"
    if len(n) > 3 and n.endswith("s") and not n.endswith(("ss", "us", "is")):
        return n[:-1]
    return n


def is_layer(name: str) -> bool:
    return name in LAYER_WORDS or _VERSION.match(name) is not None


@dataclass
class Domains:
    """``key_of``: module -> domain key; ``label``: key -> the name services take from it;
    ``why``: key -> how the key was found (shown in the plan's reasons)."""

    key_of: dict[str, str]
    label: dict[str, str]
    why: dict[str, str] = field(default_factory=dict)
    apps: list[str] = field(default_factory=list)

    def app_modules(self) -> list[str]:
        """Modules inside an app package (they serve that app: never the shared library)."""
        apps = set(self.apps)
        return sorted(m for m in self.key_of if any(".".join(m.split(".")[:i]) in apps for i in range(1, m.count(".") + 2)))

    def generic_keys(self) -> list[str]:
        """Keys named like a technical layer or a migrations folder that are not apps: they
        name a service only when it holds nothing else."""
        app_keys = {normalise(a.rpartition(".")[2]) for a in self.apps}
        return sorted(
            k for k, lab in self.label.items()
            if k not in app_keys and (is_layer(lab) or lab in ("migrations", "alembic", "versions") or "." in k)
        )

    def members(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for m, k in sorted(self.key_of.items()):
            out[k].append(m)
        return dict(sorted(out.items()))


def _is_django_apps(f: ModuleFacts | None) -> bool:
    return f is not None and any(d.kind == "class" and any(b.split(".")[-1] == "AppConfig" for b in d.bases) for d in f.definitions)


def find_apps(facts: Iterable[ModuleFacts]) -> list[str]:
    """Packages that are apps (rule 1 of the module docstring), sorted."""
    facts = list(facts)
    by_module = {f.module: f for f in facts}
    modules = set(by_module)
    packages = {f.module for f in facts if f.is_package} | {
        ".".join(m.split(".")[:i]) for m in modules for i in range(1, m.count(".") + 1)
    }
    tops = {m.split(".", 1)[0] for m in modules}
    children: dict[str, set[str]] = defaultdict(set)
    for m in modules | packages:
        parent, _, leaf = m.rpartition(".")
        if parent:
            children[parent].add(leaf)
    declares = {f.module for f in facts if f.routes or any(d.how in ("model", "table") for d in f.data)}
    apps = []
    for p in sorted(packages):
        leaf = p.rpartition(".")[2]
        kids = children.get(p, set())
        if "apps" in kids and _is_django_apps(by_module.get(f"{p}.apps")) and leaf not in TEST_PARTS:
            apps.append(p)  # a Django AppConfig says so explicitly, whatever the package's name
            continue
        if leaf in APP_PARTS or leaf in TEST_PARTS or is_migration_module(p + ".x"):
            continue
        files = {k for k in kids & APP_FILES if k != "apps" or _is_django_apps(by_module.get(f"{p}.apps"))}
        if kids & PROJECT_FILES and "apps" not in files:
            continue  # the project's settings/urls/wsgi package: wiring, not an app
        if files and (not is_layer(leaf) or len(files) >= 2):
            apps.append(p)
        elif not is_layer(leaf) and (p in declares or any(f"{p}.{k}" in declares and not is_migration_module(f"{p}.{k}") for k in kids)):
            apps.append(p)
    top_apps = [a for a in apps if a in tops]
    if len(top_apps) < 2:  # one project package: it is the project, not an app
        apps = [a for a in apps if a not in tops]
    return apps


def _through_layers(rest: list[str]) -> int:
    """Index of the first component of ``rest`` that is not a technical layer (the last one at most)."""
    i = 0
    while i < len(rest) - 1 and is_layer(rest[i]):
        i += 1
    return i


def find_domains(facts: Iterable[ModuleFacts]) -> Domains:
    facts = sorted(facts, key=lambda f: f.module)
    apps = find_apps(facts)
    app_set = set(apps)
    tops = {f.module.split(".", 1)[0] for f in facts}

    def scope_of(module: str) -> str:
        parts = module.split(".")
        for i in range(len(parts) - 1, 0, -1):
            if ".".join(parts[:i]) in app_set:
                return ".".join(parts[:i])
        return module if module in app_set else parts[0]

    # names evidenced by route modules behind layer folders of one scope (one router/blueprint per file)
    routed: dict[str, set[str]] = defaultdict(set)
    for f in facts:
        if not f.routes:
            continue
        scope = scope_of(f.module)
        rest = f.module.split(".")[scope.count(".") + 1 :]
        if len(rest) >= 2 and _through_layers(rest) == len(rest) - 1:
            routed[scope].add(normalise(rest[-1]))
    routed = {s: names for s, names in routed.items() if len(names) >= 2}

    key_of: dict[str, str] = {}
    spelled: dict[str, Counter] = defaultdict(Counter)
    why: dict[str, str] = {}
    for f in facts:
        scope = scope_of(f.module)
        parts = f.module.split(".")
        rest = parts[scope.count(".") + 1 :]
        if scope in app_set and scope not in tops or (scope in app_set and len(tops & app_set) > 1):
            leaf = scope.rpartition(".")[2]
            key = normalise(leaf)
            if rest:
                i = _through_layers(rest)
                if i and normalise(rest[i]) in routed.get(scope, ()):
                    leaf, key = rest[i], normalise(rest[i])
                    why.setdefault(key, f"router/blueprint module {rest[i]} of app {scope}, with its layers")
            why.setdefault(key, f"app package {scope}")
        elif not rest:
            leaf, key = parts[0], normalise(parts[0])
            why.setdefault(key, f"top-level {'package' if f.is_package else 'module'} {parts[0]}")
        else:
            i = _through_layers(rest)
            leaf = rest[i]
            key = normalise(leaf)
            if i == len(rest) - 1 and is_layer(leaf) and f.is_package:
                key = normalise(".".join(parts))  # a layer package's own __init__
                why.setdefault(key, f"layer package {f.module}")
            elif i:
                why.setdefault(key, f"named {leaf} across the layers {', '.join(sorted(set(rest[:i])))}")
            else:
                why.setdefault(key, f"package {'.'.join(parts[:2])}")
        key_of[f.module] = key
        spelled[key][leaf] += 1
    label = {k: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for k, c in sorted(spelled.items())}
    return Domains(key_of=key_of, label=label, why=dict(sorted(why.items())), apps=apps)


#: Domains up to this many modules are bound pairwise (a clique); bigger ones by a sparse expander.
CLIQUE_LIMIT = 17


def structure_signal(domains: Domains) -> dict[tuple[str, str], float]:
    """Modules of one domain key bound together, each module's total share 1 whatever the
    domain's size: every pair ``1 / (n - 1)`` up to :data:`CLIQUE_LIMIT` modules; above it a
    circulant expander (module ``i`` to ``i ± 1, 2, 4, 8 ...`` in sorted order), which pulls
    as evenly as the clique at ``n log n`` instead of ``n²`` edges."""
    out: dict[tuple[str, str], float] = defaultdict(float)
    for _, mods in domains.members().items():
        n = len(mods)
        if n < 2:
            continue
        if n <= CLIQUE_LIMIT:
            for i, a in enumerate(mods):
                for b in mods[i + 1 :]:
                    out[(a, b)] += 1.0 / (n - 1)
            continue
        offsets = [1 << k for k in range(n.bit_length()) if (1 << k) <= n // 2]
        share = 1.0 / (2 * len(offsets))
        for i, a in enumerate(mods):
            for o in offsets:
                b = mods[(i + o) % n]
                out[(a, b) if a < b else (b, a)] += share
    return dict(sorted(out.items()))
