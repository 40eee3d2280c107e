"""Run the generated services: Docker containers or plain local processes (infrastructure adapter).

Docker (:func:`up_docker` / :func:`down_docker`): one user-defined network
named after the project, one container per service reachable by its service
name (network alias), the gateway publishing the public routes on one local
port.  Everything carries the ``io.decompose.project`` label, so
:func:`down_docker` finds and removes it all, also after a failed ``up``.

Local (:func:`up_local` / :func:`down_local`): the same services as processes
of the current interpreter with each service's source folder on PYTHONPATH,
free ports on 127.0.0.1, service URLs pointing at them, logs in files and a
process registry in the output folder so ``down --local`` stops them.

RPC secret: every ``up`` makes a fresh per-run secret (:func:`new_rpc_secret`)
that the services sign their calls to each other with, always a file named
by ``DECOMPOSE_RPC_SECRET_FILE``, never an environment value: Docker
bind-mounts a read-only copy (:mod:`decompose.runtime.run_secret`), local
processes read the file itself.  The gateway gets none (it forwards public
routes only).  It is kept in ``OUT/.decompose-run/rpc-secret.<mode>`` (mode
0600) for signing calls by hand while debugging; ``down`` deletes it.

Verify (``verify_dir``, what ``decompose verify`` and ``up --verify-dir`` use):
every service also gets ``DECOMPOSE_DATABASE`` (the SQLite file ``db.sqlite3``
of that folder) and ``DECOMPOSE_SECRET_KEY_FILE`` (its ``secret-key``), so
that the monolith's database settings and Flask ``SECRET_KEY`` are those of
the test process (the generated ``decompose_rt/verify_config.py``).  Docker
bind-mounts the folder at ``/decompose-verify`` into every service container
(the one writable path of the read-only root besides the volumes).

Database: a PostgreSQL server starts first (:mod:`decompose.runtime.database`); --local/verify: SQLite.

Readiness: each unit's readiness path answers 2xx (Docker: probed from
inside the container with ``docker exec``, as the ports of services are not
published; local: HTTP from here), then the gateway's readiness path through
the published port.  A unit that exits or stays
unready is reported by name with its last log lines (:class:`UpFailed`).
The wait ends at the first failure: a unit that exits (also after it was
ready), restarts, crash-loops or answers that its app lacks routes it owns
(:mod:`decompose.runtime.readiness`); the units not ready yet are named too.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from decompose.runtime import database
from decompose.runtime.docker_down import RunError, down_docker  # noqa: F401 - runner's public names
from decompose.runtime.docker_build import (
    LABEL_PROJECT,
    LABEL_ROLE,
    LABEL_SERVICE,
    OutputManifest,
    Unit,
    docker_client,
    missing_images,
)
from decompose.runtime.interpreters import missing_requirements, unit_pythons  # noqa: F401
from decompose.runtime.ports import free_port, port_in_use  # noqa: F401 - runner.free_port is their public name
from decompose.runtime.readiness import (  # noqa: F401
    crash_loop, first_error, http_probe, log_lines, probe_container, probe_script,
)
from decompose.fsio import atomic_write
from decompose.runtime.run_secret import (  # noqa: F401 - rpc_secret_path, forget_rpc_secret: used by verify, cli
    CONTAINER_SECRET_FILE, RUN_DIR, container_secret_file, forget_rpc_secret, new_rpc_secret, rpc_secret_path,
)
from decompose.runtime.verify_folder import (
    GATEWAY_TRUST_CLIENT_ENV, LABEL_VERIFY_DIR, VERIFY_DATABASE_ENV, VERIFY_MOUNT, VERIFY_SECRET_KEY_ENV, VERIFY_TMP,
    prepare_verify_dir, verify_env,
)

REGISTRY = "local.json"
LOG_TAIL = 20

StatusFn = Callable[[str, str], None]  # (unit name, short status text)

SECRET_ENV = "DECOMPOSE_RPC_SECRET"  # the generated runtime's variables (templates/runtime/auth.py.j2)
SECRET_FILE_ENV = "DECOMPOSE_RPC_SECRET_FILE"



@dataclass
class UnitFailure:
    name: str
    reason: str
    logs: list[str] = field(default_factory=list)
    #: what went wrong, from its log (the exception of its first traceback, else its first error line)
    error: str = ""


class UpFailed(Exception):
    """Some units did not become ready; ``str()`` is one line naming them."""

    def __init__(self, failures: list[UnitFailure], hint: str = "", waiting: Mapping[str, str] | None = None):
        self.failures = failures
        self.hint = hint
        #: units not ready yet when ``up`` stopped waiting because of ``failures`` (name -> last probe result)
        self.waiting = dict(waiting or {})
        names = ", ".join(f"{f.name} ({f.reason})" for f in failures)
        super().__init__(f"{len(failures)} unit(s) failed to start: {names}")


@dataclass(frozen=True)
class Running:
    project: str
    url: str  # public base URL (gateway)
    units: dict[str, str]  # unit -> where it runs (container name or 127.0.0.1:port)
    seconds: float
    rpc_secret_file: str = ""  # this run's RPC secret, for signing calls by hand
    verify_dir: str = ""  # the folder shared with `decompose verify` ("" when not started for it)


# --------------------------------------------------------------------------- pure helpers


def network_name(project: str) -> str:
    return project


def container_name(project: str, unit: str) -> str:
    return f"{project}-{unit}"


def public_unit(m: OutputManifest) -> Unit:
    """The unit that publishes the public routes: the gateway, else the only service with routes."""
    if m.gateway is not None:
        return m.gateway
    owners = [s for s in m.services if s.routes]
    if len(owners) == 1:
        return owners[0]
    if not owners and len(m.services) == 1:
        return m.services[0]
    raise RunError(
        "the output has no gateway and "
        + ("no service owns public routes" if not owners else f"{len(owners)} services own public routes")
        + "; regenerate with a gateway"
    )


def unit_env(m: OutputManifest, unit: Unit, urls: Mapping[str, str], *, override_urls: bool) -> dict[str, str]:
    """Environment of ``unit``: the manifest's, plus every other unit's base URL.

    ``urls`` maps unit name -> base URL as seen from ``unit``.  Docker mode
    keeps URLs the manifest sets (``override_urls=False``); local mode replaces
    them because container names do not resolve on the host.
    """
    env = dict(unit.env)
    for other in m.units:
        if other.name == unit.name or other.name not in urls:
            continue
        if override_urls or other.url_env not in env:
            env[other.url_env] = urls[other.name]
    return env


def gets_rpc_secret(unit: Unit) -> bool:
    """Services sign and check internal calls; the gateway forwards public routes only."""
    return unit.role != "gateway"


def http_ok(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    """(True, "") when ``url`` answers 2xx, else (False, why)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - local URL we built
            return 200 <= r.status < 300, f"HTTP {r.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, " ".join(str(reason).split())


