"""Tests for decompose.analysis.parse: LibCST extraction of ModuleFacts."""

from __future__ import annotations

import textwrap

import pytest

from decompose.analysis.facts import DataAccess, GlobalWrite, ModuleFacts, Param, Route, SymbolUse
from decompose.analysis.parse import ParseFailure, parse_module


def facts(src: str, module: str = "shop.orders.views", is_package: bool = False) -> ModuleFacts:
    code = textwrap.dedent(src).lstrip("\n")
    return parse_module(code.encode("utf-8"), module, module.replace(".", "/") + ".py", is_package)


def imports(f: ModuleFacts) -> list[tuple]:
    return [(i.module, i.names, i.line, i.kind, i.context, i.level, i.alias) for i in f.imports]


def uses(f: ModuleFacts) -> list[tuple]:
    return [(u.scope, u.target, u.count, u.calls, u.line) for u in f.uses]


# --------------------------------------------------------------------------- #
# imports
# --------------------------------------------------------------------------- #

IMPORT_FORMS = [
    ("import a.b.c", [("a.b.c", [], 1, "absolute", "module", 0, None)]),
    ("import a.b as x", [("a.b", [], 1, "absolute", "module", 0, "x")]),
    ("import os, sys as system", [
        ("os", [], 1, "absolute", "module", 0, None),
        ("sys", [], 1, "absolute", "module", 0, "system"),
    ]),
    ("from a.b import c, d", [("a.b", ["c", "d"], 1, "absolute", "module", 0, None)]),
    ("from a.b import (\n    c as cc,\n    d,\n)", [("a.b", ["c", "d"], 1, "absolute", "module", 0, None)]),
    ("from a.b import *", [("a.b", ["*"], 1, "absolute", "module", 0, None)]),
    # relative, importing module is the plain module shop.orders.views
    ("from . import x", [("shop.orders", ["x"], 1, "relative", "module", 1, None)]),
    ("from .models import Order", [("shop.orders.models", ["Order"], 1, "relative", "module", 1, None)]),
    ("from ..catalog import api", [("shop.catalog", ["api"], 1, "relative", "module", 2, None)]),
    ("from .. import catalog", [("shop", ["catalog"], 1, "relative", "module", 2, None)]),
    ("from ...x import y", [("", ["y"], 1, "relative", "module", 3, None)]),
    ("from .helpers import *", [("shop.orders.helpers", ["*"], 1, "relative", "module", 1, None)]),
]


@pytest.mark.parametrize("src, expected", IMPORT_FORMS, ids=[s for s, _ in IMPORT_FORMS])
def test_import_forms(src, expected):
    assert imports(facts(src + "\n")) == expected


RELATIVE = [
    # (importing module, is_package, statement, resolved module)
    ("a.b", True, "from . import x", "a.b"),
    ("a.b", True, "from .c import x", "a.b.c"),
    ("a.b", True, "from .. import x", "a"),
    ("a.b", True, "from ... import x", ""),
    ("a.b.c", False, "from . import x", "a.b"),
    ("a.b.c", False, "from .d import x", "a.b.d"),
    ("a.b.c", False, "from .. import x", "a"),
    ("a.b.c", False, "from ..e.f import x", "a.e.f"),
    ("a.b.c", False, "from ... import x", ""),
    ("a", True, "from . import x", "a"),
    ("a", True, "from .. import x", ""),
    ("a", False, "from . import x", ""),  # a top-level plain module has no package
]


@pytest.mark.parametrize("module, is_package, stmt, resolved", RELATIVE)
def test_relative_resolution_package_vs_module(module, is_package, stmt, resolved):
    (imp,) = facts(stmt + "\n", module=module, is_package=is_package).imports
    dots = len(stmt.split()[1]) - len(stmt.split()[1].lstrip("."))
    assert (imp.module, imp.kind, imp.level) == (resolved, "relative", dots)


