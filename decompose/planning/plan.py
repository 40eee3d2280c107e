"""The decomposition plan: services, their modules, interfaces and tables (pure model).

A plan is what ``decompose plan`` proposes and writes to ``decompose.yaml``,
what users edit, and what ``generate`` and ``check`` consume.  This module
holds only the data model, its canonical dict form and validation; YAML
reading and writing live in ``decompose.planning.planfile``.

Canonical dict form (``Plan.to_dict``)::

    version: 1
    project: shop                 # used for image names and labels
    source: sample_monolith       # the analysed tree, relative to the plan file
    services:
      catalog:
        modules: [shop.catalog, shop.catalog.models, ...]
        interface:                # what other services call
          - name: shop.catalog.service.get_product_price
            kind: function
            signature: "(product_id: int) -> int"
            used_by: [orders]
        tables: [categories, products]
        routes:
          - {method: GET, path: /api/catalog/products, function: shop.catalog.api.list_products}
        reasons:                  # why each module was placed here
          shop.catalog.models: "shop.catalog.service (weight 14), shop.catalog.api (weight 6)"
        replicas: 1               # optional (1-100); absent: DEFAULT_REPLICAS (2)
        system_packages: [gnupg]  # optional: Debian packages its image adds to those generate finds
    shared:                       # modules copied into every service as a library
      modules: [shop.utils, shop.utils.money, ...]
      reasons:                    # why each was left shared (only written when known)
        shop.utils.money: "shared: used from 5 clusters (12 modules) and depends only on shared modules"
    quality: {...}                # figures of the proposal (informational)
    blockers: [...]               # informational

Everything is sorted so that dumping the same plan twice gives the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: A Debian package name (Debian policy: lower-case letters, digits, + - .; at least two characters).
DEBIAN_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
PLAN_VERSION = 1
#: Replicas of a service whose plan entry sets none: what the prod Kubernetes overlay and
#: ``up --swarm`` run.  A service's ``replicas:`` in decompose.yaml overrides it.
DEFAULT_REPLICAS = 2
MAX_REPLICAS = 100
#: DNS-1123 label: what Kubernetes accepts as a Service / Deployment name.
SERVICE_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
#: Dotted module names; a component may start with a digit (``0001_initial``: Django
#: migrations are real modules, loaded by importlib).
#: Any dotted name the scanner gives a file: parts need not be identifiers
#: (``0001_initial``, ``run-me``, ``2024-01-01 cleanup``) but hold no dot,
#: slash or control character.
MODULE_RE = re.compile(r"^[^./\\\x00-\x1f]+(\.[^./\\\x00-\x1f]+)*$")


def kind_of(value: Any) -> str:
    """What a YAML value is, for messages naming a type problem (never its possibly huge repr)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    for types, name in ((int, "an integer"), (float, "a number"), (str, "a string"), (list, "a list"), (dict, "a mapping")):
        if isinstance(value, types):
            return name
    return f"a {type(value).__name__}"