def tail_lines(text: str, n: int = LOG_TAIL) -> list[str]:
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    return lines[-n:]


# --------------------------------------------------------------------------- Docker


def _labels(project: str, unit: Unit) -> dict[str, str]:
    return {LABEL_PROJECT: project, LABEL_SERVICE: unit.name, LABEL_ROLE: unit.role}


def volume_name(project: str, volume: str) -> str:
    return f"{project}-{volume}"


def _container_logs(container, n: int = LOG_TAIL) -> list[str]:
    try:
        return tail_lines(container.logs(tail=n * 2).decode("utf-8", "replace"), n)
    except Exception:  # noqa: BLE001 - logs are best effort in an error report
        return []


def _health_timed_out(state: Mapping) -> bool:
    """The last health checks did not answer in time (a slow start on a loaded machine): Docker says
    "unhealthy" but the service may still come up, so ``up`` goes on probing until its own deadline."""
    logs = ((state.get("Health") or {}).get("Log")) or []
    return bool(logs) and logs[-1].get("ExitCode") == -1 and "timeout" in str(logs[-1].get("Output", "")).lower()


def _health_output(state: Mapping) -> str:
    logs = ((state.get("Health") or {}).get("Log")) or []
    if not logs:
        return ""
    return " ".join(str(logs[-1].get("Output", "")).split())[-300:]


