"""``decompose migrate-data``: the monolith's rows into the split system's databases (adapter: SQLAlchemy).

The generated system has one database per service for the tables it owns and a
shared one for tables several services still use (``decompose-output.json``,
``database.server.databases``: name, URL secret, services, tables).  This module
copies each of those tables from the monolith's database (SQLite file or any
SQLAlchemy URL) into every database that lists it, then proves the copy: the
row count and a checksum of the rows are computed on both sides.

* **Schema**: the services own their schema (they create their tables at start,
  as the monolith does), so the split system must have run once; a table that
  is missing in a target, or a column the target lacks, is a finding, never
  created with a guessed type.  Values are read through the source's reflected
  types and written through the target's (SQLite's text dates become
  timestamps, 0/1 booleans), so the checksum compares typed values.
* **Checksum**: SHA-256 over the sorted SHA-256 digests of the rows, each row a
  canonical text of its typed values in column-name order (:func:`canonical`):
  independent of row order and collation, equal across SQLite and PostgreSQL
  for the same data.
* **Idempotent and resumable**: a table whose target already holds exactly the
  source's rows (count and checksum) is left alone; every table is copied in
  one transaction, so an interrupted run leaves each table either complete or
  untouched, and the next run copies what is missing.
* **Nothing overwritten by surprise**: before anything is written every target
  table is checked; one holding other rows is refused (the whole run writes
  nothing) unless ``force`` replaces its rows.
* PostgreSQL sequences of integer keys are moved past the copied ids, so the
  services' next inserts do not collide.

Pure helpers (:func:`canonical`, :func:`row_digest`, :func:`table_checksum`,
:func:`assignments`) take and return plain data; :func:`migrate` is the adapter.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Rows written per ``executemany`` batch (and per progress tick).
BATCH = 5000


class MigrationError(ValueError):
    """The migration cannot start (bad URL, unreachable database, no databases to fill)."""


@dataclass(frozen=True)
class Target:
    """One database of the split system: where it is and which tables it holds."""

    name: str
    url: str
    tables: tuple[str, ...]


@dataclass
class TableResult:
    database: str
    table: str
    action: str  # copied | unchanged | replaced | refused | missing-in-target | missing-in-source | mismatch | failed
    source_rows: int = 0
    target_rows: int = 0
    source_checksum: str = ""
    target_checksum: str = ""
    seconds: float = 0.0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.action in ("copied", "unchanged", "replaced")


@dataclass
class Report:
    source: str
    tables: list[TableResult] = field(default_factory=list)
    #: source tables no database of the split system holds (e.g. alembic_version)
    unassigned: list[str] = field(default_factory=list)
    refused: bool = False

    @property
    def ok(self) -> bool:
        return not self.refused and all(t.ok for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": redact(self.source),
            "ok": self.ok,
            "refused": self.refused,
            "tables": [asdict(t) for t in self.tables],
            "unassigned": sorted(self.unassigned),
            "rows_copied": sum(t.source_rows for t in self.tables if t.action in ("copied", "replaced")),
        }


# --------------------------------------------------------------------------- pure helpers


def canonical(value: Any) -> str:
    """One typed value as text that is equal across databases for equal data."""
    if value is None:
        return "N"
    if isinstance(value, bool):
        return "B1" if value else "B0"
    if isinstance(value, int):
        return f"I{value}"
    if isinstance(value, float):
        return f"F{value!r}"
    if isinstance(value, decimal.Decimal):
        return f"D{value.normalize():f}" if value.is_finite() else f"D{value}"
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC).replace(tzinfo=None)
        return f"T{value.isoformat()}"
    if isinstance(value, (_dt.date, _dt.time)):
        return f"T{value.isoformat()}"
    if isinstance(value, _dt.timedelta):
        return f"V{value.total_seconds()!r}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"X{bytes(value).hex()}"
    if isinstance(value, str):
        return f"S{value}"
    if isinstance(value, uuid.UUID):
        return f"U{value}"
    if isinstance(value, (dict, list)):
        return "J" + json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return f"O{value}"


def row_digest(columns: Sequence[str], row: Sequence[Any]) -> bytes:
    text = "\x1f".join(f"{c}={canonical(v)}" for c, v in sorted(zip(columns, row, strict=True)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def table_checksum(digests: Iterable[bytes]) -> str:
    """Order-independent checksum of a table's row digests."""
    h = hashlib.sha256()
    for d in sorted(digests):
        h.update(d)
    return h.hexdigest()


def assignments(targets: Sequence[Target], source_tables: Iterable[str]) -> tuple[list[tuple[Target, str]], list[str]]:
    """(every (database, table) to fill, source tables no database holds)."""
    pairs = [(t, table) for t in sorted(targets, key=lambda t: t.name) for table in sorted(set(t.tables))]
    held = {table for _, table in pairs}
    return pairs, sorted(set(source_tables) - held)


