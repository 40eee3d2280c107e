"""Guard rules that made a fresh plan fail its own audit (issue 11): excluded modules, re-exported
blocker symbols, module imports reaching submodules."""

from __future__ import annotations

from decompose.planning.plan import InterfaceItem, Plan, Service
from tests.test_check import PLAN, brief, check, imp, mod, shop_modules, use


def test_modules_the_plan_excludes_and_tests_inside_packages_are_never_judged():
    extra = [
        mod("shop.orders.tests", package=True),
        # a test inside the orders package uses catalog internals: tests ship in no image
        mod("shop.orders.tests.test_service", imp("shop.catalog.models", "Product", line=3)),
        mod("shop.orders.admin_tool", imp("shop.catalog.models", "Product", line=4)),
    ]
    facts = shop_modules(extra=extra)
    plan = Plan.from_dict({**PLAN.to_dict(), "excluded": {"shop.orders.admin_tool": "script: runs on its own"}})
    assert brief(check(facts, ["shop.orders.tests.test_service", "shop.orders.admin_tool"], plan=plan)) == []
    # without the exclusion the same import in a production module is a violation
    assert brief(check(facts, ["shop.orders.admin_tool"], plan=PLAN)) == [
        ("DC101", "shop/orders/admin_tool.py", 4, "shop.catalog.models.Product")]


def test_a_recorded_shared_use_is_recognised_through_a_package_reexport():
    # the plan records the symbol where it is defined; the shared module imports it through shop.catalog
    plan = Plan.from_dict({**PLAN.to_dict(), "blockers": [
        {"kind": "shared-uses-service", "severity": "warning", "module": "shop.utils.money",
         "services": ["catalog"], "symbols": ["shop.catalog.service.get_price"]}]})
    facts = shop_modules()
    facts[2] = mod("shop.utils.money", imp("shop.catalog", "get_price", line=6))
    assert [(f.rule, f.level, f.target) for f in check(facts, ["shop.utils.money"], plan=plan).findings] == [
        ("DC102", "warning", "shop.catalog.get_price")]
    # not recorded: still an error
    assert [(f.rule, f.level) for f in check(facts, ["shop.utils.money"], plan=PLAN).findings] == [("DC102", "error")]


def _reach_plan() -> Plan:
    return Plan(
        project="shop",
        services={
            **PLAN.services,
            "money": Service("money", ["shop.utils.money"], interface=[
                InterfaceItem("shop.utils.money.Money", "class", used_by=["orders"])]),
        },
        shared=["shop", "shop.utils"],
    )


def test_a_module_import_is_judged_by_the_submodules_its_uses_reach():
    # `import shop` (the shared top package) then shop.utils.money.Money(...): the use lands in 'money'
    ok = shop_modules([imp("shop", line=4)], orders_uses=[use("shop.utils.money.Money", line=9)])
    assert brief(check(ok, ["shop.orders.service"], plan=_reach_plan())) == []
    bad = shop_modules([imp("shop", line=4)], orders_uses=[use("shop.utils.money.round_cents", line=9)])
    ev = check(bad, ["shop.orders.service"], plan=_reach_plan())
    assert brief(ev) == [("DC101", "shop/orders/service.py", 4, "shop.utils.money.round_cents")]
    assert "orders -> money" in ev.findings[0].message and ev.findings[0].statement == "import shop"
    # a module import that reaches nothing is still a side-effect import across services
    facts = shop_modules([imp("shop.catalog", line=3)])
    assert brief(check(facts, ["shop.orders.service"], plan=PLAN)) == [
        ("DC101", "shop/orders/service.py", 3, "shop.catalog")]


def test_a_shared_module_reaching_a_service_through_a_package_import_is_dc102():
    facts = shop_modules()
    facts[1] = mod("shop.utils", imp("shop", line=2), uses=[use("shop.catalog.service.get_price", line=8)], package=True)
    ev = check(facts, ["shop.utils"], plan=PLAN)
    assert [(f.rule, f.line, f.target) for f in ev.findings] == [("DC102", 2, "shop.catalog.service.get_price")]
    assert ev.findings[0].statement == "import shop"