def up_docker(
    m: OutputManifest,
    *,
    port: int = 8080,
    timeout: float = 120.0,
    client=None,
    status: StatusFn | None = None,
    verify_dir: Path | None = None,
) -> Running:
    """Start the project's containers and wait until all are ready.

    ``verify_dir``: a host folder (see :func:`prepare_verify_dir`) bind-mounted
    into every service at :data:`VERIFY_MOUNT`, for ``decompose verify``.

    Replaces containers of a previous run of the same project.  On failure
    raises :class:`UpFailed` and leaves the containers for inspection;
    :func:`down_docker` removes them.
    """
    from docker.errors import APIError, NotFound

    t0 = time.monotonic()
    say = status or (lambda name, text: None)
    client = client or docker_client()
    front = public_unit(m)
    server = None if verify_dir is not None else _db_server(m.root)
    missing = missing_images(m, client)
    if missing:
        raise RunError(f"image(s) not built: {', '.join(missing)} (run `decompose build {m.root}`)")
    if server is not None and (no_image := database.missing_image(client, server)):
        raise RunError(no_image)

    old, _ = down_docker(m.project, client=client)
    if old:
        say("*", f"removed {len(old)} container(s) of a previous run")
    if port_in_use(port):
        raise RunError(f"port {port} on 127.0.0.1 is already in use (choose another with --port)")

    net = network_name(m.project)
    try:
        client.networks.create(net, driver="bridge", labels={LABEL_PROJECT: m.project}, check_duplicate=True)
    except APIError as exc:
        raise RunError(f"cannot create network {net!r}: {exc.explanation or exc}") from None

    urls = {u.name: f"http://{u.name}:{u.port}" for u in m.units}
    secret, secret_file = new_rpc_secret(m.root, "docker")
    if verify_dir is not None:
        verify_dir = prepare_verify_dir(verify_dir)
    db_files = database.new_secrets(server, run_dir(m.root)) if server is not None else {}
    if server is not None:  # first: the services create their tables when they start
        say(server.name, "starting")
        pg, why = database.run_server(
            client, server, network=net, container_name=container_name(m.project, server.name), files=db_files,
            labels={LABEL_PROJECT: m.project, LABEL_SERVICE: server.name, LABEL_ROLE: database.ROLE},
            volume=volume_name(m.project, f"{server.name}-data"), deadline=t0 + timeout)
        if why:
            raise UpFailed([UnitFailure(server.name, why, _container_logs(pg) if pg else [])],
                           hint=f"containers left for inspection; `decompose down {m.root}` removes them")
        say(server.name, "ready")
    containers = {}
    for u in m.units:
        name = container_name(m.project, u.name)
        env = unit_env(m, u, urls, override_urls=False)
        env.setdefault("PORT", str(u.port))
        env.pop(SECRET_FILE_ENV, None)
        env.pop(SECRET_ENV, None)  # never an environment value: `docker inspect` shows those
        ports = {f"{u.port}/tcp": ("127.0.0.1", port)} if u is front else None
        mounts = {}
        # under verify on a root host, the test process's user with DAC_OVERRIDE: it reads and writes
        # what the test made (its tmp_path, whatever modes it set) and the image user's folders alike
        as_user = "0:0" if verify_dir is not None and u.role != "gateway" and os.getuid() == 0 else None
        if gets_rpc_secret(u):
            user = as_user or (client.images.get(u.image).attrs.get("Config") or {}).get("User") or ""
            mounts[str(container_secret_file(m.root, secret, user))] = {"bind": CONTAINER_SECRET_FILE, "mode": "ro"}
            env[SECRET_FILE_ENV] = CONTAINER_SECRET_FILE
        labels = _labels(m.project, u)
        if verify_dir is not None and u.role != "gateway":
            env.update(verify_env(VERIFY_MOUNT))
            mounts[str(verify_dir)] = {"bind": VERIFY_MOUNT, "mode": "rw"}
            mounts[str(verify_dir / VERIFY_TMP)] = {"bind": str(verify_dir / VERIFY_TMP), "mode": "rw"}  # same path
            labels[LABEL_VERIFY_DIR] = str(verify_dir)
            env = {k: v for k, v in env.items() if k not in database.file_envs(m.root)}  # verify: its SQLite file
        if verify_dir is not None and u.role == "gateway":
            env[GATEWAY_TRUST_CLIENT_ENV] = "1"
        if server is not None:
            mounts.update(database.service_mounts(server, u.name, db_files))
        for vname, path in u.volumes:
            full = volume_name(m.project, vname)
            try:
                client.volumes.get(full)
            except NotFound:
                client.volumes.create(full, labels={LABEL_PROJECT: m.project})
            mounts[full] = {"bind": path, "mode": "rw"}
        say(u.name, "starting")
        try:
            c = client.containers.create(
                u.image,
                name=name,
                hostname=u.name,
                environment=env,
                labels=labels,
                network=net,
                networking_config={net: client.api.create_endpoint_config(aliases=[u.name])},
                ports=ports,
                volumes=mounts or None,
                user=as_user,
                # as hardened as the generated compose file and Kubernetes manifests
                read_only=True,
                tmpfs={"/tmp": "rw,nosuid,nodev"},
                cap_drop=["ALL"],
                cap_add=["DAC_OVERRIDE"] if as_user else None,
                security_opt=["no-new-privileges:true"],
                detach=True,
            )
            containers[u.name] = c
            c.start()
        except APIError as exc:
            msg = " ".join(str(exc.explanation or exc).split())
            if "port is already allocated" in msg or "address already in use" in msg:
                raise RunError(f"port {port} is already in use (choose another with --port)") from None
            raise UpFailed([UnitFailure(u.name, f"cannot start container: {msg}")]) from None

    pending = dict(containers)
    failures: list[UnitFailure] = []
    last_probe: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        # Every unit, also those already ready: one that exits meanwhile ends the wait at once.
        for name, c in containers.items():
            failure = _container_failure(name, c)
            if failure is not None:
                failures.append(failure)
                pending.pop(name, None)
                say(name, failure.reason.split(":", 1)[0])
        if failures or not pending or time.monotonic() >= deadline:
            break
        for name, c in list(pending.items()):
            ok, why, final = probe_container(c, m.unit(name).port, m.unit(name).ready)
            if ok:
                del pending[name]
                say(name, "ready")
            elif final:  # e.g. routes the app does not serve: waiting cannot help
                failures.append(UnitFailure(name, why, _container_logs(c)))
                del pending[name]
                say(name, "not ready")
            else:
                last_probe[name] = why
        if pending and not failures:
            time.sleep(0.5)
    waiting = _not_ready(failures, pending, last_probe, timeout, lambda name: _container_logs(containers[name]))
    if failures:
        order = [u.name for u in m.units]
        failures.sort(key=lambda f: order.index(f.name))
        raise UpFailed(failures, hint=f"containers left for inspection; `decompose down {m.root}` removes them",
                       waiting=waiting)

    url = f"http://127.0.0.1:{port}"
    ok, why = _wait_http(url + front.ready, deadline=max(deadline, time.monotonic() + 10))
    if not ok:
        raise UpFailed(
            [UnitFailure(front.name, f"{url}{front.ready} from the host: {why}", _container_logs(containers[front.name]))],
            hint=f"`decompose down {m.root}` removes the containers",
        )
    return Running(m.project, url, {n: c.name for n, c in containers.items()}, time.monotonic() - t0,
                   rpc_secret_file=str(secret_file), verify_dir=str(verify_dir or ""))


