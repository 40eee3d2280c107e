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


# -- re-exports, star imports and module imports across services (lnbits, misago, pretix, FlaskBB shapes) --

from decompose.analysis.facts import SymbolUse  # noqa: E402
from decompose.config import Config  # noqa: E402
from decompose.guard.evaluation import evaluate  # noqa: E402
from tests.test_check import state_of  # noqa: E402


def _m(name, *imports, defs=(), uses=(), package=False):
    f = _mod(name, *imports, defs=[(d, "function") for d in defs], package=package)
    f.uses = [SymbolUse(scope=s, target=t, count=1, calls=0, line=9) for s, t in uses]
    return f


REACH = [
    _m("app", package=True),
    # a package __init__ in `core` re-exporting functions its submodules define in `payments`
    _m("app.core", imp("app.core.payments", "create_invoice", "pay", kind="relative", level=1, line=1), package=True),
    _m("app.core.payments", defs=["create_invoice", "pay", "_fee"]),
    _m("app.cli", imp("app.core", "pay", line=2)),  # only imported: passed on to a command table
    # a package in `threads` star-importing a module of `users` (misago's permissions)
    _m("app.perms", imp("app.perms.threads", "*", kind="relative", level=1, line=1), package=True),
    _m("app.perms.threads", defs=["allow_see", "allow_edit"]),
    _m("app.threads", imp("app.perms", "allow_see", line=3), uses=[("view", "app.perms.allow_see")]),
    # side-effect imports (an AppConfig.ready() registering signal receivers) and a module object used
    _m("app.signals", defs=["on_save"]),
    _m("app.apps", imp("app", "signals", line=4)),
    _m("app.control_urls", defs=["urlpatterns"]),
    _m("app.urls", imp("app.control_urls", line=5), uses=[("<module>", "app.control_urls")]),
    # a shared app factory importing a service's views for their side effects (FlaskBB)
    _m("app.factory", imp("app", "cli", line=6)),
]
ASSIGN = {"app.core": "core", "app.core.payments": "payments", "app.cli": "cli", "app.perms": "threads",
          "app.perms.threads": "users", "app.threads": "threads", "app.signals": "signals", "app.apps": "threads",
          "app.control_urls": "control", "app.urls": "web"}


def test_the_interface_names_reexported_star_imported_and_module_imported_things_where_they_are():
    plan = describe(ASSIGN, ["app", "app.factory"], REACH, build_graph(REACH), project="app")
    items = {s: {i.name: (i.kind, sorted(i.used_by)) for i in svc.interface} for s, svc in plan.services.items()}
    assert items["payments"] == {"app.core.payments.create_invoice": ("function", ["core"]),
                                 "app.core.payments.pay": ("function", ["cli", "core"])}
    # the star binds every public definition; the use through the package is named at its definition
    assert items["users"] == {"app.perms.threads.allow_edit": ("function", ["threads"]),
                              "app.perms.threads.allow_see": ("function", ["threads"])}
    assert items["signals"] == {"app.signals": ("module", ["threads"])}
    assert items["control"] == {"app.control_urls": ("module", ["web"])}
    assert items["core"] == items["threads"] == {}
    recorded = [(b["module"], b["symbols"]) for b in plan.blockers if b["kind"] == "shared-uses-service"]
    assert recorded == [("app.factory", ["app.cli"])]
    # the fresh plan passes its own audit
    after = state_of(REACH)
    by_mod = {f.module: f for f in REACH}
    ev = evaluate(after, {m: {} for m in after.info}, set(after.info), sorted(by_mod), by_mod, plan, Config(), True,
                  facts_of=by_mod.get)
    assert [(f.rule, f.module, f.target) for f in ev.findings if f.level == "error"] == []
    assert [(f.rule, f.level, f.module) for f in ev.findings if f.rule.startswith("DC10")] == [
        ("DC102", "warning", "app.factory")]


def test_a_module_import_whose_uses_reach_a_submodule_is_no_side_effect_import():
    facts = [
        _m("app", package=True),
        _m("app.tools", package=True),
        _m("app.tools.money", defs=["round_cents"]),
        _m("app.tools.events", defs=["on_save"]),
        # `import app.tools` then app.tools.money.round_cents(...): judged in money, not a side effect
        _m("app.orders", imp("app.tools", line=2), imp("app.tools.events", line=3),
           uses=[("total", "app.tools.money.round_cents")]),
    ]
    assign = {"app.tools": "tools", "app.tools.money": "tools", "app.tools.events": "tools", "app.orders": "orders"}
    plan = describe(assign, ["app"], facts, build_graph(facts), project="app")
    assert {i.name: i.kind for i in plan.services["tools"].interface} == {
        "app.tools.events": "module", "app.tools.money.round_cents": "function"}
    after = state_of(facts)
    by_mod = {f.module: f for f in facts}
    ev = evaluate(after, {m: {} for m in after.info}, set(after.info), sorted(by_mod), by_mod, plan, Config(), True,
                  facts_of=by_mod.get)
    assert [f for f in ev.findings if f.level == "error"] == []
