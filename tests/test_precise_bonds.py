"""A live-object bond is judged by the arguments the call passes, not by every parameter the
callee accepts.

LNbits 1.6.2's crud functions all take an optional ``conn: Connection | None = None`` (a live
database connection) so that a caller inside a transaction can pass its own.  Most callers
never pass it: ``await get_wallet(wallet_id)``.  Judging the callee's parameters alone bonded
every caller of every crud function with it, and the bonds merged unrelated domains.  A call
that leaves ``conn`` at its default sends only the wallet id over the wire; a call passing
``conn=conn`` (or unpacking ``**kwargs``) still bonds.
"""

from __future__ import annotations

import textwrap

from decompose.analysis.facts import Param
from decompose.analysis.graph import build_graph
from decompose.analysis.parse import parse_module
from decompose.planning.serializable import live_object_bonds, passed_params

DB = '''
    class Connection:
        async def fetchone(self, sql, values=None):
            ...

        async def execute(self, sql, values=None):
            ...
'''
CRUD = '''
    from shop.db import Connection


    async def get_wallet(wallet_id: str, conn: Connection | None = None) -> dict:
        return {"id": wallet_id}


    async def update_wallet(wallet: dict, *, conn: Connection | None = None) -> dict:
        return wallet


    async def get_rows(conn: Connection) -> list:
        return []
'''


def _facts(sources: dict[str, str]):
    return [parse_module(textwrap.dedent(code).encode(), m, m.replace(".", "/") + ".py", False)
            for m, code in sorted(sources.items())]


def _bonded(sources: dict[str, str]) -> list[list[str]]:
    facts = _facts(sources)
    return [pair for pair, _ in live_object_bonds(facts, build_graph(facts))]


def test_calls_record_the_argument_slots_they_pass():
    (f,) = _facts({"shop.views": '''
        from shop.crud import get_wallet, update_wallet

        async def show(wallet_id, conn, opts):
            await get_wallet(wallet_id)
            await get_wallet(wallet_id, conn=conn)
            await update_wallet(*opts)
    '''})
    args = {u.target: u.args for u in f.uses}
    assert args == {"shop.crud.get_wallet": ["#0", "conn"], "shop.crud.update_wallet": ["*"]}


def test_optional_live_parameter_left_at_its_default_does_not_bond():
    sources = {
        "shop.db": DB,
        "shop.crud": CRUD,
        "shop.views": '''
            from shop.crud import get_wallet

            async def show(wallet_id: str):
                return await get_wallet(wallet_id)
        ''',
        "shop.payments": '''
            from shop.crud import update_wallet

            async def pay(wallet: dict):
                return await update_wallet(wallet)
        ''',
    }
    assert _bonded(sources) == []


def test_a_call_passing_the_live_parameter_bonds():
    sources = {
        "shop.db": DB,
        "shop.crud": CRUD,
        "shop.tasks": '''
            from shop.crud import get_wallet, update_wallet

            async def refund(wallet_id: str, conn):
                wallet = await get_wallet(wallet_id, conn)        # positional
                return await update_wallet(wallet, conn=conn)     # keyword
        ''',
        "shop.reports": '''
            from shop.crud import get_rows

            async def report(conn):
                return await get_rows(conn)                       # a required live parameter
        ''',
        "shop.admin": '''
            from shop.crud import get_wallet

            async def show(**kwargs):
                return await get_wallet(**kwargs)                 # may fill conn
        ''',
        "shop.hooks": '''
            from shop.crud import get_wallet

            HANDLERS = [get_wallet]                               # called later, with anything
        ''',
    }
    assert _bonded(sources) == [["shop.admin", "shop.crud"], ["shop.hooks", "shop.crud"],
                                ["shop.reports", "shop.crud"], ["shop.tasks", "shop.crud"]]


def test_passed_params_rules():
    params = [Param("a"), Param("b", default="1"), Param("c", default="None", kind="keyword_only"),
              Param("rest", kind="var_keyword")]
    names = lambda args: [p.name for p in passed_params(params, args)]  # noqa: E731
    assert names(["#0"]) == ["a"]
    assert names(["#0", "#1"]) == ["a", "b"]
    assert names(["a", "b"]) == ["a", "b"]
    assert names(["#0", "c"]) == ["a", "c"]
    assert names(["#0", "other"]) == ["a", "rest"]
    assert names(["#0", "**"]) == ["a", "b", "c", "rest"]
    assert names(None) == ["a", "b", "c", "rest"]
