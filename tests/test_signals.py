"""Coupling signals on hand-written facts."""

from __future__ import annotations

import math

import pytest

from decompose.analysis.facts import DataAccess, Definition, ImportFact, ModuleFacts, SymbolUse
from decompose.analysis.graph import build_graph
from decompose.planning.signals import (
    combine,
    data_signal,
    dynamic_signal,
    evolution_signal,
    module_calls,
    normalise,
    parse_weights,
    static_signal,
    table_access,
)


def mod(name, imports=(), uses=(), data=(), defs=(), package=False):
    return ModuleFacts(
        module=name,
        path=name.replace(".", "/") + ("/__init__.py" if package else ".py"),
        is_package=package,
        imports=list(imports),
        uses=list(uses),
        data=list(data),
        definitions=list(defs),
    )


@pytest.fixture
def facts():
    return [
        mod("shop", package=True),
        mod("shop.catalog", package=True, imports=[ImportFact("shop.catalog.models", ["Product"], 1)]),
        mod(
            "shop.catalog.models",
            data=[DataAccess("products", "model", 3, symbol="Product")],
            defs=[Definition("Product", "class", 3, 9)],
        ),
        mod(
            "shop.catalog.service",
            imports=[ImportFact("shop.catalog.models", ["Product"], 1)],
            uses=[SymbolUse("get", "shop.catalog.models.Product", 4, calls=2)],
        ),
        mod(  # uses the model through the package re-export
            "shop.orders.service",
            imports=[ImportFact("shop.catalog", ["Product"], 1)],
            uses=[SymbolUse("place", "shop.catalog.Product", 1)],
        ),
        mod("shop.reports", data=[DataAccess("products", "sql", 7), DataAccess("orders", "sql", 8)]),
        mod("shop.orders", package=True),
    ]


def test_static_counts_imports_uses_and_package_containment(facts):
    s = static_signal(build_graph(facts))
    # 1 import + 4 uses, plus containment in shop.catalog
    assert s[("shop.catalog.models", "shop.catalog.service")] == 5
    assert s[("shop.catalog", "shop.catalog.models")] == 1 + 1  # re-export import + containment
    assert s[("shop", "shop.reports")] == 1  # containment only
    assert ("shop.catalog", "shop.orders.service") in s


def test_table_access_follows_models_reexports_and_sql(facts):
    access = table_access(facts, build_graph(facts))
    assert access["shop.catalog.models"] == {"products": ["model"]}
    assert access["shop.catalog.service"] == {"products": ["uses shop.catalog.models.Product"]}
    assert access["shop.orders.service"] == {"products": ["uses shop.catalog.models.Product"]}
    assert access["shop.reports"] == {"orders": ["sql"], "products": ["sql"]}
    sig = data_signal(access)
    # products touched by 4 modules: each pair gets 1/3; orders by one module: nothing
    assert sig[("shop.orders.service", "shop.reports")] == pytest.approx(1 / 3)
    assert len(sig) == 6


def test_evolution_skips_huge_commits_and_unknown_paths():
    p2m = {"a.py": "a", "b.py": "b", "c.py": "c"}
    commits = [["a.py", "b.py"], ["a.py", "b.py", "c.py"], ["a.py", "README.md"], [f"f{i}.py" for i in range(51)] + ["a.py", "c.py"]]
    r = evolution_signal(commits, p2m, min_support=1)
    assert r.commits == 4 and r.used == 2 and r.skipped_large == 1
    assert r.signal == {("a", "b"): pytest.approx(1.5), ("a", "c"): pytest.approx(0.5), ("b", "c"): pytest.approx(0.5)}
    # by default a pair needs two commits: only a-b changed together twice
    assert evolution_signal(commits, p2m).signal == {("a", "b"): pytest.approx(1.5)}


def test_dynamic_aggregates_scopes_and_directions():
    calls = [("a:f", "b:g", 3), ("b:h", "a:f", 2), ("a:f", "a:g", 9), ("a:f", "zzz:q", 4)]
    directed = module_calls(calls, ["a", "b"])
    assert directed == {("a", "b"): 3, ("b", "a"): 2}
    assert dynamic_signal(directed) == {("a", "b"): 5}


def test_combine_normalises_each_signal_and_applies_weights():
    signals = {"static": {("a", "b"): 10, ("b", "c"): 1}, "dynamic": {("a", "c"): 1000}}
    c = combine(["a", "b", "c"], signals, {"static": 1, "dynamic": 2, "data": 1, "evolution": 1})
    assert c.graph["a"]["b"]["weight"] == pytest.approx(1.0)
    assert c.graph["b"]["c"]["weight"] == pytest.approx(math.log(2) / math.log(11))
    assert c.graph["a"]["c"]["weight"] == pytest.approx(2.0)
    assert c.graph["a"]["c"]["dynamic"] == 1000
    off = combine(["a", "b", "c"], signals, {"static": 1, "dynamic": 0})
    assert not off.graph.has_edge("a", "c")
    assert [n for n, _, _ in c.strongest("a")] == ["c", "b"]
    assert normalise({}) == {}


def test_parse_weights():
    assert parse_weights("static=2, evolution=0")["static"] == 2.0
    assert parse_weights("static=2, evolution=0")["evolution"] == 0.0
    assert parse_weights(None)["evolution"] == 0.5
    for bad, msg in (("foo=1", "unknown signal"), ("static", "name=number"), ("data=x", "not a number"), ("data=-1", ">= 0")):
        with pytest.raises(ValueError, match=msg):
            parse_weights(bad)
