"""``decompose analyze``: parse, graph, metrics; tables, JSON, DOT or Mermaid."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from decompose.cli.common import EXIT_FINDINGS, EXIT_OK, app, emit, fail
from decompose.config import ConfigError

class AnalyzeFormat(str, Enum):
    table = "table"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


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
    from decompose.cli import console
    from decompose.cli import render
    from decompose.analysis.pipeline import AnalysisError, analyze

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
