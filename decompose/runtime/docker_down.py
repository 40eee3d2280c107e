"""Taking a project's containers, networks and volumes down from the Docker engine (adapter).

``decompose down``, and every ``up`` before it starts (a previous run's leftovers), remove what
carries the project's label.  The engine may refuse to remove a network while it still tears a
container down ("has active endpoints"): the endpoints are disconnected and the removal retried,
and what still fails is one :class:`RunError` line, never the engine's traceback.
"""

from __future__ import annotations

import time

from decompose.runtime.docker_build import LABEL_PROJECT, docker_client


class RunError(RuntimeError):
    """Cannot even try (missing image, port taken, bad manifest for running)."""


def _remove_network(n, attempts: int = 5) -> bool:
    """Remove network ``n``; True when this call removed it.  The engine refuses while endpoints are
    attached ("has active endpoints": a container it is still tearing down, one that is not the
    project's): they are disconnected and the removal tried again, a few times."""
    from docker.errors import APIError, NotFound

    for attempt in range(attempts):
        try:
            n.remove()
            return True
        except NotFound:
            return False
        except APIError as exc:
            if "active endpoints" not in str(exc) or attempt == attempts - 1:
                raise RunError(f"network {n.name}: cannot be removed: {getattr(exc, 'explanation', exc)}") from None
        try:
            n.reload()
            for cid in sorted((n.attrs.get("Containers") or {})):
                try:
                    n.disconnect(cid, force=True)
                except (APIError, NotFound):
                    pass
        except NotFound:
            return False
        time.sleep(0.5 * (attempt + 1))
    return False


def down_docker(project: str, *, client=None, keep_volumes: bool = False) -> tuple[list[str], list[str]]:
    """Remove every container, network and (unless ``keep_volumes``) volume labelled for ``project``.

    Idempotent.  Returns (removed container names, removed network names).
    """
    from docker.errors import NotFound

    client = client or docker_client()
    flt = {"label": f"{LABEL_PROJECT}={project}"}
    containers = []
    for c in client.containers.list(all=True, filters=flt, ignore_removed=True):
        try:
            c.remove(force=True, v=True)
            containers.append(c.name)
        except NotFound:
            pass
    networks = []
    for n in client.networks.list(filters=flt):
        if _remove_network(n):
            networks.append(n.name)
    if not keep_volumes:
        for v in client.volumes.list(filters=flt):
            try:
                v.remove(force=True)
            except NotFound:
                pass
    return sorted(containers), sorted(networks)