def test_import_contexts():
    f = facts(
        """
        import a
        from typing import TYPE_CHECKING
        import typing
        if TYPE_CHECKING:
            import b
            from c import C
        else:
            import d
        if typing.TYPE_CHECKING:
            import e
        try:
            import f
        except ImportError:
            f = None
        with ctx():
            import g
        for _ in range(1):
            import h
        while False:
            import i
        def fn():
            import j
            if TYPE_CHECKING:
                import k
            def inner():
                from l import m
        class K:
            import n
            if True:
                import o
            def method(self):
                import p
        async def afn():
            import q
        if not TYPE_CHECKING:
            import r
        """
    )
    assert [(i.module, i.line, i.context) for i in f.imports] == [
        ("a", 1, "module"),
        ("typing", 2, "module"),
        ("typing", 3, "module"),
        ("b", 5, "type_checking"),
        ("c", 6, "type_checking"),
        ("d", 8, "conditional"),
        ("e", 10, "type_checking"),
        ("f", 12, "conditional"),
        ("g", 16, "conditional"),
        ("h", 18, "conditional"),
        ("i", 20, "conditional"),
        ("j", 22, "function"),
        ("k", 24, "function"),
        ("l", 26, "function"),
        ("n", 28, "module"),
        ("o", 30, "conditional"),
        ("p", 32, "function"),
        ("q", 34, "function"),
        ("r", 36, "conditional"),
    ]


def test_imports_sorted_by_line_then_module():
    f = facts("import zeta; import alpha\nimport beta\n")
    assert [(i.module, i.line) for i in f.imports] == [("alpha", 1), ("zeta", 1), ("beta", 2)]


def test_dynamic_imports():
    f = facts(
        """
        import importlib
        import importlib as il
        from importlib import import_module
        from mylib import import_module as not_importlib

        def load(name):
            importlib.import_module("shop.plugins.stripe")
            il.import_module("shop.plugins.paypal")
            import_module("shop.plugins.cash")
            import_module(".local", __package__)
            import_module("..up", package=__package__)
            import_module(".child", __name__)
            __import__("shop.legacy.mod")
            importlib.import_module(name)
            importlib.import_module(f"shop.{name}")
            importlib.import_module("shop." + name)
            importlib.import_module(".rel")
            not_importlib("nope.really")
            __import__(name)

        MOD = importlib.import_module("shop.settings")
        """
    )
    dynamic = [(i.module, i.line, i.context, i.level) for i in f.imports if i.kind == "dynamic"]
    assert dynamic == [
        ("shop.plugins.stripe", 7, "function", 0),
        ("shop.plugins.paypal", 8, "function", 0),
        ("shop.plugins.cash", 9, "function", 0),
        ("shop.orders.local", 10, "function", 1),
        ("shop.up", 11, "function", 2),
        # __name__ as anchor: the module itself acts as the package (importlib semantics)
        ("shop.orders.views.child", 12, "function", 1),
        ("shop.legacy.mod", 13, "function", 0),
        ("shop.settings", 21, "module", 0),
    ]
    assert all(i.names == [] for i in f.imports if i.kind == "dynamic")


def test_dynamic_relative_in_package():
    f = facts('import importlib\nimportlib.import_module(".sub", __package__)\n', module="shop.orders", is_package=True)
    assert imports(f)[1] == ("shop.orders.sub", [], 2, "dynamic", "module", 1, None)


def test_import_module_not_imported_is_ignored():
    f = facts('import_module("x.y")\nimportlib.import_module("z")\n')
    assert f.imports == []


# --------------------------------------------------------------------------- #
# definitions
# --------------------------------------------------------------------------- #


