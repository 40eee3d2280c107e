"""The split system's database: PostgreSQL by default (one server, a database per service, a shared
one, credentials as secret files), SQLite on request; what ``up --local`` and the services do with it."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from decompose.cli import app
from decompose.generation import database as gdb
from decompose.generation.output import generation_for, render_outputs, write_outputs
from decompose.runtime import database as rdb

from tests.generate_support import write_reference_plan


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory) -> Path:
    return write_reference_plan(tmp_path_factory.mktemp("dbplan") / "decompose.yaml")


@pytest.fixture(scope="module")
def outputs(plan_file):
    """(default output, --database sqlite output) of the sample, as file maps."""
    gen, root, facts, sources = generation_for(plan_file)
    pg = render_outputs(gen, facts, sources, root=root).files
    gen2, root2, facts2, sources2 = generation_for(plan_file, database="sqlite")
    lite = render_outputs(gen2, facts2, sources2, root=root2).files
    return gen, pg, gen2, lite


def test_engine_choice_follows_how_the_monolith_reaches_its_database():
    alchemy = {"a": ["flask==3.1.3", "SQLAlchemy==2.1.9"], "b": ["flask==3.1.3"]}
    plain = {"a": ["flask==3.1.3"]}
    assert gdb.resolve_engine("auto", alchemy, ["a", "b"])[:1] == ("postgresql",)
    assert gdb.resolve_engine("auto", {"a": ["Flask_SQLAlchemy>=3"]}, ["a"])[0] == "postgresql"
    engine, notes, problems = gdb.resolve_engine("auto", plain, ["a"])
    assert engine == "sqlite" and not problems and "--database postgresql" in notes[0]
    assert gdb.resolve_engine("sqlite", alchemy, ["a"]) == ("sqlite", [], [])
    # a forced server for a monolith that cannot take a URL, or a service named like the server: one line each
    assert "does not use SQLAlchemy" in gdb.resolve_engine("postgresql", plain, ["a"])[2][0]
    (problem,) = gdb.resolve_engine("auto", alchemy, ["postgres"])[2]
    assert "'postgres'" in problem and "rename" in problem
    assert "not one of" in gdb.resolve_engine("mysql", alchemy, ["a"])[2][0]


def test_one_database_per_service_and_a_shared_one(outputs):
    gen, files, _, _ = outputs
    m = json.loads(files["decompose-output.json"])
    server = m["database"]["server"]
    assert m["database"]["engine"] == "postgresql" and server["image"] == "postgres:15"
    dbs = {d["name"]: d for d in server["databases"]}
    shared = sorted(gen.shared_db_services)
    assert shared == ["customers", "notifications", "orders", "payments"]
    assert dbs["shared"]["services"] == shared
    own = sorted(set(gen.services) - set(shared))
    for name in own:  # a service using no shared table owns a database holding exactly its tables
        assert dbs[name]["services"] == [name] and dbs[name]["tables"] == gen.services[name].tables
    assert sorted(dbs) == sorted(own + ["shared"])
    assert set(gen.shared_tables) <= set(dbs["shared"]["tables"])
    # the init script creates exactly these databases, each from its own URL secret
    script = files["postgres/initdb.d/10-decompose-databases.sh"].decode()
    assert re.findall(r"^create_database (\S+) (\S+)$", script, re.M) == [
        (d, f"/run/secrets/db-{d}-url") for d in sorted(dbs)]


def test_compose_keeps_credentials_in_secret_files_and_waits_for_a_healthy_server(outputs):
    gen, files, _, _ = outputs
    compose = yaml.safe_load(files["compose.yaml"])
    pg = compose["services"]["postgres"]
    assert pg["image"] == "postgres:15" and "pg_isready" in pg["healthcheck"]["test"]
    assert pg["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-password"
    assert "./postgres/initdb.d:/docker-entrypoint-initdb.d:ro" in pg["volumes"]
    for name in gen.services:
        svc = compose["services"][name]
        assert svc["depends_on"]["postgres"] == {"condition": "service_healthy"}
        rpc, secret = svc["secrets"]  # the RPC secret (a file too) and its database URL
        assert rpc == {"source": "rpc-secret", "target": "/run/secrets/decompose/rpc-secret"}
        assert svc["environment"]["SHOP_DATABASE_URL_FILE"] == f"/run/secrets/{secret}"
        assert "volumes" not in svc  # no SQLite file anywhere
        reqs = files[f"services/{name}/requirements.txt"].decode().split()
        assert gdb.DRIVER_REQUIREMENT in reqs
    for unit in compose["services"].values():
        for value in (unit.get("environment") or {}).values():
            assert "://" not in value or value.startswith("http://"), value
    assert set(compose["secrets"]) == {"postgres-password", "rpc-secret", *(f"db-{d}-url" for d in
                                                              ("catalog", "inventory", "shared", "shipping"))}
    assert all(s["file"].startswith("secrets/") for s in compose["secrets"].values())
    assert compose["volumes"] == {"postgres-data": {}}


def test_sqlite_on_request_keeps_the_files_on_volumes(outputs):
    _, pg_files, gen, files = outputs
    assert gen.database_engine == "sqlite"
    m = json.loads(files["decompose-output.json"])
    assert m["database"]["server"] is None
    cat = next(s for s in m["services"] if s["name"] == "catalog")
    assert cat["env"]["SHOP_DATABASE_URL"] == "sqlite:////data/catalog.db" and cat["database_server"] is None
    compose = yaml.safe_load(files["compose.yaml"])
    assert "postgres" not in compose["services"]
    assert compose["secrets"] == {"rpc-secret": {"file": "secrets/rpc-secret"}}  # no database credential
    assert not any(p.startswith(("k8s/base/postgres/", "postgres/")) for p in files)
    assert not any(p.startswith("k8s/base/postgres/") for p in files)
    assert any(p.startswith("k8s/base/postgres/") for p in pg_files)
    assert gdb.DRIVER_REQUIREMENT not in files["services/catalog/requirements.txt"].decode()


def test_generate_cli_database_options(plan_file, tmp_path):
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan_file), "--output", str(tmp_path / "o"),
                                 "--postgres-image", "registry.example.com/postgres:16.4"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "o/decompose-output.json").read_text())
    assert m["database"]["server"]["image"] == "registry.example.com/postgres:16.4"
    assert "registry.example.com/postgres:16.4" in (tmp_path / "o/k8s/base/postgres/statefulset.yaml").read_text()
    bad = CliRunner().invoke(app, ["generate", "--plan", str(plan_file), "--output", str(tmp_path / "p"),
                                   "--postgres-image", "postgres:15; rm -rf /"])
    assert bad.exit_code != 0 and "PostgreSQL image" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "p").exists()


def test_make_secrets_writes_what_is_missing_and_never_overwrites(outputs, tmp_path):
    _, files, _, _ = outputs
    out = tmp_path / "out"
    write_outputs(out, files)
    script = [sys.executable, str(out / "make-secrets.py")]
    check = subprocess.run([*script, "--check"], capture_output=True, text=True)
    assert check.returncode == 1 and "missing: secrets/db-shared-url" in check.stdout
    assert not (out / "secrets/db-shared-url").exists()
    first = subprocess.run(script, capture_output=True, text=True, check=True)
    assert "written: k8s/overlays/prod/secrets/postgres-password" in first.stdout
    url = (out / "secrets/db-shared-url").read_text().strip()
    assert re.fullmatch(r"postgresql\+psycopg://shared:[0-9a-f]{64}@postgres:5432/shared", url)
    # compose mounts the file into containers of other users: readable, inside a folder only the owner enters
    assert stat.S_IMODE((out / "secrets/db-shared-url").stat().st_mode) == 0o644
    assert stat.S_IMODE((out / "secrets").stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "k8s/overlays/dev/secrets/db-shared-url").stat().st_mode) == 0o600
    # the RPC secret too is a compose secret (bind-mounted at /run/secrets/decompose/rpc-secret): readable there
    assert stat.S_IMODE((out / "secrets/rpc-secret").stat().st_mode) == 0o644
    assert re.fullmatch(r"[0-9a-f]{64}", (out / "secrets/rpc-secret").read_text().strip())
    assert not (out / "secrets/rpc.env").exists()
    assert stat.S_IMODE((out / "k8s/overlays/prod/secrets/rpc-secret").stat().st_mode) == 0o600
    # every place its own passwords
    assert (out / "k8s/overlays/dev/secrets/db-shared-url").read_text() != (out / "secrets/db-shared-url").read_text()
    again = subprocess.run(script, capture_output=True, text=True, check=True)
    assert again.stdout.strip() == "every secret is in place"
    assert (out / "secrets/db-shared-url").read_text().strip() == url
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0


def test_service_reads_its_database_url_from_the_secret_file(outputs, tmp_path):
    _, files, _, _ = outputs
    out = tmp_path / "out"
    write_outputs(out, files)
    src = out / "services/catalog/app"
    secret = tmp_path / "db-catalog-url"
    secret.write_text(f"sqlite:///{tmp_path}/catalog.db\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SHOP_", "DECOMPOSE_"))}
    code = "import os, decompose_rt; print(os.environ['SHOP_DATABASE_URL'])"
    r = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True,
                       env={**base, "PYTHONPATH": str(src), "SHOP_DATABASE_URL_FILE": str(secret)})
    assert r.returncode == 0 and r.stdout.strip() == f"sqlite:///{tmp_path}/catalog.db", r.stderr
    missing = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True,
                             env={**base, "PYTHONPATH": str(src), "SHOP_DATABASE_URL_FILE": str(tmp_path / "nope")})
    assert missing.returncode != 0
    assert f"SHOP_DATABASE_URL_FILE={tmp_path / 'nope'}: cannot read the database URL secret" in missing.stderr


def test_runtime_reads_the_server_and_local_runs_get_one_sqlite_file_per_database(outputs, tmp_path):
    _, files, _, lite = outputs
    out = tmp_path / "out"
    write_outputs(out, files)
    server = rdb.load_server(out)
    assert server is not None and server.name == "postgres" and server.env == "SHOP_DATABASE_URL"
    assert server.initdb == (out / "postgres/initdb.d").resolve()
    assert rdb.file_envs(out) == {"SHOP_DATABASE_URL_FILE"}
    envs = {}
    for name in ("orders", "payments", "catalog"):
        env = {"SHOP_DATABASE_URL_FILE": "/run/secrets/x"}
        rdb.local_env(env, server, name, tmp_path / "vols")
        envs[name] = env
    assert "SHOP_DATABASE_URL_FILE" not in envs["orders"]
    assert envs["orders"]["SHOP_DATABASE_URL"] == envs["payments"]["SHOP_DATABASE_URL"]  # the shared database
    assert envs["catalog"]["SHOP_DATABASE_URL"] == f"sqlite:///{(tmp_path / 'vols/catalog-db/catalog.db').resolve()}"
    made = rdb.new_secrets(server, tmp_path / "run")
    assert sorted(made) == sorted(["postgres-password", *(d.secret for d in server.databases)])
    assert made["db-catalog-url"].read_text().startswith("postgresql+psycopg://catalog:")
    assert rdb.service_mounts(server, "catalog", made) == {
        str(made["db-catalog-url"]): {"bind": "/run/secrets/db-catalog-url", "mode": "ro"}}
    lite_out = tmp_path / "lite"
    write_outputs(lite_out, lite)
    assert rdb.load_server(lite_out) is None and rdb.file_envs(lite_out) == set()
