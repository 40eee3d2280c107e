"""Read a reference decomposition to compare a plan with (YAML adapter).

Accepted shape (a plan file is accepted too; its other keys are ignored)::

    services:
      catalog: {modules: [shop.catalog, shop.catalog.models]}
      orders:  {modules: [shop.orders, shop.orders.service]}
    shared:
      modules: [shop.utils, shop.config]

The result is a partition ``module -> cluster``, where the shared library is
one more cluster named ``(shared)`` (the same convention the plan side uses,
see :func:`plan_partition`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from decompose.planning.plan import Plan, PlanError
from decompose.planning.planfile import load_yaml, read_yaml_text

SHARED = "(shared)"


def partition_from_mapping(data: Any, origin: str) -> dict[str, str]:
    """Validate the mapping form (pure); PlanError listing one-line problems."""
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict) or not data["services"]:
        raise PlanError([f"{origin}: a reference must be a mapping with a non-empty 'services' mapping"])
    out: dict[str, str] = {}

    def place(module: Any, cluster: str) -> None:
        if not isinstance(module, str):
            problems.append(f"{origin}: {cluster!r}: {module!r} is not a module name")
        elif module in out:
            problems.append(f"{origin}: module {module!r} is in both {out[module]!r} and {cluster!r}")
        else:
            out[module] = cluster

    for name, body in data["services"].items():
        modules = body.get("modules") if isinstance(body, dict) else None
        if not isinstance(modules, list) or not modules:
            problems.append(f"{origin}: service {name!r} needs a non-empty 'modules' list")
            continue
        for m in modules:
            place(m, str(name))
    shared = data.get("shared") or {}
    modules = shared.get("modules", []) if isinstance(shared, dict) else None
    if not isinstance(modules, list):
        problems.append(f"{origin}: 'shared' must be a mapping with a 'modules' list")
        modules = []
    for m in modules:
        place(m, SHARED)
    if problems:
        raise PlanError(problems)
    return dict(sorted(out.items()))


def load_reference(path: Path) -> dict[str, str]:
    path = Path(path)
    data = load_yaml(read_yaml_text(path, "reference"), str(path))
    return partition_from_mapping(data, str(path))


def plan_partition(plan: Plan) -> dict[str, str]:
    """module -> service name, shared modules -> ``(shared)``."""
    return {m: (s or SHARED) for m, s in sorted(plan.service_of().items())}
