"""Build one image per generated service with the Docker SDK (infrastructure adapter).

Input is the folder written by ``decompose generate``; its root holds
``decompose-output.json`` (see docs/generate.md) describing the project, its
version, each service (build context, image tag, port, health and readiness
paths, environment, callees, public routes) and the gateway.  This module
reads that manifest (pure code, no Docker needed) and drives the engine's
build endpoint through the low-level API so progress can be streamed.

Errors are reported as :class:`BuildFailed` carrying the service, the failing
Dockerfile step (``Step 5/12 : RUN pip install ...``) and the last log lines.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "decompose-output.json"
LABEL_PROJECT = "io.decompose.project"
LABEL_SERVICE = "io.decompose.service"
LABEL_ROLE = "io.decompose.role"
LABEL_VERSION = "io.decompose.version"

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class ManifestError(ValueError):
    """The output folder has no usable ``decompose-output.json``."""


# --------------------------------------------------------------------------- manifest (pure)


@dataclass(frozen=True)
class Unit:
    """One runnable thing: a service or the gateway."""

    name: str
    context: Path  # absolute build context folder
    image: str
    role: str = "service"  # "service" | "gateway"
    port: int = 8000
    health: str = "/healthz"
    ready: str = "/readyz"
    env: Mapping[str, str] = field(default_factory=dict)
    calls: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    dockerfile: str = "Dockerfile"
    command: tuple[str, ...] = ()  # argv to run it as a plain process (``--local``), "python" = this interpreter
    source: Path | None = None  # folder to put on PYTHONPATH for ``--local`` (defaults to the context)
    url_env: str = ""  # variable other units read this unit's base URL from
    volumes: tuple[tuple[str, str], ...] = ()  # (volume name, mount path); same name = same volume
    interface: tuple[str, ...] | None = None  # what other services call (None: the manifest does not say)


def _volumes(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    """``["catalog-data:/data"]`` or ``[{"name": "catalog-data", "path": "/data"}]``."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ManifestError(f"{where}: volumes must be a list")
    out = []
    for v in value:
        if isinstance(v, str) and ":" in v:
            name, _, path = v.partition(":")
            path = path.split(":")[0]  # drop a ":ro"-style suffix
        elif isinstance(v, Mapping):
            name, path = _first(v, "name", "volume"), _first(v, "path", "mount", "mountPath", "target")
        else:
            raise ManifestError(f"{where}: volume {v!r} is not NAME:/PATH or {{name, path}}")
        if not isinstance(name, str) or not _DNS1123.match(name):
            raise ManifestError(f"{where}: volume name {name!r} is not a DNS-1123 label")
        if not isinstance(path, str) or not path.startswith("/") or ".." in path.split("/"):
            raise ManifestError(f"{where}: volume mount path {path!r} must be absolute")
        out.append((name, path.rstrip("/") or "/"))
    return tuple(out)


@dataclass(frozen=True)
class OutputManifest:
    root: Path
    project: str
    version: str
    services: tuple[Unit, ...]
    gateway: Unit | None
    base_image: str | None = None  # the Dockerfiles' default BASE_IMAGE
    # Pythons (3.X, lowest first) meeting the monolith's declared Python, the first the images' target
    python_accepts: tuple[str, ...] = ()
    python_requires: str = ""

    @property
    def units(self) -> tuple[Unit, ...]:
        """Services first, then the gateway (start order)."""
        return self.services + ((self.gateway,) if self.gateway else ())

    def unit(self, name: str) -> Unit:
        for u in self.units:
            if u.name == name:
                return u
        raise KeyError(name)


