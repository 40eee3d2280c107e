"""Deployment data of a :class:`~decompose.generation.generate.Generation` (pure).

Everything the templates render and ``decompose-output.json`` lists comes
from here as plain dicts: one *unit* per service plus the gateway (image,
port, probes, environment, who calls whom, routes, volumes, labels), the
Kubernetes overlay settings and the strangler-fig figures.
"""

from __future__ import annotations

import re

from collections.abc import Callable
from typing import Any

from decompose import __version__
from decompose.generation import database as db
from decompose.generation import rpc_auth
from decompose.generation.generate import (
    DATA_MOUNT,
    GATEWAY_NAME,
    HEALTH_PATH,
    PORT,
    READY_PATH,
    SHARED_MOUNT,
    Generation,
    coupling_score,
    extraction_order,
    url_env,
)

OUTPUT_FORMAT = 1
MANIFEST_NAME = "decompose-output.json"
UID = 10001
PUBLIC_PORT = 8080
SHARED_VOLUME = "shared-data"
INGRESS_NAMESPACE = "ingress-nginx"
INGRESS_CLASS = "nginx"

OVERLAYS = {
    "dev": {
        "name": "dev",
        "description": "one replica each, small resources.",
        "replicas": 1,
        "min_replicas": 1,
        "max_replicas": 1,
        "resources": {"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"cpu": "250m", "memory": "256Mi"}},
    },
    "prod": {
        "name": "prod",
        "description": "two replicas or more, autoscaled.",
        "replicas": 2,
        "min_replicas": 2,
        "max_replicas": 6,
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    },
}
BASE_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "384Mi"}}


def postgres(gen: Generation) -> bool:
    return gen.database_engine == "postgresql"


def service_db(gen: Generation, service: str) -> str:
    """The PostgreSQL database (and role) a service uses."""
    return db.db_name(service, gen.services[service].database)


def database_url(gen: Generation, service: str) -> str:
    """The service's database URL as documentation shows it (PostgreSQL: the password is a placeholder)."""
    if postgres(gen):
        return db.url(service_db(gen, service), "PASSWORD", gen.database_url_scheme)
    if gen.services[service].database == "shared":
        return f"sqlite:///{SHARED_MOUNT}/shared.db"
    return f"sqlite:///{DATA_MOUNT}/{service}.db"


def labels(gen: Generation, name: str, role: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": f"{gen.project}-{name}",
        "app.kubernetes.io/version": gen.version,
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/part-of": gen.project,
        "app.kubernetes.io/managed-by": "decompose",
    }