def test_function_definition_details():
    f = facts(
        """
        import functools

        @functools.lru_cache(maxsize=None)
        @staticmethod
        def compute(a, b: int = 2, /, c: "Order" = None, *args: str, d, e: list[int] = [], **kw) -> dict[str, int]:
            x = 1
            return {
                "a": a,
            }

        async def _fetch(url: str) -> bytes:
            ...

        def star_only(*, key): pass
        """
    )
    compute, fetch, star_only = f.definitions
    assert (compute.name, compute.kind, compute.line, compute.end_line) == ("compute", "function", 5, 9)
    assert compute.params == [
        Param("a", None, None, "positional_only"),
        Param("b", "int", "2", "positional_only"),
        Param("c", '"Order"', "None", "positional"),
        Param("args", "str", None, "var_positional"),
        Param("d", None, None, "keyword_only"),
        Param("e", "list[int]", "[]", "keyword_only"),
        Param("kw", None, None, "var_keyword"),
    ]
    assert compute.returns == "dict[str, int]"
    assert compute.decorators == ["functools.lru_cache(maxsize=None)", "staticmethod"]
    assert compute.private is False
    assert (fetch.name, fetch.kind, fetch.line, fetch.end_line, fetch.private) == ("_fetch", "async_function", 11, 12, True)
    assert fetch.params == [Param("url", "str", None, "positional")]
    assert fetch.returns == "bytes"
    assert star_only.params == [Param("key", None, None, "keyword_only")]
    assert (star_only.line, star_only.end_line) == (14, 14)


def test_class_definition_details():
    f = facts(
        """
        from dataclasses import dataclass

        @dataclass(frozen=True)
        class Order(Base, mixins.Audit, metaclass=Meta):
            id: int
            def total(self):
                return 0

            async def refresh(self):
                pass
            if DEBUG:
                def debug(self): ...
            class Inner:
                def not_a_method_of_order(self): ...
        # trailing comment
        class _Hidden: pass
        """
    )
    order, hidden = f.definitions
    assert (order.name, order.kind, order.line, order.end_line) == ("Order", "class", 4, 14)
    assert order.bases == ["Base", "mixins.Audit"]
    assert order.decorators == ["dataclass(frozen=True)"]
    assert order.methods == ["total", "refresh", "debug"]
    assert order.private is False
    assert (hidden.name, hidden.line, hidden.end_line, hidden.private, hidden.bases) == ("_Hidden", 16, 16, True, [])


def test_variables_and_mutability():
    f = facts(
        """
        import collections
        from collections import OrderedDict, defaultdict as dd
        CACHE = {}
        ITEMS = []
        TAGS = set()
        SQUARES = {i: i * i for i in range(3)}
        EVENS = [i for i in range(9) if i % 2 == 0]
        QUEUE = collections.deque()
        ORDERED = OrderedDict()
        BY_KEY = dd(list)
        COUNTS = collections.Counter("abc")
        ANNOTATED: dict[str, int] = {}
        NAME = "shop"
        PAIR = (1, 2)
        LIMIT: int = 10
        JUST_DECLARED: int
        a, (b, c) = [], ({}, 3)
        x = y = []
        _private = dict(a=1)
        MULTI = [
            1,
            2,
        ]
        obj.attr = []
        mapping["k"] = []
        """
    )
    got = [(d.name, d.kind, d.line, d.end_line, d.mutable, d.private) for d in f.definitions]
    assert got == [
        ("CACHE", "variable", 3, 3, True, False),
        ("ITEMS", "variable", 4, 4, True, False),
        ("TAGS", "variable", 5, 5, True, False),
        ("SQUARES", "variable", 6, 6, True, False),
        ("EVENS", "variable", 7, 7, True, False),
        ("QUEUE", "variable", 8, 8, True, False),
        ("ORDERED", "variable", 9, 9, True, False),
        ("BY_KEY", "variable", 10, 10, True, False),
        ("COUNTS", "variable", 11, 11, True, False),
        ("ANNOTATED", "variable", 12, 12, True, False),
        ("NAME", "variable", 13, 13, False, False),
        ("PAIR", "variable", 14, 14, False, False),
        ("LIMIT", "variable", 15, 15, False, False),
        ("a", "variable", 17, 17, True, False),
        ("b", "variable", 17, 17, True, False),
        ("c", "variable", 17, 17, False, False),
        ("x", "variable", 18, 18, True, False),
        ("y", "variable", 18, 18, True, False),
        ("_private", "variable", 19, 19, True, True),
        ("MULTI", "variable", 20, 23, True, False),
    ]


