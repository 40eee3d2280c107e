"""``decompose up --swarm``: the split system as Docker Swarm services with replicas (infrastructure adapter).

The same units as ``decompose up`` (the images ``decompose build`` made, the
manifest's environment, the PostgreSQL server of :mod:`decompose.runtime.database`),
deployed through the docker SDK as swarm services on one attachable overlay
network, every service with as many tasks as its ``replicas:`` in the plan
(default 2; ``--replicas N`` gives every service N):

* **Addressing**: each service answers on the network under its unit name (a
  network alias), with ``endpoint_mode: dnsrr`` - the name resolves to the
  addresses of all its running tasks (DNS round robin).  VIP mode needs IPVS,
  which some kernels lack (this project's CI machine among them).
* **The gateway** is the one public unit: one task, its port published in
  host mode on the node (the routing mesh also needs IPVS).  Host-mode
  publishing listens on every interface of the node, not only 127.0.0.1.
* **Secrets** are swarm secrets (the RPC secret, the database URLs and the
  superuser password), mounted as files where the services read them; never
  environment values.  They are immutable, so each run makes new ones, named
  ``<project>-<secret>-<run>``; ``down`` removes them.
* **Readiness**: every task of every service runs, and the readiness probe of
  each task's container answers (the same probe as ``up``); a task the swarm
  rejects or that fails is reported with its error and log lines.
* Everything carries the ``io.decompose.project`` label; :func:`down_swarm`
  removes services, secrets, the network and (unless kept) the volumes.

The engine must be a swarm manager already (``docker swarm init``; one node is
enough): ``up --swarm`` never changes the engine's mode on its own.
"""

from __future__ import annotations

import secrets as _secrets
import time
from collections.abc import Callable
from pathlib import Path

from decompose.runtime import database
from decompose.runtime.docker_build import (
    LABEL_PROJECT,
    LABEL_ROLE,
    LABEL_SERVICE,
    OutputManifest,
    docker_client,
    missing_images,
)
from decompose.runtime.readiness import probe_container
from decompose.runtime.run_secret import CONTAINER_SECRET_FILE, new_rpc_secret
from decompose.runtime.runner import (
    SECRET_ENV,
    SECRET_FILE_ENV,
    Running,
    RunError,
    UnitFailure,
    UpFailed,
    _wait_http,
    gets_rpc_secret,
    public_unit,
    run_dir,
    unit_env,
    volume_name,
)

LABEL_RUN = "io.decompose.swarm-run"
SWARM_TASK_SERVICE = "com.docker.swarm.service.name"  # label of a task's container
DEFAULT_REPLICAS = 2
#: Failed tasks (beyond one per replica) after which a service counts as crash-looping.
CRASH_LOOP_FAILURES = 2
#: A task's boot allowance: its image's HEALTHCHECK failures do not count before this (the swarm
#: kills an unhealthy task), so a slow first boot on a loaded node is not killed in a loop.
START_PERIOD_NS = 180_000_000_000
#: A busy task (every worker thread serving) answers its health check late, not never: the swarm
#: replaces an unhealthy task, so a check that merely waits must not make it one.
HEALTH_TIMEOUT_NS = 10_000_000_000
HEALTH_RETRIES = 5

StatusFn = Callable[[str, str], None]


def service_name(project: str, unit: str) -> str:
    return f"{project}-{unit}"


def network_name(project: str) -> str:
    return f"{project}-swarm"


def swarm_state(client) -> str:
    """The engine's swarm state: ``active`` for a manager, else why not."""
    info = client.info().get("Swarm") or {}
    if info.get("LocalNodeState") != "active":
        return (f"the Docker engine is not in swarm mode ({info.get('LocalNodeState') or 'inactive'}): "
                "`docker swarm init --advertise-addr 127.0.0.1` makes it a one-node swarm")
    if not info.get("ControlAvailable"):
        return "this Docker engine is a swarm worker; run decompose on a manager node"
    return "active"