def selector(gen: Generation, name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": gen.project}


def minimal_prefixes(prefixes: list[str]) -> list[str]:
    """Drop prefixes already covered by a shorter one (path-element wise)."""
    out: list[str] = []
    for p in sorted(set(prefixes), key=lambda x: (len(x), x)):
        if any(p == q or q == "/" or p.startswith(q.rstrip("/") + "/") for q in out):
            continue
        out.append(p)
    return sorted(out)


def gateway_backends(gen: Generation) -> list[str]:
    return sorted({n for n, s in gen.services.items() if s.routes} | {gen.default_service})


#: Where a service's app/ folder lives in its image.
APP_ROOT = "/app"


def writable_volume(folder: str) -> str:
    """The volume name of a writable folder of the app (``logs`` -> ``app-logs``), a DNS-1123 label."""
    label = re.sub(r"[^a-z0-9-]+", "-", folder.lower()).strip("-")[:50] or "data"
    return f"app-{label}"


def service_unit(gen: Generation, name: str) -> dict[str, Any]:
    s = gen.services[name]
    env = {
        "DECOMPOSE_SERVICE": name,
        "HOST": "0.0.0.0",
        "PORT": str(PORT),
    }
    for callee in s.calls:
        env[url_env(callee)] = f"http://{callee}:{PORT}"
    volumes = [{"name": "tmp", "path": "/tmp", "size": "64Mi"}]
    compose_volumes: list[str] = []
    database_server = None
    if postgres(gen):
        # the URL (with its password) is a secret file; only the file's path is configuration
        name_db = service_db(gen, name)
        env[gen.database_env + "_FILE"] = db.secret_path(name_db)
        database_server = {"name": db.SERVER, "port": db.PORT, "database": name_db,
                           "secret": db.secret_name(name_db), "file": db.secret_path(name_db)}
    else:
        env[gen.database_env] = database_url(gen, name)
        volumes.append({"name": "data", "path": DATA_MOUNT, "size": "1Gi"})
        compose_volumes.append(f"{name}-data:{DATA_MOUNT}")
        if s.database == "shared":
            volumes.append({"name": SHARED_VOLUME, "path": SHARED_MOUNT, "size": "1Gi"})
            compose_volumes.append(f"{SHARED_VOLUME}:{SHARED_MOUNT}")
    for folder in s.writable:  # what the monolith writes under its own tree (logs/): not the read-only root
        vol = writable_volume(folder)
        volumes.append({"name": vol, "path": f"{APP_ROOT}/{folder}", "size": "64Mi"})
        compose_volumes.append(f"{name}-{vol}:{APP_ROOT}/{folder}")
    ingress_from = sorted(set(s.called_by) | ({GATEWAY_NAME} if name in gateway_backends(gen) else set()))
    return {
        "name": name,
        "role": "service",
        "context": f"services/{name}",
        "source": f"services/{name}/app",
        "dockerfile": "Dockerfile",
        "image": f"{gen.project}/{name}:{gen.version}",
        "port": PORT,
        "health": HEALTH_PATH,
        "readiness": READY_PATH,
        "url_env": url_env(name),
        "command": ["python", "-m", "decompose_rt"],
        "env": dict(sorted(env.items())),
        "calls": list(s.calls),
        "called_by": list(s.called_by),
        "routes": [{"path": r.path, "methods": list(r.methods)} for r in s.routes],
        "route_prefixes": minimal_prefixes([r.prefix for r in s.routes]),
        "interface": [e.name for e in s.exports],
        "modules": list(s.modules),
        "borrowed_modules": list(s.borrowed),
        "tables": list(s.tables),
        "database": s.database,
        "database_server": database_server,
        "replicas": s.replicas,
        "requirements": list(s.requirements) + ([db.DRIVER_REQUIREMENT] if postgres(gen) else []),
        "system_packages": list(s.system_packages),
        "volumes": volumes,
        "compose_volumes": compose_volumes,
        "labels": labels(gen, name, "service"),
        "selector": selector(gen, name),
        "ingress_from": ingress_from,
        "from_ingress_controller": False,
        "egress_to": list(s.calls),
    }


def gateway_unit(gen: Generation) -> dict[str, Any]:
    backends = gateway_backends(gen)
    env = {"DECOMPOSE_SERVICE": GATEWAY_NAME, "HOST": "0.0.0.0", "PORT": str(PORT)}
    for b in backends:
        env[url_env(b)] = f"http://{b}:{PORT}"
    routes = [r for s in gen.services.values() for r in s.routes]
    return {
        "name": GATEWAY_NAME,
        "role": "gateway",
        "context": GATEWAY_NAME,
        "source": f"{GATEWAY_NAME}/app",
        "dockerfile": "Dockerfile",
        "image": f"{gen.project}/{GATEWAY_NAME}:{gen.version}",
        "port": PORT,
        "health": HEALTH_PATH,
        "readiness": READY_PATH,
        "url_env": url_env(GATEWAY_NAME),
        "command": ["python", "-m", "decompose_gateway"],
        "env": dict(sorted(env.items())),
        "calls": backends,
        "called_by": [],
        "routes": [{"path": p, "methods": list(m)} for p, m in sorted({(r.path, tuple(r.methods)) for r in routes})],
        "route_prefixes": minimal_prefixes([r.prefix for r in routes]),
        "default_service": gen.default_service,
        "public_port": PUBLIC_PORT,
        "database_server": None,
        "requirements": [],
        "volumes": [{"name": "tmp", "path": "/tmp", "size": "64Mi"}],
        "compose_volumes": [],
        "labels": labels(gen, GATEWAY_NAME, "gateway"),
        "selector": selector(gen, GATEWAY_NAME),
        "ingress_from": [],
        "from_ingress_controller": True,
        "egress_to": backends,
    }


def gateway_routes(gen: Generation, *, rule: Callable[[str], str] = str) -> list[dict[str, Any]]:
    """Rows of the gateway's routing table; ``rule`` turns a route path into a
    Werkzeug rule (the framework adapter's ``gateway_rule``)."""
    rows = []
    for name in sorted(gen.services):
        for r in gen.services[name].routes:
            path = rule(r.path)
            rows.append({"path": path, "methods": list(r.methods), "service": name})
    return sorted(rows, key=lambda r: (r["path"], r["methods"], r["service"]))


_MANIFEST_KEYS = (
    "name", "role", "context", "source", "dockerfile", "image", "port", "health", "readiness", "url_env",
    "command", "env", "calls", "called_by", "routes", "route_prefixes", "interface", "modules",
    "borrowed_modules", "tables", "database", "database_server", "default_service", "public_port", "replicas",
    "system_packages",
)


def output_manifest(gen: Generation) -> dict[str, Any]:
    """The content of ``decompose-output.json`` (see docs/generate.md)."""
    services = [service_unit(gen, n) for n in sorted(gen.services)]
    gateway = gateway_unit(gen)
    shared_services = gen.shared_db_services
    pg = postgres(gen)
    return {
        "format": OUTPUT_FORMAT,
        "generator": f"decompose {__version__}",
        "project": gen.project,
        "version": gen.version,
        "base_image": gen.base_image,
        # the images' Python and what the monolith declares: `build` picks a local image meeting it
        "python": {"version": gen.python, "requires": gen.python_requires, "accepts": list(gen.python_accepts)},
        "database": {
            "engine": gen.database_engine,
            "env": gen.database_env,
            # the only URL schemes the app lets through in it (its own checks); [] any
            "schemes": list(gen.database_schemes),
            "per_service": {n: database_url(gen, n) for n in sorted(gen.services)},
            "shared": {
                "tables": list(gen.shared_tables),
                "services": shared_services,
                "url": (None if not shared_services else db.url(db.SHARED_DB, "PASSWORD", gen.database_url_scheme) if pg
                        else f"sqlite:///{SHARED_MOUNT}/shared.db"),
                "volume": SHARED_VOLUME if shared_services and not pg else None,
            },
            "server": db.manifest_entry(gen.database_engine, gen.database_image, db.databases(gen.services),
                                         gen.database_url_scheme),
        },
        "services": [{k: u[k] for k in _MANIFEST_KEYS if k in u} for u in services],
        "gateway": {k: gateway[k] for k in _MANIFEST_KEYS if k in gateway},
        "compose": "compose.yaml",
        "kubernetes": {"base": "k8s/base", "overlays": {"dev": "k8s/overlays/dev", "prod": "k8s/overlays/prod"}},
        "notes": list(gen.notes),
        # module-level state that diverges between a service's replicas (decompose.planning.replica_state)
        "replica_state": [dict(e) for e in gen.replica_state],
        "rpc_auth": rpc_auth.manifest_entry([u["name"] for u in services]),
    }


def migration_rows(gen: Generation) -> list[dict[str, Any]]:
    rows = []
    for s in extraction_order(gen):
        rows.append({
            "name": s.name,
            "coupling": coupling_score(gen, s),
            "out": s.call_weight_out,
            "in_": s.call_weight_in,
            "calls": s.calls,
            "called_by": s.called_by,
            "interface": len(s.exports),
            "exports": [e.name for e in s.exports],
            "routes": len(s.routes),
            "prefixes": minimal_prefixes([r.prefix for r in s.routes]),
            "tables": len(s.tables),
            "table_names": s.tables,
            "shared": len(set(s.uses_tables) & set(gen.shared_tables)),
            "borrowed": len(s.borrowed),
            "borrowed_modules": s.borrowed,
            "lines": s.lines,
            "modules": s.modules,
            "database": s.database,
            "database_url": database_url(gen, s.name),
        })
    return rows