def test_definitions_top_level_only_including_if_try_blocks():
    f = facts(
        """
        try:
            import ujson as json
        except ImportError:
            json = None
            FALLBACK = True
        if PY2:
            def compat(): pass
        else:
            def compat(): return 1
            REGISTRY = {}
        def outer():
            def nested(): pass
            local = []
        class A:
            attr = []
            def m(self): pass
        REGISTRY = None
        """
    )
    got = [(d.name, d.kind, d.line, d.mutable) for d in f.definitions]
    # each name once, at its first binding; mutable if any module-level binding is
    assert got == [
        ("json", "variable", 4, False),
        ("FALLBACK", "variable", 5, False),
        ("compat", "function", 7, False),
        ("REGISTRY", "variable", 10, True),
        ("outer", "function", 11, False),
        ("A", "class", 14, False),
    ]


# --------------------------------------------------------------------------- #
# uses
# --------------------------------------------------------------------------- #


def test_uses_resolution_and_counts():
    f = facts(
        """
        import shop.catalog.service
        import shop.catalog.service as cs
        from shop.catalog import models
        from .models import Product as P
        import json

        def handler(request):
            models.Product.query
            shop.catalog.service.get(1)
            cs.get(2)
            cs.get
            P(3)
            P
            make().models
            json.dumps(models.Product.query.filter(x=1))
            return f"{json.loads('1')}"

        def annotated(p: models.Product, q: "models.Ignored" = None) -> P:
            pass

        RESULT = cs.get(0)
        """
    )
    assert uses(f) == [
        ("<module>", "shop.catalog.service.get", 1, 1, 21),
        ("annotated", "shop.catalog.models.Product", 1, 0, 18),
        ("annotated", "shop.orders.models.Product", 1, 0, 18),
        ("handler", "json.dumps", 1, 1, 15),
        ("handler", "json.loads", 1, 1, 16),
        ("handler", "shop.catalog.models.Product.query", 1, 0, 8),
        ("handler", "shop.catalog.models.Product.query.filter", 1, 1, 15),
        ("handler", "shop.catalog.service.get", 3, 2, 9),
        ("handler", "shop.orders.models.Product", 2, 1, 12),
    ]


def test_uses_attributes_on_call_results_not_followed():
    f = facts(
        """
        from shop import factory
        def f():
            return factory().thing.other, factory.build().x
        """
    )
    assert uses(f) == [
        ("f", "shop.factory", 1, 1, 3),
        ("f", "shop.factory.build", 1, 1, 3),
    ]


def test_uses_respect_shadowing():
    f = facts(
        """
        from shop.catalog import models
        import json

        def by_param(models):
            return models.Product

        def by_assignment():
            models = load()
            return models.Product

        def default_is_outside(x=models.Default):
            return x

        def nested_param_only_shadows_inner():
            def inner(json):
                return json.dumps(1)
            return json.loads("1")

        def declared_global():
            global models
            return models.Product

        class Holder:
            models = None
            y = models
            def method(self):
                return models.Product

        def by_lambda():
            return lambda models: models.Product

        def by_for():
            for json in []:
                json.x
        """
    )
    assert uses(f) == [
        ("Holder", "shop.catalog.models.Product", 1, 0, 27),
        ("declared_global", "shop.catalog.models.Product", 1, 0, 21),
        ("default_is_outside", "shop.catalog.models.Default", 1, 0, 11),
        ("nested_param_only_shadows_inner", "json.loads", 1, 1, 17),
    ]