def _first(d: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return default


def _env(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            if isinstance(item, Mapping) and "name" in item:
                out[str(item["name"])] = str(item.get("value", ""))
            elif isinstance(item, str) and "=" in item:
                k, _, v = item.partition("=")
                out[k] = v
            else:
                raise ManifestError(f"{where}: env entry {item!r} is not NAME=VALUE or {{name, value}}")
        return out
    raise ManifestError(f"{where}: env must be a mapping or a list")


def _strs(value: Any, where: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, (str, Mapping)) for v in value):
        raise ManifestError(f"{where}: {what} must be a list of strings")
    out = []
    for v in value:
        if isinstance(v, Mapping):  # e.g. {"prefix": "/orders", ...} or {"name": "inventory"}
            v = _first(v, "prefix", "path", "name", "service")
            if not isinstance(v, str):
                raise ManifestError(f"{where}: cannot read {what} entry")
        out.append(v)
    return tuple(out)


def url_env_name(service: str) -> str:
    """Default variable holding a service's base URL (as the generated clients read it):
    ``inventory-svc`` -> ``DECOMPOSE_INVENTORY_SVC_URL``."""
    return "DECOMPOSE_" + re.sub(r"[^A-Z0-9]", "_", service.upper()) + "_URL"


def _unit(root: Path, raw: Any, role: str, project: str, version: str, fallback_volumes: Any = None) -> Unit:
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{MANIFEST_NAME}: every {role} entry must be an object")
    name = _first(raw, "name", default="gateway" if role == "gateway" else None)
    if not isinstance(name, str) or not _DNS1123.match(name):
        raise ManifestError(f"{MANIFEST_NAME}: {role} name {name!r} is not a DNS-1123 label")
    where = f"{MANIFEST_NAME}: {role} {name!r}"
    ctx_rel = _first(raw, "context", "build_context", "path", "dir", default=None)
    if not isinstance(ctx_rel, str) or not ctx_rel:
        raise ManifestError(f"{where}: missing build context folder")
    if Path(ctx_rel).is_absolute() or ".." in Path(ctx_rel).parts:
        raise ManifestError(f"{where}: build context {ctx_rel!r} must be a relative path inside the output folder")
    ctx = (root / ctx_rel).resolve()
    src_rel = _first(raw, "source", "src", "pythonpath", default=None)
    if src_rel is not None and (not isinstance(src_rel, str) or Path(src_rel).is_absolute() or ".." in Path(src_rel).parts):
        raise ManifestError(f"{where}: source {src_rel!r} must be a relative path")
    image = _first(raw, "image", default=f"{project}/{name}:{version}")
    port = _first(raw, "port", "container_port", default=8000)
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ManifestError(f"{where}: port {port!r} is not a number") from None
    if not 0 < port < 65536:
        raise ManifestError(f"{where}: port {port} out of range")
    health = _first(raw, "health", "health_path", "healthz", default="/healthz")
    ready = _first(raw, "ready", "readiness", "readiness_path", "ready_path", "readyz", default="/readyz")
    for p in (health, ready):
        if not isinstance(p, str) or not p.startswith("/"):
            raise ManifestError(f"{where}: health/readiness path {p!r} must start with '/'")
    command = _first(raw, "command", "cmd", default=())
    if isinstance(command, str):
        command = command.split()
    if not isinstance(command, (list, tuple)) or not all(isinstance(c, str) for c in command):
        raise ManifestError(f"{where}: command must be a list of strings")
    return Unit(
        name=name,
        context=ctx,
        image=str(image),
        role=role,
        port=port,
        health=health,
        ready=ready,
        env=_env(_first(raw, "env", "environment"), where),
        calls=_strs(_first(raw, "calls", "depends_on", "callees"), where, "calls"),
        routes=_strs(_first(raw, "routes", "public_routes", "route_prefixes", "prefixes"), where, "routes"),
        dockerfile=str(_first(raw, "dockerfile", default="Dockerfile")),
        command=tuple(command),
        source=(root / src_rel).resolve() if src_rel else None,
        url_env=str(_first(raw, "url_env", default=url_env_name(name))),
        volumes=_volumes(_first(raw, "volumes", "compose_volumes", default=fallback_volumes), where),
        interface=None if raw.get("interface") is None else _strs(raw["interface"], where, "interface"),
    )


def parse_manifest(root: Path, data: Any, compose_volumes: Mapping[str, Any] | None = None) -> OutputManifest:
    """Validate the decoded ``decompose-output.json`` of the output folder ``root``.

    ``compose_volumes`` (unit name -> ``["name:/path", ...]``, from the
    generated compose file) supplies the volumes of units the manifest gives
    none for.
    """
    root = Path(root).resolve()
    cv = compose_volumes or {}
    if not isinstance(data, Mapping):
        raise ManifestError(f"{MANIFEST_NAME}: top level must be an object")
    project = data.get("project")
    if isinstance(project, Mapping):  # {"project": {"name": ..., "version": ...}}
        data = {**data, "version": data.get("version", project.get("version")), "project": project.get("name")}
        project = data["project"]
    if not isinstance(project, str) or not _DNS1123.match(project):
        raise ManifestError(f"{MANIFEST_NAME}: project name {project!r} is not a DNS-1123 label")
    version = str(data.get("version") or "latest")
    raw_services = data.get("services")
    if isinstance(raw_services, Mapping):
        raw_services = [{"name": k, **v} if isinstance(v, Mapping) else v for k, v in raw_services.items()]
    if not isinstance(raw_services, list) or not raw_services:
        raise ManifestError(f"{MANIFEST_NAME}: 'services' must be a non-empty list")
    gateway_raw = data.get("gateway")
    services: list[Unit] = []
    for raw in raw_services:
        role = "gateway" if isinstance(raw, Mapping) and raw.get("role", raw.get("kind")) == "gateway" else "service"
        if role == "gateway":
            if gateway_raw is not None:
                raise ManifestError(f"{MANIFEST_NAME}: more than one gateway")
            gateway_raw = raw
            continue
        services.append(_unit(root, raw, "service", project, version, cv.get(raw.get("name"))))
    gateway = (
        _unit(root, gateway_raw, "gateway", project, version, cv.get(gateway_raw.get("name", "gateway")))
        if isinstance(gateway_raw, Mapping)
        else None if gateway_raw is None else _unit(root, gateway_raw, "gateway", project, version)
    )
    names = [u.name for u in services] + ([gateway.name] if gateway else [])
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ManifestError(f"{MANIFEST_NAME}: duplicate names: {', '.join(dup)}")
    known = set(names)
    for u in services:
        unknown = [c for c in u.calls if c not in known]
        if unknown:
            raise ManifestError(f"{MANIFEST_NAME}: service {u.name!r} calls unknown service(s): {', '.join(unknown)}")
    py = data.get("python") if isinstance(data.get("python"), Mapping) else {}
    accepts = py.get("accepts") if isinstance(py.get("accepts"), list) else []
    base = data.get("base_image")
    return OutputManifest(root=root, project=project, version=version, services=tuple(services), gateway=gateway,
                          base_image=base if isinstance(base, str) and base else None,
                          python_accepts=tuple(str(v) for v in accepts if re.fullmatch(r"\d+\.\d+", str(v))),
                          python_requires=str(py.get("requires") or ""))


def load_manifest(out_dir: Path) -> OutputManifest:
    out_dir = Path(out_dir)
    path = out_dir / MANIFEST_NAME
    if not out_dir.is_dir():
        raise ManifestError(f"{out_dir}: no such folder (run `decompose generate` first)")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path}: not found; is {out_dir} the output folder of `decompose generate`?") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    return parse_manifest(out_dir, data, _compose_volumes(out_dir, data))


