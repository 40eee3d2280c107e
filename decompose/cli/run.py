"""``decompose build`` / ``up`` / ``down``: wiring and presentation only."""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from decompose.cli.common import EXIT_FINDINGS, EXIT_OK, app, fail

OutArg = Annotated[Path, typer.Argument(help="Output folder of `decompose generate` (holds decompose-output.json).")]


class RunFormat(str, Enum):
    table = "table"
    json = "json"


FormatOpt = Annotated[RunFormat, typer.Option("--format", "-f", help="Result on stdout: text, or JSON for scripts.")]


def _json(data: dict) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def _manifest(out: Path):
    from decompose.runtime.docker_build import ManifestError, load_manifest

    try:
        return load_manifest(out)
    except ManifestError as exc:
        fail(str(exc))


def _client():
    from decompose.runtime.docker_build import EngineUnavailable, docker_client

    try:
        return docker_client()
    except EngineUnavailable as exc:
        fail(str(exc))


def _print_failures(failures, hint: str = "", waiting=None) -> None:
    from rich.markup import escape

    from decompose.cli.console import err

    for f in failures:
        said = f"{f.reason}: {f.error}" if f.error else f.reason
        err.print(f"[bold red]error:[/bold red] {escape(f.name)}: {escape(said)}", highlight=False, soft_wrap=True)
        for line in f.logs:
            err.print(f"  [dim]{escape(f.name)} |[/dim] {escape(line)}", highlight=False, soft_wrap=True)
    for name, why in (waiting or {}).items():
        err.print(f"[yellow]not ready:[/yellow] {escape(name)} ({escape(why)}); stopped waiting after the failure above",
                  highlight=False, soft_wrap=True)
    if hint:
        err.print(f"[yellow]hint:[/yellow] {escape(hint)}", highlight=False, soft_wrap=True)


