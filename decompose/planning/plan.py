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

PLAN_VERSION = 1
#: DNS-1123 label: what Kubernetes accepts as a Service / Deployment name.
SERVICE_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
#: Dotted module names; a component may start with a digit (``0001_initial``: Django
#: migrations are real modules, loaded by importlib).
MODULE_RE = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "modules": sorted(self.modules),
            "interface": [i.to_dict() for i in sorted(self.interface, key=lambda i: i.name)],
            "tables": sorted(self.tables),
            "routes": [r.to_dict() for r in sorted(self.routes, key=lambda r: (r.path, r.method, r.function))],
            "reasons": {k: self.reasons[k] for k in sorted(self.reasons)},
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
        allowed = {"version", "project", "source", "services", "shared", "quality", "blockers"}
        for key in sorted(set(data) - allowed):
            problems.append(f"{origin}: unknown top-level key {key!r}")
        version = data.get("version", PLAN_VERSION)
        if version != PLAN_VERSION:
            problems.append(f"{origin}: unsupported plan version {version!r} (expected {PLAN_VERSION})")
        project = data.get("project", "")
        if not isinstance(project, str) or not SERVICE_NAME_RE.match(project or ""):
            problems.append(f"{origin}: project {project!r} must be a DNS-1123 label (lower-case letters, digits, '-')")
        services_raw = data.get("services")
        if not isinstance(services_raw, dict) or not services_raw:
            problems.append(f"{origin}: 'services' must be a non-empty mapping of service name to service")
            services_raw = {}
        services: dict[str, Service] = {}
        for name, body in services_raw.items():
            where = f"{origin}: service {name!r}"
            if not isinstance(name, str) or not SERVICE_NAME_RE.match(name):
                problems.append(f"{where}: name must be a DNS-1123 label (lower-case letters, digits, '-', at most 63)")
                continue
            if not isinstance(body, dict):
                problems.append(f"{where}: must be a mapping with 'modules'")
                continue
            for key in sorted(set(body) - {"modules", "interface", "tables", "routes", "reasons"}):
                problems.append(f"{where}: unknown key {key!r}")
            modules = body.get("modules") or []
            if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
                problems.append(f"{where}: 'modules' must be a list of dotted module names")
                modules = []
            if not modules:
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
            if not isinstance(tables, list) or not isinstance(reasons, dict):
                problems.append(f"{where}: 'tables' must be a list and 'reasons' a mapping")
                tables, reasons = [], {}
            services[name] = Service(
                name=name,
                modules=list(modules),
                interface=interface,
                tables=[str(t) for t in tables],
                routes=routes,
                reasons={str(k): str(v) for k, v in reasons.items()},
            )
        shared_raw = data.get("shared") or {}
        shared = shared_raw.get("modules", []) if isinstance(shared_raw, dict) else None
        if not isinstance(shared, list) or not all(isinstance(m, str) for m in shared):
            problems.append(f"{origin}: 'shared' must be a mapping with a 'modules' list")
            shared = []
        shared_reasons = shared_raw.get("reasons") or {} if isinstance(shared_raw, dict) else {}
        if isinstance(shared_raw, dict):
            for key in sorted(set(shared_raw) - {"modules", "reasons"}, key=str):
                problems.append(f"{origin}: shared: unknown key {key!r}")
        if not isinstance(shared_reasons, dict):
            problems.append(f"{origin}: shared: 'reasons' must be a mapping")
            shared_reasons = {}
        # duplicates across services / shared
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
        if problems:
            raise PlanError(problems)
        return cls(
            project=project,
            services=services,
            shared=list(shared),
            source=str(data.get("source", ".")),
            quality=dict(data.get("quality") or {}),
            blockers=list(data.get("blockers") or []),
            version=version,
            shared_reasons={str(k): str(v) for k, v in shared_reasons.items()},
        )


def validate_against_modules(plan: Plan, modules: set[str], origin: str = "decompose.yaml") -> list[str]:
    """Problems of a structurally valid plan against the analysed modules (pure)."""
    return placement_problems(plan.service_of(), modules, origin)


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
    source = data.get("source")
    return placed, source if isinstance(source, str) else None


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
