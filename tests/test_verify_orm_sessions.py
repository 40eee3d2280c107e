"""The test process's ORM sessions see what the split system wrote (issue 10).

privacyIDEA's ``test_11_import_policy`` posts ``/policy/import`` and then reads the
policies in the test process: ``PolicyClass()`` compares the config timestamp row with
its cache.  On the monolith the request ran on the test's own SQLAlchemy session; routed
to the split system, a service wrote the row, and the test process's session returned
the timestamp object from its identity map as it had last read it: no reload, no
imported policies, and every later test of the class got 403 from the policies the test
never deleted.  After each request the split system answers, verify expires the test
process's sessions (those without unflushed changes).

And before each request, the changes a test made in a session but did not commit are
committed: privacyIDEA's ``db.session.add(NodeName(...))`` and then ``POST /policy/polpinode``
naming that node, which the request on the monolith saw in the test's own session (autoflush).
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from decompose.runtime import verify_plugin
from tests.generate_support import StandInGateway


class Base(DeclarativeBase):
    pass


class Config(Base):
    __tablename__ = "config"
    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(String)


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "shared.db"
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Config(key="timestamp", value="1"))
        s.commit()
    yield engine, path
    engine.dispose()


@pytest.fixture
def gateway(database, monkeypatch):
    """A stand-in for the split system's gateway: a real HTTP server whose handler writes
    the shared database from another connection, as a service process does."""
    _, path = database

    seen = []

    def write(body: bytes) -> None:
        with sqlite3.connect(path, timeout=2) as c:
            seen.append(c.execute("SELECT value FROM config WHERE key = 'timestamp'").fetchone()[0])
            c.execute("UPDATE config SET value = '2' WHERE key = 'timestamp'")

    with StandInGateway(write) as server:
        monkeypatch.setattr(verify_plugin, "URL", server.url)
        yield seen


def test_a_session_reads_again_what_the_split_system_wrote(database, gateway):
    engine, _ = database
    session = Session(engine)
    stamp = session.scalars(select(Config).filter_by(key="timestamp")).one()
    assert stamp.value == "1"
    status, _, body = verify_plugin.send_to_gateway("POST", "/policy/import", [("Host", "x")], b"")
    assert (status, body) == ("200 OK", b"ok")
    again = session.scalars(select(Config).filter_by(key="timestamp")).one()
    assert again is stamp and again.value == "2"
    session.close()


def test_a_change_the_test_did_not_commit_is_what_the_split_system_reads(database, gateway):
    engine, _ = database
    session = Session(engine, autoflush=False)
    stamp = session.scalars(select(Config).filter_by(key="timestamp")).one()
    stamp.value = "mine"  # a change the test has not flushed yet
    session.add(Config(key="node", value="Node1"))  # a row it only added
    verify_plugin.send_to_gateway("POST", "/policy/import", [("Host", "x")], b"")
    assert gateway == ["mine"]  # the service read it (and no lock of this process blocked it)
    with sqlite3.connect(database[1]) as c:
        assert c.execute("SELECT value FROM config WHERE key = 'node'").fetchone() == ("Node1",)
    assert stamp.value == "2"  # and the test reads what the service wrote after it
    session.close()


def test_without_sqlalchemy_loaded_nothing_happens(monkeypatch):
    monkeypatch.delitem(verify_plugin.sys.modules, "sqlalchemy.orm.session", raising=False)
    assert verify_plugin.expire_orm_sessions() == 0


def test_an_instance_whose_row_the_split_system_deleted_stays_readable(database, monkeypatch):
    engine, path = database
    with Session(engine) as s:
        s.add_all([Config(key="token1", value="HOTP1"), Config(key="token2", value="HOTP2")])
        s.commit()

    def delete(body: bytes) -> None:  # DELETE /token/?serial=...: a service deletes token1, renames token2
        with sqlite3.connect(path, timeout=2) as c:
            c.execute("DELETE FROM config WHERE key = 'token1'")
            c.execute("UPDATE config SET value = 'HOTP2b' WHERE key = 'token2'")

    session = Session(engine)
    token1 = session.get(Config, "token1")
    token2 = session.get(Config, "token2")
    with StandInGateway(delete) as server:
        monkeypatch.setattr(verify_plugin, "URL", server.url)
        verify_plugin.send_to_gateway("POST", "/token/delete", [("Host", "x")], b"")
    # as on the monolith, where the request deleted it through this session: readable, detached
    assert token1.value == "HOTP1" and token1 not in session
    assert session.get(Config, "token1") is None
    assert token2 in session and token2.value == "HOTP2b"  # the surviving row is read again
    session.close()
