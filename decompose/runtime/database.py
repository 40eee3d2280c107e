"""The split system's database server under ``decompose up`` (infrastructure adapter).

``decompose generate`` with PostgreSQL (the default for a monolith using
SQLAlchemy) lists the server in ``decompose-output.json`` (``database.server``:
image, port, init script folder, one row per database with its URL secret and
the services using it).  Each service's environment names its URL secret file
(``<DATABASE_ENV>_FILE``), never the URL.

Docker (:func:`start_server`): every ``up`` makes fresh credentials - a
superuser password and one URL per database with a random password
(:func:`new_secrets`, files of mode 0644 in ``OUT/.decompose-run/database/``,
a folder only its owner may enter) - and starts the server from its image on
the project's network under the name the URLs use, each secret bind-mounted as
a file under ``/run/secrets`` (as compose does), the generated init script at
``/docker-entrypoint-initdb.d`` and the data on a labelled volume that
``down`` removes.  :func:`wait_ready` waits for the container's healthcheck
(``pg_isready``): the init script has created every database and role by then.
Each service gets only its own URL file.

Local processes (``up --local``) and ``decompose verify`` run without a
server: :func:`local_env` replaces the URL file by a SQLite database under
``OUT/.decompose-run/volumes/`` (one per database, so services sharing one
still share it), and under verify the shared verify database is forced anyway.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from decompose.fsio import atomic_write

MANIFEST_NAME = "decompose-output.json"
ROLE = "database"
SECRETS_FOLDER = "database"  # in the run folder
#: ``up --local``: the SQLite file of a service whose app takes only server URLs in its database variable
LOCAL_DATABASE_ENV = "DECOMPOSE_LOCAL_DATABASE"


class DatabaseError(ValueError):
    """The manifest's database server entry is unusable."""


@dataclass(frozen=True)
class Database:
    name: str  # database = role
    secret: str  # secret (file) name
    file: str  # where the services and the server read it
    services: tuple[str, ...]


@dataclass(frozen=True)
class Server:
    name: str
    image: str
    port: int
    superuser: str
    password_secret: str
    secrets_dir: str
    initdb: Path  # absolute, in the output folder
    data_dir: str
    url_scheme: str
    env: str  # the monolith's database variable
    databases: tuple[Database, ...]
    #: whether the app takes a ``sqlite:///`` URL in ``env`` (its own checks may let only server URLs through)
    takes_sqlite: bool = True

    def database_of(self, service: str) -> Database | None:
        for d in self.databases:
            if service in d.services:
                return d
        return None

    def url(self, db: str, password: str) -> str:
        return f"{self.url_scheme}://{db}:{password}@{self.name}:{self.port}/{db}"


def _takes_sqlite(schemes: list[str]) -> bool:
    return not schemes or any(x.startswith("sqlite") for x in schemes)


