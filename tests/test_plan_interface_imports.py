"""The plan's interface covers every cross-service ``from mod import name`` of a definition of
``mod`` (used or only re-exported), so a fresh plan passes its own check audit (issue 11)."""

from __future__ import annotations

from decompose.analysis.facts import Definition, ModuleFacts
from decompose.analysis.graph import build_graph
from decompose.planning.propose import describe
from tests.test_check import check, imp


def _mod(name, *imports, defs=(), package=False):
    return ModuleFacts(module=name, path=name.replace(".", "/") + ("/__init__.py" if package else ".py"),
                       is_package=package, imports=list(imports),
                       definitions=[Definition(n, k, 1, 2) for n, k in defs], lines=10)


FACTS = [
    _mod("shop", package=True),
    _mod("shop.catalog", imp("shop.catalog.service", "get_price", kind="relative", level=1, line=1), package=True),
    _mod("shop.catalog.service", defs=[("get_price", "function"), ("Catalog", "class")]),
    # an import with no recorded use: re-exported for the package's consumers
    _mod("shop.orders", imp("shop.catalog.service", "get_price", "Catalog", line=3), package=True),
    _mod("shop.orders.tests", imp("shop.catalog.service", "Catalog", line=2)),  # tests are not services
    _mod("shop.utils", imp("shop.catalog.service", "get_price", line=4)),
]


def test_unused_cross_service_imports_become_interface_items_and_shared_ones_blockers():
    assignment = {"shop.catalog": "catalog", "shop.catalog.service": "catalog", "shop.orders": "orders"}
    plan = describe(assignment, ["shop", "shop.utils"], FACTS, build_graph(FACTS), project="shop")
    items = {i.name: sorted(i.used_by) for i in plan.services["catalog"].interface}
    assert items == {"shop.catalog.service.Catalog": ["orders"], "shop.catalog.service.get_price": ["orders"]}
    recorded = [b for b in plan.blockers if b["kind"] == "shared-uses-service"]
    assert [(b["module"], b["symbols"]) for b in recorded] == [("shop.utils", ["shop.catalog.service.get_price"])]
    # the fresh plan passes its own audit: no DC101, the shared use is a known warning
    ev = check(FACTS, ["shop.orders", "shop.orders.tests", "shop.utils"], plan=plan)
    assert [(f.rule, f.level, f.module) for f in ev.findings] == [("DC102", "warning", "shop.utils")]
