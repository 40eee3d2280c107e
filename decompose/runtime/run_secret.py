"""The RPC secret of one ``up`` run, in the run folder ``OUT/.decompose-run`` (adapter: files).

Every ``up`` makes a fresh secret (:func:`new_rpc_secret`), kept in
``rpc-secret.<mode>`` (mode 0600, in a folder only its owner may enter) for
signing calls by hand; the services read it from a file named by
``DECOMPOSE_RPC_SECRET_FILE``, never from an environment value (``docker
inspect`` would show that).  A Docker container gets a read-only bind-mounted
copy (:func:`container_secret_file`) at :data:`CONTAINER_SECRET_FILE`, the path
Kubernetes mounts its Secret at too.  ``down`` deletes the secret and its copies
(:func:`forget_rpc_secret`).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from decompose.fsio import atomic_write

RUN_DIR = ".decompose-run"  # inside the output folder: registry + logs of --local runs, the run's secret
#: Where a container reads this run's RPC secret.
CONTAINER_SECRET_FILE = "/run/secrets/decompose/rpc-secret"


def rpc_secret_path(out: Path, mode: str) -> Path:
    """Where ``up`` keeps the RPC secret of its run (``mode``: "docker" or "local")."""
    return Path(out) / RUN_DIR / f"rpc-secret.{mode}"


def new_rpc_secret(out: Path, mode: str) -> tuple[str, Path]:
    """A fresh RPC secret for one run (64 hex characters), written with mode 0600
    in a folder only the owner may enter."""
    value = secrets.token_hex(32)
    path = rpc_secret_path(out, mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:
        pass
    atomic_write(path, value + "\n", mode=0o600)
    return value, path


def container_secret_file(out: Path, value: str, user: str) -> Path:
    """A copy of the run's secret to bind-mount into containers running as ``user``
    (the image's ``USER``: "uid[:gid]", "" for root): mode 0400 owned by that uid
    when this process may chown it, else 0444 - on the host it is reachable only
    through the run folder, which only its owner may enter."""
    uid_s, _, gid_s = (user or "0").partition(":")
    uid = int(uid_s) if uid_s.isdigit() else None
    gid = int(gid_s) if gid_s.isdigit() else uid
    path = rpc_secret_path(out, "docker").with_name(f"rpc-secret.docker.{uid if uid is not None else 'any'}")
    atomic_write(path, value + "\n", mode=0o400)
    if uid is None:  # a user name: its uid is known only inside the image
        os.chmod(path, 0o444)
    elif uid != os.getuid():
        try:
            os.chown(path, uid, -1 if gid is None else gid)
        except PermissionError:
            os.chmod(path, 0o444)
    return path


def forget_rpc_secret(out: Path, mode: str) -> None:
    """Delete the run's secret (``mode``: "docker" or "local") and its container copies."""
    path = rpc_secret_path(out, mode)
    for p in [path, *path.parent.glob(f"rpc-secret.{mode}.*")]:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
