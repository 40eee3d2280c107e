"""The PostgreSQL server image with the generated init script, as Kubernetes runs it: an arbitrary
non-root uid, read-only root, PGDATA a subfolder of the data volume, credentials as secret files.

The image is the one the generated files name (``postgres:15``: the official image, or the local
stand-in .ci/postgres-image.sh builds where Docker Hub is unreachable)."""

from __future__ import annotations

import os
import secrets
import time

import pytest

from decompose.generation import database as gdb

pytestmark = pytest.mark.docker

NAME = "pgimage-test-db"


@pytest.fixture
def server(tmp_path, docker_client_fixture):
    from docker.errors import ImageNotFound, NotFound

    client = docker_client_fixture
    try:
        client.images.get(gdb.DEFAULT_IMAGE)
    except ImageNotFound:
        pytest.fail(f"{gdb.DEFAULT_IMAGE} is not on this engine: bash .ci/postgres-image.sh builds it")
    dbs = [{"name": n, "file": gdb.secret_path(n)} for n in ("catalog", "shared")]
    passwords = {n: secrets.token_hex(16) for n in ("catalog", "shared")}
    sec = tmp_path / "secrets"
    sec.mkdir()
    (sec / gdb.PASSWORD_SECRET).write_text(secrets.token_hex(16) + "\n")
    for n, pw in passwords.items():
        (sec / gdb.secret_name(n)).write_text(gdb.url(n, pw) + "\n")
    initdb = tmp_path / "initdb"
    initdb.mkdir()
    (initdb / gdb.INIT_SCRIPT).write_text(gdb.init_script(dbs))
    data = tmp_path / "data"
    (data / "lost+found").mkdir(parents=True)  # a volume's root, as a PersistentVolume gives it
    for p in (sec, initdb, data, *sec.iterdir(), *initdb.iterdir()):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    os.chown(data, 10001, 10001)
    try:
        client.containers.get(NAME).remove(force=True)
    except NotFound:
        pass
    c = client.containers.run(
        gdb.DEFAULT_IMAGE, name=NAME, detach=True, user="10001:10001", read_only=True, cap_drop=["ALL"],
        tmpfs={"/tmp": "", "/var/run/postgresql": "uid=10001"},
        environment={"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres-password",
                     "PGDATA": gdb.K8S_PGDATA},
        volumes={str(sec): {"bind": "/run/secrets", "mode": "ro"},
                 str(initdb): {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"},
                 str(data): {"bind": gdb.DATA_DIR, "mode": "rw"}},
    )
    try:
        deadline = time.monotonic() + 300  # a loaded CI machine
        while c.exec_run(["pg_isready", "-q", "-h", "127.0.0.1", "-U", "postgres"]).exit_code != 0:
            c.reload()
            assert c.status == "running", c.logs().decode()[-3000:]
            assert time.monotonic() < deadline, c.logs().decode()[-3000:]
            time.sleep(1)
        yield c, passwords
    finally:
        c.remove(force=True)


def test_init_script_creates_a_database_and_role_per_url_secret_and_isolates_them(server):
    c, passwords = server

    def psql(url: str, sql: str = "SELECT current_user || '@' || current_database()"):
        r = c.exec_run(["psql", url, "-tAc", sql])
        return r.exit_code, r.output.decode().strip()

    assert "PostgreSQL init process complete" in c.logs().decode()
    code, out = psql("postgresql://postgres@/postgres?host=/var/run/postgresql",
                     "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE NOT datistemplate")
    assert (code, out) == (0, "catalog,postgres,shared")
    for db, pw in passwords.items():  # over TCP with the password of its URL secret
        assert psql(f"postgresql://{db}:{pw}@127.0.0.1:5432/{db}") == (0, f"{db}@{db}")
    # another service's database is closed to a role, and a wrong password is refused
    code, out = psql(f"postgresql://catalog:{passwords['catalog']}@127.0.0.1:5432/shared")
    assert code != 0 and "CONNECT privilege" in out, out
    code, out = psql("postgresql://catalog:wrong@127.0.0.1:5432/catalog")
    assert code != 0 and "password authentication failed" in out, out
    # PGDATA is the subfolder, owned by the uid the server runs as
    assert c.exec_run(["stat", "-c", "%u", gdb.K8S_PGDATA]).output.decode().strip() == "10001"
