"""``decompose verify``: the monolith's own test suite on the monolith and on the split system (wiring and presentation only)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from decompose.cli.common import EXIT_FINDINGS, EXIT_OK, app, fail


class VerifyFormat(str, Enum):
    table = "table"
    json = "json"


class Database(str, Enum):
    shared = "shared"
    generated = "generated"


_STYLE = {"passed": "green", "failed": "red", "error": "red", "not run": "red", "skipped": "yellow",
          "xfailed": "yellow", "xpassed": "yellow"}
_VERDICT_STYLE = {"regression": "bold red", "classified": "yellow", "split only": "cyan", "both fail": "dim",
                  "same": "green"}


@app.command(
    "verify",
    context_settings={"allow_interspersed_args": True},
)
def verify_cmd(
    out: Annotated[Path, typer.Argument(help="Output folder of `decompose generate` (holds decompose-output.json).")],
    pytest_args: Annotated[Optional[list[str]], typer.Argument(help="Extra pytest arguments, after `--` (e.g. -- -k login -x).", show_default=False)] = None,
    tests: Annotated[Path, typer.Option("--tests", "-t", help="The monolith's test suite: a folder or file pytest runs.")] = Path("tests"),
    local: Annotated[bool, typer.Option("--local", help="Run the split system as local processes (`up --local`) instead of Docker containers.")] = False,
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Gateway port when verify starts the system (0: a free one).")] = 0,
    python: Annotated[Optional[str], typer.Option("--python", help="Interpreter that runs the suite (default: this one), e.g. the monolith's virtualenv.")] = None,
    cwd: Annotated[Optional[Path], typer.Option("--cwd", help="Folder pytest runs in (default: the nearest folder above the tests with pyproject.toml, setup.cfg, pytest.ini...).")] = None,
    database: Annotated[Database, typer.Option("--database", help="shared: services and tests use one SQLite database (fixtures' rows are seen); generated: the services keep the databases generate gave them.")] = Database.shared,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the split system running when verify started it.")] = False,
    build: Annotated[bool, typer.Option("--build", help="Docker: build the images first (as `decompose build`).")] = False,
    base_image: Annotated[Optional[str], typer.Option("--base-image", help="With --build: build arg BASE_IMAGE.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for every service to be ready.")] = 120.0,
    suite_timeout: Annotated[float, typer.Option("--suite-timeout", min=1, help="Seconds each run of the suite may take.")] = 1800.0,
    test_timeout: Annotated[float, typer.Option("--test-timeout", min=0, help="Seconds a test may take on the split system (longer for tests slow on the monolith); one past it fails as timed out and the suite goes on. 0: no limit.")] = 120.0,
    show: Annotated[str, typer.Option("--show", help="Rows of the table: all, or differences (tests whose verdict is not 'same' or that have a reason).")] = "all",
    format: Annotated[VerifyFormat, typer.Option("--format", "-f", help="Result on stdout: a table, or JSON for scripts.")] = VerifyFormat.table,
) -> None:
    """Run the monolith's own test suite twice with pytest, on the monolith and on the
    split system, and compare every test's outcome side by side.

    The split run routes the suite's in-process clients (Flask test_client,
    Werkzeug Client, webtest TestApp, Starlette/FastAPI TestClient) to the
    gateway, and points the app's database and SECRET_KEY, in the services and
    in the test process, at one shared SQLite database (docs/verify.md).  The
    split system is started (`up`, or `up --local`) unless it is running, and
    stopped after unless --keep.  Tests whose split result says nothing about
    the split system (they patch the app, make no request through a client...)
    are listed with the reason.

    Exit status: 0 every test that passes on the monolith passes on the split
    system or has a stated reason; 1 some do not, the split system did not
    start, or the suite did not run on it; 2 bad input, or the suite did not
    run on the monolith.
    """
    from rich.markup import escape

    from decompose.cli.console import err
    from decompose.runtime.docker_build import ManifestError
    from decompose.runtime.runner import RunError
    from decompose.runtime.verify import VerifyError, verify

    if show not in ("all", "differences"):
        fail("--show is all or differences")
    if build and local:
        fail("--build builds Docker images; --local runs without them")

    def status(name: str, text: str) -> None:
        err.print(f"[dim]{escape(name)}:[/dim] {escape(text)}", highlight=False, soft_wrap=True)

    client = None
    try:
        if not local:
            from decompose.runtime.docker_build import EngineUnavailable, build_all, docker_client, load_manifest

            try:
                client = docker_client()
            except EngineUnavailable as exc:
                fail(str(exc))
            if build:
                notes: list[str] = []
                built, failed = build_all(load_manifest(out), client=client, base_image=base_image, notes=notes)
                for note in notes:
                    status("build", note)
                for b in built:
                    status(b.unit, f"built {b.image} ({b.seconds:.1f}s)")
                for f in failed:
                    err.print(f"[bold red]error:[/bold red] {escape(str(f))}", highlight=False, soft_wrap=True)
                if failed:
                    raise typer.Exit(EXIT_FINDINGS)
        result = verify(
            out, tests, local=local, port=port, python=python, cwd=cwd, pytest_args=list(pytest_args or []),
            startup_timeout=timeout, suite_timeout=suite_timeout, test_timeout=test_timeout, keep=keep, database=database.value,
            client=client, status=status,
        )
    except (ManifestError, VerifyError, RunError) as exc:
        fail(str(exc))

    for w in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False, soft_wrap=True)
    code = _exit_code(result)
    if format is VerifyFormat.json:
        sys.stdout.write(json.dumps(_json(result, out), indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()
    else:
        _print(result, show)
    raise typer.Exit(code)


def _exit_code(result) -> int:
    from decompose.cli.common import EXIT_USAGE

    if result.monolith is None or not result.monolith.ran:
        return EXIT_USAGE
    return EXIT_OK if result.ok else EXIT_FINDINGS


def _run_json(run) -> dict | None:
    if run is None:
        return None
    return {"ran": run.ran, "problem": run.problem, "counts": run.counts(), "seconds": round(run.seconds, 1),
            "exit_status": run.returncode, "log": str(run.log), "command": run.command, "status": run.status}


def _json(result, out: Path) -> dict:
    from decompose.runtime.verify import summary

    up = None
    if result.up_failure is not None:
        up = {"error": str(result.up_failure),
              "failures": [{"name": f.name, "reason": f.reason, "error": f.error, "logs": list(f.logs)}
                           for f in getattr(result.up_failure, "failures", [])]}
    return {
        "output": str(out),
        "mode": result.mode,
        "database": result.database,
        "url": result.url,
        "started": result.started,
        "stopped": result.stopped,
        "verify_dir": result.verify_dir,
        "monolith": _run_json(result.monolith),
        "split": _run_json(result.split),
        "rerun": _run_json(result.rerun),
        "rerun_context": _run_json(result.rerun_context),
        "up_failure": up,
        "summary": summary(result.rows),
        "regressions": [r.id for r in result.regressions],
        "tests": [r.to_dict() for r in result.rows],
        "warnings": result.warnings,
        "ok": result.ok,
    }


def _cell(outcome: str) -> str:
    return f"[{_STYLE.get(outcome, 'white')}]{outcome}[/]"


def _print(result, show: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    from decompose.cli.console import err, out
    from decompose.runtime.verify import summary

    mono, split = result.monolith, result.split
    if mono is not None and not mono.ran:
        err.print(f"[bold red]error:[/bold red] the suite did not run on the monolith: {escape(mono.problem)}",
                  highlight=False, soft_wrap=True)
        for line in mono.log_tail():
            err.print(f"  [dim]monolith |[/dim] {escape(line)}", highlight=False, soft_wrap=True)
        return
    if result.up_failure is not None:
        err.print(f"[bold red]error:[/bold red] the split system did not start: {escape(str(result.up_failure))}",
                  highlight=False, soft_wrap=True)
        for f in getattr(result.up_failure, "failures", []):
            for line in f.logs[-12:]:
                err.print(f"  [dim]{escape(f.name)} |[/dim] {escape(line)}", highlight=False, soft_wrap=True)
        hint = ("verify stopped what it had started; rerun with --keep to inspect the units" if result.stopped
                else getattr(result.up_failure, "hint", ""))
        if hint:
            err.print(f"[yellow]hint:[/yellow] {escape(hint)}", highlight=False, soft_wrap=True)
        return
    if split is not None and not split.ran:
        err.print(f"[bold red]error:[/bold red] the suite did not run on the split system: {escape(split.problem)}",
                  highlight=False, soft_wrap=True)
        for line in split.log_tail():
            err.print(f"  [dim]split |[/dim] {escape(line)}", highlight=False, soft_wrap=True)
    table = Table(title=f"monolith vs split system ({result.mode}, {result.url})", title_justify="left")
    table.add_column("test", overflow="fold")
    table.add_column("monolith")
    table.add_column("split")
    table.add_column("verdict")
    table.add_column("reason / failure", overflow="fold")
    for r in result.rows:
        if show == "differences" and r.verdict == "same":
            continue
        parts = []
        if r.reasons:
            parts.append(escape("; ".join(r.reasons)))
        if r.message and r.verdict != "same":
            parts.append(f"[dim]{escape(r.message[:300])}[/dim]")
        if r.notes:
            parts.append(f"[dim]note: {escape('; '.join(r.notes))}[/dim]")
        why = "\n".join(parts)
        table.add_row(escape(r.id), _cell(r.monolith), _cell(r.split),
                      f"[{_VERDICT_STYLE.get(r.verdict, 'white')}]{r.verdict}[/]", why)
    if table.row_count:
        out.print(table)
    elif result.rows:
        out.print(f"no differences: every one of the {len(result.rows)} test(s) has the same outcome on both, "
                  "none has a reason", highlight=False)
    s = summary(result.rows)
    mc, sc = mono.counts() if mono else {}, split.counts() if split else {}
    total = len(result.rows)

    def counts(c: dict) -> str:
        return ", ".join(f"{n} {o}" for o, n in c.items()) or "nothing"

    out.print(f"monolith: {mc.get('passed', 0)}/{total} passed ({counts(mc)}, {mono.seconds:.1f}s)", highlight=False)
    if split is not None:
        out.print(f"split:    {sc.get('passed', 0)}/{total} passed ({counts(sc)}, {split.seconds:.1f}s)", highlight=False)
    if result.rerun is not None:
        out.print(f"re-run:   {counts(result.rerun.counts())}: the regressions after tests that may have left state "
                  f"behind, each alone, on a freshly started split system ({result.rerun.seconds:.1f}s)",
                  highlight=False)
    if result.rerun_context is not None:
        out.print(f"re-run:   {counts(result.rerun_context.counts())}: those failing again, each after the earlier tests "
                  "of its class or module that passed on the split system, on a freshly started one "
                  f"({result.rerun_context.seconds:.1f}s)", highlight=False)
    out.print(
        f"{s['same']} same on both, {s['regression']} regression(s), {s['classified']} classified (a reason: no "
        f"statement about the split system), {s['split only']} passing only on the split system, "
        f"{s['both fail']} failing on both",
        highlight=False,
    )
    if result.work is not None:
        err.print(f"[dim]logs: {escape(str(result.work))}/monolith.log, split.log[/dim]", highlight=False)


__all__ = ["verify_cmd"]