def _db_server(root: Path) -> database.Server | None:
    try:
        return database.load_server(root)
    except database.DatabaseError as exc:
        raise RunError(str(exc)) from None


def _wait_http(url: str, *, deadline: float) -> tuple[bool, str]:
    why = "not tried"
    while True:
        ok, why = http_ok(url)
        if ok or time.monotonic() >= deadline:
            return ok, why
        time.sleep(0.3)


def _container_failure(name: str, container) -> UnitFailure | None:
    """Why a started container can no longer become ready (exited, restarting, unhealthy, crash loop), or None."""
    container.reload()
    state = container.attrs.get("State", {})
    health = (state.get("Health") or {}).get("Status", "")
    restarts = container.attrs.get("RestartCount") or 0
    if state.get("Status") in ("exited", "dead") or state.get("Restarting") or restarts:
        code = state.get("ExitCode")
        why = f"exited with code {code}" + (f" ({state['Error']})" if state.get("Error") else "")
        if state.get("OOMKilled"):
            why += " (out of memory)"
        if restarts or state.get("Restarting"):
            why = f"crash loop: restarted {restarts} time(s), last {why}"
        return UnitFailure(name, why, _container_logs(container), first_error(_all_logs(container)))
    if health == "unhealthy" and not _health_timed_out(state):  # the image's own HEALTHCHECK got answers and gave up
        out = _health_output(state)
        return UnitFailure(name, "unhealthy" + (f": {out}" if out else ""), _container_logs(container),
                           first_error(_all_logs(container)))
    lines = _all_logs(container, tail=200)
    loop = crash_loop(lines)
    if loop:
        return UnitFailure(name, loop, tail_lines("\n".join(lines)), first_error(lines))
    return None