def redact(url: str) -> str:
    """A URL with its password replaced, for reports and errors."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def source_url(source: str) -> str:
    """A SQLAlchemy URL for ``--from``: a URL as it is (``postgresql://`` gets the psycopg driver), else a SQLite file."""
    if "://" in source:
        if source.startswith("postgresql://") or source.startswith("postgres://"):
            return "postgresql+psycopg://" + source.split("://", 1)[1]
        return source
    path = Path(source)
    if not path.is_file():
        raise MigrationError(f"{source}: no such database file (give a SQLite file or a database URL)")
    return "sqlite:///" + str(path.resolve())


# --------------------------------------------------------------------------- adapter


def _engine(url: str, what: str):
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        return sa.create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise MigrationError(f"{what} {redact(url)}: {' '.join(str(exc).split())}") from None


def _reflect(engine, what: str, only: Iterable[str] | None = None):
    import sqlalchemy as sa
    from sqlalchemy.exc import SQLAlchemyError

    meta = sa.MetaData()
    try:
        names = set(sa.inspect(engine).get_table_names())
        meta.reflect(engine, only=sorted(names & set(only)) if only is not None else None)
    except SQLAlchemyError as exc:
        raise MigrationError(f"{what} {redact(str(engine.url.render_as_string(hide_password=True)))}: "
                             f"{' '.join(str(exc.orig if getattr(exc, 'orig', None) else exc).split())[:300]}") from None
    return meta


def _digests(conn, table, columns: Sequence[str]) -> tuple[int, str]:
    import sqlalchemy as sa

    digests = [row_digest(columns, row) for row in conn.execute(sa.select(*(table.c[c] for c in columns)))]
    return len(digests), table_checksum(digests)


def _order(meta, names: Iterable[str]) -> list[str]:
    """Tables in foreign-key order (parents first), the rest by name."""
    wanted = set(names)
    ordered = [t.name for t in meta.sorted_tables if t.name in wanted]
    return ordered + sorted(wanted - set(ordered))


def _rewrites(plan, metas) -> dict[str, list[tuple[TableResult, list[str]]]]:
    """Per database, the tables to (re)write: those not unchanged, and - when a table's rows are
    replaced - every table of that database referencing it, so no foreign key is left dangling."""
    out: dict[str, list[tuple[TableResult, list[str]]]] = {}
    by_db: dict[str, dict[str, tuple[TableResult, list[str]]]] = {}
    for target, r, columns in plan:
        by_db.setdefault(target.name, {})[r.table] = (r, columns)
    for db, items in sorted(by_db.items()):
        meta = metas[db]
        chosen = {name for name, (r, _) in items.items() if r.action != "unchanged"}
        replaced = {name for name in chosen if items[name][0].target_rows}
        grew = True
        while grew:
            grew = False
            for name in sorted(set(items) - chosen):
                refs = {fk.column.table.name for fk in meta.tables[name].foreign_keys}
                if refs & replaced:
                    chosen.add(name)
                    if items[name][0].target_rows:
                        replaced.add(name)
                    grew = True
        if chosen:
            out[db] = [items[name] for name in sorted(chosen)]
    return out


def _reset_sequences(conn, table) -> None:
    import sqlalchemy as sa

    if conn.dialect.name != "postgresql":
        return
    for col in table.primary_key.columns:
        try:
            python_type = col.type.python_type
        except NotImplementedError:
            continue
        if python_type is not int:
            continue
        seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                           {"t": table.name, "c": col.name}).scalar()
        if seq:
            conn.execute(sa.text(f'SELECT setval(:s, COALESCE((SELECT MAX("{col.name}") FROM "{table.name}"), 1), '
                                 f'(SELECT MAX("{col.name}") FROM "{table.name}") IS NOT NULL)'), {"s": seq})


Progress = Callable[[str, int, int], None]


