"""The pure core of `decompose check`: rules on crafted before/after graphs, exact findings."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from decompose.guard.boundaries import owner_map, owner_of
from decompose.guard.evaluation import baseline, evaluate
from decompose.guard.graphstate import GraphState, ModuleInfo, compact_imports, compact_uses, module_edges, tarjan_sccs
from decompose.guard.rules import import_statement
from decompose.config import Config
from decompose.analysis.facts import ImportFact, ModuleFacts, SymbolUse
from decompose.analysis.graph import build_graph
from decompose.planning.plan import InterfaceItem, Plan, Service


def mod(name, *imports, uses=(), package=False):
    return ModuleFacts(
        module=name,
        path=name.replace(".", "/") + ("/__init__.py" if package else ".py"),
        is_package=package,
        imports=list(imports),
        uses=list(uses),
        lines=50,
    )


def imp(module, *names, line=1, context="module", kind="absolute", level=0):
    return ImportFact(module=module, names=list(names), line=line, context=context, kind=kind, level=level)


def use(target, line=5, scope="f", count=1, calls=1):
    return SymbolUse(scope=scope, target=target, count=count, calls=calls, line=line)


def state_of(facts):
    infos = {f.module: ModuleInfo(f.path, f.is_package, "key-" + f.module, f.lines) for f in facts}
    return GraphState.from_facts(facts, infos)


def check(after_facts, checked, base=None, plan=None, config=None, absolute=False):
    """Evaluate ``checked`` modules of ``after_facts``; ``base`` maps module -> ModuleFacts | None at the base."""
    after = state_of(after_facts)
    by_mod = {f.module: f for f in after_facts}
    base_c = {m: (compact_imports(f), compact_uses(f)) if f is not None else None for m, f in (base or {}).items()}
    if absolute:
        before_out, absent = {m: {} for m in after.info}, set(after.info)
    else:
        before_out, absent = baseline(after, checked, base_c)
    return evaluate(after, before_out, absent, checked, {m: by_mod[m] for m in checked}, plan, config or Config(), absolute)


def brief(ev):
    return [(f.rule, f.path, f.line, f.target) for f in ev.findings]


# -- shop fixture with a plan -----------------------------------------------------------------


def shop_modules(orders_service_imports=(), orders_uses=(), extra=()):
    return [
        mod("shop", package=True),
        mod("shop.utils", package=True),
        mod("shop.utils.money"),
        mod("shop.catalog", imp("shop.catalog.service", "get_price", line=1, kind="relative", level=1), package=True),
        mod("shop.catalog.models", imp("shop.utils", "money", line=2)),
        mod("shop.catalog.service", imp("shop.catalog.models", "Product", line=3)),
        mod("shop.orders", package=True),
        mod("shop.orders.models"),
        mod("shop.orders.service", imp("shop.orders.models", "Order", line=1), *orders_service_imports, uses=list(orders_uses)),
        *extra,
    ]


PLAN = Plan(
    project="shop",
    services={
        "catalog": Service(
            "catalog",
            ["shop.catalog", "shop.catalog.models", "shop.catalog.service"],
            interface=[
                InterfaceItem("shop.catalog.service.get_price", "function", used_by=["orders"]),
                InterfaceItem("shop.catalog.service.Catalog.lookup", "function"),
            ],
        ),
        "orders": Service("orders", ["shop.orders", "shop.orders.models", "shop.orders.service"]),
    },
    shared=["shop", "shop.utils", "shop.utils.money"],
)


def test_symbol_import_outside_interface_is_a_violation_with_exact_location():
    facts = shop_modules([imp("shop.catalog.models", "Product", line=7)])
    ev = check(facts, ["shop.orders.service"], plan=PLAN)
    assert brief(ev) == [("DC101", "shop/orders/service.py", 7, "shop.catalog.models.Product")]
    f = ev.findings[0]
    assert f.statement == "from shop.catalog.models import Product"
    assert f.level == "error" and f.name == "boundary-violation"
    assert "orders -> catalog" in f.message


def test_interface_function_import_is_allowed_and_so_are_shared_and_same_service():
    facts = shop_modules([
        imp("shop.catalog.service", "get_price", line=4),
        imp("shop.utils", "money", line=5),
        imp("shop.orders.models", "Order", line=6),
        imp("shop.catalog.service", "Catalog", line=8),  # a class whose method is in the interface
    ])
    assert brief(check(facts, ["shop.orders.service"], plan=PLAN)) == []


def test_reexport_through_the_package_init_is_followed():
    facts = shop_modules([imp("shop.catalog", "get_price", line=4)])
    assert brief(check(facts, ["shop.orders.service"], plan=PLAN)) == []


def test_module_import_allowed_only_when_every_used_symbol_is_interface():
    ok = shop_modules(
        [imp("shop.catalog", "service", line=4)],
        orders_uses=[use("shop.catalog.service.get_price", line=9)],
    )
    assert brief(check(ok, ["shop.orders.service"], plan=PLAN)) == []
    bad = shop_modules(
        [imp("shop.catalog", "service", line=4)],
        orders_uses=[
            use("shop.catalog.service.get_price", line=9),
            use("shop.catalog.service._cache.clear", line=11),
            use("shop.catalog.service._cache", line=12),
        ],
    )
    ev = check(bad, ["shop.orders.service"], plan=PLAN)
    # one finding per non-interface symbol, at the import statement
    assert brief(ev) == [("DC101", "shop/orders/service.py", 4, "shop.catalog.service._cache")]
    assert ev.findings[0].statement == "from shop.catalog import service"


def test_unused_module_import_and_star_import_across_services_are_violations():
    facts = shop_modules([
        imp("shop.catalog.models", line=3),  # import shop.catalog.models: a side-effect import
        imp("shop.catalog.service", "*", line=4),
    ])
    ev = check(facts, ["shop.orders.service"], plan=PLAN)
    assert brief(ev) == [
        ("DC101", "shop/orders/service.py", 3, "shop.catalog.models"),
        ("DC101", "shop/orders/service.py", 4, "shop.catalog.service"),
    ]
    assert ev.findings[0].statement == "import shop.catalog.models"
    assert ev.findings[1].statement == "from shop.catalog.service import *"


def test_imports_inside_functions_and_type_checking_count_too():
    facts = shop_modules([
        imp("shop.catalog.models", "Product", line=20, context="function"),
        imp("shop.catalog.models", "Category", line=3, context="type_checking"),
    ])
    assert brief(check(facts, ["shop.orders.service"], plan=PLAN)) == [
        ("DC101", "shop/orders/service.py", 3, "shop.catalog.models.Category"),
        ("DC101", "shop/orders/service.py", 20, "shop.catalog.models.Product"),
    ]


def test_shared_module_importing_a_service_module():
    facts = shop_modules()
    facts[2] = mod("shop.utils.money", imp("shop.catalog.service", "get_price", line=6))
    ev = check(facts, ["shop.utils.money"], plan=PLAN)
    # even an interface symbol: shared code is copied into every service and cannot call one
    assert brief(ev) == [("DC102", "shop/utils/money.py", 6, "shop.catalog.service.get_price")]


def test_shared_imports_recorded_as_blockers_in_the_plan_are_warnings():
    plan = Plan.from_dict({
        **PLAN.to_dict(),
        "blockers": [{"kind": "shared-uses-service", "severity": "error", "module": "shop.utils.money",
                      "services": ["catalog"], "symbols": ["shop.catalog.service.get_price"]}],
    })
    facts = shop_modules()
    facts[2] = mod("shop.utils.money", imp("shop.catalog.service", "get_price", "Catalog", line=6))
    ev = check(facts, ["shop.utils.money"], plan=plan)
    assert [(f.rule, f.level, f.target) for f in ev.findings] == [
        ("DC102", "error", "shop.catalog.service.Catalog"),  # not recorded: new
        ("DC102", "warning", "shop.catalog.service.get_price"),  # recorded in the plan: known
    ]


def test_acknowledged_blockers_accept_relative_and_qualified_symbols():
    from decompose.guard.boundaries import acknowledged_shared_uses

    plan = Plan.from_dict({**PLAN.to_dict(), "blockers": [
        {"kind": "shared-uses-service", "module": "shop.a", "depends_on": "shop.x.api", "symbols": ["bp"]},
        {"kind": "shared-uses-service", "module": "shop.b", "symbols": ["shop.y.api.bp"]},
        {"kind": "shared-table", "table": "t"},
    ]})
    assert acknowledged_shared_uses(plan) == {"shop.a": {"shop.x.api.bp"}, "shop.b": {"shop.y.api.bp"}}


def test_new_module_is_placed_by_its_package_and_outsiders_are_ignored():
    extra = [
        mod("shop.orders.refunds", imp("shop.catalog.models", "Product", line=2)),  # not in the plan
        mod("tests.test_orders", imp("shop.catalog.models", "Product", line=1)),  # outside the planned packages
        mod("shop.misc", imp("shop.catalog.models", "Product", line=1)),  # shop.* is mixed: cannot tell
    ]
    facts = shop_modules(extra=extra)
    ev = check(facts, ["shop.orders.refunds", "tests.test_orders", "shop.misc"], plan=PLAN)
    assert brief(ev) == [
        ("DC202", "shop/misc.py", 1, "shop.misc"),
        ("DC101", "shop/orders/refunds.py", 2, "shop.catalog.models.Product"),
    ]
    assert ev.findings[0].level == "note"


def test_owner_inference():
    direct, below, tops = owner_map(PLAN)
    assert owner_of("shop.catalog.models", direct, below) == "catalog"
    assert owner_of("shop.catalog.new.deep", direct, below) == "catalog"
    assert owner_of("shop.utils.newhelper", direct, below) == ""
    assert owner_of("shop.newthing", direct, below) is None
    assert tops == {"shop"}


def test_without_a_plan_boundaries_are_not_judged():
    facts = shop_modules([imp("shop.catalog.models", "Product", line=7)])
    assert brief(check(facts, ["shop.orders.service"], plan=None)) == []


# -- dependency changes and coupling -----------------------------------------------------------


def test_added_and_removed_dependencies_with_coupling_before_and_after():
    base = mod("app.a", imp("app.b", line=1), imp("app.c", line=2))
    after = [
        mod("app", package=True),
        mod("app.a", imp("app.b", line=1), imp("app.d", "x", line=3)),
        mod("app.b"),
        mod("app.c"),
        mod("app.d"),
        mod("app.e", imp("app.d", line=1)),
    ]
    ev = check(after, ["app.a"], base={"app.a": base})
    assert ev.findings == []
    ch = {c.module: c for c in ev.changes}
    assert set(ch) == {"app.a", "app.c", "app.d"}
    a = ch["app.a"]
    assert [(d.target, d.line) for d in a.added] == [("app.d", 3)]
    assert [(d.target, d.line) for d in a.removed] == [("app.c", 2)]
    assert (a.before.ca, a.before.ce, a.after.ca, a.after.ce) == (0, 2, 0, 2)
    assert (ch["app.d"].before.ca, ch["app.d"].after.ca) == (1, 2)
    assert (ch["app.c"].before.ca, ch["app.c"].after.ca) == (1, 0)
    assert ch["app.d"].after.instability == 0.0


def test_a_module_absent_at_the_base_is_new():
    after = [mod("app", package=True), mod("app.new", imp("app.b", line=4)), mod("app.b")]
    ev = check(after, ["app.new"], base={"app.new": None})
    c = next(c for c in ev.changes if c.module == "app.new")
    assert c.before is None and [(d.target, d.line) for d in c.added] == [("app.b", 4)]


# -- cycles ------------------------------------------------------------------------------


def test_new_cycle_is_reported_at_the_import_that_closes_it():
    after = [
        mod("app", package=True),
        mod("app.a", imp("app.b", line=1)),
        mod("app.b", imp("app.c", line=2)),
        mod("app.c", imp("app.a", "thing", line=9)),
    ]
    ev = check(after, ["app.c"], base={"app.c": mod("app.c")})
    assert brief(ev) == [("DC103", "app/c.py", 9, "app.a")]
    f = ev.findings[0]
    assert f.statement == "from app.a import thing"
    assert "new cycle of 3 modules (at import time)" in f.message
    assert "app.c (app/c.py:9) -> app.a (app/a.py:1) -> app.b (app/b.py:2) -> app.c" in f.message
    assert ev.new_cycles == [["app.a", "app.b", "app.c"]]


def test_existing_cycle_is_not_new_and_function_level_cycles_are_named():
    after = [
        mod("app", package=True),
        mod("app.a", imp("app.b", line=1), imp("app.x", line=2)),
        mod("app.b", imp("app.a", line=3)),
        mod("app.x"),
    ]
    # a already in a cycle with b; the change adds a -> x only
    ev = check(after, ["app.a"], base={"app.a": mod("app.a", imp("app.b", line=1))})
    assert brief(ev) == []
    after = [
        mod("app", package=True),
        mod("app.a", imp("app.b", line=1)),
        mod("app.b", imp("app.a", line=30, context="function")),
    ]
    ev = check(after, ["app.b"], base={"app.b": mod("app.b")})
    assert brief(ev) == [("DC103", "app/b.py", 30, "app.a")]
    assert "only through imports inside functions or under TYPE_CHECKING" in ev.findings[0].message


def test_merging_two_cycles_is_a_new_cycle():
    after = [
        mod("app", package=True),
        mod("app.a", imp("app.b", line=1)),
        mod("app.b", imp("app.a", line=1), imp("app.c", line=2)),
        mod("app.c", imp("app.d", line=1)),
        mod("app.d", imp("app.c", line=1), imp("app.a", line=5)),
    ]
    base_b = mod("app.b", imp("app.a", line=1))
    ev = check(after, ["app.b"], base={"app.b": base_b})
    assert brief(ev) == [("DC103", "app/b.py", 2, "app.c")]
    assert "new cycle of 4 modules" in ev.findings[0].message


def test_full_audit_reports_existing_cycles_as_warnings_once_per_cycle():
    after = [
        mod("app", package=True),
        mod("app.a", imp("app.b", line=1)),
        mod("app.b", imp("app.a", line=2)),
        mod("app.c", imp("app.d", line=1)),
        mod("app.d", imp("app.c", line=3)),
    ]
    ev = check(after, sorted(m.module for m in after), absolute=True)
    assert brief(ev) == [("DC203", "app/a.py", 1, "app.b"), ("DC203", "app/c.py", 1, "app.d")]
    assert all(f.level == "warning" for f in ev.findings)
    assert ev.changes == []


# -- thresholds ----------------------------------------------------------------------------


def graph_with_hub():
    return [
        mod("app", package=True),
        mod("app.hub"),
        mod("app.u1", imp("app.hub", line=1)),
        mod("app.u2", imp("app.hub", line=1)),
        mod("app.leaf"),
        mod("app.m", imp("app.leaf", line=1), imp("app.u1", line=2), imp("app.hub", "x", line=6)),
        mod("app.top", imp("app.m", line=1)),
    ]


def test_max_efferent_when_exceeded_and_worse():
    after = graph_with_hub()
    base_m = mod("app.m", imp("app.leaf", line=1), imp("app.u1", line=2))
    ev = check(after, ["app.m"], base={"app.m": base_m}, config=Config(max_efferent=2))
    assert brief(ev) == [("DC105", "app/m.py", 6, "app.hub")]
    assert "3 internal modules (was 2; max_efferent = 2)" in ev.findings[0].message
    # already over the limit and not worse: no finding (a ratchet)
    base_same = mod("app.m", imp("app.leaf", line=1), imp("app.u1", line=2), imp("app.u2", line=3))
    assert brief(check(after, ["app.m"], base={"app.m": base_same}, config=Config(max_efferent=2))) == []


def test_max_afferent_is_reported_at_the_new_import():
    after = graph_with_hub()
    base_m = mod("app.m", imp("app.leaf", line=1), imp("app.u1", line=2))
    ev = check(after, ["app.m"], base={"app.m": base_m}, config=Config(max_afferent=2))
    assert brief(ev) == [("DC106", "app/m.py", 6, "app.hub")]
    assert "depended on by 3 internal modules (was 2" in ev.findings[0].message


def test_max_instability_only_for_modules_something_depends_on():
    after = graph_with_hub()
    base_m = mod("app.m", imp("app.leaf", line=1))
    # app.m: Ca 1 (app.top), Ce 1 -> 3: I 0.5 -> 0.75
    ev = check(after, ["app.m"], base={"app.m": base_m}, config=Config(max_instability=0.6))
    assert brief(ev) == [("DC104", "app/m.py", 2, "app.u1")]
    assert "instability is 0.75 (was 0.50" in ev.findings[0].message
    # app.top: Ca 0, I 1.0, but nothing depends on it: an entry point
    ev = check(after, ["app.top"], base={"app.top": mod("app.top")}, config=Config(max_instability=0.6))
    assert brief(ev) == []


def test_unresolved_internal_import_is_a_warning():
    after = [mod("app", package=True), mod("app.a", imp("app.missing", line=3))]
    ev = check(after, ["app.a"])
    assert brief(ev) == [("DC201", "app/a.py", 3, "app.missing")]
    assert ev.findings[0].level == "warning"


# -- building blocks agree with the analyzer -----------------------------------------------------


def test_import_statement_rebuilds_relative_imports():
    assert import_statement("a.b.c", False, imp("a.b.d", "x", kind="relative", level=1)) == "from .d import x"
    assert import_statement("a.b.c", False, imp("a.x", "y", kind="relative", level=2)) == "from ..x import y"
    assert import_statement("a.b", True, imp("a.b.m", "y", kind="relative", level=1)) == "from .m import y"
    assert import_statement("a.b", True, imp("a.b", "m", kind="relative", level=1)) == "from . import m"
    assert import_statement("a", False, imp("a.b", kind="dynamic")) == 'importlib.import_module("a.b")'


def test_module_edges_match_build_graph(sample_monolith):
    from decompose.analysis.pipeline import analyze

    an = analyze(sample_monolith, use_cache=False)
    g = build_graph(an.facts)
    modules = {f.module for f in an.facts}
    tops = frozenset(m.split(".")[0] for m in modules)
    for f in an.facts:
        edges, unresolved = module_edges(f.module, compact_imports(f), compact_uses(f), modules, tops)
        expected = {t: d for t, d in g.internal[f.module].items()}
        assert set(edges) == set(expected), f.module
        for t, e in edges.items():
            d = expected[t]
            assert (e.imports, e.lines, sorted(e.contexts), e.uses, e.calls) == (
                d["imports"], d["lines"], d["contexts"], d["uses"], d["calls"]
            ), (f.module, t)
        assert sorted(unresolved) == sorted((u.target, u.line) for u in g.unresolved if u.module == f.module and u.target)


@pytest.mark.parametrize("seed", range(20))
def test_tarjan_matches_networkx(seed):
    rnd = random.Random(seed)
    n = rnd.randint(1, 40)
    nodes = [f"m{i}" for i in range(n)]
    adj = {v: sorted({rnd.choice(nodes) for _ in range(rnd.randint(0, 3))} - {v}) for v in nodes}
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((a, b) for a, bs in adj.items() for b in bs)
    expected = sorted(sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1)
    assert sorted(tarjan_sccs(adj)) == expected