def _all_logs(container, tail: int = 2000) -> list[str]:
    try:
        return container.logs(tail=tail).decode("utf-8", "replace").splitlines()
    except Exception:  # noqa: BLE001 - logs are best effort
        return []


def _not_ready(failures: list[UnitFailure], pending: Mapping, last_why: Mapping[str, str], timeout: float,
               logs: Callable[[str], list[str]]) -> dict[str, str]:
    """After the wait: units still pending are failures when time ran out; when ``up``
    stopped early because of other failures, they are returned (name -> last probe)."""
    if failures:
        return {name: last_why.get(name) or "not ready yet" for name in pending}
    for name in pending:
        why = f"not ready after {timeout:.0f}s" + (f": {last_why[name]}" if last_why.get(name) else "")
        failures.append(UnitFailure(name, why, logs(name)))
    return {}


# --------------------------------------------------------------------------- local processes


@dataclass
class LocalProc:
    name: str
    pid: int
    port: int
    log: str
    start_ticks: int  # /proc/<pid>/stat field 22: tells a live pid from a recycled one
    argv: list[str]


def _proc_start_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    # field 2 (comm) may contain spaces; it is wrapped in parentheses
    rest = stat[stat.rindex(")") + 2 :].split()
    return int(rest[19])  # field 22 overall


def _alive(p: LocalProc) -> bool:
    if sys.platform.startswith("linux"):
        return p.start_ticks >= 0 and _proc_start_ticks(p.pid) == p.start_ticks
    try:
        os.kill(p.pid, 0)
        return True
    except OSError:
        return False


def run_dir(out: Path) -> Path:
    return Path(out) / RUN_DIR


def _read_registry(out: Path) -> dict:
    path = run_dir(out) / REGISTRY
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"{path}: unreadable process registry: {exc}") from None


def _write_registry(out: Path, project: str, procs: list[LocalProc], url: str, verify_dir: str = "") -> None:
    data = {"project": project, "url": url, "processes": [asdict(p) for p in procs]}
    if verify_dir:
        data["verify_dir"] = verify_dir
    atomic_write(run_dir(out) / REGISTRY, json.dumps(data, indent=2) + "\n")


def local_volume_env(env: Mapping[str, str], volumes: Mapping[str, Path]) -> dict[str, str]:
    """Rewrite container mount paths in environment values to local folders.

    ``{"DB": "sqlite:////data/x.db"}`` with ``{"/data": Path("/o/v/x-data")}``
    gives ``{"DB": "sqlite:////o/v/x-data/x.db"}``.  Only whole path
    components match: ``/database`` or ``/var/data`` are left alone.
    """
    import re

    out = dict(env)
    for path, local in sorted(volumes.items(), key=lambda kv: -len(kv[0])):
        pat = re.compile(r"(?<![A-Za-z0-9_.\-])" + re.escape(path) + r"(?=/|$|[^A-Za-z0-9_.\-])")
        repl = str(local)
        for k, v in out.items():
            out[k] = pat.sub(lambda _m, r=repl: r, v)
    return out


def local_argv(unit: Unit, port: int, python: str | None = None) -> list[str]:
    """The command running ``unit`` locally: its manifest command with ``python``
    (default: this interpreter) and ``port``.

    ``python``/``python3`` become that interpreter; ``{port}``/``$PORT``
    placeholders and the value after ``--port`` become ``port``.  Without a
    command, the Dockerfile's JSON-form ``CMD`` is used.
    """
    argv = list(unit.command) or dockerfile_cmd(unit.context / unit.dockerfile)
    if not argv:
        raise RunError(f"{unit.name}: no command to run it locally (no 'command' in the manifest, no JSON CMD in its Dockerfile)")
    out = []
    for i, a in enumerate(argv):
        if i == 0 and Path(a).name in ("python", "python3", "python3.11"):
            a = python or sys.executable
        elif i > 0 and argv[i - 1] == "--port":
            a = str(port)
        elif a.startswith("--port="):
            a = f"--port={port}"
        a = a.replace("{port}", str(port)).replace("${PORT}", str(port)).replace("$PORT", str(port))
        out.append(a)
    return out


