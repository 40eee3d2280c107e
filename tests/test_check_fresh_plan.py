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


# -- names judged where they are defined (re-exports by name and by star), excluded targets ----------

from decompose.analysis.facts import Definition, ModuleFacts  # noqa: E402
from decompose.config import Config  # noqa: E402
from decompose.guard.evaluation import evaluate  # noqa: E402
from tests.test_check import state_of  # noqa: E402


def _m(name, *imports, defs=(), uses=(), package=False):
    return ModuleFacts(module=name, path=name.replace(".", "/") + ("/__init__.py" if package else ".py"),
                       is_package=package, imports=list(imports), uses=list(uses),
                       definitions=[Definition(n, "function", 1, 2) for n in defs], lines=20)


def _audit(facts, plan):
    """The full audit of ``facts`` against ``plan``, every module's facts known (as ``decompose check`` has them)."""
    after = state_of(facts)
    by_mod = {f.module: f for f in facts}
    return evaluate(after, {m: {} for m in after.info}, set(after.info), sorted(by_mod), by_mod, plan, Config(),
                    True, facts_of=by_mod.get)


def _errors(ev):
    return [(f.rule, f.module, f.line, f.target) for f in ev.findings if f.level == "error"]


# lnbits' shape: a package __init__ of one service (`core`) re-exports the functions of its submodules,
# which the proposal put in other services; pretix's `pretix.base.models`, privacyIDEA's `models` alike
PKG = [
    _m("app", package=True),
    _m("app.core", package=True),
    _m("app.core.services", imp("app.core.services.payments", "create_invoice", "pay", kind="relative", level=1),
       imp("app.core.services.notify", "send", kind="relative", level=1), package=True),
    _m("app.core.services.payments", defs=["create_invoice", "pay"]),
    _m("app.core.services.notify", defs=["send"]),
    _m("app.views", imp("app.core.services", "create_invoice", line=3), imp("app.core.services", "send", line=4)),
    _m("app.cli", imp("app.core.services", "pay", line=5)),
]


def _pkg_plan(interface=()):
    return Plan(project="app", services={
        "core": Service("core", ["app.core", "app.core.services", "app.core.services.notify"],
                        interface=[InterfaceItem(n, "function", used_by=["payments"]) for n in interface]),
        "payments": Service("payments", ["app.core.services.payments", "app.views"]),
        "cli": Service("cli", ["app.cli"]),
    }, shared=["app"])


def test_a_name_reexported_by_another_services_package_is_judged_where_it_is_defined():
    ev = _audit(PKG, _pkg_plan())
    # views' create_invoice is defined in its own service: no crossing there.  send and pay are not in
    # the interface of the services that define them, and the findings say so by the imported name;
    # the package's own re-export of payments' functions crosses too
    assert _errors(ev) == [("DC101", "app.cli", 5, "app.core.services.pay"),
                           ("DC101", "app.core.services", 1, "app.core.services.payments.create_invoice"),
                           ("DC101", "app.core.services", 1, "app.core.services.payments.pay"),
                           ("DC101", "app.views", 4, "app.core.services.send")]
    # listed where they are defined (core's notify.send; payments' functions, named at their definition)
    plan = _pkg_plan(["app.core.services.notify.send"])
    plan.services["payments"].interface = [
        InterfaceItem("app.core.services.payments.create_invoice", "function", used_by=["core"]),
        InterfaceItem("app.core.services.payments.pay", "function", used_by=["cli", "core"])]
    assert _errors(_audit(PKG, plan)) == []
    # listed only under the re-exporting package's name, in the package's service: not where pay lives
    plan.services["payments"].interface = plan.services["payments"].interface[:1]
    plan.services["core"].interface.append(InterfaceItem("app.core.services.pay", "function", used_by=["cli"]))
    assert _errors(_audit(PKG, plan)) == [("DC101", "app.core.services", 1, "app.core.services.payments.pay")]


def test_a_star_reexport_is_followed_to_the_module_that_defines_the_name():
    facts = [
        _m("app", package=True),
        _m("app.perms", imp("app.perms.a", "*", kind="relative", level=1, line=1),
           imp("app.perms.b", "*", kind="relative", level=1, line=2), package=True),
        _m("app.perms.a", defs=["allow_x"]),
        _m("app.perms.b", defs=["allow_y", "_private"]),
        _m("app.views", imp("app.perms", "allow_x", "allow_y", line=3)),
    ]
    services = {"perms": Service("perms", ["app.perms"]),
                "users": Service("users", ["app.perms.a", "app.perms.b"]),
                "views": Service("views", ["app.views"])}
    plan = Plan(project="app", services=services, shared=["app"])
    errs = _errors(_audit(facts, plan))
    # the package's own star imports bind every public definition of users' modules
    assert ("DC101", "app.perms", 1, "app.perms.a") in errs and ("DC101", "app.perms", 2, "app.perms.b") in errs
    assert ("DC101", "app.views", 3, "app.perms.allow_x") in errs and ("DC101", "app.views", 3, "app.perms.allow_y") in errs
    services["users"].interface = [InterfaceItem("app.perms.a.allow_x", "function", used_by=["perms", "views"]),
                                   InterfaceItem("app.perms.b.allow_y", "function", used_by=["perms", "views"])]
    assert _errors(_audit(facts, plan)) == []  # _private is not bound by the star
    # one public definition left out of the interface: the star import is a violation again, naming it
    facts[3] = _m("app.perms.b", defs=["allow_y", "allow_z"])
    ev = _audit(facts, plan)
    assert _errors(ev) == [("DC101", "app.perms", 2, "app.perms.b")]
    assert "allow_z not in the interface" in ev.findings[0].message