def migrate(source: str, targets: Sequence[Target], *, force: bool = False,
            progress: Progress | None = None, batch: int = BATCH) -> Report:
    """Copy every target's tables from ``source`` (see the module docstring); never raises for a table's problem."""
    import sqlalchemy as sa
    from sqlalchemy.exc import SQLAlchemyError

    if not targets:
        raise MigrationError("the split system lists no database to fill (generated with --database sqlite and no "
                             "--target given?)")
    src_url = source_url(source)
    src_engine = _engine(src_url, "source")
    src_meta = _reflect(src_engine, "source")
    report = Report(source=src_url)
    pairs, report.unassigned = assignments(targets, src_meta.tables)
    engines = {t.name: _engine(t.url, f"database {t.name}") for t in targets}
    metas = {t.name: _reflect(engines[t.name], f"database {t.name}", t.tables) for t in targets}

    # 1. preflight: counts, checksums and schema of every pair, before anything is written
    plan: list[tuple[Target, TableResult, list[str]]] = []
    with src_engine.connect() as sconn:
        for target, name in pairs:
            r = TableResult(database=target.name, table=name, action="")
            src_t = src_meta.tables.get(name)
            dst_t = metas[target.name].tables.get(name)
            if src_t is None:
                r.action, r.detail = "missing-in-source", "the monolith's database has no such table"
                report.tables.append(r)
                continue
            if dst_t is None:
                r.action = "missing-in-target"
                r.detail = (f"database {target.name} has no table {name}: start the split system once "
                            "(decompose up) so that its services create their tables, then run again")
                report.tables.append(r)
                continue
            lacking = sorted(set(src_t.c.keys()) - set(dst_t.c.keys()))
            if lacking:
                r.action = "missing-in-target"
                r.detail = f"database {target.name}, table {name} lacks column(s) {', '.join(lacking)}"
                report.tables.append(r)
                continue
            columns = sorted(src_t.c.keys())
            r.source_rows, r.source_checksum = _digests(sconn, src_t, columns)
            with engines[target.name].connect() as tconn:
                r.target_rows, r.target_checksum = _digests(tconn, dst_t, columns)
            if r.target_rows == r.source_rows and r.target_checksum == r.source_checksum:
                r.action = "unchanged"
            elif r.target_rows and not force:
                r.action = "refused"
                r.detail = (f"database {target.name}, table {name} already holds {r.target_rows} row(s) that differ "
                            f"from the monolith's {r.source_rows}: --force replaces them")
                report.refused = True
            report.tables.append(r)
            plan.append((target, r, columns))
    if report.refused or any(r.action.startswith("missing-in-target") for r in report.tables):
        return _finish(report, engines, src_engine)

    # 2. copy, one transaction per database (children emptied first, parents filled first)
    by_db: dict[str, list[tuple[TableResult, list[str]]]] = {}
    for db, items in _rewrites(plan, metas).items():
        by_db[db] = items
    for db, items in sorted(by_db.items()):
        meta = metas[db]
        order = _order(meta, [r.table for r, _ in items])
        todo = {r.table: (r, cols) for r, cols in items}
        try:
            with engines[db].begin() as tconn, src_engine.connect() as sconn:
                for name in reversed(order):
                    r, _ = todo[name]
                    if r.target_rows:
                        tconn.execute(meta.tables[name].delete())
                for name in order:
                    r, columns = todo[name]
                    started = time.monotonic()
                    dst_t = meta.tables[name]
                    src_t = src_meta.tables[name]
                    done = 0
                    if progress:
                        progress(f"{db}.{name}", 0, r.source_rows)
                    result = sconn.execution_options(stream_results=True, yield_per=batch).execute(
                        sa.select(*(src_t.c[c] for c in columns)))
                    for chunk in result.partitions(batch):
                        tconn.execute(dst_t.insert(), [dict(zip(columns, row, strict=True)) for row in chunk])
                        done += len(chunk)
                        if progress:
                            progress(f"{db}.{name}", done, r.source_rows)
                    _reset_sequences(tconn, dst_t)
                    r.action = "replaced" if r.target_rows else "copied"
                    r.seconds = round(time.monotonic() - started, 3)
        except SQLAlchemyError as exc:
            for r, _ in items:
                if r.action in ("", "copied", "replaced"):
                    r.action = "failed"
                    r.detail = "rolled back: " + " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
            continue
        # 3. verify what was written, read back through the target
        with engines[db].connect() as tconn:
            for name in order:
                r, columns = todo[name]
                r.target_rows, r.target_checksum = _digests(tconn, meta.tables[name], columns)
                if (r.target_rows, r.target_checksum) != (r.source_rows, r.source_checksum):
                    r.detail = (f"after the copy {r.target_rows} row(s), checksum {r.target_checksum[:12]} against "
                                f"the monolith's {r.source_rows}, {r.source_checksum[:12]}: a column type differs "
                                "between the two databases")
                    r.action = "mismatch"
    return _finish(report, engines, src_engine)


def _finish(report: Report, engines: Mapping[str, Any], src_engine) -> Report:
    for e in engines.values():
        e.dispose()
    src_engine.dispose()
    report.tables.sort(key=lambda r: (r.database, r.table))
    return report


# --------------------------------------------------------------------------- where the split system's databases are


