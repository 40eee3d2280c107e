"""Plan building on hand-written facts: interface, signatures, tables, routes, blockers, determinism."""

from __future__ import annotations

import pytest

from decompose.analysis.facts import DataAccess, Definition, GlobalWrite, ImportFact, ModuleFacts, Param, Route, SymbolUse
from decompose.analysis.graph import build_graph
from decompose.planning.plan import Plan
from decompose.planning.planfile import dumps_plan, loads_plan
from decompose.planning.propose import _Resolver, classify_annotation, describe, param_verdict, propose, signature


def mod(name, imports=(), uses=(), data=(), defs=(), routes=(), writes=(), package=False):
    return ModuleFacts(
        module=name,
        path=name.replace(".", "/") + ("/__init__.py" if package else ".py"),
        is_package=package,
        imports=list(imports),
        uses=list(uses),
        data=list(data),
        definitions=list(defs),
        routes=list(routes),
        global_writes=list(writes),
    )


def fn(name, params=(), returns=None, kind="function"):
    return Definition(name, kind, 1, 2, params=list(params), returns=returns)


@pytest.fixture
def facts():
    return [
        mod("shop", package=True),
        mod(
            "shop.catalog.models",
            imports=[ImportFact("shop.db", ["Base"], 1)],
            data=[DataAccess("products", "model", 5, symbol="Product")],
            defs=[Definition("Product", "class", 5, 9, bases=["Base"])],
        ),
        mod(
            "shop.catalog.service",
            imports=[
                ImportFact("shop.catalog.models", ["Product"], 1),
                ImportFact("typing", ["Callable", "Any"], 2),
            ],
            uses=[SymbolUse("get_price", "shop.catalog.models.Product", 2)],
            defs=[
                fn("get_price", [Param("product_id", "int")], "int"),
                fn("load", [Param("product", "Product")], "Product | None"),
                fn("on_change", [Param("callback", "Callable[[int], None]")], "None"),
                fn("lookup", [Param("key"), Param("extra", "Any")], "dict"),
                Definition("CACHE", "variable", 3, 3, mutable=True),
            ],
            writes=[GlobalWrite("reset", "COUNTER", 20)],
            routes=[Route("list_products", "/products", ["GET", "POST"], "bp.route", 30)],
        ),
        mod(
            "shop.orders.service",
            imports=[ImportFact("shop.catalog", ["service"], 1)],
            uses=[
                SymbolUse("place", "shop.catalog.service.get_price", 2, calls=2),
                SymbolUse("place", "shop.catalog.service.load", 1, calls=1),
                SymbolUse("place", "shop.catalog.service.on_change", 1, calls=1),
                SymbolUse("place", "shop.catalog.service.lookup", 1, calls=1),
                SymbolUse("place", "shop.catalog.service.CACHE", 1),
                SymbolUse("place", "shop.catalog.models.Product", 1),
            ],
            data=[DataAccess("orders", "model", 3, symbol="Order")],
            defs=[Definition("Order", "class", 3, 5)],
        ),
        mod("shop.db", defs=[Definition("Base", "class", 1, 2)]),
    ]


def test_signature_text():
    d = fn(
        "f",
        [
            Param("a", "int", kind="positional_only"),
            Param("b", None, "2"),
            Param("args", "str", kind="var_positional"),
            Param("c", "bool", "False", kind="keyword_only"),
            Param("kw", None, kind="var_keyword"),
        ],
        "dict[str, int]",
    )
    assert signature(d) == "(a: int, /, b=2, *args: str, c: bool = False, **kw) -> dict[str, int]"
    assert signature(fn("g", [Param("x", kind="keyword_only")], kind="async_function")) == "async (*, x)"
    assert signature(Definition("C", "class", 1, 2, bases=["Base", "Mixin"])) == "class C(Base, Mixin)"


