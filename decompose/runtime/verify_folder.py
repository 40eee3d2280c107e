"""The folder a split system shares with ``decompose verify``'s test process (pure + a little filesystem).

``write_app_config`` and the ``_hand_suite_*`` functions fill it before the split system
starts: the configuration the suite's app ran with, the suite's Django settings and the
suite's own folder.

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

import json
import os
import secrets
import shutil
import stat
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
#: The test process's temporary folders under verify with containers (its TMPDIR: pytest's tmp_path,
#: tempfile.mkdtemp), mounted at the same path in every service: a test storing such a path in the
#: database (privacyIDEA's CA connector writing its requests under tmp_path) works as on the host.
VERIFY_TMP = "tmp"
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
    (folder / VERIFY_TMP).mkdir(exist_ok=True)
    os.chmod(folder / VERIFY_TMP, 0o777)
    return folder


def verify_env(folder: Path | str) -> dict[str, str]:
    """The variables pointing a process (a service, or the test process) at the verify folder ``folder``."""
    folder = str(folder)
    return {VERIFY_DATABASE_ENV: f"{folder.rstrip('/')}/{VERIFY_DB}",
            VERIFY_SECRET_KEY_ENV: f"{folder.rstrip('/')}/{VERIFY_SECRET_KEY}",
            VERIFY_APP_CONFIG_ENV: f"{folder.rstrip('/')}/{VERIFY_APP_CONFIG}",
            VERIFY_SUITE_ENV: f"{folder.rstrip('/')}/{VERIFY_SUITE}"}


#: Flask configuration keys of the test process's own serving, never given to the services.
_OWN_SERVING_KEYS = frozenset({"SERVER_NAME", "APPLICATION_ROOT"})
_COPY_LIMIT = 10 * 1024 * 1024  # bytes of files a configuration may name for containers to get copies of


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def write_app_config(shared: Path, results: Path, *, containers: bool) -> tuple[int, list[str]]:
    """The configuration the suite's app ran with on the monolith (the plugin's ``app-config-*.json``
    in ``results``, the first process's) as ``shared/app-config.json``, which the services take on
    (``verify_config.py``): the test config's keys, paths and flags, not the services' default
    ones.  ``containers``: the files and folders it names (absolute host paths, at most
    :data:`_COPY_LIMIT` bytes each) are copied into ``shared/files/`` and named by their path in
    the container.  (number of keys, warnings)"""
    found = sorted(Path(results).glob("app-config-*.json"))
    if not found:
        return 0, []
    try:
        config = json.loads(found[0].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0, [f"{found[0]}: unreadable; the services keep their own configuration"]
    config = {k: v for k, v in config.items() if k not in _OWN_SERVING_KEYS}
    warnings: list[str] = []
    copies: dict[str, str] = {}
    if containers:  # the copies of an earlier verify on this folder (a kept system): made afresh
        shutil.rmtree(shared / VERIFY_FILES, ignore_errors=True)

    def moved(value):
        if isinstance(value, list):
            return [moved(v) for v in value]
        if isinstance(value, dict):
            return {k: moved(v) for k, v in value.items()}
        if not (containers and isinstance(value, str) and value.startswith("/") and len(value) < 1024):
            return value
        src = Path(value)
        if value in copies or not src.exists() or src.is_relative_to(shared):
            return copies.get(value, value)
        if _tree_size(src) > _COPY_LIMIT:
            warnings.append(f"{value}: named by the suite's app configuration, over {_COPY_LIMIT >> 20} MB: "
                            "not copied into the containers")
            return value
        rel = f"{VERIFY_FILES}/{len(copies)}/{src.name}"
        dest = shared / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            if src.is_dir():
                shutil.copytree(src, dest, symlinks=True, ignore=_not_copied)
            else:
                shutil.copy2(src, dest)
        except OSError as exc:  # shutil.Error included
            warnings.append(f"{value}: named by the suite's app configuration, could not be copied into the "
                            f"containers ({str(exc)[:200]})")
            return value
        copies[value] = f"{VERIFY_MOUNT}/{rel}"
        return copies[value]

    config = {k: moved(v) for k, v in sorted(config.items())}
    shared.mkdir(parents=True, exist_ok=True)
    atomic_write(shared / VERIFY_APP_CONFIG, json.dumps(config, indent=1, sort_keys=True) + "\n", mode=0o644)
    return len(config), warnings
def _hand_suite_settings(results: Path, shared: Path) -> None:
    """The suite's Django settings (recorded by the monolith run) into the shared folder, where the
    services under verify take them (decompose_rt/settings.py): the suite's app is the one it configures."""
    recorded = results / DJANGO_SETTINGS_FILE
    if recorded.is_file():
        shared.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(recorded, shared / DJANGO_SETTINGS_FILE)
        os.chmod(shared / DJANGO_SETTINGS_FILE, 0o644)


def _suite_names(shared: Path) -> set[str]:
    try:
        return set(os.listdir(shared / VERIFY_SUITE))
    except OSError:
        return set()


def _hand_suite_folder_or_warn(shared: Path, tests: Path, cwd: Path, *, link: bool) -> tuple[str | None, list[str]]:
    """:func:`_hand_suite_folder`, a failure to copy it a warning (the suite still runs)."""
    try:
        return _hand_suite_folder(shared, tests, cwd, link=link), []
    except OSError as exc:  # shutil.Error included
        first = exc.args[0][0] if isinstance(exc, shutil.Error) and exc.args and exc.args[0] else exc
        return None, [f"{cwd}: could not hand the suite's folder to the services ({first}): "
                      "paths the suite's fixtures store relative to it will not resolve there"]


def _hand_suite_folder(shared: Path, tests: Path, cwd: Path, *, link: bool) -> str | None:
    """The suite's top folder (``tests`` of ``tests/test_auth.py`` under ``cwd``) into the shared
    folder's ``suite/``, where every service's runtime links it into its working directory:
    fixtures that store a path relative to the suite's working directory in the database or the
    app's configuration (a resolver reading ``tests/testdata/passwords``) find it from the services
    too.  A link locally, a copy (without caches) for containers; its name, or None when the suite
    is not inside ``cwd`` (nothing to mirror)."""
    try:
        top = tests.relative_to(cwd).parts[:1]
    except ValueError:
        return None
    if not top:
        return None
    name = top[0]
    suite = shared / VERIFY_SUITE
    shutil.rmtree(suite, ignore_errors=True)
    suite.mkdir(parents=True, exist_ok=True)
    os.chmod(suite, 0o755)
    source = cwd / name
    if link:
        os.symlink(source, suite / name)
    elif source.is_dir():
        shutil.copytree(source, suite / name, symlinks=True, ignore=_not_copied)
    else:
        shutil.copyfile(source, suite / name)
    return name


def _not_copied(folder: str, names: list[str]) -> set[str]:
    """What a copy for the containers (the suite's folder, folders its app configuration names)
    leaves out: caches, and whatever is neither a folder, a file nor a link (privacyIDEA's
    ``PI_GNUPG_HOME = tests/testdata/gpg`` holds the sockets of a gpg-agent)."""
    skip = set()
    for n in names:
        if n in ("__pycache__", ".pytest_cache") or n.endswith(".pyc"):
            skip.add(n)
            continue
        try:
            mode = os.lstat(os.path.join(folder, n)).st_mode
        except OSError:
            skip.add(n)
            continue
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            skip.add(n)
    return skip