def test_a_shared_module_importing_shared_code_through_a_service_package_is_no_finding():
    # privacyIDEA: shared api modules import get_optional from api.lib.utils (a service), which
    # re-exports it from lib.params (shared)
    facts = [
        _m("app", package=True),
        _m("app.params", defs=["get_optional"]),
        _m("app.utils", imp("app.params", "get_optional", line=1), defs=["send_result"]),
        _m("app.api", imp("app.utils", "get_optional", line=2), imp("app.utils", "send_result", line=3)),
    ]
    plan = Plan(project="app", services={"ca": Service("ca", ["app.utils"])}, shared=["app", "app.params", "app.api"])
    assert _errors(_audit(facts, plan)) == [("DC102", "app.api", 3, "app.utils.send_result")]


def test_an_excluded_module_belongs_to_no_service_as_an_import_target_too():
    # misago: `misago/users/test.py` (test helpers, excluded as test code) imported by the faker app
    facts = [
        _m("app", package=True),
        _m("app.users", package=True),
        _m("app.users.test", defs=["create_test_user"]),
        _m("app.users.models", defs=["User"]),
        _m("app.faker", imp("app.users.test", "create_test_user", line=8), imp("app.users.models", "User", line=9)),
    ]
    plan = Plan(project="app", services={"users": Service("users", ["app.users", "app.users.models"]),
                                         "faker": Service("faker", ["app.faker"])}, shared=["app"])
    assert _errors(_audit(facts, plan)) == [("DC101", "app.faker", 9, "app.users.models.User")]


def test_a_module_object_used_through_a_module_import_must_itself_be_an_interface_item():
    # pretix/weblate urls: `import app.control.urls` then `include(app.control.urls)`
    facts = [
        _m("app", package=True),
        _m("app.control", package=True),
        _m("app.control.urls", defs=["urlpatterns"]),
        _m("app.urls", imp("app.control.urls", line=4), uses=[use("app.control.urls", line=9, scope="<module>")]),
    ]
    services = {"control": Service("control", ["app.control", "app.control.urls"]), "web": Service("web", ["app.urls"])}
    plan = Plan(project="app", services=services, shared=["app"])
    assert _errors(_audit(facts, plan)) == [("DC101", "app.urls", 4, "app.control.urls")]
    services["control"].interface = [InterfaceItem("app.control.urls", "module", used_by=["web"])]
    assert _errors(_audit(facts, plan)) == []


def test_a_package_binding_a_name_equal_to_its_submodule_is_judged_as_that_object():
    """lnbits: ``lnbits/core/__init__.py`` does ``from .db import db``; the shared ``commands.py``
    does ``from lnbits.core import db as core_db`` then ``core_db.connect()``.  ``connect`` is a
    method of the object ``db``, not a function of module ``lnbits.core.db``
    (analysis.resolve.use_module): the plan records the shared module's use of ``db`` and the
    audit recognises it (it took ``lnbits.core.db.connect`` for an unrecorded DC102 error)."""
    from decompose.analysis.facts import SymbolUse

    facts = [
        _m("app", package=True),
        _m("app.core", imp("app.core.db", "db", kind="relative", level=1), package=True),
        ModuleFacts(module="app.core.db", path="app/core/db.py", is_package=False, lines=5,
                    definitions=[Definition("db", "variable", 3, 3)]),
        _m("app.cli", imp("app.core", "db as core_db", line=2),
           uses=[SymbolUse(scope="main", target="app.core.db.connect", count=1, calls=1, line=7, start="app.core")]),
    ]
    plan = Plan.from_dict({"version": 1, "project": "app", "services": {
        "core": {"modules": ["app.core", "app.core.db"]}}, "shared": {"modules": ["app", "app.cli"]},
        "blockers": [{"kind": "shared-uses-service", "severity": "warning", "module": "app.cli",
                      "services": ["core"], "symbols": ["app.core.db", "app.core.db.db"]}]})
    assert _errors(_audit(facts, plan)) == []