def test_annotation_verdicts(facts):
    res = _Resolver(facts, {"shop.catalog.models.Product"})
    m = "shop.catalog.service"
    assert classify_annotation("int", m, res)[0] == "ok"
    assert classify_annotation("dict[str, list[int]] | None", m, res)[0] == "ok"
    verdict, why = classify_annotation("Product | None", m, res)
    assert verdict == "bad" and "ORM model shop.catalog.models.Product" in why
    assert classify_annotation("Callable[[int], None]", m, res) == ("bad", "Callable is a callable")
    assert classify_annotation("Any", m, res)[0] == "unknown"
    assert classify_annotation(None, m, res) == ("unknown", "no annotation")
    assert classify_annotation("'Product'", m, res)[0] == "bad"  # string annotations too
    assert classify_annotation("typing.IO[str]", m, res)[0] == "bad"
    # a class handed over is not data (LNbits' generate_filter_params_openapi(model: type[FilterModel]))
    assert classify_annotation("type[dict]", m, res) == ("bad", "type[...] is a class, which cannot be sent between processes")
    assert classify_annotation("typing.Type[int] | None", m, res)[0] == "bad"
    assert classify_annotation('Literal["type", "name"]', m, res)[0] != "bad"   # strings are no names


def test_describe_interface_tables_routes_and_blockers(facts):
    g = build_graph(facts)
    assignment = {
        "shop.catalog.models": "catalog",
        "shop.catalog.service": "catalog",
        "shop.orders.service": "orders",
    }
    plan = describe(assignment, ["shop", "shop.db"], facts, g, project="shop")
    cat = plan.services["catalog"]
    names = {i.name: i for i in cat.interface}
    assert set(names) == {
        "shop.catalog.service.get_price",
        "shop.catalog.service.load",
        "shop.catalog.service.on_change",
        "shop.catalog.service.lookup",
        "shop.catalog.service.CACHE",
        "shop.catalog.models.Product",
    }
    assert names["shop.catalog.service.get_price"].signature == "(product_id: int) -> int"
    assert names["shop.catalog.service.get_price"].used_by == ["orders"]
    assert cat.tables == ["products"] and plan.services["orders"].tables == ["orders"]
    assert [(r.method, r.path) for r in cat.routes] == [("GET", "/products"), ("POST", "/products")]

    by = {(b["kind"], b.get("function") or b.get("state") or b.get("table")): b for b in plan.blockers}
    load = by[("non-serializable-call", "shop.catalog.service.load")]
    assert load["severity"] == "error" and load["called_from"] == ["orders"]
    assert any("parameter product" in p and "ORM model" in p for p in load["problems"])
    assert any(p.startswith("return:") for p in load["problems"])
    assert ("non-serializable-call", "shop.catalog.service.on_change") in by
    lookup = by[("unknown-serializability", "shop.catalog.service.lookup")]
    assert lookup["severity"] == "warning"
    assert lookup["problems"] == ["parameter key: no annotation", "parameter extra: Any: Any says nothing about the value"]
    assert not any(k[1] == "shop.catalog.service.get_price" for k in by)  # ints only: fine
    state = by[("cross-service-state", "shop.catalog.service.CACHE")]
    assert state["owner"] == "catalog" and state["used_by"] == ["orders"]
    table = by[("shared-table", "products")]
    assert table["owner"] == "catalog" and table["used_by"] == ["catalog", "orders"]
    assert plan.quality["blockers"] == {
        "errors": sum(b["severity"] == "error" for b in plan.blockers),
        "warnings": sum(b["severity"] == "warning" for b in plan.blockers),
    }
    # same service: no interface, no blockers about calls
    together = describe(dict.fromkeys(assignment, "all"), ["shop", "shop.db"], facts, g, project="shop")
    assert together.services["all"].interface == []
    assert not any(b["kind"] in ("non-serializable-call", "cross-service-state", "shared-table") for b in together.blockers)


