"""Where the generated system's RPC secret lives in each deployment (pure data).

The services sign every internal call (``/_rpc/...``, ``/_decompose/...``)
with a per-deployment secret (see ``templates/runtime/auth.py.j2``).  Generated
files never contain it - they are byte-identical for the same input - they
only name where it comes from:

* compose: the compose secret ``rpc-secret`` from ``secrets/rpc-secret`` next
  to ``compose.yaml`` (``make-secrets.py`` writes it), mounted read-only in
  every service at ``/run/secrets/decompose/rpc-secret`` (the path Kubernetes
  and ``up`` use) and named by ``DECOMPOSE_RPC_SECRET_FILE``: never an
  environment value, which ``docker inspect`` would show;
* Kubernetes: the Secret ``decompose-rpc`` (key ``rpc-secret``), mounted
  read-only into every service pod and named by ``DECOMPOSE_RPC_SECRET_FILE``;
  each overlay makes it with a kustomize ``secretGenerator`` from
  ``k8s/overlays/<env>/secrets/rpc-secret``, which the user creates;
* ``decompose up`` / ``up --local``: a fresh secret made by the runner
  (:mod:`decompose.runtime.runner`).

The ``secrets/`` folders get a ``.gitignore`` so a secret put there is never
committed.  The gateway gets no secret: it forwards public routes only.
"""

from __future__ import annotations

from typing import Any

SECRET_ENV = "DECOMPOSE_RPC_SECRET"
SECRET_FILE_ENV = "DECOMPOSE_RPC_SECRET_FILE"
HEADER = "X-Decompose-Signature"
MIN_LENGTH = 32

K8S_SECRET_NAME = "decompose-rpc"
K8S_SECRET_KEY = "rpc-secret"
K8S_MOUNT = "/run/secrets/decompose"
K8S_SECRET_FILE = f"{K8S_MOUNT}/{K8S_SECRET_KEY}"
#: relative to an overlay folder (kustomize loads files only from inside it)
K8S_OVERLAY_FILE = f"secrets/{K8S_SECRET_KEY}"

#: compose: the secret's name and its file, relative to compose.yaml; mounted at K8S_SECRET_FILE
COMPOSE_SECRET = "rpc-secret"
COMPOSE_SECRET_FILE = f"secrets/{COMPOSE_SECRET}"

#: A command printing a new secret (64 hex characters); shown in comments and docs.
MAKE_SECRET = 'python3 -c "import secrets; print(secrets.token_hex(32))"'

GITIGNORE = (
    "# Secrets of this deployment go here (see docs/generate.md, 'RPC secret'); none is ever committed.\n"
    "*\n"
    "!.gitignore\n"
)


def template_globals() -> dict[str, Any]:
    """What every template can read as ``rpc_auth.<name>``."""
    return {
        "secret_env": SECRET_ENV,
        "secret_file_env": SECRET_FILE_ENV,
        "header": HEADER,
        "k8s_secret_name": K8S_SECRET_NAME,
        "k8s_secret_key": K8S_SECRET_KEY,
        "k8s_mount": K8S_MOUNT,
        "k8s_secret_file": K8S_SECRET_FILE,
        "k8s_overlay_file": K8S_OVERLAY_FILE,
        "compose_secret": COMPOSE_SECRET,
        "compose_secret_file": COMPOSE_SECRET_FILE,
        "make_secret": MAKE_SECRET,
    }


def placeholder_files(overlays: list[str]) -> dict[str, bytes]:
    """The ``.gitignore`` of every folder a secret is put in (no secret itself)."""
    folders = ["secrets"] + [f"k8s/overlays/{name}/secrets" for name in sorted(overlays)]
    return {f"{folder}/.gitignore": GITIGNORE.encode("utf-8") for folder in folders}


def manifest_entry(services: list[str]) -> dict[str, Any]:
    """``rpc_auth`` of ``decompose-output.json``."""
    return {
        "header": HEADER,
        "scheme": "decompose-v1",  # HMAC-SHA256, see docs/generate.md

        "env": SECRET_ENV,
        "file_env": SECRET_FILE_ENV,
        "units": sorted(services),
        "compose": {"secret": COMPOSE_SECRET, "file": COMPOSE_SECRET_FILE, "mount": K8S_SECRET_FILE},
        "kubernetes": {
            "secret": K8S_SECRET_NAME,
            "key": K8S_SECRET_KEY,
            "mount": K8S_SECRET_FILE,
            "overlay_file": K8S_OVERLAY_FILE,
        },
    }