def manifest_databases(out: Path) -> list[dict[str, Any]]:
    """``database.server.databases`` of the output folder's manifest ([] for a SQLite system)."""
    from decompose.runtime.database import MANIFEST_NAME

    try:
        data = json.loads((Path(out) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MigrationError(f"{out}: no {MANIFEST_NAME} (not an output folder of `decompose generate`)") from None
    except (OSError, ValueError) as exc:
        raise MigrationError(f"{Path(out) / MANIFEST_NAME}: cannot read: {exc}") from None
    server = ((data.get("database") or {}).get("server") or {}) if isinstance(data, dict) else {}
    rows = server.get("databases") if isinstance(server, dict) else None
    if not isinstance(rows, list):
        return []
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("name"), str)]


def parse_target_options(values: Sequence[str]) -> dict[str, str]:
    """``--target NAME=URL`` options as {database: URL}."""
    out: dict[str, str] = {}
    for v in values:
        name, sep, url = v.partition("=")
        if not sep or not name or "://" not in url:
            raise MigrationError(f"--target {v!r}: expected DATABASE=URL, e.g. orders=postgresql://orders:PW@host/orders")
        out[name] = source_url(url)
    return out


def targets_of(out: Path, *, local: bool = False, explicit: Mapping[str, str] | None = None,
               client: Any = None) -> list[Target]:
    """The databases of the split system in ``out`` with their URLs.

    ``explicit`` (``--target NAME=URL``) wins; else ``local`` takes the SQLite files of
    ``decompose up --local``; else the PostgreSQL server that ``decompose up`` runs
    (its container's address on the project network, the run's credentials)."""
    rows = manifest_databases(out)
    if not rows:
        raise MigrationError(f"{out}: the split system has no database server (generated with --database sqlite): "
                             "its services keep their SQLite files; give --target NAME=URL to fill other databases")
    explicit = dict(explicit or {})
    unknown = sorted(set(explicit) - {r["name"] for r in rows})
    if unknown:
        raise MigrationError(f"--target {unknown[0]}: the split system has no database of that name "
                             f"(it has {', '.join(sorted(r['name'] for r in rows))})")
    from decompose.runtime.runner import run_dir

    host = ""
    if not local and len(explicit) < len(rows):
        host = _server_address(out, client)
    targets = []
    for r in sorted(rows, key=lambda r: r["name"]):
        name, tables = r["name"], tuple(sorted(map(str, r.get("tables") or ())))
        if name in explicit:
            url = explicit[name]
        elif local:
            path = run_dir(out) / "volumes" / f"{name}-db" / f"{name}.db"
            if not path.is_file():
                raise MigrationError(f"{path}: no database file: start the system with `decompose up --local {out}` "
                                     "first, so that its services create their tables")
            url = "sqlite:///" + str(path.resolve())
        else:
            url = _run_url(out, str(r.get("secret") or ""), host)
        targets.append(Target(name=name, url=url, tables=tables))
    return targets


def _run_url(out: Path, secret: str, host: str) -> str:
    from decompose.runtime.database import secrets_folder
    from decompose.runtime.runner import run_dir

    path = secrets_folder(run_dir(out)) / secret
    try:
        url = path.read_text(encoding="utf-8").strip()
    except OSError:
        raise MigrationError(f"{path}: no credentials of a running system: start it with `decompose up {out}` "
                             "(or give --target NAME=URL)") from None
    scheme, rest = url.split("://", 1)
    creds, location = rest.rsplit("@", 1)
    port_db = location.split(":", 1)[1] if ":" in location else location
    # the app's own scheme (LNbits' ``postgres://``) is SQLAlchemy's with psycopg here
    return source_url(f"{scheme}://{creds}@{host}:{port_db}")


def _server_address(out: Path, client: Any) -> str:
    """The IP address of the running database server container of ``out``'s project."""
    from decompose.runtime.database import ROLE
    from decompose.runtime.docker_build import LABEL_PROJECT, LABEL_ROLE, ManifestError, load_manifest

    try:
        project = load_manifest(out).project
    except ManifestError as exc:
        raise MigrationError(str(exc)) from None
    if client is None:
        from decompose.runtime.docker_build import EngineUnavailable, docker_client

        try:
            client = docker_client()
        except EngineUnavailable as exc:
            raise MigrationError(str(exc)) from None
    found = client.containers.list(filters={"label": [f"{LABEL_PROJECT}={project}", f"{LABEL_ROLE}={ROLE}"]})
    if not found:
        raise MigrationError(f"no database server of project {project} is running: start the system with "
                             f"`decompose up {out}` (or give --target NAME=URL)")
    networks = (found[0].attrs.get("NetworkSettings") or {}).get("Networks") or {}
    for _, net in sorted(networks.items()):
        if net.get("IPAddress"):
            return str(net["IPAddress"])
    raise MigrationError(f"the database server container {found[0].name} has no network address")
