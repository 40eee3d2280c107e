"""The generated system's database: one PostgreSQL server (default) or SQLite files (pure data).

PostgreSQL (``--database postgresql``, what ``auto`` picks for a monolith that
reaches its database through SQLAlchemy):

* one server, named :data:`SERVER` (compose service, ``decompose up``
  container alias, Kubernetes StatefulSet + headless Service);
* one database per service for the tables it owns, and one shared database
  (:data:`SHARED_DB`) for the services that use a table another service uses
  too (``ServiceSpec.database == "shared"``: a service reads one database URL,
  so all its tables live there);
* one role per database (same name), owning it; ``PUBLIC`` may not connect;
* every credential is a secret file, never an environment value or a
  ConfigMap entry: the superuser password (:data:`PASSWORD_SECRET`) and one
  database URL per database (:func:`secret_name`, ``db-<database>-url``).
  The server's init script (:func:`init_script`) creates each role with the
  password of its URL; each service reads its URL from the file named by
  ``<DATABASE_ENV>_FILE`` (the generated ``decompose_rt`` sets
  ``<DATABASE_ENV>`` from it before the app is imported).

Where the secret files come from: compose - ``secrets/`` next to
``compose.yaml`` (``make-secrets.py`` writes missing ones); Kubernetes - each
overlay's ``secrets/`` through a ``secretGenerator`` (Secret
:data:`K8S_SECRET`); ``decompose up`` - made by the runner per output folder.

SQLite (``--database sqlite``, or ``auto`` for a monolith without SQLAlchemy,
e.g. flaskr's ``sqlite3``): the files on volumes of earlier versions.
"""

from __future__ import annotations

import re
from typing import Any

ENGINES = ("auto", "postgresql", "sqlite")
DEFAULT_IMAGE = "postgres:15"
SERVER = "postgres"
PORT = 5432
SUPERUSER = "postgres"
SHARED_DB = "shared"
PASSWORD_SECRET = "postgres-password"
SECRETS_DIR = "/run/secrets"
INITDB_DIR = "postgres/initdb.d"  # in the output folder
INIT_SCRIPT = "10-decompose-databases.sh"
DATA_DIR = "/var/lib/postgresql/data"
K8S_PGDATA = f"{DATA_DIR}/pgdata"  # a subfolder: a volume's root may hold lost+found
K8S_SECRET = "decompose-database"
K8S_INIT_CONFIGMAP = "postgres-initdb"
#: The DBAPI driver SQLAlchemy uses for the URLs below (psycopg 3, binary wheels).
DRIVER_REQUIREMENT = "psycopg[binary]==3.3.9"
URL_SCHEME = "postgresql+psycopg"
#: Distributions through which a monolith reads a SQLAlchemy database URL.
SQLALCHEMY_DISTS = ("flask-sqlalchemy", "sqlalchemy", "sqlmodel")
RESERVED = ("postgres", "template0", "template1")
#: A command printing a new password (URL-safe: 64 hex characters).
MAKE_PASSWORD = 'python3 -c "import secrets; print(secrets.token_hex(32))"'

_DIST = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _dist(requirement: str) -> str:
    m = _DIST.match(requirement)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else ""


def uses_sqlalchemy(requirements: list[str]) -> bool:
    return any(_dist(r) in SQLALCHEMY_DISTS for r in requirements)


def resolve_engine(requested: str, service_requirements: dict[str, list[str]], service_names: list[str],
                   *, reads_url: bool = False) -> tuple[str, list[str], list[str]]:
    """(engine, notes, problems) for ``--database REQUESTED``.

    ``auto``: PostgreSQL when a service reaches its database through SQLAlchemy
    (it reads a URL, so a server URL works) or its framework takes the URL
    whatever the monolith uses (``reads_url``: Django's generated settings turn
    it into ``DATABASES``), else SQLite.
    """
    if requested not in ENGINES:
        return "sqlite", [], [f"database {requested!r} is not one of {', '.join(ENGINES)}"]
    alchemy = reads_url or any(uses_sqlalchemy(reqs) for reqs in service_requirements.values())
    notes: list[str] = []
    problems: list[str] = []
    engine = requested
    if requested == "auto":
        engine = "postgresql" if alchemy else "sqlite"
        if not alchemy:
            notes.append("database: SQLite files (the monolith does not use SQLAlchemy, so it cannot be given a "
                         "PostgreSQL URL); `decompose generate --database postgresql` forces a server")
    if engine == "postgresql":
        if not alchemy and requested == "postgresql":
            problems.append("--database postgresql: the monolith does not use SQLAlchemy (sqlalchemy, "
                            "flask-sqlalchemy or sqlmodel), so its services cannot read a PostgreSQL URL; "
                            "use --database sqlite")
        for name in service_names:
            if name in RESERVED or name == SERVER:
                problems.append(f"service {name!r}: the name is taken by the PostgreSQL server; rename the "
                                f"service in decompose.yaml or use --database sqlite")
    return engine, notes, problems