def _show(value: Any, limit: int = 60) -> str:
    """A short one-line repr for messages."""
    text = repr(value) if isinstance(value, (str, int, float, bool, type(None))) else kind_of(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _names(keys) -> list[str]:
    """Mapping keys as sorted display strings (YAML keys may mix strings, numbers and null)."""
    return sorted(repr(k) for k in keys)


def _list_problem(value: Any, what: str) -> str | None:
    """Why ``value`` is not a list of strings (None if it is)."""
    if not isinstance(value, list):
        return f"must be a list of {what}, got {kind_of(value)}"
    for i, item in enumerate(value, 1):
        if not isinstance(item, str):
            return f"must be a list of {what}, but item {i} is {kind_of(item)}"
    return None


class PlanError(Exception):
    """The plan is invalid; ``problems`` lists every problem found, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class InterfaceItem:
    name: str  # fully qualified symbol, e.g. shop.catalog.service.get_product_price
    kind: str  # function | async_function | class | variable
    signature: str = ""
    used_by: list[str] = field(default_factory=list)  # service names

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "signature": self.signature, "used_by": sorted(self.used_by)}


@dataclass
class RouteItem:
    method: str
    path: str
    function: str  # fully qualified function

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "function": self.function}


@dataclass
class Service:
    name: str
    modules: list[str]
    interface: list[InterfaceItem] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    routes: list[RouteItem] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    replicas: int | None = None  # None: DEFAULT_REPLICAS
    #: Debian packages its image installs besides those ``generate`` finds the code needs
    system_packages: list[str] = field(default_factory=list)

    @property
    def replica_count(self) -> int:
        return DEFAULT_REPLICAS if self.replicas is None else self.replicas

    def to_dict(self) -> dict[str, Any]:
        return {
            "modules": sorted(self.modules),
            "interface": [i.to_dict() for i in sorted(self.interface, key=lambda i: i.name)],
            "tables": sorted(self.tables),
            "routes": [r.to_dict() for r in sorted(self.routes, key=lambda r: (r.path, r.method, r.function))],
            "reasons": {k: self.reasons[k] for k in sorted(self.reasons)},
            **({"replicas": self.replicas} if self.replicas is not None else {}),
            **({"system_packages": sorted(set(self.system_packages))} if self.system_packages else {}),
        }


@dataclass
class Plan:
    project: str
    services: dict[str, Service]
    shared: list[str] = field(default_factory=list)
    source: str = "."
    quality: dict[str, Any] = field(default_factory=dict)
    blockers: list[dict[str, Any]] = field(default_factory=list)
    version: int = PLAN_VERSION
    shared_reasons: dict[str, str] = field(default_factory=dict)
    #: Modules that are in no service and ship in no image (tests), with the reason.
    excluded: dict[str, str] = field(default_factory=dict)

    # -- queries -----------------------------------------------------------
    def service_of(self) -> dict[str, str]:
        """module -> service name (shared modules map to "" )."""
        out = {m: "" for m in self.shared}
        for s in self.services.values():
            for m in s.modules:
                out[m] = s.name
        return out

    def partition(self) -> dict[str, list[str]]:
        return {name: sorted(s.modules) for name, s in sorted(self.services.items())}

    # -- canonical form ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "project": self.project,
            "source": self.source,
            "services": {name: self.services[name].to_dict() for name in sorted(self.services)},
            "shared": self._shared_dict(),
            "quality": _sorted(self.quality),
            "blockers": [_sorted(b) for b in self.blockers],
            **({"excluded": {m: self.excluded[m] for m in sorted(self.excluded)}} if self.excluded else {}),
        }

    def _shared_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"modules": sorted(self.shared)}
        if self.shared_reasons:
            out["reasons"] = {k: self.shared_reasons[k] for k in sorted(self.shared_reasons)}
        return out

    @classmethod
    def from_dict(cls, data: Any, origin: str = "decompose.yaml") -> "Plan":
        """Build a plan from its dict form, raising PlanError listing every structural problem."""
        problems: list[str] = []
        if not isinstance(data, dict):
            raise PlanError([f"{origin}: the plan must be a mapping with a 'services' key"])
        allowed = {"version", "project", "source", "services", "shared", "quality", "blockers", "excluded"}
        for key in _names(set(data) - allowed):
            problems.append(f"{origin}: unknown top-level key {key}")
        version = data.get("version", PLAN_VERSION)
        if isinstance(version, bool) or version != PLAN_VERSION:
            problems.append(f"{origin}: unsupported plan version {_show(version)} (expected {PLAN_VERSION})")
            version = PLAN_VERSION
        project = data.get("project", "")
        if not isinstance(project, str) or not SERVICE_NAME_RE.match(project or ""):
            problems.append(f"{origin}: project {_show(project)} must be a DNS-1123 label (lower-case letters, digits, '-')")
        source = data.get("source", ".")
        if not isinstance(source, str):
            problems.append(f"{origin}: 'source' must be a string (a folder relative to the plan), got {kind_of(source)}")
        quality = data.get("quality") or {}
        if not isinstance(quality, dict):
            problems.append(f"{origin}: 'quality' must be a mapping, got {kind_of(quality)}")
            quality = {}
        blockers = data.get("blockers") or []
        if not isinstance(blockers, list) or not all(isinstance(b, dict) for b in blockers):
            bad = blockers if not isinstance(blockers, list) else next(b for b in blockers if not isinstance(b, dict))
            problems.append(f"{origin}: 'blockers' must be a list of mappings, got {kind_of(bad)}"
                            + (" in it" if isinstance(blockers, list) else ""))
            blockers = []
        services_raw = data.get("services")
        if not isinstance(services_raw, dict) or not services_raw:
            got = "an empty mapping" if services_raw == {} else kind_of(services_raw)
            problems.append(f"{origin}: 'services' must be a non-empty mapping of service name to service, got {got}")
            services_raw = {}
        services: dict[str, Service] = {}
        for name, body in services_raw.items():
            where = f"{origin}: service {_show(name)}"
            if not isinstance(name, str) or not SERVICE_NAME_RE.match(name):
                problems.append(f"{where}: name must be a DNS-1123 label (lower-case letters, digits, '-', at most 63)")
                continue
            if not isinstance(body, dict):
                problems.append(f"{where}: must be a mapping with 'modules', got {kind_of(body)}")
                continue
            for key in _names(set(body) - {"modules", "interface", "tables", "routes", "reasons", "replicas",
                                          "system_packages"}):
                problems.append(f"{where}: unknown key {key}")
            modules = body.get("modules")
            if modules is None:
                modules = []
            wrong = _list_problem(modules, "dotted module names")
            if wrong:
                problems.append(f"{where}: 'modules' {wrong}")
                modules = []
            elif not modules:
                problems.append(f"{where}: has no modules")
            for m in modules:
                if not MODULE_RE.match(m):
                    problems.append(f"{where}: {m!r} is not a dotted module name")
            try:
                interface = [
                    InterfaceItem(
                        name=str(i["name"]),
                        kind=str(i.get("kind", "function")),
                        signature=str(i.get("signature", "")),
                        used_by=[str(u) for u in i.get("used_by", [])],
                    )
                    for i in body.get("interface") or []
                ]
                routes = [
                    RouteItem(method=str(r["method"]), path=str(r["path"]), function=str(r.get("function", "")))
                    for r in body.get("routes") or []
                ]
            except (KeyError, TypeError, AttributeError) as exc:
                problems.append(f"{where}: malformed interface/routes entry ({exc})")
                interface, routes = [], []
            tables = body.get("tables") or []
            reasons = body.get("reasons") or {}
            if not isinstance(tables, list) or not all(isinstance(t, (str, int, float)) for t in tables):
                problems.append(f"{where}: 'tables' {_list_problem(tables, 'table names')}")
                tables = []
            if not isinstance(reasons, dict):
                problems.append(f"{where}: 'reasons' must be a mapping of module to reason, got {kind_of(reasons)}")
                reasons = {}
            replicas = body.get("replicas")
            if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int)
                                         or not 1 <= replicas <= MAX_REPLICAS):
                problems.append(f"{where}: 'replicas' must be an integer from 1 to {MAX_REPLICAS}, "
                                f"got {_show(replicas)}")
                replicas = None
            packages = body.get("system_packages") or []
            if not isinstance(packages, list) or not all(isinstance(p, str) and DEBIAN_PACKAGE_RE.match(p)
                                                         for p in packages):
                problems.append(f"{where}: 'system_packages' must be a list of Debian package names "
                                f"(such as gnupg), got {_show(packages)}")
                packages = []
            services[name] = Service(
                name=name,
                modules=list(modules),
                interface=interface,
                tables=[str(t) for t in tables],
                routes=routes,
                reasons={str(k): str(v) for k, v in reasons.items()},
                replicas=replicas,
                system_packages=list(packages),
            )
        shared_raw = data.get("shared") or {}
        shared: Any = []
        if not isinstance(shared_raw, dict):
            problems.append(f"{origin}: 'shared' must be a mapping with a 'modules' list, got {kind_of(shared_raw)}")
            shared_raw = {}
        else:
            shared = shared_raw.get("modules")
            shared = [] if shared is None else shared
            wrong = _list_problem(shared, "dotted module names")
            if wrong:
                problems.append(f"{origin}: shared: 'modules' {wrong}")
                shared = []
        for m in shared:
            if not MODULE_RE.match(m):
                problems.append(f"{origin}: shared: {m!r} is not a dotted module name")
        shared_reasons = shared_raw.get("reasons") or {}
        for key in _names(set(shared_raw) - {"modules", "reasons"}):
            problems.append(f"{origin}: shared: unknown key {key}")
        if not isinstance(shared_reasons, dict):
            problems.append(f"{origin}: shared: 'reasons' must be a mapping of module to reason, got {kind_of(shared_reasons)}")
            shared_reasons = {}
        excluded_raw = data.get("excluded") or {}
        if not isinstance(excluded_raw, dict):
            problems.append(f"{origin}: 'excluded' must be a mapping of module to reason, got {kind_of(excluded_raw)}")
            excluded_raw = {}
        for m in excluded_raw:
            if not isinstance(m, str) or not MODULE_RE.match(m):
                problems.append(f"{origin}: excluded: {m!r} is not a dotted module name")
        # duplicates across services / shared / excluded
        owner: dict[str, str] = {}
        for name, svc in services.items():
            for m in svc.modules:
                if m in owner:
                    if owner[m] == name:
                        problems.append(f"{origin}: module {m!r} is listed twice in {name!r}")
                    else:
                        problems.append(f"{origin}: module {m!r} is in both {owner[m]!r} and {name!r}")
                else:
                    owner[m] = name
        for m in shared:
            if m in owner:
                where = "listed twice in 'shared'" if owner[m] == "shared" else f"in both {owner[m]!r} and 'shared'"
                problems.append(f"{origin}: module {m!r} is {where}")
            else:
                owner[m] = "shared"
        for m in excluded_raw:
            if isinstance(m, str) and m in owner:
                where = "'shared'" if owner[m] == "shared" else repr(owner[m])
                problems.append(f"{origin}: module {m!r} is in both {where} and 'excluded'")
        if problems:
            raise PlanError(problems)
        return cls(
            project=project,
            services=services,
            shared=list(shared),
            source=source,
            quality=dict(quality),
            blockers=list(blockers),
            version=version,
            shared_reasons={str(k): str(v) for k, v in shared_reasons.items()},
            excluded={str(k): str(v) for k, v in excluded_raw.items()},
        )


def validate_against_modules(plan: Plan, modules: set[str], origin: str = "decompose.yaml") -> list[str]:
    """Problems of a structurally valid plan against the analysed modules (pure)."""
    placed = dict(plan.service_of())
    for m in plan.excluded:
        placed.setdefault(m, "excluded")
    return placement_problems(placed, modules, origin)


def placement_problems(placed: dict[str, str], modules: set[str], origin: str = "decompose.yaml") -> list[str]:
    """Unknown and unplaced modules, given module -> service ("" for shared) (pure)."""
    problems = []
    for m in sorted(placed):
        if m not in modules:
            where = placed[m] or "shared"
            problems.append(f"{origin}: unknown module {m!r} in {where!r} (not found in the analysed source)")
    missing = sorted(modules - set(placed))
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        problems.append(f"{origin}: {len(missing)} analysed module(s) are in no service: {shown}")
    return problems


def lenient_placement(data: Any) -> tuple[dict[str, str], str | None]:
    """module -> service ("" for shared) and ``source`` read from a plan's raw dict
    *without* validating it, so a broken plan's unknown modules can be reported
    together with its structural problems (pure)."""
    placed: dict[str, str] = {}
    if not isinstance(data, dict):
        return placed, None
    services = data.get("services")
    for name, body in (services.items() if isinstance(services, dict) else ()):
        mods = body.get("modules") if isinstance(body, dict) else None
        for m in mods if isinstance(mods, list) else ():
            if isinstance(m, str):
                placed.setdefault(m, str(name))
    shared = data.get("shared")
    mods = shared.get("modules") if isinstance(shared, dict) else None
    for m in mods if isinstance(mods, list) else ():
        if isinstance(m, str):
            placed.setdefault(m, "")
    excluded = data.get("excluded")
    for m in excluded if isinstance(excluded, dict) else ():
        if isinstance(m, str):
            placed.setdefault(m, "excluded")
    source = data.get("source")
    return placed, source if isinstance(source, str) else None


def _key_order(key: Any) -> tuple:
    # strings first in their own order; other YAML keys (numbers, null, dates) after, by type then text
    return (0, key, "") if isinstance(key, str) else (1, type(key).__name__, repr(key))


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=_key_order)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
