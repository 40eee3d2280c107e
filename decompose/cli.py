"""The ``decompose`` command line: wiring and presentation only."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from . import __version__
from .config import ConfigError
from .fsio import RefusedOverwrite, atomic_write

app = typer.Typer(
    name="decompose",
    help="Turn a Python monolith into microservices: analyze, plan, generate, build, check.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK = 0
EXIT_FINDINGS = 1  # analysis done, but files were skipped / check found violations
EXIT_USAGE = 2  # bad input: missing path, invalid config or plan


class AnalyzeFormat(str, Enum):
    table = "table"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


def fail(message: str, code: int = EXIT_USAGE) -> None:
    fail_lines([message], code)


def fail_lines(messages: list[str], code: int = EXIT_USAGE) -> None:
    """Every problem on its own ``error:`` line (stderr), then exit."""
    from .console import err

    for message in messages:
        err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def emit(text: str, output: Optional[Path], force: bool) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        atomic_write(output, text, force=force)
    except RefusedOverwrite as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"decompose {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """decompose: find where to cut a Python monolith, what each cut costs, and generate the services."""


@app.command("analyze")
def analyze_cmd(
    path: Annotated[Path, typer.Argument(help="Project folder (or a single .py file) to analyse.")],
    format: Annotated[AnalyzeFormat, typer.Option("--format", "-f", help="Output format.")] = AnalyzeFormat.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output if it exists.")] = False,
    exclude: Annotated[list[str], typer.Option("--exclude", "-x", help="Extra exclude pattern (repeatable).")] = [],
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Parse every file, ignore and don't write the cache.")] = False,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="Where the facts cache lives.")] = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, help="Parser processes (default: CPU cores).")] = None,
    depth: Annotated[Optional[int], typer.Option("--depth", min=1, help="dot/mermaid: merge modules to this many dotted components.")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows in the module table.")] = 25,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Parse every module, build the dependency graph and report coupling, cycles and skipped files.

    Exit status: 0 all files analysed; 1 analysis done but some files were
    skipped (listed with their reason); 2 bad input.
    """
    from . import console, render
    from .analysis import AnalysisError, analyze

    try:
        with console.progress_bar("parsing", quiet=quiet) as bar:
            an = analyze(path, exclude=exclude, use_cache=not no_cache, cache_dir=cache_dir, jobs=jobs, progress=bar)
    except (AnalysisError, ConfigError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    if format is AnalyzeFormat.table:
        if output is not None:
            fail("--output needs --format json, dot or mermaid")
        console.print_analysis(an, top=top)
    elif format is AnalyzeFormat.json:
        emit(render.to_json(an), output, force)
    elif format is AnalyzeFormat.dot:
        emit(render.to_dot(an, depth), output, force)
    else:
        emit(render.to_mermaid(an, depth), output, force)
    for sk in an.skipped:
        console.err.print(f"[yellow]skipped[/yellow] {escape(sk.path)}: {escape(sk.reason)}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_FINDINGS if an.skipped else EXIT_OK)



# Commands living in their own modules register themselves on ``app``.
from . import cli_check  # noqa: E402,F401
from . import cli_generate  # noqa: E402,F401
from . import cli_plan  # noqa: E402,F401
from . import cli_run  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    app()