def test_uses_local_imports_and_late_module_imports():
    f = facts(
        """
        def early():
            return late.value

        def local():
            from shop.billing import invoices as inv
            return inv.create()

        def other():
            return inv.create()

        import shop.late as late
        """
    )
    assert uses(f) == [
        ("early", "shop.late.value", 1, 0, 2),
        ("local", "shop.billing.invoices.create", 1, 1, 6),
    ]


def test_uses_not_counted_for_import_statements_or_binding_names():
    f = facts(
        """
        import json
        from shop import models
        import shop.models
        def json_handler(json=None, *, models=1): pass
        call(json=1, models=2)
        del json
        """
    )
    assert uses(f) == []


def test_uses_scope_decorators_and_bases():
    f = facts(
        """
        import functools
        from shop import db

        @functools.wraps(print)
        def wrapped(): pass

        class Item(db.Model):
            name = db.Column(db.String)
        """
    )
    assert uses(f) == [
        ("Item", "shop.db.Column", 1, 1, 8),
        ("Item", "shop.db.Model", 1, 0, 7),
        ("Item", "shop.db.String", 1, 0, 8),
        ("wrapped", "functools.wraps", 1, 1, 4),
    ]


# --------------------------------------------------------------------------- #
# routes
# --------------------------------------------------------------------------- #


def test_flask_routes():
    f = facts(
        """
        from flask import Blueprint
        bp = Blueprint("orders", __name__)

        @bp.route("/orders", methods=["GET", "post"])
        def list_orders(): ...

        @login_required
        @bp.route("/orders/<int:id>")
        def show(id): ...

        @app.route(rule="/health", methods=("HEAD",))
        @app.route("/ping")
        def health(): ...

        @bp.route(PATH)
        def dynamic_path(): ...

        @cache.memoize(60)
        def not_a_route(): ...

        class View:
            @bp.route("/in-class")
            def method(self): ...
        """
    )
    assert f.routes == [
        Route("list_orders", "/orders", ["GET", "POST"], "bp.route", 4),
        Route("show", "/orders/<int:id>", ["GET"], "bp.route", 8),
        Route("health", "/health", ["HEAD"], "app.route", 11),
        Route("health", "/ping", ["GET"], "app.route", 12),
    ]


def test_fastapi_routes():
    f = facts(
        """
        from fastapi import APIRouter
        router = APIRouter()

        @router.get("/items/{item_id}")
        async def read_item(item_id: int): ...

        @router.post("/items", status_code=201)
        async def create_item(): ...

        @app.put(path="/items/{id}")
        def put_item(id): ...

        @router.patch("/items/{id}")
        def patch_item(id): ...

        @router.delete("/items/{id}")
        def delete_item(id): ...

        @router.api_route("/multi", methods=["GET", "PUT"])
        def multi(): ...
        """
    )
    assert [(r.function, r.path, r.methods, r.decorator, r.line) for r in f.routes] == [
        ("read_item", "/items/{item_id}", ["GET"], "router.get", 4),
        ("create_item", "/items", ["POST"], "router.post", 7),
        ("put_item", "/items/{id}", ["PUT"], "app.put", 10),
        ("patch_item", "/items/{id}", ["PATCH"], "router.patch", 13),
        ("delete_item", "/items/{id}", ["DELETE"], "router.delete", 16),
        ("multi", "/multi", ["GET", "PUT"], "router.api_route", 19),
    ]


# --------------------------------------------------------------------------- #
# data access
# --------------------------------------------------------------------------- #


def test_sqlalchemy_models_and_tables():
    f = facts(
        """
        import sqlalchemy as sa
        from sqlalchemy import Table, Column, MetaData
        from rich.table import Table as RichTable

        metadata = MetaData()

        class User(Base):
            __tablename__ = "users"
            id = Column(sa.Integer)

        class Address(Base):
            __tablename__: str = "addresses"

        class NotAModel(Base):
            name = "x"

        order_items = Table("order_items", metadata, Column("id"))
        audit = sa.Table("audit_log", metadata)
        pretty = RichTable("Name", "Age")
        """
    )
    assert f.data == [
        DataAccess("users", "model", 7, "User"),
        DataAccess("addresses", "model", 11, "Address"),
        DataAccess("order_items", "table", 17, None),
        DataAccess("audit_log", "table", 18, None),
    ]


