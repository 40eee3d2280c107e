"""``decompose migrate-data``: the monolith's rows into the split system's databases.

Engine-level tests copy between real SQLite databases (schemas made by
SQLAlchemy as a service's ``create_all`` would, typed columns, foreign keys,
100,000 rows); the Docker test fills the PostgreSQL databases of the sample's
split system from a database its own suite populated, then compares the split
system's answers with the monolith's."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from decompose.runtime import migrate_data as md
from tests.cli_command import decompose_cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_monolith"


# --------------------------------------------------------------------------- pure helpers


def test_canonical_values_are_typed_and_equal_across_databases():
    aware = dt.datetime(2026, 1, 2, 4, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert md.canonical(aware) == md.canonical(dt.datetime(2026, 1, 2, 3, 4, 5))  # PostgreSQL timestamptz vs naive
    assert md.canonical(decimal.Decimal("1.50")) == md.canonical(decimal.Decimal("1.5"))
    assert md.canonical(True) != md.canonical(1)  # a boolean stored as 0/1 is a type change, never hidden
    assert md.canonical("1") != md.canonical(1)
    assert md.canonical(None) != md.canonical("N") != md.canonical("")
    assert md.canonical(memoryview(b"\x00\xff")) == md.canonical(b"\x00\xff")
    assert md.canonical({"b": 1, "a": [1, 2]}) == md.canonical({"a": [1, 2], "b": 1})


def test_checksum_ignores_row_order_but_not_values():
    rows = [(1, "a"), (2, "b"), (3, "c")]
    digests = [md.row_digest(["id", "name"], r) for r in rows]
    assert md.table_checksum(digests) == md.table_checksum(list(reversed(digests)))
    changed = digests[:2] + [md.row_digest(["id", "name"], (3, "C"))]
    assert md.table_checksum(changed) != md.table_checksum(digests)
    # column order of the SELECT does not matter, column names do
    assert md.row_digest(["id", "name"], (1, "a")) == md.row_digest(["name", "id"], ("a", 1))


def test_assignments_and_unassigned_tables():
    targets = [md.Target("shared", "sqlite://", ("orders", "customers")), md.Target("catalog", "sqlite://", ("products",))]
    pairs, unassigned = md.assignments(targets, ["orders", "customers", "products", "alembic_version"])
    assert [(t.name, table) for t, table in pairs] == [("catalog", "products"), ("shared", "customers"),
                                                      ("shared", "orders")]
    assert unassigned == ["alembic_version"]


def test_urls_and_options():
    assert md.redact("postgresql+psycopg://orders:s3cret@db:5432/orders") == "postgresql+psycopg://orders:***@db:5432/orders"
    assert md.source_url("postgresql://u:p@h/d") == "postgresql+psycopg://u:p@h/d"
    with pytest.raises(md.MigrationError, match="no such database file"):
        md.source_url("/nonexistent/monolith.db")
    assert md.parse_target_options(["orders=postgresql://o:p@h/orders"]) == {"orders": "postgresql+psycopg://o:p@h/orders"}
    with pytest.raises(md.MigrationError, match="expected DATABASE=URL"):
        md.parse_target_options(["orders"])


# --------------------------------------------------------------------------- engine level (real SQLite databases)


def _schema(meta: sa.MetaData) -> dict[str, sa.Table]:
    parent = sa.Table("categories", meta, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("name", sa.String(40), nullable=False),
                      sa.Column("created_at", sa.DateTime, nullable=False))
    child = sa.Table("products", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("category_id", sa.Integer, sa.ForeignKey("categories.id"), nullable=False),
                     sa.Column("price", sa.Numeric(10, 2)), sa.Column("active", sa.Boolean, nullable=False),
                     sa.Column("attrs", sa.JSON), sa.Column("image", sa.LargeBinary))
    other = sa.Table("audit", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("what", sa.Text))
    return {"categories": parent, "products": child, "audit": other}


@pytest.fixture()
def databases(tmp_path):
    """A populated monolith database and an empty service database (same schema, made by SQLAlchemy)."""
    src = f"sqlite:///{tmp_path / 'monolith.db'}"
    dst = f"sqlite:///{tmp_path / 'catalog.db'}"
    for url, rows in ((src, True), (dst, False)):
        meta = sa.MetaData()
        t = _schema(meta)
        engine = sa.create_engine(url)
        meta.create_all(engine)
        if rows:
            with engine.begin() as c:
                c.execute(t["categories"].insert(), [
                    {"id": i, "name": f"cat-{i}", "created_at": dt.datetime(2026, 1, i, 12, 30)} for i in range(1, 6)])
                c.execute(t["products"].insert(), [
                    {"id": i, "category_id": 1 + i % 5, "price": decimal.Decimal(f"{i}.25"), "active": i % 2 == 0,
                     "attrs": {"size": i, "tags": ["x", str(i)]}, "image": bytes([i % 256, 0, 255])}
                    for i in range(1, 301)])
                c.execute(t["audit"].insert(), [{"id": 1, "what": "monolith-only"}])
        engine.dispose()
    return src, dst, [md.Target("catalog", dst, ("categories", "products"))]


def _rows(url: str, table: str) -> list[tuple]:
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as c:
        return c.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def test_copies_typed_rows_and_proves_them(databases):
    src, dst, targets = databases
    report = md.migrate(src, targets)
    assert report.ok, report.to_dict()
    by = {r.table: r for r in report.tables}
    assert {t: (r.action, r.source_rows, r.target_rows) for t, r in by.items()} == {
        "categories": ("copied", 5, 5), "products": ("copied", 300, 300)}
    assert all(r.source_checksum == r.target_checksum for r in report.tables)
    assert report.unassigned == ["audit"]  # a table no service owns is reported, not copied
    assert _rows(src, "products") == _rows(dst, "products")
    assert report.to_dict()["rows_copied"] == 305


def test_idempotent_and_refuses_to_overwrite_without_force(databases):
    src, dst, targets = databases
    assert md.migrate(src, targets).ok
    again = md.migrate(src, targets)
    assert again.ok and {r.action for r in again.tables} == {"unchanged"}
    assert again.to_dict()["rows_copied"] == 0

    with sqlite3.connect(dst.removeprefix("sqlite:///")) as c:  # a service wrote its own row meanwhile
        c.execute("UPDATE categories SET name = 'renamed' WHERE id = 2")
        c.execute("DELETE FROM products WHERE id = 7")
    before = (_rows(dst, "categories"), _rows(dst, "products"))
    refused = md.migrate(src, targets)
    assert not refused.ok and refused.refused
    by = {r.table: r for r in refused.tables}
    assert by["categories"].action == "refused" and "--force" in by["categories"].detail
    assert (_rows(dst, "categories"), _rows(dst, "products")) == before  # nothing written at all

    forced = md.migrate(src, targets, force=True)
    assert forced.ok
    assert {r.table: r.action for r in forced.tables} == {"categories": "replaced", "products": "replaced"}
    assert _rows(dst, "categories") == _rows(src, "categories") and _rows(dst, "products") == _rows(src, "products")


def test_replacing_a_parent_rewrites_the_tables_referencing_it(databases):
    src, dst, targets = databases
    assert md.migrate(src, targets).ok
    with sqlite3.connect(dst.removeprefix("sqlite:///")) as c:
        c.execute("UPDATE categories SET name = 'renamed' WHERE id = 2")
    forced = md.migrate(src, targets, force=True)
    # products were unchanged, but their parent rows are deleted and rewritten: they are rewritten too
    assert {r.table: r.action for r in forced.tables} == {"categories": "replaced", "products": "replaced"}
    assert forced.ok


def test_an_interrupted_copy_leaves_nothing_half_written_and_the_next_run_resumes(databases):
    src, dst, targets = databases

    def interrupt(name, done, total):
        if name.endswith(".products") and done >= 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        md.migrate(src, targets, progress=interrupt, batch=100)
    assert _rows(dst, "categories") == [] and _rows(dst, "products") == []  # one transaction: rolled back
    resumed = md.migrate(src, targets)
    assert resumed.ok and {r.action for r in resumed.tables} == {"copied"}


def test_a_table_the_service_has_not_created_is_named_and_nothing_is_written(databases, tmp_path):
    src, dst, _ = databases
    targets = [md.Target("catalog", dst, ("categories", "products", "reviews"))]
    report = md.migrate(src, targets)
    assert not report.ok
    by = {r.table: r for r in report.tables}
    assert by["reviews"].action == "missing-in-source"
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    sa.create_engine(empty).connect().close()
    report = md.migrate(src, [md.Target("orders", empty, ("categories",))])
    assert [r.action for r in report.tables] == ["missing-in-target"]
    assert "decompose up" in report.tables[0].detail


def test_one_hundred_thousand_rows(tmp_path):
    src, dst = f"sqlite:///{tmp_path / 'm.db'}", f"sqlite:///{tmp_path / 's.db'}"
    for url in (src, dst):
        meta = sa.MetaData()
        t = sa.Table("movements", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("sku", sa.String(20)), sa.Column("qty", sa.Integer),
                     sa.Column("at", sa.DateTime))
        engine = sa.create_engine(url)
        meta.create_all(engine)
        if url == src:
            with engine.begin() as c:
                c.execute(t.insert(), [{"id": i, "sku": f"SKU-{i % 977}", "qty": i % 13 - 6,
                                       "at": dt.datetime(2026, 1, 1) + dt.timedelta(seconds=i)}
                                      for i in range(1, 100_001)])
        engine.dispose()
    report = md.migrate(src, [md.Target("inventory", dst, ("movements",))])
    assert report.ok
    (r,) = report.tables
    assert (r.source_rows, r.target_rows) == (100_000, 100_000) and r.source_checksum == r.target_checksum


# --------------------------------------------------------------------------- the CLI on a split system


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "out").mkdir()
    r = subprocess.run([*decompose_cli(), "migrate-data", str(tmp_path / "out"), "--from", str(tmp_path / "x.db")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("error:") and "decompose-output.json" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _serve_monolith(db: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "SHOP_DATABASE_URL": f"sqlite:///{db}", "SHOP_PORT": str(port), "PYTHONPATH": str(SAMPLE)}
    proc = subprocess.Popen([sys.executable, "-m", "shop"], cwd=SAMPLE, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(f"http://127.0.0.1:{port}/api/catalog/categories")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("the monolith did not start")


def populated_monolith_db(folder: Path) -> Path:
    """The sample's own suite, run over HTTP against the monolith, leaves its database populated."""
    db = folder / "monolith.db"
    port = _free_port()
    proc = _serve_monolith(db, port)
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=SAMPLE,
                           env={**os.environ, "SHOP_BASE_URL": f"http://127.0.0.1:{port}"},
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stdout[-2000:]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return db


