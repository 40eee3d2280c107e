"""``decompose migrate-data``: wiring and presentation only (the work is :mod:`decompose.runtime.migrate_data`)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from decompose.cli.common import EXIT_FINDINGS, EXIT_OK, app, fail


class DataFormat(str, Enum):
    table = "table"
    json = "json"


@app.command("migrate-data")
def migrate_data(
    out: Annotated[Path, typer.Argument(help="Output folder of `decompose generate` (holds decompose-output.json).")],
    source: Annotated[str, typer.Option("--from", help="The monolith's database: a SQLite file or a database URL.")],
    local: Annotated[bool, typer.Option("--local", help="Fill the SQLite files of `decompose up --local` "
                                                       "instead of the running PostgreSQL server.")] = False,
    target: Annotated[Optional[list[str]], typer.Option(
        "--target", help="DATABASE=URL: fill this database at that URL (an external server, a port-forward); "
                         "repeatable.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace rows a target table already holds.")] = False,
    fmt: Annotated[DataFormat, typer.Option("--format", "-f", help="Result on stdout: text, or JSON.")] = DataFormat.table,
) -> None:
    """Copy the monolith's rows into the split system's databases, then compare counts and checksums.

    Each table goes into the database of the service owning it, shared tables into the shared database.

    Idempotent: tables already holding the same rows are left alone. Resumable: one transaction per database.

    Refuses to replace rows without --force.

    Start the system first (`decompose up`, or `up --local` with --local): its services create their tables."""
    from decompose.runtime import migrate_data as md

    try:
        targets = md.targets_of(out, local=local, explicit=md.parse_target_options(target or []))
        with _progress(fmt is DataFormat.json) as update:
            report = md.migrate(source, targets, force=force, progress=update)
    except md.MigrationError as exc:
        fail(str(exc))
    if fmt is DataFormat.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n")
    else:
        _print(report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)


def _progress(quiet: bool):
    import contextlib

    from decompose.cli.console import err

    @contextlib.contextmanager
    def bar():
        if quiet or not err.is_terminal:
            yield lambda name, done, total: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold blue]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, transient=True) as p:
            tasks: dict[str, int] = {}

            def update(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = p.add_task(name, total=total)
                p.update(tasks[name], completed=done, total=total)

            yield update

    return bar()


def _print(report) -> None:
    from rich.markup import escape
    from rich.table import Table

    from decompose.cli.console import err, out

    table = Table(title=f"migrate-data from {escape(report.to_dict()['source'])} (rows: monolith, split)",
                  title_justify="left")
    for col in ("database", "table", "action", "monolith", "split", "checksum"):
        table.add_column(col, justify="right" if col in ("monolith", "split") else "left")
    for r in report.tables:
        same = r.source_checksum and r.source_checksum == r.target_checksum
        style = "green" if r.ok else "red"
        table.add_row(escape(r.database), escape(r.table), f"[{style}]{r.action}[/{style}]", str(r.source_rows),
                      str(r.target_rows), (r.target_checksum[:8] + (" =" if same else " ≠")) if r.target_checksum else "")
    out.print(table)
    for r in report.tables:
        if r.detail:
            err.print(f"[bold red]error:[/bold red] {escape(r.detail)}" if not r.ok else escape(r.detail),
                      highlight=False, soft_wrap=True)
    if report.unassigned:
        err.print(f"not migrated (no service owns them): {escape(', '.join(report.unassigned))}", highlight=False)
    d = report.to_dict()
    verdict = "[green]ok[/green]" if report.ok else "[red]not complete[/red]"
    out.print(f"{verdict}: {d['rows_copied']} row(s) copied into {len({r.database for r in report.tables})} database(s)")