def test_django_models():
    f = facts(
        """
        from django.db import models
        from django.db.models import Model
        from pydantic import BaseModel

        class Book(models.Model):
            title = models.CharField(max_length=100)

        class Author(Model):
            class Meta:
                db_table = "people"

        class Base(models.Model):
            class Meta:
                abstract = True

        class Borrowed(models.Model):
            class Meta:
                app_label = "lending"

        class Schema(BaseModel):
            name: str
        """,
        module="library.models",
    )
    assert f.data == [
        DataAccess("library_book", "model", 5, "Book"),
        DataAccess("people", "model", 8, "Author"),
        DataAccess("lending_borrowed", "model", 16, "Borrowed"),
    ]


def test_django_app_label_from_models_package():
    src = "from django.db import models\nclass Loan(models.Model):\n    pass\n"
    assert facts(src, module="library.models.loans").data == [DataAccess("library_loan", "model", 2, "Loan")]
    assert facts(src, module="library.models", is_package=True).data == [DataAccess("library_loan", "model", 2, "Loan")]


def test_raw_sql():
    f = facts(
        '''
        from sqlalchemy import text

        def report(db):
            db.execute(text("SELECT o.id FROM orders o JOIN shop.customers c ON c.id = o.cid"))
            db.execute("""
                select * from "public"."invoices"
                where id in (select invoice_id from payments)
            """)
            db.execute("INSERT INTO audit_log (a, b) VALUES (%s, %s)")
            db.execute("UPDATE `stock` SET qty = qty - 1")
            db.execute("DELETE FROM sessions WHERE expired")
            db.execute("WITH recent AS (SELECT * FROM orders) SELECT * FROM recent, refunds r")
            db.execute("SELECT EXTRACT(YEAR FROM created) FROM shipments FOR UPDATE")
            db.execute(
                "SELECT a "
                "FROM ledger"
            )
            db.execute(f"SELECT * FROM {table} JOIN tags ON true")
            db.execute("SELECT * FROM %s" % table)
            db.execute("SELECT * FROM orders")

        def prose():
            """Select the rows from the table and update them."""
            flash("Update your profile from the settings page.")
            flash("Delete this item?")
            label = "Selection from list"
            q = "select 1"
            "SELECT * FROM commented_out " "WHERE 1"
        '''
    )
    assert [(d.table, d.how, d.line) for d in f.data] == [
        ("customers", "sql", 4),
        ("orders", "sql", 4),
        ("invoices", "sql", 5),
        ("payments", "sql", 5),
        ("audit_log", "sql", 9),
        ("stock", "sql", 10),
        ("sessions", "sql", 11),
        ("refunds", "sql", 12),
        ("shipments", "sql", 13),
        ("ledger", "sql", 15),
        ("tags", "sql", 18),
    ]
    assert all(d.symbol is None for d in f.data)


def test_the_engines_catalogs_are_no_tables_of_the_app():
    # LNbits reads SQLite's schema table and PostgreSQL's information_schema to list its own tables
    f = facts(
        '''
        def tables(db):
            db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            db.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            db.execute("SELECT relname FROM pg_catalog.pg_class JOIN wallets w ON true")
        '''
    )
    assert [(d.table, d.line) for d in f.data] == [("wallets", 4)]


# --------------------------------------------------------------------------- #
# global writes
# --------------------------------------------------------------------------- #