def read_paths(db: Path) -> list[str]:
    """Every list and detail page of the sample for the rows in ``db``."""
    with sqlite3.connect(db) as c:
        def ids(t):
            return [r[0] for r in c.execute(f"SELECT id FROM {t} ORDER BY id")]
        paths = ["/api/catalog/categories", "/api/catalog/products", "/api/customers", "/api/inventory/low-stock",
                 "/api/inventory/reservations", "/api/inventory/valuation", "/api/notifications", "/api/orders",
                 "/api/payments", "/api/shipping/shipments"]
        paths += [f"/api/catalog/products/{i}" for i in ids("products")]
        paths += [f"/api/customers/{i}/addresses" for i in ids("customers")]
        paths += [f"/api/orders/{i}/history" for i in ids("orders")]
        paths += [f"/api/inventory/stock/{i}" for i in ids("products")]
        paths += [f"/api/payments/{i}" for i in ids("payments")]
        paths += [f"/api/shipping/shipments/{i}" for i in ids("shipments")]
    return paths


@pytest.mark.docker
def test_sample_data_moves_into_the_postgresql_databases_and_is_served_the_same(tmp_path):
    db = populated_monolith_db(tmp_path)
    bulk = 100_000  # a larger data set on top of what the suite left: stock movements of its products
    with sqlite3.connect(db) as c:
        products = [r[0] for r in c.execute("SELECT id FROM products ORDER BY id")]
        start = c.execute("SELECT COALESCE(MAX(id), 0) FROM stock_movements").fetchone()[0]
        c.executemany("INSERT INTO stock_movements (id, product_id, delta, reason, reference, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      [(start + i, products[i % len(products)], (i % 7) - 3, "adjustment", f"bulk-{i}",
                        f"2026-01-01 00:00:{i % 60:02d}.{i:06d}"[:26]) for i in range(1, bulk + 1)])
    cli = decompose_cli()
    plan = tmp_path / "plan.yaml"
    out = tmp_path / "out"
    run = lambda *a, timeout=900: subprocess.run([*cli, *a], capture_output=True, text=True, timeout=timeout)  # noqa: E731
    r = run("plan", str(SAMPLE), "-o", str(plan))
    assert r.returncode == 0, r.stderr
    plan.write_text(plan.read_text().replace("project: shop", "project: migratedata"))
    r = run("generate", "--plan", str(plan), "-o", str(out))
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "decompose-output.json").read_text())
    assert manifest["database"]["server"]["engine"] == "postgresql"
    assert run("build", str(out)).returncode == 0
    try:
        port = _free_port()
        r = run("up", str(out), "--port", str(port), "--timeout", "600")
        assert r.returncode == 0, "\n".join(line for line in r.stderr.splitlines() if " | " not in line)
        r = run("migrate-data", str(out), "--from", str(db), "--format", "json")
        assert r.returncode == 0, r.stderr[-3000:]
        report = json.loads(r.stdout)
        assert report["ok"] and report["rows_copied"] > bulk
        moved = next(t for t in report["tables"] if t["table"] == "stock_movements")
        assert moved["source_rows"] > bulk and moved["target_rows"] == moved["source_rows"]
        assert {t["database"] for t in report["tables"]} == {d["name"] for d in manifest["database"]["server"]["databases"]}
        assert all(t["source_rows"] == t["target_rows"] and t["source_checksum"] == t["target_checksum"]
                   for t in report["tables"])
        again = json.loads(run("migrate-data", str(out), "--from", str(db), "--format", "json").stdout)
        assert again["ok"] and again["rows_copied"] == 0

        mono_port = _free_port()
        proc = _serve_monolith(db, mono_port)
        try:
            paths = read_paths(db)
            differ = [p for p in paths
                      if _get(f"http://127.0.0.1:{mono_port}{p}") != _get(f"http://127.0.0.1:{port}{p}")]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        assert len(paths) > 100 and differ == []
    finally:
        run("down", str(out), timeout=300)