def load_server(root: Path) -> Server | None:
    """The server ``decompose-output.json`` in ``root`` describes, or None (SQLite, or an older manifest)."""
    try:
        data = json.loads((Path(root) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    database = data.get("database") if isinstance(data, dict) else None
    raw = database.get("server") if isinstance(database, dict) else None
    if not raw:
        return None
    where = f"{MANIFEST_NAME}: database.server"
    try:
        initdb = (Path(root) / str(raw["initdb"])).resolve()
        if Path(root).resolve() not in initdb.parents:
            raise DatabaseError(f"{where}: initdb {raw['initdb']!r} must be a folder inside the output folder")
        dbs = tuple(Database(str(d["name"]), str(d["secret"]), str(d["file"]), tuple(map(str, d["services"])))
                    for d in raw["databases"])
        return Server(
            name=str(raw["name"]), image=str(raw["image"]), port=int(raw["port"]), superuser=str(raw["superuser"]),
            password_secret=str(raw["password_secret"]), secrets_dir=str(raw["secrets_dir"]), initdb=initdb,
            data_dir=str(raw["data_dir"]), url_scheme=str(raw["url_scheme"]), env=str(database.get("env") or ""),
            databases=dbs,
            takes_sqlite=_takes_sqlite([str(x) for x in database.get("schemes") or []]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, DatabaseError):
            raise
        raise DatabaseError(f"{where}: {type(exc).__name__}: {exc}") from None


def file_envs(root: Path) -> set[str]:
    """The variable naming the services' database URL file (``<DATABASE_ENV>_FILE``), if a server is listed."""
    try:
        server = load_server(root)
    except DatabaseError:
        return set()
    return {server.env + "_FILE"} if server is not None and server.env else set()


def secrets_folder(run_dir: Path) -> Path:
    return Path(run_dir) / SECRETS_FOLDER


def new_secrets(server: Server, run_dir: Path) -> dict[str, Path]:
    """Fresh credentials for one run: secret name -> host file."""
    folder = secrets_folder(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # the files are world-readable for the containers' users; the folder is not
    out = {server.password_secret: folder / server.password_secret}
    atomic_write(out[server.password_secret], secrets.token_hex(32) + "\n", force=True)
    for d in server.databases:
        out[d.secret] = folder / d.secret
        atomic_write(out[d.secret], server.url(d.name, secrets.token_hex(32)) + "\n", force=True)
    for path in out.values():
        os.chmod(path, 0o644)
    return out


def server_mounts(server: Server, files: Mapping[str, Path]) -> dict[str, dict[str, str]]:
    mounts = {str(path): {"bind": f"{server.secrets_dir}/{name}", "mode": "ro"} for name, path in sorted(files.items())}
    mounts[str(server.initdb)] = {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"}
    return mounts


def service_mounts(server: Server, service: str, files: Mapping[str, Path]) -> dict[str, dict[str, str]]:
    """The one URL file of ``service`` (nothing for a service without a database)."""
    d = server.database_of(service)
    if d is None:
        return {}
    return {str(files[d.secret]): {"bind": d.file, "mode": "ro"}}


def missing_image(client, server: Server) -> str:
    """Why the server's image cannot be run here ("" when it is on the engine)."""
    from docker.errors import ImageNotFound

    try:
        client.images.get(server.image)
    except ImageNotFound:
        return (f"the database image {server.image} is not on this engine (`docker pull {server.image}`, "
                "or regenerate with --postgres-image IMAGE or --database sqlite)")
    return ""


def run_server(client, server: Server, *, deadline: float, **kwargs) -> tuple[object | None, str]:
    """Start the server (:func:`start_server`) and wait until it is healthy: (container, why not; "" = ready)."""
    from docker.errors import APIError

    try:
        container = start_server(client, server, **kwargs)
    except APIError as exc:
        return None, "cannot start container: " + " ".join(str(exc.explanation or exc).split())
    ok, why = wait_ready(container, deadline=deadline)
    return container, "" if ok else why


def start_server(client, server: Server, *, network: str, container_name: str,
                 labels: Mapping[str, str], volume: str, files: Mapping[str, Path]):
    """Create and start the server container (Docker SDK); returns it."""
    from docker.errors import NotFound

    try:
        client.volumes.get(volume)
    except NotFound:
        client.volumes.create(volume, labels={k: v for k, v in labels.items() if k.endswith(".project")})
    mounts = server_mounts(server, files)
    mounts[volume] = {"bind": server.data_dir, "mode": "rw"}
    check = ["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(server.port), "-U", server.superuser]
    c = client.containers.create(
        server.image,
        name=container_name,
        hostname=server.name,
        user="999:999",
        environment={"POSTGRES_USER": server.superuser,
                     "POSTGRES_PASSWORD_FILE": f"{server.secrets_dir}/{server.password_secret}"},
        labels=dict(labels),
        network=network,
        networking_config={network: client.api.create_endpoint_config(aliases=[server.name])},
        volumes=mounts,
        healthcheck={"test": check, "interval": 1_000_000_000, "timeout": 3_000_000_000, "retries": 120,
                     "start_period": 0},
        read_only=True,
        tmpfs={"/tmp": "rw,nosuid,nodev", "/var/run/postgresql": "rw,nosuid,nodev"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        detach=True,
    )
    c.start()
    return c


def wait_ready(container, *, deadline: float) -> tuple[bool, str]:
    """(healthy, why not): the healthcheck passes, or the container exited / the deadline passed."""
    why = "not started"
    while True:
        container.reload()
        state = container.attrs.get("State") or {}
        if not state.get("Running"):
            return False, f"exited with code {state.get('ExitCode')}"
        health = (state.get("Health") or {}).get("Status", "")
        if health == "healthy":
            return True, ""
        why = f"not ready yet ({health or 'starting'})"
        if time.monotonic() >= deadline:
            return False, why
        time.sleep(0.5)


def local_env(env: dict[str, str], server: Server | None, service: str, volumes_dir: Path) -> None:
    """``up --local``: the service's URL file becomes a SQLite file of its database (no server runs)."""
    if server is None or not server.env:
        return
    env.pop(server.env + "_FILE", None)
    d = server.database_of(service)
    if d is None:
        return
    folder = Path(volumes_dir) / f"{d.name}-db"
    folder.mkdir(parents=True, exist_ok=True)
    url = "sqlite:///" + str((folder / f"{d.name}.db").resolve())
    # an app refusing SQLite URLs in its variable (LNbits: postgres:// only) keeps its SQLite files in
    # its data folder: the services make that the folder of this file (decompose_rt/verify_config.py)
    env[server.env if server.takes_sqlite else LOCAL_DATABASE_ENV] = url