def _compose_volumes(out_dir: Path, data: Any) -> dict[str, Any]:
    """Volumes per unit from the compose file the manifest names (``"compose": "compose.yaml"``)."""
    rel = data.get("compose") if isinstance(data, Mapping) else None
    if not isinstance(rel, str) or Path(rel).is_absolute() or ".." in Path(rel).parts:
        return {}
    import yaml

    try:
        text = (out_dir / rel).read_text(encoding="utf-8")
    except OSError:
        return {}
    try:
        compose = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{out_dir / rel}: unreadable compose file: {' '.join(str(exc).split())}") from None
    services = compose.get("services") if isinstance(compose, Mapping) else None
    if not isinstance(services, Mapping):
        return {}
    return {str(k): v.get("volumes") for k, v in services.items() if isinstance(v, Mapping) and v.get("volumes")}


# --------------------------------------------------------------------------- build log parsing (pure)


class BuildFailed(Exception):
    """An image build failed; ``str()`` is one line, ``log`` holds the last lines."""

    def __init__(self, service: str, message: str, step: str = "", log: Iterable[str] = ()):
        self.service = service
        self.message = " ".join(message.split())
        self.step = step
        self.log = list(log)
        where = f" at {step}" if step else ""
        super().__init__(f"build of {service!r} failed{where}: {self.message}")