@app.command("build")
def build_cmd(
    out: OutArg,
    base_image: Annotated[
        Optional[str],
        typer.Option("--base-image", help="Base image passed as build arg BASE_IMAGE (e.g. a locally built one when Docker Hub is unreachable)."),
    ] = None,
    service: Annotated[list[str], typer.Option("--service", "-s", help="Build only this service (repeatable).")] = [],
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Images built at the same time.")] = 2,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use the engine's build cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    format: FormatOpt = RunFormat.table,
) -> None:
    """Build one image per service (and the gateway), tagged <project>/<service>:<version>.

    Exit status: 0 all images built; 1 some builds failed (each named with the
    failing Dockerfile step and its last log lines); 2 bad input or no engine.
    """
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from decompose.cli.console import err, out as stdout
    from decompose.runtime.docker_build import ManifestError, build_all

    m = _manifest(out)
    client = _client()
    t0 = time.monotonic()
    notes: list[str] = []
    try:
        if quiet:
            built, failed = build_all(m, client=client, base_image=base_image, only=service, jobs=jobs, nocache=no_cache,
                                      notes=notes)
        else:
            with Progress(
                TextColumn("[bold blue]{task.fields[unit]:<14}"),
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("[dim]{task.fields[line]}"),
                console=err,
                transient=True,
            ) as bar:
                tasks = {
                    u.name: bar.add_task(u.name, total=None, unit=u.name, line="queued")
                    for u in m.units
                    if not service or u.name in service
                }

                def progress(name: str, step: int, total: int, line: str) -> None:
                    bar.update(tasks[name], completed=step, total=total or None, line=escape(line.strip()[:60]))

                built, failed = build_all(
                    m, client=client, base_image=base_image, only=service, jobs=jobs, nocache=no_cache, progress=progress,
                    notes=notes,
                )
    except ManifestError as exc:
        fail(str(exc))
    for note in notes:
        err.print(f"[yellow]note[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    if format is RunFormat.json:
        _json(
            {
                "project": m.project,
                "notes": notes,
                "built": [
                    {"unit": b.unit, "image": b.image, "image_id": b.image_id, "size": b.size, "seconds": round(b.seconds, 1)}
                    for b in built
                ],
                "failed": [{"service": f.service, "step": f.step, "message": f.message, "log": f.log[-12:]} for f in failed],
            }
        )
    for b in built:
        if format is RunFormat.table:
            stdout.print(f"built {b.image} ({b.size / 1e6:.0f} MB, {b.seconds:.1f}s)", highlight=False)
    for f in failed:
        err.print(f"[bold red]error:[/bold red] {escape(str(f))}", highlight=False, soft_wrap=True)
        for line in f.log[-12:]:
            err.print(f"  [dim]{escape(f.service)} |[/dim] {escape(line)}", highlight=False, soft_wrap=True)
    err.print(f"{len(built)} built, {len(failed)} failed in {time.monotonic() - t0:.1f}s", highlight=False)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


@app.command("up")
def up_cmd(
    out: OutArg,
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Local port of the public routes (the gateway).")] = 8080,
    local: Annotated[bool, typer.Option("--local", help="Run the services as local processes of this Python, without Docker.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for every service to be ready.")] = 120.0,
    build: Annotated[bool, typer.Option("--build", help="Build the images first (as `decompose build`).")] = False,
    base_image: Annotated[Optional[str], typer.Option("--base-image", help="With --build: build arg BASE_IMAGE.")] = None,
    python: Annotated[Optional[str], typer.Option("--python", help="--local: the Python that runs the services, one with their requirements installed (default: the one running decompose).")] = None,
    verify_dir: Annotated[Optional[Path], typer.Option("--verify-dir", help="Share this folder with `decompose verify`: the services' database is its db.sqlite3, their Flask SECRET_KEY its secret-key (docs/verify.md).")] = None,
    swarm: Annotated[bool, typer.Option("--swarm", help="Deploy as Docker Swarm services with replicas (the engine must be a swarm manager: `docker swarm init`).")] = False,
    replicas: Annotated[Optional[int], typer.Option("--replicas", min=1, help="--swarm: tasks of every service (default: each service's `replicas:` in the plan, else 2; the gateway runs one).")] = None,
    format: FormatOpt = RunFormat.table,
) -> None:
    """Start the generated services and wait until they are ready; prints the public URL.

    Docker: one network named after the project, one container per service
    (reachable by its name), the gateway on 127.0.0.1:PORT.  --local: plain
    processes, logs and a process registry in OUT/.decompose-run/.

    Exit status: 0 all ready; 1 some service exited or stayed unready (named,
    with its last log lines; `decompose down` cleans up); 2 bad input, port
    in use or no engine.
    """
    from rich.markup import escape

    from decompose.cli.console import err, out as stdout
    from decompose.runtime.readiness import idle_services
    from decompose.runtime.runner import RunError, UpFailed, up_docker, up_local

    m = _manifest(out)

    def status(name: str, text: str) -> None:
        err.print(f"[dim]{escape(name)}:[/dim] {escape(text)}", highlight=False)

    warnings = [f"service {name} owns no public routes and no interface functions: nothing can reach it "
                "(give it routes or callers in the plan, or merge its modules into another service)"
                for name in idle_services(m)]
    for w in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False, soft_wrap=True)

    if build and local:
        fail("--build builds Docker images; --local runs without them")
    if swarm and (local or verify_dir is not None):
        fail("--swarm deploys Docker Swarm services; it does not combine with --local or --verify-dir")
    try:
        if local:
            running = up_local(m, port=port, timeout=timeout, status=status, verify_dir=verify_dir, python=python)
        else:
            client = _client()
            if build:
                from decompose.runtime.docker_build import build_all

                notes: list[str] = []
                built, failed = build_all(m, client=client, base_image=base_image, notes=notes)
                for note in notes:
                    status("build", note)
                for b in built:
                    status(b.unit, f"built {b.image} ({b.seconds:.1f}s)")
                if failed:
                    for f in failed:
                        err.print(f"[bold red]error:[/bold red] {escape(str(f))}", highlight=False, soft_wrap=True)
                        for line in f.log[-12:]:
                            err.print(f"  [dim]{escape(f.service)} |[/dim] {escape(line)}", highlight=False, soft_wrap=True)
                    raise typer.Exit(EXIT_FINDINGS)
            if swarm:
                from decompose.runtime.swarm import up_swarm

                running = up_swarm(m, port=port, timeout=timeout, replicas=replicas, client=client, status=status)
            else:
                running = up_docker(m, port=port, timeout=timeout, client=client, status=status, verify_dir=verify_dir)
    except RunError as exc:
        fail(str(exc))
    except UpFailed as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        _print_failures(exc.failures, exc.hint, exc.waiting)
        if format is RunFormat.json:
            _json(
                {
                    "project": m.project,
                    "ready": False,
                    "failures": [{"name": f.name, "reason": f.reason, "error": f.error, "logs": list(f.logs)}
                                 for f in exc.failures],
                    "not_ready": dict(exc.waiting),
                    "warnings": warnings,
                }
            )
        raise typer.Exit(EXIT_FINDINGS) from None
    err.print(f"{len(running.units)} unit(s) ready in {running.seconds:.1f}s", highlight=False)
    if format is RunFormat.json:
        _json(
            {
                "project": running.project,
                "ready": True,
                "url": running.url,
                "units": dict(sorted(running.units.items())),
                "mode": "local" if local else "swarm" if swarm else "docker",
                "rpc_secret_file": running.rpc_secret_file,
                "verify_dir": running.verify_dir,
                "warnings": warnings,
            }
        )
    else:
        stdout.print(running.url, highlight=False)
    raise typer.Exit(EXIT_OK)


