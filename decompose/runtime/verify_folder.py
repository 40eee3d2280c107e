"""The folder a split system shares with ``decompose verify``'s test process (pure + a little filesystem).

It holds the one SQLite database (``db.sqlite3``) that the services and the
test process use under ``decompose verify``, the Flask session key
(``secret-key``) both sign cookies with, the configuration the suite's Flask
app ran with on the monolith (``app-config.json``, with copies of the files it
names under ``files/`` for containers), the fields of the app's settings objects and
the keys of its Flask configuration that the suite's tests changed in the test process
(``app-settings.json``, written by the plugin before each request), and for a Django suite
the settings it runs its app with (``django-settings.json``); the services take them on.  ``suite/``
holds the suite's own folder (``tests``: a link locally, a copy for containers): a
fixture stores a path relative to the suite's working directory
(``tests/testdata/passwords`` in a resolver's configuration) and the services,
working where their code is, read it at the same relative path.  The generated
``decompose_rt/verify_config.py`` reads them through ``DECOMPOSE_DATABASE``
and ``DECOMPOSE_SECRET_KEY_FILE``; Docker bind-mounts the folder at
``/decompose-verify`` in every service.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from decompose.fsio import atomic_write

VERIFY_DATABASE_ENV = "DECOMPOSE_DATABASE"
VERIFY_SECRET_KEY_ENV = "DECOMPOSE_SECRET_KEY_FILE"
VERIFY_APP_CONFIG_ENV = "DECOMPOSE_APP_CONFIG_FILE"
VERIFY_SUITE_ENV = "DECOMPOSE_SUITE_DIR"
VERIFY_MOUNT = "/decompose-verify"  # where Docker mounts the verify folder in every service
VERIFY_DB = "db.sqlite3"
VERIFY_SECRET_KEY = "secret-key"
VERIFY_APP_CONFIG = "app-config.json"  # the configuration the suite's app ran with (verify.write_app_config)
VERIFY_FILES = "files"  # copies of the files that configuration names, for containers
VERIFY_SUITE = "suite"  # the suite's folder, seen by the services in their working directory
#: The suite's Django settings (written by the plugin's monolith run): what the services run under verify.
DJANGO_SETTINGS_FILE = "django-settings.json"
LABEL_VERIFY_DIR = "io.decompose.verify-dir"
#: The gateway's variable under verify: it keeps the client address the suite's process names
#: (the in-process request's), instead of its own peer (``templates/gateway/app.py.j2``).
GATEWAY_TRUST_CLIENT_ENV = "DECOMPOSE_GATEWAY_TRUST_CLIENT"


def prepare_verify_dir(folder: Path) -> Path:
    """Create the folder shared with ``decompose verify``: an empty SQLite file and a session key.

    Both are kept when they exist (a running system and its test process keep
    agreeing).  The folder and the database are writable by everyone
    (mode 0777/0666): the containers' non-root user must create SQLite's journal
    next to the file; keep the folder itself inside one only you may enter.
    """
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o777)
    db = folder / VERIFY_DB
    if not db.exists():
        fd = os.open(db, os.O_CREAT | os.O_WRONLY, 0o666)
        os.close(fd)
    os.chmod(db, 0o666)
    key = folder / VERIFY_SECRET_KEY
    if not key.exists() or not key.read_text(encoding="utf-8").strip():
        atomic_write(key, secrets.token_hex(32) + "\n", mode=0o644)
    return folder


def verify_env(folder: Path | str) -> dict[str, str]:
    """The variables pointing a process (a service, or the test process) at the verify folder ``folder``."""
    folder = str(folder)
    return {VERIFY_DATABASE_ENV: f"{folder.rstrip('/')}/{VERIFY_DB}",
            VERIFY_SECRET_KEY_ENV: f"{folder.rstrip('/')}/{VERIFY_SECRET_KEY}",
            VERIFY_APP_CONFIG_ENV: f"{folder.rstrip('/')}/{VERIFY_APP_CONFIG}",
            VERIFY_SUITE_ENV: f"{folder.rstrip('/')}/{VERIFY_SUITE}"}
