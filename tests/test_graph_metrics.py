"""Graph building and metrics on hand-written facts (the pure core, no parser involved)."""

from __future__ import annotations

import pytest

from decompose.analysis.facts import ImportFact, ModuleFacts, SymbolUse
from decompose.analysis.graph import build_graph
from decompose.analysis.metrics import compute_metrics


def mod(name, *imports, uses=(), package=False, lines=10):
    return ModuleFacts(
        module=name,
        path=name.replace(".", "/") + ("/__init__.py" if package else ".py"),
        is_package=package,
        imports=list(imports),
        uses=list(uses),
        lines=lines,
    )


def imp(module, *names, line=1, context="module", kind="absolute"):
    return ImportFact(module=module, names=list(names), line=line, context=context, kind=kind)


@pytest.fixture
def shop():
    return [
        mod("shop", package=True),
        mod("shop.utils", imp("decimal", "Decimal"), imp("os")),
        mod("shop.catalog", package=True),
        mod("shop.catalog.models", imp("sqlalchemy", "Column"), imp("shop.utils", "money", line=2)),
        mod(
            "shop.catalog.service",
            imp("shop.catalog", "models", line=3),  # submodule import via `from pkg import mod`
            imp("shop.utils", line=4),
            uses=[SymbolUse("get_price", "shop.catalog.models.Product", 3, calls=1)],
        ),
        mod(
            "shop.orders",
            imp("shop.catalog.service", line=5),
            imp("shop.payments", "charge", line=6),  # a name, not a submodule
            imp("shop.missing", line=7),
        ),
        mod("shop.payments", imp("shop.orders", line=1), package=True),
        mod("shop.late", imp("shop.payments", line=9, context="function")),
        mod("shop.typed", imp("shop.late", line=2, context="type_checking")),
        mod("shop.deep", imp("shop.catalog.service", "helpers", line=3), imp("shop.catalog.service.helpers", line=4)),
    ]


def test_internal_edges_resolve_submodules_and_names(shop):
    g = build_graph(shop)
    edges = set(g.internal.edges)
    assert ("shop.catalog.service", "shop.catalog.models") in edges
    assert ("shop.catalog.service", "shop.catalog") not in edges  # submodule import only
    assert ("shop.orders", "shop.payments") in edges
    assert ("shop.deep", "shop.catalog.service") in edges  # `helpers` is a name in service
    assert ("shop.catalog.models", "shop.utils") in edges  # `from shop.utils import money`: money is a name
    # stdlib and third-party are kept apart from internal edges
    assert not any(b in {"os", "decimal", "sqlalchemy"} for _, b in edges)
    assert g.external.nodes["sqlalchemy"]["category"] == "thirdparty"
    assert g.external.nodes["decimal"]["category"] == "stdlib"
    assert set(g.external.successors("shop.utils")) == {"decimal", "os"}


def test_edge_attributes_count_imports_and_uses(shop):
    g = build_graph(shop).internal
    d = g["shop.catalog.service"]["shop.catalog.models"]
    assert (d["imports"], d["uses"], d["calls"], d["weight"]) == (1, 3, 1, 4)
    assert d["lines"] == [3] and d["contexts"] == ["module"] and d["kinds"] == ["absolute"]


def test_unresolved_internal_import_is_reported(shop):
    g = build_graph(shop)
    assert [(u.module, u.target, u.line) for u in g.unresolved] == [
        ("shop.deep", "shop.catalog.service.helpers", 4),  # not a module: no edge is invented
        ("shop.orders", "shop.missing", 7),
    ]


def test_symbol_graph(shop):
    s = build_graph(shop).symbols
    assert s["shop.catalog.service:get_price"]["shop.catalog.models:Product"] == {"count": 3, "calls": 1, "args": None}  # args unknown: a call recorded without its argument slots


def test_module_metrics(shop):
    m = compute_metrics(build_graph(shop)).modules
    # shop.utils is used by catalog.models and catalog.service, uses nothing internal
    assert (m["shop.utils"].ca, m["shop.utils"].ce, m["shop.utils"].instability) == (2, 0, 0.0)
    assert m["shop.utils"].external == 2
    # shop.orders -> catalog.service, payments ; payments -> orders
    assert (m["shop.orders"].ca, m["shop.orders"].ce) == (1, 2)
    assert m["shop.orders"].instability == pytest.approx(2 / 3, abs=1e-4)
    assert m["shop.catalog.service"].fan_in == 1 + 1  # imported once by shop.orders and once by shop.deep
    assert m["shop.catalog.service"].fan_out == 4 + 1  # models (1 import + 3 uses) + utils


def test_cycles_with_closing_lines_and_runtime_flag(shop):
    cycles = compute_metrics(build_graph(shop)).cycles
    assert len(cycles) == 1
    c = cycles[0]
    assert c.modules == ["shop.orders", "shop.payments"]
    assert c.runtime is True
    assert [(s.source, s.target, s.lines) for s in c.example] == [
        ("shop.orders", "shop.payments", [6]),
        ("shop.payments", "shop.orders", [1]),
    ]


def test_cycle_through_function_level_import_is_not_runtime():
    facts = [
        mod("a", imp("b", line=1)),
        mod("b", imp("a", line=4, context="function")),
    ]
    (c,) = compute_metrics(build_graph(facts)).cycles
    assert c.modules == ["a", "b"] and c.runtime is False


def test_package_rollup(shop):
    p = compute_metrics(build_graph(shop)).packages
    cat = p["shop.catalog"]
    assert cat.modules == 3
    # outside modules importing into shop.catalog: orders (service), deep (service)
    assert cat.ca == 2
    # shop.catalog depends on shop.utils only
    assert cat.ce == 1
    assert cat.internal_edges == 1
    assert p["shop"].ca == 0 and p["shop"].ce == 0  # everything is inside the root package


def test_graph_is_deterministic(shop):
    a = build_graph(shop)
    b = build_graph(list(reversed(shop)))
    assert list(a.internal.edges(data=True)) == list(b.internal.edges(data=True))


def test_runtime_cycle_example_avoids_function_level_imports():
    # a -> b -> a at import time; b -> c -> a only through a function-level import in c (shorter via a?)
    facts = [
        mod("a", imp("b", line=1), imp("c", line=2)),
        mod("b", imp("a", line=3)),
        mod("c", imp("a", line=4, context="function")),
    ]
    (c,) = compute_metrics(build_graph(facts)).cycles
    assert c.modules == ["a", "b", "c"] and c.runtime is True
    assert [(s.source, s.target) for s in c.example] == [("a", "b"), ("b", "a")]