def test_global_writes_and_mutable_globals():
    f = facts(
        """
        REGISTRY = {}
        HANDLERS = []
        counter = 0
        _cache = dict()
        FROZEN = (1, 2)

        def register(name, fn):
            REGISTRY[name] = fn
            HANDLERS.append(fn)
            HANDLERS.append(fn)
            REGISTRY[name]["x"] = 1

        def bump():
            global counter
            counter += 1

        def reset():
            global counter, _cache
            counter = 0
            _cache.clear()

        def local_shadow():
            REGISTRY = {}
            REGISTRY["x"] = 1

        def param_shadow(HANDLERS):
            HANDLERS.append(1)

        def reads_only():
            counter = 5
            return REGISTRY.get("x"), FROZEN.count(1), counter

        def deleter(k):
            del REGISTRY[k]

        class Service:
            def add(self, h):
                HANDLERS.extend([h])

        REGISTRY["init"] = None
        HANDLERS.append(None)
        """
    )
    assert f.global_writes == [
        GlobalWrite("register", "REGISTRY", 8),
        GlobalWrite("register", "HANDLERS", 9),
        GlobalWrite("bump", "counter", 15),
        GlobalWrite("reset", "counter", 19),
        GlobalWrite("reset", "_cache", 20),
        GlobalWrite("deleter", "REGISTRY", 34),
        GlobalWrite("Service", "HANDLERS", 38),
    ]


# --------------------------------------------------------------------------- #
# decoding, errors, misc
# --------------------------------------------------------------------------- #


def test_syntax_error_is_one_line():
    with pytest.raises(ParseFailure) as exc:
        parse_module(b"x = 1\ndef broken(:\n    pass\n", "m", "m.py", False)
    assert str(exc.value) == "syntax error at line 2: invalid syntax"


def test_unclosed_bracket_reports_real_line():
    with pytest.raises(ParseFailure) as exc:
        parse_module(b"a = 1\nb = (\n", "m", "m.py", False)
    assert str(exc.value) == "syntax error at line 2: '(' was never closed"


def test_invalid_utf8():
    with pytest.raises(ParseFailure) as exc:
        parse_module(b"x = 1\ny = '\xff'\n", "m", "m.py", False)
    assert str(exc.value) == "not valid UTF-8 (byte 0xff at offset 11)"


def test_invalid_utf8_after_bom_reports_file_offset():
    with pytest.raises(ParseFailure) as exc:
        parse_module(b"\xef\xbb\xbfx = '\xfe'\n", "m", "m.py", False)
    assert str(exc.value) == "not valid UTF-8 (byte 0xfe at offset 8)"


def test_unknown_coding_cookie():
    with pytest.raises(ParseFailure) as exc:
        parse_module(b"# coding: klingon\nx = 1\n", "m", "m.py", False)
    assert str(exc.value) == "bad encoding declaration: unknown encoding: klingon"


def test_latin1_coding_cookie():
    src = "# -*- coding: latin-1 -*-\nGREETING = 'h\xe9llo'\nq = 'SELECT * FROM caf\xe9s'\n".encode("latin-1")
    f = parse_module(src, "m", "m.py", False)
    assert [(d.name, d.line) for d in f.definitions] == [("GREETING", 2), ("q", 3)]
    assert f.data == [DataAccess("caf\xe9s", "sql", 3, None)]
    assert f.lines == 3


def test_utf8_bom_is_accepted():
    f = parse_module(b"\xef\xbb\xbfimport os\n", "m", "m.py", False)
    assert imports(f) == [("os", [], 1, "absolute", "module", 0, None)]


@pytest.mark.parametrize(
    "src, lines",
    [(b"", 0), (b"x = 1", 1), (b"x = 1\n", 1), (b"x = 1\n\n# end\n", 3), (b"x = 1\r\ny = 2\r\n", 2)],
)
def test_line_count(src, lines):
    assert parse_module(src, "m", "m.py", False).lines == lines


def test_crlf_line_numbers():
    f = parse_module(b"import a\r\n\r\ndef f():\r\n    import b\r\n", "m", "m.py", False)
    assert [(i.module, i.line) for i in f.imports] == [("a", 1), ("b", 4)]
    assert [(d.name, d.line, d.end_line) for d in f.definitions] == [("f", 3, 4)]