def db_name(service: str, database: str) -> str:
    """The database (and role) of one service: its own, or the shared one."""
    return SHARED_DB if database == "shared" else service.replace("-", "_")


def secret_name(db: str) -> str:
    """The secret (compose secret, file name, Kubernetes Secret key) holding one database's URL."""
    return f"db-{db.replace('_', '-')}-url"


def secret_path(db: str) -> str:
    """Where a service and the server read that secret (compose's default target; the same elsewhere)."""
    return f"{SECRETS_DIR}/{secret_name(db)}"


#: A service's database URL; the role is named as its database.
URL_PATTERN = URL_SCHEME + "://{role}:{password}@" + f"{SERVER}:{PORT}" + "/{database}"


def url_pattern(scheme: str = URL_SCHEME) -> str:
    """:data:`URL_PATTERN` with ``scheme`` (the app's own, decompose.generation.database_url)."""
    return scheme + URL_PATTERN[len(URL_SCHEME):]


def url(db: str, password: str, scheme: str = URL_SCHEME) -> str:
    return url_pattern(scheme).format(role=db, password=password, database=db)


def databases(services: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per database: name (= role), secret, the services using it, the tables it holds.

    ``services``: name -> ServiceSpec (``database``, ``tables``, ``uses_tables``).
    """
    rows: dict[str, dict[str, Any]] = {}
    for name in sorted(services):
        s = services[name]
        db = db_name(name, s.database)
        row = rows.setdefault(db, {"name": db, "role": db, "secret": secret_name(db), "file": secret_path(db),
                                   "services": [], "tables": set()})
        row["services"].append(name)
        row["tables"] |= set(s.tables) | (set(s.uses_tables) if db == SHARED_DB else set())
    return [{**r, "tables": sorted(r["tables"])} for _, r in sorted(rows.items())]


def init_script(dbs: list[dict[str, Any]], scheme: str = URL_SCHEME) -> str:
    """``/docker-entrypoint-initdb.d`` script of the server: one role + database per row, each role's
    password taken from its URL secret.  Runs once, on an empty data directory (the image's contract)."""
    calls = "\n".join(f"create_database {d['name']} {d['file']}" for d in dbs)
    return f'''#!/bin/bash
# Databases and roles of the split system (generated by decompose): one per
# service for the tables it owns, "{SHARED_DB}" for tables several services use.
# Run once by the postgres image on an empty data directory. Each role's password
# comes from the database URL secret the services read
# ({scheme}://ROLE:PASSWORD@HOST:PORT/DATABASE; a password must be
# URL-safe or %-encoded). Against an external server, run the same statements
# yourself and put that server's URLs into the secrets.
set -euo pipefail

create_database() {{  # create_database NAME URL_FILE
  local db="$1" file="$2" url creds user password
  if [ ! -r "$file" ]; then
    echo "decompose: secret $file is missing: cannot create database $db" >&2
    exit 1
  fi
  url=$(tr -d '[:space:]' < "$file")
  creds=${{url#*://}}
  creds=${{creds%@*}}
  user=${{creds%%:*}}
  password=${{creds#*:}}
  password=$(printf '%b' "${{password//%/\\\\x}}")
  if [ "$user" != "$db" ]; then
    echo "decompose: $file names role '$user', expected '$db'" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --no-psqlrc -q --username "$POSTGRES_USER" --dbname postgres \\
       -v db="$db" -v password="$password" <<'SQL'
CREATE ROLE :"db" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"db";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
  echo "decompose: database $db (role $db) created"
}}

{calls}
'''


def manifest_entry(engine: str, image: str, dbs: list[dict[str, Any]],
                   scheme: str = URL_SCHEME) -> dict[str, Any] | None:
    """``database.server`` of ``decompose-output.json`` (None for SQLite)."""
    if engine != "postgresql":
        return None
    return {
        "engine": "postgresql",
        "name": SERVER,
        "image": image,
        "port": PORT,
        "superuser": SUPERUSER,
        "password_secret": PASSWORD_SECRET,
        "secrets_dir": SECRETS_DIR,
        "initdb": INITDB_DIR,
        "data_dir": DATA_DIR,
        "url_scheme": scheme,
        "databases": [{k: d[k] for k in ("name", "role", "secret", "file", "services", "tables")} for d in dbs],
    }
