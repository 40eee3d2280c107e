"""What every command module shares: the typer ``app``, exit codes, one-line errors and ``--output`` writing.

Command modules import this; this imports no command module (they register
themselves on ``app`` when ``decompose.cli`` imports them)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from decompose import __version__
from decompose.config import ConfigError
from decompose.fsio import RefusedOverwrite, atomic_write

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




def fail(message: str, code: int = EXIT_USAGE) -> None:
    fail_lines([message], code)


def fail_lines(messages: list[str], code: int = EXIT_USAGE) -> None:
    """Every problem on its own ``error:`` line (stderr), then exit."""
    from decompose.cli.console import err

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
