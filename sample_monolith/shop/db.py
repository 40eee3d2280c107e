"""SQLAlchemy engine, session and declarative base shared by every domain."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker

from shop.config import get_settings


class Base(DeclarativeBase):
    pass


SessionLocal = scoped_session(sessionmaker(autoflush=True))
_engine: Engine | None = None


def _enable_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def configure(database_url: str | None = None, *, echo: bool = False) -> Engine:
    """(Re)bind the session factory to a new engine."""
    global _engine
    url = database_url or get_settings().database_url
    if _engine is not None:
        SessionLocal.remove()
        _engine.dispose()
    kwargs: dict = {"echo": echo}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    _engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(_engine, "connect", _enable_sqlite_pragmas)
    SessionLocal.configure(bind=_engine)
    return _engine


def get_engine() -> Engine:
    return _engine if _engine is not None else configure()


def get_session() -> Session:
    get_engine()
    return SessionLocal()


def init_db() -> None:
    """Create all tables of the models imported so far."""
    Base.metadata.create_all(get_engine())


def shutdown_session(_exc: BaseException | None = None) -> None:
    SessionLocal.remove()