@dataclass
class BuildLog:
    """Folds the engine's JSON build stream into steps, log lines and an outcome."""

    service: str
    keep: int = 25
    step: int = 0
    total: int = 0
    instruction: str = ""
    image_id: str = ""
    error: str = ""
    lines: deque = field(default_factory=lambda: deque(maxlen=200))

    @property
    def step_text(self) -> str:
        return f"step {self.step}/{self.total} ({self.instruction})" if self.step else ""

    def feed(self, chunk: Mapping[str, Any]) -> str | None:
        """Consume one decoded chunk; returns a new log line worth showing, if any."""
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            self.error = str(chunk.get("error") or detail.get("message") or "unknown build error")
            return None
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("ID"):
            self.image_id = str(aux["ID"])
        text = chunk.get("stream")
        if text is None and chunk.get("status"):  # base image pulls
            text = f"{chunk['status']} {chunk.get('progress', '')}".strip() + "\n"
        if not text:
            return None
        last = None
        for raw in _ANSI.sub("", str(text)).splitlines():
            line = raw.rstrip()
            if not line.strip():
                continue
            m = _STEP.match(line.strip())
            if m:
                self.step, self.total, self.instruction = int(m.group(1)), int(m.group(2)), m.group(3).strip()
            self.lines.append(line)
            last = line
        return last

    def tail(self, n: int | None = None) -> list[str]:
        n = self.keep if n is None else n
        return list(self.lines)[-n:]

    def failure(self) -> BuildFailed:
        return BuildFailed(self.service, self.error, self.step_text, self.tail())


# --------------------------------------------------------------------------- engine access


class EngineUnavailable(RuntimeError):
    """No Docker engine answers."""


def docker_client(timeout: int = 600):
    """A connected ``docker.DockerClient`` (from DOCKER_HOST or the default socket)."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        msg = " ".join(str(exc).split())
        raise EngineUnavailable(f"cannot reach a Docker engine: {msg} (start one: sudo bash .ci/docker-setup.sh)") from None
    return client


ProgressFn = Callable[[str, int, int, str], None]  # (unit, step, total, last line)


@dataclass(frozen=True)
class BuiltImage:
    unit: str
    image: str
    image_id: str
    seconds: float
    size: int


def _hint(error: str, base_image: str | None) -> str:
    low = error.lower()
    if any(s in low for s in ("pull access denied", "registry-1.docker.io", "manifest unknown", "no such host", "repository does not exist")):
        used = f"base image {base_image!r}" if base_image else "the Dockerfile's default base image"
        return f"{error} ({used} is not available locally and cannot be pulled; pass --base-image with a local image)"
    return error


def _image_present(client, image: str) -> bool:
    from docker.errors import DockerException

    try:
        client.api.inspect_image(image)
        return True
    except DockerException:
        return False


def default_base_image(manifest: OutputManifest, client) -> tuple[str | None, str | None]:
    """(the base image to build with, a note), when no --base-image is given.

    The Dockerfiles' default (the lowest supported ``python:3.X-slim`` meeting the
    monolith's Python) is used when the engine has it or can pull it.  Otherwise
    the lowest *local* ``python:3.X-slim`` meeting the same requirement is taken
    (e.g. python:3.13-slim for ``requires-python >=3.12`` where no 3.12 image can
    be had), with a note naming it.  (None, None): build as generated."""
    from docker.errors import DockerException

    default = manifest.base_image
    if not default or not manifest.python_accepts or _image_present(client, default):
        return None, None
    repo, _, tag = default.rpartition(":")
    try:
        client.images.pull(repo, tag=tag)
        return None, None
    except DockerException as exc:
        why = " ".join(str(exc).split())[:160]
    for v in manifest.python_accepts:
        image = f"{repo}:{v}-slim" if repo.endswith("python") else f"python:{v}-slim"
        if image != default and _image_present(client, image):
            return image, (f"base image {default} is not available locally and cannot be pulled ({why}); building "
                           f"with {image}, the lowest local Python image meeting the monolith's Python "
                           f"({manifest.python_requires or 'any'})")
    return None, None


def build_unit(
    client,
    unit: Unit,
    *,
    project: str,
    version: str,
    base_image: str | None = None,
    nocache: bool = False,
    progress: ProgressFn | None = None,
    network_mode: str | None = None,
) -> BuiltImage:
    """Build ``unit``'s image and tag it; raises :class:`BuildFailed`."""
    import time

    from docker.errors import APIError, DockerException

    started = time.monotonic()
    log = BuildLog(unit.name)
    if not (unit.context / unit.dockerfile).is_file():
        raise BuildFailed(unit.name, f"no {unit.dockerfile} in build context {unit.context}")
    buildargs = {"BASE_IMAGE": base_image} if base_image else None
    labels = {LABEL_PROJECT: project, LABEL_SERVICE: unit.name, LABEL_ROLE: unit.role, LABEL_VERSION: version}
    try:
        stream = client.api.build(
            path=str(unit.context),
            dockerfile=unit.dockerfile,
            tag=unit.image,
            buildargs=buildargs,
            labels=labels,
            rm=True,
            forcerm=True,
            pull=False,
            nocache=nocache,
            decode=True,
            network_mode=network_mode,
        )
        for chunk in stream:
            line = log.feed(chunk)
            if progress and line is not None:
                progress(unit.name, log.step, log.total, line)
            if log.error:
                break
    except APIError as exc:  # e.g. Dockerfile syntax errors are answered before any step runs
        log.error = exc.explanation or str(exc)
    except DockerException as exc:
        log.error = str(exc)
    if log.error:
        log.error = _hint(log.error, base_image)
        raise log.failure()
    try:
        info = client.api.inspect_image(unit.image)
    except DockerException as exc:
        raise BuildFailed(unit.name, f"build finished but image {unit.image} is missing: {exc}", log.step_text, log.tail()) from None
    return BuiltImage(unit.name, unit.image, info.get("Id", log.image_id), time.monotonic() - started, int(info.get("Size") or 0))