def planned_replicas(root: Path) -> dict[str, int]:
    """Each service's ``replicas`` as the plan gives it (``decompose-output.json``, ``services[].replicas``)."""
    import json

    try:
        data = json.loads((Path(root) / "decompose-output.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for s in data.get("services") or [] if isinstance(data, dict) else []:
        if isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("replicas"), int):
            out[s["name"]] = max(1, s["replicas"])
    return out


def down_swarm(project: str, *, client=None, keep_volumes: bool = False) -> tuple[list[str], list[str]]:
    """Remove the project's swarm services, secrets, network and (unless kept) volumes: (services, volumes)."""
    from docker.errors import APIError, NotFound

    client = client or docker_client()
    flt = {"label": f"{LABEL_PROJECT}={project}"}
    removed = []
    for s in client.services.list(filters=flt):
        removed.append(s.name)
        try:
            s.remove()
        except NotFound:
            pass
    deadline = time.monotonic() + 60  # tasks' containers go before their network and volumes can
    # ignore_removed: a task's container can go between the listing and its inspect (swarm removes it)
    while time.monotonic() < deadline and client.containers.list(
            all=True, filters={"label": f"{LABEL_PROJECT}={project}", "status": "running"}, ignore_removed=True):
        time.sleep(0.5)
    for c in client.containers.list(all=True, filters=flt, ignore_removed=True):
        if SWARM_TASK_SERVICE in (c.labels or {}):
            try:
                c.remove(force=True)
            except (NotFound, APIError):
                pass
    for sec in client.secrets.list(filters=flt):
        try:
            sec.remove()
        except (NotFound, APIError):
            pass
    for net in client.networks.list(filters=flt):
        if net.name == network_name(project):
            for _ in range(20):
                try:
                    net.remove()
                    break
                except NotFound:
                    break
                except APIError:  # endpoints still attached for a moment after the tasks stop
                    time.sleep(0.5)
    volumes = []
    if not keep_volumes:
        for v in client.volumes.list(filters=flt):
            try:
                v.remove(force=True)
                volumes.append(v.name)
            except (NotFound, APIError):
                pass
    return removed, volumes


def _secret(client, project: str, run: str, name: str, data: bytes):
    sec = client.secrets.create(name=f"{project}-{name}-{run}", data=data,
                                labels={LABEL_PROJECT: project, LABEL_RUN: run})
    return sec.id, sec.name


def _ref(types, secret: tuple[str, str], target: str):
    sid, sname = secret
    return types.SecretReference(sid, sname, filename=target, uid="0", gid="0", mode=0o444)


def up_swarm(
    m: OutputManifest,
    *,
    port: int = 8080,
    timeout: float = 300.0,
    replicas: int | None = None,
    client=None,
    status: StatusFn | None = None,
) -> Running:
    """Deploy the project as swarm services (``replicas`` tasks each, the gateway one) and wait until all are ready."""
    from docker import types
    from docker.errors import APIError

    t0 = time.monotonic()
    deadline = t0 + timeout
    say = status or (lambda name, text: None)
    client = client or docker_client()
    state = swarm_state(client)
    if state != "active":
        raise RunError(state)
    if replicas is not None and replicas < 1:
        raise RunError(f"--replicas {replicas}: at least 1")
    planned = planned_replicas(m.root)
    front = public_unit(m)
    missing = missing_images(m, client)
    if missing:
        raise RunError(f"image(s) not built: {', '.join(missing)} (run `decompose build {m.root}`)")
    try:
        server = database.load_server(m.root)
    except database.DatabaseError as exc:
        raise RunError(str(exc)) from None
    if server is not None and (no_image := database.missing_image(client, server)):
        raise RunError(no_image)
    old, _ = down_swarm(m.project, client=client)
    if old:
        say("*", f"removed {len(old)} service(s) of a previous run")

    net = network_name(m.project)
    try:
        client.networks.create(net, driver="overlay", attachable=True, labels={LABEL_PROJECT: m.project},
                               check_duplicate=True)
    except APIError as exc:
        raise RunError(f"cannot create overlay network {net!r}: {exc.explanation or exc}") from None
    run = _secrets.token_hex(4)
    labels = {LABEL_PROJECT: m.project, LABEL_RUN: run}
    rpc_value, _ = new_rpc_secret(m.root, "swarm")
    rpc = _secret(client, m.project, run, "rpc-secret", rpc_value.encode())
    db_secrets: dict[str, tuple[str, str]] = {}
    if server is not None:
        files = database.new_secrets(server, run_dir(m.root))
        db_secrets = {name: _secret(client, m.project, run, name, Path(path).read_bytes()) for name, path in files.items()}
        say(server.name, "starting")
        _create(client, types, name=service_name(m.project, server.name), image=server.image, net=net,
                alias=server.name, replicas=1, labels={**labels, LABEL_SERVICE: server.name, LABEL_ROLE: database.ROLE},
                env={"POSTGRES_USER": server.superuser,
                     "POSTGRES_PASSWORD_FILE": f"{server.secrets_dir}/{server.password_secret}"},
                secrets=[_ref(types, sec, f"{server.secrets_dir}/{name}") for name, sec in sorted(db_secrets.items())],
                mounts=[types.Mount(server.data_dir, volume_name(m.project, f"{server.name}-data"), type="volume",
                                    labels={LABEL_PROJECT: m.project}),
                        types.Mount("/docker-entrypoint-initdb.d", str(server.initdb), type="bind", read_only=True),
                        _tmpfs(types, "/var/run/postgresql")],
                user="999:999",
                healthcheck=types.Healthcheck(test=["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-p",
                                                    str(server.port), "-U", server.superuser],
                                              interval=1_000_000_000, timeout=3_000_000_000, retries=120))
        failures = _wait_tasks(client, m.project, {server.name: 1}, deadline, say, probe=None)
        if failures:
            raise UpFailed(failures, hint=f"services left for inspection; `decompose down {m.root}` removes them")
    urls = {u.name: f"http://{u.name}:{u.port}" for u in m.units}
    wanted: dict[str, int] = {}
    for u in m.units:
        env = unit_env(m, u, urls, override_urls=False)
        env.setdefault("PORT", str(u.port))
        env.pop(SECRET_ENV, None)
        env.pop(SECRET_FILE_ENV, None)
        refs = []
        if gets_rpc_secret(u):
            refs.append(_ref(types, rpc, CONTAINER_SECRET_FILE))
            env[SECRET_FILE_ENV] = CONTAINER_SECRET_FILE
        if server is not None:
            d = server.database_of(u.name)
            if d is not None:
                refs.append(_ref(types, db_secrets[d.secret], d.file))
        n = 1 if u is front else replicas or planned.get(u.name) or DEFAULT_REPLICAS
        wanted[u.name] = n
        endpoint = types.EndpointSpec(mode="dnsrr", ports=[{"Protocol": "tcp", "PublishedPort": port,
                                                             "TargetPort": u.port, "PublishMode": "host"}]
                                      ) if u is front else types.EndpointSpec(mode="dnsrr")
        mounts = [types.Mount(path, volume_name(m.project, vname), type="volume", labels={LABEL_PROJECT: m.project})
                  for vname, path in u.volumes]
        say(u.name, f"starting {n} replica(s)")
        _create(client, types, name=service_name(m.project, u.name), image=u.image, net=net, alias=u.name,
                replicas=n, labels={**labels, LABEL_SERVICE: u.name, LABEL_ROLE: u.role}, env=env, secrets=refs,
                mounts=mounts, endpoint_spec=endpoint,
                # the image's own check (empty test = inherited), with a longer boot allowance
                healthcheck=types.Healthcheck(start_period=START_PERIOD_NS, timeout=HEALTH_TIMEOUT_NS,
                                              retries=HEALTH_RETRIES))
    ready = {u.name: u for u in m.units}
    failures = _wait_tasks(client, m.project, wanted, deadline, say,
                           probe=lambda name, c: probe_container(c, ready[name].port, ready[name].ready))
    if failures:
        raise UpFailed(failures, hint=f"services left for inspection; `decompose down {m.root}` removes them")
    url = f"http://127.0.0.1:{port}"
    ok, why = _wait_http(url + front.ready, deadline=max(deadline, time.monotonic() + 10))
    if not ok:
        raise UpFailed([UnitFailure(front.name, f"{url}{front.ready} from the host: {why}", [])],
                       hint=f"`decompose down {m.root}` removes the services")
    return Running(m.project, url, {u.name: service_name(m.project, u.name) for u in m.units}, time.monotonic() - t0)


def _create(client, types, *, name, image, net, alias, replicas, labels, env, secrets, mounts, endpoint_spec=None,
            user=None, healthcheck=None):
    from docker.errors import APIError

    mounts = [*mounts, _tmpfs(types, "/tmp")]  # read-only root file system, as under `up`
    try:
        client.services.create(
            image, name=name, labels=labels, container_labels=labels, env=[f"{k}={v}" for k, v in sorted(env.items())],
            networks=[types.NetworkAttachmentConfig(net, aliases=[alias])], hostname=alias,
            mode=types.ServiceMode("replicated", replicas=replicas),
            endpoint_spec=endpoint_spec or types.EndpointSpec(mode="dnsrr"),
            secrets=secrets, mounts=mounts, user=user, healthcheck=healthcheck,
            read_only=True, cap_drop=["ALL"],
            # "any": a task the swarm stopped for failing its health check may exit 0 and must be replaced too
            restart_policy=types.RestartPolicy(condition="any", delay=1_000_000_000, max_attempts=0),
            update_config=types.UpdateConfig(parallelism=1, order="start-first"),
        )
    except APIError as exc:
        raise RunError(f"cannot create swarm service {name}: {' '.join(str(exc.explanation or exc).split())}") from None


def _tmpfs(types, target: str):
    return types.Mount(target, None, type="tmpfs")


def _task_containers(client, project: str, unit: str) -> list:
    return client.containers.list(filters={"label": [f"{LABEL_PROJECT}={project}", f"{LABEL_SERVICE}={unit}"],
                                           "status": "running"})


def _wait_tasks(client, project: str, wanted: dict[str, int], deadline: float, say: StatusFn, probe) -> list[UnitFailure]:
    """Wait until every service has ``wanted`` running tasks whose containers are healthy and (``probe``) ready."""
    from docker.errors import NotFound

    pending = dict(wanted)
    last: dict[str, str] = {}
    while pending:
        for name in sorted(pending):
            try:
                svc = client.services.get(service_name(project, name))
                tasks = svc.tasks()
            except NotFound:
                return [UnitFailure(name, "the swarm service disappeared", [])]
            failed = sorted((t for t in tasks if (t.get("Status") or {}).get("State") in ("failed", "rejected")),
                            key=lambda t: t.get("CreatedAt", ""))
            rejected = [t for t in failed if t["Status"].get("State") == "rejected"]
            # the swarm replaces a failed task by itself; only a rejected one (bad spec) or a
            # crash loop (more failures than one retry per replica) ends the wait
            if rejected or len(failed) > CRASH_LOOP_FAILURES + wanted[name]:
                st = (rejected or failed)[-1]["Status"]
                why = f"{st.get('State')}: {st.get('Err') or st.get('Message') or ''}".strip()
                if not rejected:
                    why = f"crash loop: {len(failed)} task(s) failed, last {why}"
                return [UnitFailure(name, why, _service_logs(svc))]
            if failed:
                last[name] = f"{len(failed)} task(s) failed and were replaced, last: {failed[-1]['Status'].get('Err', '')}"
            containers = _task_containers(client, project, name)
            healthy = []
            for c in containers:
                health = ((c.attrs.get("State") or {}).get("Health") or {}).get("Status", "")
                if health == "starting":
                    continue
                if probe is None:
                    if health != "unhealthy":
                        healthy.append(c)
                    continue
                ok, why, final = probe(name, c)
                if ok:
                    healthy.append(c)
                elif final:
                    return [UnitFailure(name, why, _service_logs(svc))]
                else:
                    last[name] = why
            if len(healthy) >= pending[name]:
                say(name, f"ready ({len(healthy)} task(s))")
                del pending[name]
        if not pending:
            break
        if time.monotonic() >= deadline:
            return [UnitFailure(name, f"not ready in time: {last.get(name) or 'tasks not running'}",
                                _service_logs(client.services.get(service_name(project, name))))
                    for name in sorted(pending)]
        time.sleep(1.0)
    return []


def _service_logs(svc, n: int = 20) -> list[str]:
    try:
        text = b"".join(svc.logs(stdout=True, stderr=True, tail=n)).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - logs are best effort
        return []
    return text.splitlines()[-n:]