def dockerfile_cmd(path: Path) -> list[str]:
    """The last ``CMD [...]`` (exec form) of a Dockerfile, or []."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    joined = text.replace("\\\n", " ")
    cmd: list[str] = []
    for line in joined.splitlines():
        s = line.strip()
        if s.upper().startswith("CMD "):
            body = s[4:].strip()
            try:
                val = json.loads(body)
                cmd = [str(x) for x in val] if isinstance(val, list) else []
            except json.JSONDecodeError:
                cmd = shlex.split(body)
    return cmd


def _terminate(procs: list[LocalProc], grace: float = 10.0) -> list[str]:
    live = [p for p in procs if _alive(p)]
    for p in live:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        except PermissionError:
            os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in live):
        for p in live:  # reap our own children so they do not linger as zombies
            try:
                os.waitpid(p.pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.1)
    for p in live:
        if _alive(p):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for p in live:
        try:
            os.waitpid(p.pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return [p.name for p in live]


def down_local(out: Path, *, keep_volumes: bool = False) -> list[str]:
    """Stop the processes recorded by :func:`up_local` in ``out`` and (unless
    ``keep_volumes``) delete their data folders; idempotent. Returns stopped names."""
    import shutil

    reg = _read_registry(out)
    procs = [LocalProc(**p) for p in reg.get("processes", [])]
    stopped = _terminate(procs)
    try:
        (run_dir(out) / REGISTRY).unlink()
    except FileNotFoundError:
        pass
    forget_rpc_secret(out, "local")
    if not keep_volumes:
        shutil.rmtree(run_dir(out) / "volumes", ignore_errors=True)
    return stopped


def up_local(
    m: OutputManifest,
    *,
    port: int = 8080,
    timeout: float = 60.0,
    status: StatusFn | None = None,
    python_path_extra: list[str] | None = None,
    verify_dir: Path | None = None,
    python: str | None = None,
) -> Running:
    """Start every unit as a process of this interpreter and wait for readiness.

    ``verify_dir``: the folder shared with ``decompose verify`` (see
    :func:`prepare_verify_dir`); every service reads its database and session key.

    On failure raises :class:`UpFailed`; the processes already started stay
    recorded in the registry so ``down --local`` stops them.
    """
    t0 = time.monotonic()
    say = status or (lambda name, text: None)
    front = public_unit(m)
    out = m.root
    stopped = down_local(out, keep_volumes=True)
    if stopped:
        say("*", f"stopped {len(stopped)} process(es) of a previous run")
    # what each unit's Python lacks: may still run (e.g. gunicorn is optional): warn, report on failure
    pythons, lacking = unit_pythons(m, python)
    for name, reqs in lacking.items():
        where = "this Python" if pythons[name] == sys.executable else pythons[name]
        say(name, f"warning: not installed in {where}: {', '.join(reqs)}")
    for u in m.units:
        if python is not None and pythons[u.name] != python:
            say(u.name, f"runs with {pythons[u.name]}: {python} lacks its requirements")
    if port_in_use(port):
        raise RunError(f"port {port} on 127.0.0.1 is already in use (choose another with --port)")
    ports = {u.name: (port if u is front else free_port()) for u in m.units}
    urls = {u.name: f"http://127.0.0.1:{ports[u.name]}" for u in m.units}
    logs_dir = run_dir(out) / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    server = _db_server(out)
    _secret, secret_file = new_rpc_secret(out, "local")
    if verify_dir is not None:
        verify_dir = prepare_verify_dir(verify_dir)
    verify = str(verify_dir or "")
    procs: list[LocalProc] = []
    popens: dict[str, subprocess.Popen] = {}
    url = f"http://127.0.0.1:{port}"
    for u in m.units:
        p = ports[u.name]
        argv = local_argv(u, p, pythons[u.name])
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", SECRET_ENV, SECRET_FILE_ENV,
                            VERIFY_DATABASE_ENV, VERIFY_SECRET_KEY_ENV)}
        vols = {}
        for vname, path in u.volumes:
            vols[path] = run_dir(out) / "volumes" / vname
            vols[path].mkdir(parents=True, exist_ok=True)
        env.update(local_volume_env(unit_env(m, u, urls, override_urls=True), vols))
        database.local_env(env, server, u.name, run_dir(out) / "volumes")  # no server locally: SQLite files
        src = str(u.source or u.context)
        env["PYTHONPATH"] = os.pathsep.join([src, *(python_path_extra or [])])
        env["PORT"] = str(p)
        env["HOST"] = "127.0.0.1"
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONNOUSERSITE"] = "1"
        # its own shadow of the working directory, when it needs one (decompose_rt/__init__.py)
        shadow = run_dir(out) / "workdirs" / u.name
        shutil.rmtree(shadow, ignore_errors=True)
        env["DECOMPOSE_WORKDIR_SHADOW"] = str(shadow)
        env.pop(SECRET_ENV, None)  # never an environment value locally: the file only
        env.pop(SECRET_FILE_ENV, None)
        if gets_rpc_secret(u):
            env[SECRET_FILE_ENV] = str(secret_file.resolve())
        if verify_dir is not None and u.role != "gateway":
            env.update(verify_env(verify_dir))
        if verify_dir is not None and u.role == "gateway":
            env[GATEWAY_TRUST_CLIENT_ENV] = "1"
        log_path = logs_dir / f"{u.name}.log"
        say(u.name, f"starting on 127.0.0.1:{p}")
        with open(log_path, "wb") as logf:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=src,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                _write_registry(out, m.project, procs, url, verify)
                raise UpFailed([UnitFailure(u.name, f"cannot start {argv[0]}: {exc.strerror or exc}")]) from None
        popens[u.name] = proc
        procs.append(LocalProc(u.name, proc.pid, p, str(log_path), _proc_start_ticks(proc.pid), argv))
        _write_registry(out, m.project, procs, url, verify)

    def log_tail(name: str) -> list[str]:
        try:
            return tail_lines((logs_dir / f"{name}.log").read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return []

    pending = {u.name: u for u in m.units}
    failures: list[UnitFailure] = []
    last_why: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        # Every unit, also those already ready: one that exits meanwhile ends the wait at once.
        for u in m.units:
            code = popens[u.name].poll()
            lines = log_lines(logs_dir / f"{u.name}.log")
            loop = crash_loop(lines) if code is None else ""
            if code is not None or loop:
                failures.append(UnitFailure(u.name, loop or f"exited with code {code}", log_tail(u.name),
                                            first_error(lines)))
                pending.pop(u.name, None)
                say(u.name, "crash loop" if loop else "exited")
        if failures or not pending or time.monotonic() >= deadline:
            break
        for name, u in list(pending.items()):
            ok, why, final = http_probe(f"{urls[name]}{u.ready}", timeout=1.0)
            if ok:
                del pending[name]
                say(name, "ready")
            elif final:  # e.g. routes the app does not serve: waiting cannot help
                failures.append(UnitFailure(name, why, log_tail(name)))
                del pending[name]
                say(name, "not ready")
            else:
                last_why[name] = why
        if pending and not failures:
            time.sleep(0.2)
    waiting = _not_ready(failures, pending, last_why, timeout, log_tail)
    if failures:
        order = [u.name for u in m.units]
        failures.sort(key=lambda f: order.index(f.name))
        hint = f"logs in {logs_dir}; `decompose down --local {out}` stops the rest"
        for f in failures:
            if f.name in lacking:
                req = m.unit(f.name).context / "requirements.txt"
                hint += f"; {f.name} needs {', '.join(lacking[f.name])}: {pythons[f.name]} -m pip install -r {req}"
        raise UpFailed(failures, hint=hint, waiting=waiting)
    return Running(m.project, url, {n: f"127.0.0.1:{ports[n]}" for n in ports}, time.monotonic() - t0,
                   rpc_secret_file=str(secret_file), verify_dir=verify)