@app.command("down")
def down_cmd(
    out: Annotated[Optional[Path], typer.Argument(help="Output folder of `decompose generate` (gives the project name).")] = None,
    project: Annotated[Optional[str], typer.Option("--project", help="Project name instead of an output folder (Docker only).")] = None,
    local: Annotated[bool, typer.Option("--local", help="Stop the local processes started by `up --local`.")] = False,
    keep_volumes: Annotated[bool, typer.Option("--keep-volumes", help="Keep the services' data (Docker volumes / local data folders).")] = False,
    format: FormatOpt = RunFormat.table,
) -> None:
    """Remove everything `up` started for the project (also after a failed `up`); safe to repeat.

    Exit status: 0 done (also when nothing was running); 2 bad input or no engine.
    """
    from decompose.cli.console import err
    from decompose.runtime.runner import RunError, down_docker, down_local

    if local:
        if out is None:
            fail("down --local needs the output folder")
        try:
            stopped = down_local(out, keep_volumes=keep_volumes)
        except RunError as exc:
            fail(str(exc))
        err.print(f"stopped {len(stopped)} process(es)" + (f": {', '.join(stopped)}" if stopped else ""), highlight=False)
        if format is RunFormat.json:
            _json({"mode": "local", "stopped": sorted(stopped)})
        raise typer.Exit(EXIT_OK)
    if project is None:
        if out is None:
            fail("give the output folder or --project NAME")
        project = _manifest(out).project
    from decompose.runtime.swarm import down_swarm, swarm_state

    client = _client()
    services: list[str] = []
    if swarm_state(client) == "active":  # what `up --swarm` started goes too
        services, _ = down_swarm(project, client=client, keep_volumes=keep_volumes)
    containers, networks = down_docker(project, client=client, keep_volumes=keep_volumes)
    if out is not None:
        from decompose.runtime.runner import forget_rpc_secret

        forget_rpc_secret(out, "docker")
        forget_rpc_secret(out, "swarm")
    err.print(
        f"removed {len(containers)} container(s), {len(networks)} network(s)"
        + (f", {len(services)} swarm service(s)" if services else "") + f" of project {project!r}",
        highlight=False,
    )
    if format is RunFormat.json:
        _json({"mode": "docker", "project": project, "containers": sorted(containers), "networks": sorted(networks),
               "swarm_services": sorted(services)})
    raise typer.Exit(EXIT_OK)


__all__ = ["build_cmd", "up_cmd", "down_cmd"]