def test_shared_state_used_by_two_services_is_a_blocker(facts):
    facts = [*facts, mod("shop.orders.other", uses=[SymbolUse("f", "shop.catalog.service.CACHE", 1)])]
    g = build_graph(facts)
    assignment = {"shop.catalog.models": "catalog", "shop.orders.service": "orders", "shop.orders.other": "billing"}
    plan = describe(assignment, ["shop", "shop.db", "shop.catalog.service"], facts, g, project="shop")
    kinds = {(b["kind"], b.get("state")) for b in plan.blockers}
    assert ("shared-library-state", "shop.catalog.service.CACHE") in kinds
    assert any(b["kind"] == "shared-uses-service" and b["module"] == "shop.catalog.service" for b in plan.blockers)


def test_propose_is_deterministic_and_round_trips(facts):
    g = build_graph(facts)
    texts = {dumps_plan(propose(facts, g, project="shop", seed=3).plan) for _ in range(3)}
    assert len(texts) == 1
    text = texts.pop()
    assert dumps_plan(loads_plan(text)) == text
    plan = loads_plan(text)
    assert isinstance(plan, Plan) and plan.quality["settings"]["seed"] == 3
    for key in ("modularity", "structural_modularity", "icp", "ifn", "ned"):
        assert key in plan.quality


def test_shared_reasons_round_trip_and_unknown_shared_keys_are_rejected():
    from decompose.planning.plan import PlanError

    base = "version: 1\nproject: shop\nservices:\n  a:\n    modules: [m.a]\nshared:\n  modules: [m.u]\n"
    with_reasons = base + "  reasons:\n    m.u: 'shared: used from 3 of 3 clusters'\n"
    plan = loads_plan(with_reasons)
    assert plan.shared_reasons == {"m.u": "shared: used from 3 of 3 clusters"}
    text = dumps_plan(plan)
    assert dumps_plan(loads_plan(text)) == text and "reasons:" in text
    assert "reasons" not in dumps_plan(loads_plan(base)).split("shared:")[1]  # absent stays absent
    with pytest.raises(PlanError, match="shared: unknown key 'modulez'"):
        loads_plan(base + "  modulez: [x]\n")


def test_calls_passing_live_objects_bond_caller_and_callee():
    """A function returning an object with behaviour cannot become an HTTP call: keep both sides together."""
    from decompose.planning.propose import live_object_bonds

    facts = [
        mod(
            "app.plugins",
            defs=[
                Definition("Provider", "class", 1, 5, methods=["charge", "refund"]),
                fn("load_provider", [Param("name", "str")], "Provider"),
                fn("names", [], "list[str]"),
            ],
        ),
        mod(
            "app.billing",
            imports=[ImportFact("app.plugins", ["load_provider", "names"], 1)],
            uses=[
                SymbolUse("pay", "app.plugins.load_provider", 1, calls=1),
                SymbolUse("pay", "app.plugins.names", 1, calls=1),
            ],
        ),
        mod(
            "app.reports",
            imports=[ImportFact("app.plugins", ["names"], 1)],
            uses=[SymbolUse("show", "app.plugins.names", 1, calls=1)],
        ),
    ]
    bonds = live_object_bonds(facts, build_graph(facts))
    assert [pair for pair, _ in bonds] == [["app.billing", "app.plugins"]]  # reports only passes strings
    assert "object with behaviour (charge, refund)" in bonds[0][1]
    res = _Resolver(facts, set())
    assert classify_annotation("Provider", "app.plugins", res)[0] == "bad"