def test_facts_identity_and_roundtrip():
    f = facts("from . import x\nX = []\n\ndef g(a: int = 1):\n    return x.y(a)\n", module="pkg.mod")
    assert (f.module, f.path, f.is_package) == ("pkg.mod", "pkg/mod.py", False)
    assert f.uses == [SymbolUse("g", "pkg.x.y", 1, 1, 5, start="pkg", args=["#0"])]  # `from . import x`: x is an attribute of pkg
    assert ModuleFacts.from_dict(f.to_dict()) == f


def test_deterministic_output():
    src = b"import b, a\nfrom c import d\ndef f():\n    return a.x, b.y, d.z, a.x\n"
    assert parse_module(src, "m", "m.py", False).to_dict() == parse_module(src, "m", "m.py", False).to_dict()


def test_very_long_concatenation_is_analysed_and_recursion_limit_restored():
    import sys

    parts = " ".join(['"SELECT * "'] + ['"  "'] * 1500 + ['"FROM big_table"'])
    src = f"def q(db):\n    return db.execute({parts})\n".encode()
    before = sys.getrecursionlimit()
    f = parse_module(src, "m", "m.py", False)
    assert sys.getrecursionlimit() == before
    assert f.data == [DataAccess("big_table", "sql", 2, None)]
    assert [(d.name, d.line, d.end_line) for d in f.definitions] == [("q", 1, 2)]


# --------------------------------------------------------------------------- #
# what unannotated functions return
# --------------------------------------------------------------------------- #

def test_returns_inferred_follows_local_assignments_and_skips_nested_scopes():
    f = facts('''
        import sqlite3
        from flask import g

        def get_db():
            if "db" not in g:
                g.db = sqlite3.connect("x.sqlite")
            return g.db

        def rows():
            conn = get_db()
            return conn

        def counts():
            return {"a": 1}

        def nothing(x):
            x.append(1)

        def lazy():
            yield 1

        def decorator(view):
            def wrapped(*a):
                return view(*a)
            return wrapped

        def maker():
            return lambda: 1

        def typed() -> int:
            return compute()

        def inner_yield_only():
            def gen():
                yield 1
            return [1]

        async def fetch():
            return await client.get("/")
    ''')
    got = {d.name: d.returns_inferred for d in f.definitions if d.kind.endswith("function")}
    assert got == {
        "get_db": ["call:sqlite3.connect", "name:g.db"],
        "rows": ["call:get_db", "name:conn"],
        "counts": ["literal"],
        "nothing": ["literal"],
        "lazy": ["generator"],
        "decorator": ["function:wrapped"],
        "maker": ["lambda"],
        "typed": [],  # annotated: the annotation says it
        "inner_yield_only": ["literal"],
        "fetch": ["call:client.get"],
    }


def test_returns_inferred_follows_items_of_stores_to_the_container_and_what_was_stored():
    """privacyIDEA's ``get_config_object``: an object cloned into a request-local dict and
    handed out of it (``return store['config_object']``)."""
    f = facts('''
        from flask import g

        def get_request_local_store():
            if "_store" not in g:
                g._store = {}
            return g._store

        def get_config_object():
            store = get_request_local_store()
            if "config_object" not in store:
                shared = get_shared()
                store["config_object"] = shared.reload_and_clone()
            return store["config_object"]

        def first(rows):
            return rows[0]

        def table():
            return make()[0]
    ''')
    got = {d.name: d.returns_inferred for d in f.definitions if d.kind.endswith("function")}
    assert got == {
        "get_request_local_store": ["name:g._store"],
        "get_config_object": ["call:shared.reload_and_clone", "item:call:get_request_local_store", "item:name:store"],
        "first": ["item:name:rows"],
        "table": ["other"],
    }