BuildResult = BuiltImage | BuildFailed


def dependency_key(unit: Unit) -> str:
    """Units with equal keys share their dependency layers in the engine's build cache.

    The key is the Dockerfile plus the requirement files of the context: the
    layers up to ``pip install -r requirements.txt`` are identical for such
    units, so only the first build of each key downloads packages.
    """
    import hashlib

    h = hashlib.sha256()
    try:
        text = (unit.context / unit.dockerfile).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    # comments and blank lines do not take part in the engine's cache key either
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    pip = [i for i, ln in enumerate(lines) if "pip" in ln and "install" in ln]
    head = lines[: pip[-1] + 1] if pip else lines  # what comes after cannot share a layer anyway
    h.update("\n".join(head).encode() + b"\0")
    for name in ("requirements.txt", "constraints.txt"):
        try:
            h.update(name.encode() + b"\0" + (unit.context / name).read_bytes() + b"\0")
        except OSError:
            h.update(name.encode() + b"\0-\0")
    return h.hexdigest()


def cache_waves(units: list[Unit]) -> tuple[list[Unit], list[Unit]]:
    """(first unit of each dependency key, the others): built in two waves, so
    parallel builds never download the same packages twice."""
    seen: set[str] = set()
    leaders, followers = [], []
    for u in units:
        k = dependency_key(u)
        (followers if k in seen else leaders).append(u)
        seen.add(k)
    return leaders, followers


def build_all(
    manifest: OutputManifest,
    *,
    client=None,
    base_image: str | None = None,
    only: Iterable[str] = (),
    jobs: int = 2,
    nocache: bool = False,
    progress: ProgressFn | None = None,
    network_mode: str | None = None,
    notes: list[str] | None = None,
) -> tuple[list[BuiltImage], list[BuildFailed]]:
    """Build every unit (or those named in ``only``); returns (built, failed) in manifest order.
    Without ``base_image``, :func:`default_base_image` chooses (its note appended to ``notes``).

    All builds are attempted even when one fails, so one run reports every
    broken service.
    """
    wanted = set(only)
    unknown = wanted - {u.name for u in manifest.units}
    if unknown:
        raise ManifestError(f"unknown service(s): {', '.join(sorted(unknown))}")
    units = [u for u in manifest.units if not wanted or u.name in wanted]
    client = client or docker_client()
    if base_image is None:
        base_image, note = default_base_image(manifest, client)
        if note and notes is not None:
            notes.append(note)
    lock = threading.Lock()

    def report(name: str, step: int, total: int, line: str) -> None:
        if progress:
            with lock:
                progress(name, step, total, line)

    results: dict[str, BuildResult] = {}
    leaders, followers = cache_waves(units)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for wave in (leaders, followers):
            futs = {
                pool.submit(
                    build_unit,
                    client,
                    u,
                    project=manifest.project,
                    version=manifest.version,
                    base_image=base_image,
                    nocache=nocache,
                    progress=report,
                    network_mode=network_mode,
                ): u.name
                for u in wave
            }
            for fut in as_completed(futs):
                name = futs[fut]
                try:
                    results[name] = fut.result()
                except BuildFailed as exc:
                    results[name] = exc
    built = [r for u in units if isinstance(r := results[u.name], BuiltImage)]
    failed = [r for u in units if isinstance(r := results[u.name], BuildFailed)]
    return built, failed


def missing_images(m: OutputManifest, client) -> list[str]:
    """The units' images that are not on the engine (``decompose build`` makes them)."""
    from docker.errors import ImageNotFound

    missing = []
    for u in m.units:
        try:
            client.images.get(u.image)
        except ImageNotFound:
            missing.append(u.image)
    return missing