def test_an_optional_live_parameter_the_calls_never_fill_is_no_blocker():
    """LNbits' crud functions take ``conn: Connection | None = None`` (a database connection, an
    object with behaviour): 22 cross-service calls were reported as non-serializable although no
    caller passed ``conn``.  Only the parameters the calls fill go over the wire."""
    conn = Definition("Connection", "class", 1, 9, methods=["fetchall", "execute"])
    get_asset = fn("get_asset", [Param("asset_id", "str"), Param("conn", "Connection | None", "None")],
                   "dict", kind="async_function")
    facts = [
        mod("app", package=True),
        mod("app.db", defs=[conn]),
        mod("app.assets", package=True),
        mod("app.assets.crud", imports=[ImportFact("app.db", ["Connection"], 1)], defs=[get_asset]),
        mod("app.shop", package=True),
        mod("app.shop.views", imports=[ImportFact("app.assets.crud", ["get_asset"], 1)],
            uses=[SymbolUse("show", "app.assets.crud.get_asset", 1, calls=1, args=["#0"])]),
        mod("app.shop.tx", imports=[ImportFact("app.assets.crud", ["get_asset"], 1)],
            uses=[SymbolUse("in_tx", "app.assets.crud.get_asset", 1, calls=1, args=["#0", "conn"])]),
    ]
    assignment = {"app.db": "assets", "app.assets.crud": "assets", "app.shop.views": "shop"}

    def blockers(assignment):
        plan = describe(assignment, ["app", "app.assets", "app.shop"], facts, build_graph(facts), project="app")
        return [(b["kind"], b["callers"], b["problems"]) for b in plan.blockers if b.get("function")]

    assert blockers(assignment) == []
    # a caller that passes the connection: the call cannot be made, and it is named
    assert blockers({**assignment, "app.shop.tx": "shop"}) == [(
        "non-serializable-call", ["app.shop.tx.in_tx", "app.shop.views.show"],
        ["parameter conn: Connection is the class app.db.Connection, an object with behaviour (fetchall, execute); "
         "it cannot be sent to another process"])]


def test_an_unannotated_parameter_takes_the_verdict_of_its_namesakes_when_all_are_live():
    """LNbits leaves ``conn`` bare on ``update_migration_version(conn, db_name, version)`` and
    annotates it ``Connection | None`` on 125 other functions: the call passes a database connection."""
    conn = Definition("Connection", "class", 1, 9, methods=["fetchall", "execute"])
    crud = [fn(f"get_{n}", [Param("key", "str"), Param("conn", "Connection | None", "None")]) for n in "abc"]
    bare = fn("update_version", [Param("conn"), Param("version")])
    facts = [
        mod("app", package=True),
        mod("app.db", defs=[conn]),
        mod("app.crud", imports=[ImportFact("app.db", ["Connection"], 1)], defs=[*crud, bare]),
    ]
    res = _Resolver(facts, set())
    verdict, why = param_verdict(Param("conn"), "app.crud", res)
    assert verdict == "bad" and why.startswith("conn (no annotation) is annotated Connection | None on 3 other parameters")
    # too few namesakes, or one of them plain data: no verdict from the name
    assert param_verdict(Param("version"), "app.crud", res) == ("unknown", "no annotation")
    mixed = [*facts, mod("app.other", defs=[fn("f", [Param("conn", "str")])])]
    assert param_verdict(Param("conn"), "app.crud", _Resolver(mixed, set())) == ("unknown", "no annotation")


def test_namesakes_that_are_orm_models_give_no_verdict():
    """Misago annotates `thread: Thread` (a model) 11 times and leaves `thread` bare 161 times,
    often an id: binding on the name alone merged its apps (ARI 0.90 -> 0.71)."""
    model = Definition("Thread", "class", 1, 9, bases=["Model"])
    facts = [
        mod("app", package=True),
        mod("app.models", defs=[model]),
        mod("app.views", imports=[ImportFact("app.models", ["Thread"], 1)],
            defs=[fn(f"show_{n}", [Param("thread", "Thread")]) for n in "abc"]),
    ]
    res = _Resolver(facts, {"app.models.Thread"})
    assert classify_annotation("Thread", "app.views", res)[0] == "bad"
    assert param_verdict(Param("thread"), "app.views", res) == ("unknown", "no annotation")
    # a model not recorded as one (Misago's Thread(PluginDataModel)): a class of a models module
    unrecorded = _Resolver(facts, set())
    assert "is the class app.models.Thread" in classify_annotation("Thread", "app.views", unrecorded)[1]
    assert param_verdict(Param("thread"), "app.views", unrecorded) == ("unknown", "no annotation")
