"""``decompose check``: command-line wiring and presentation (the logic is in ``decompose.guard.check``)."""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from decompose import __version__
from decompose.cli.common import EXIT_USAGE, app, emit, fail


class CheckFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _resolve_inputs(path: Optional[Path], plan: Optional[Path], cwd: Path, cache_dir: Optional[Path] = None):
    """(root, config, plan file or None) following the documented lookup order; raises on bad input."""
    from decompose.config import load_config

    if path is not None:
        root = path
        if not root.exists():
            raise ValueError(f"{root}: no such file or directory")
        if not root.is_dir():
            raise ValueError(f"{root}: --path must be the project folder")
        config = load_config(root.resolve())
        if plan is None and config.plan:
            plan = root / config.plan
            if not plan.is_file():
                raise ValueError(f"{config.path}: tool.decompose.plan names {plan}, which does not exist")
        elif plan is None and (root / "decompose.yaml").is_file():
            plan = root / "decompose.yaml"
        return root, config, plan
    if plan is None and (cwd / "decompose.yaml").is_file():
        plan = cwd / "decompose.yaml"
    if plan is not None:
        from decompose.guard.check import load_plan_cached

        source = load_plan_cached(plan, cache_dir).source  # raises PlanError naming the file
        root = (plan.parent / source) if source else plan.parent
        if not root.is_dir():
            raise ValueError(f"{plan}: source {source!r} is not a folder ({root})")
    else:
        root = cwd
    config = load_config(root.resolve())
    if plan is None and config.plan:
        plan = root / config.plan
        if not plan.is_file():
            raise ValueError(f"{config.path}: tool.decompose.plan names {plan}, which does not exist")
    return root, config, plan


def _display(root: Path, rel: str, cwd: Path) -> str:
    p = root / rel
    try:
        return p.relative_to(cwd).as_posix()
    except ValueError:
        return p.as_posix()


def _print_text(result, cwd: Path, plan_file: Optional[Path]) -> None:
    from rich.console import Console
    from rich.markup import escape

    out = Console(soft_wrap=True, highlight=False)
    style = {"error": "bold red", "warning": "yellow", "note": "cyan"}
    n = len(result.checked)
    head = f"[bold]decompose check[/bold]: {n} module{'s' if n != 1 else ''} against {escape(result.base)}"
    head += f"; plan {escape(str(plan_file))}" if plan_file else "; no plan (boundaries not checked)"
    out.print(head)
    for f in result.findings:
        where = f"{_display(result.root, f.path, cwd)}:{f.line}"
        out.print(
            f"[bold]{escape(where)}[/bold]: [{style[f.level]}]{f.level} {f.rule}[/{style[f.level]}] "
            f"[dim]{f.name}[/dim]: {escape(f.message)}"
        )
        if f.statement:
            out.print(f"    [dim]{escape(f.statement)}[/dim]")
    checked = set(result.checked)
    shown = sorted(
        (c for c in result.changes if c.added or c.removed or c.before != c.after),
        key=lambda c: (c.module not in checked, c.module),
    )
    if shown:
        out.print("[bold]Dependency changes[/bold]")
    for c in shown:
        def fig(label: str, attr: str, fmt: str = "{}") -> str:
            b = fmt.format(getattr(c.before, attr)) if c.before else "-"
            a = fmt.format(getattr(c.after, attr)) if c.after else "-"
            return f"{label} {a}" if a == b else f"{label} {b} → {a}"

        figs = "  ".join((fig("Ca", "ca"), fig("Ce", "ce"), fig("I", "instability", "{:.2f}")))
        out.print(f"  {escape(c.module)}  [dim]{figs}[/dim]")
        for d in c.added:
            at = f" ({escape(_display(result.root, c.path, cwd))}:{d.line})" if d.line else " (symbol use)"
            out.print(f"    [green]+ {escape(d.target)}[/green]{at}")
        for d in c.removed:
            out.print(f"    [red]- {escape(d.target)}[/red]")
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    for p, why in result.skipped:
        err.print(f"[dim]not checked {escape(p)}: {escape(why)}[/dim]")
    counts = {lvl: sum(1 for f in result.findings if f.level == lvl) for lvl in ("error", "warning", "note")}
    summary = ", ".join(f"{v} {k}{'s' if v != 1 else ''}" for k, v in counts.items())
    mark = "[bold red]✗[/bold red]" if result.exit_code else "[bold green]✓[/bold green]"
    out.print(f"{mark} {summary} ({result.timings.get('total', 0.0):.2f}s)")


@app.command("check")
def check_cmd(
    files: Annotated[Optional[list[str]], typer.Argument(help="Files to check (default: every module).", show_default=False)] = None,
    path: Annotated[Optional[Path], typer.Option("--path", "-p", help="Project root (default: the plan's source folder, else the current folder).")] = None,
    plan: Annotated[Optional[Path], typer.Option("--plan", help="Plan file (default: tool.decompose.plan, else decompose.yaml when it exists).")] = None,
    format: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")] = CheckFormat.text,
    base_ref: Annotated[Optional[str], typer.Option("--base-ref", help="Git ref the changes are measured from (default with FILES: HEAD).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write json/sarif to this file instead of stdout.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output if it exists.")] = False,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="Where the facts cache and the check snapshot live.")] = None,
) -> None:
    """Check files against the plan's boundaries, import cycles and [tool.decompose] thresholds.

    Exit status: 0 no error; 1 a boundary violation, a new cycle or a
    threshold exceeded; 2 bad input (config, plan, file or ref).
    """
    from decompose.guard.check import CheckError, run_check, to_json_dict, to_sarif_dict
    from decompose.config import ConfigError
    from decompose.planning.plan import PlanError

    cwd = Path(os.getcwd())
    try:
        root, config, plan_file = _resolve_inputs(path, plan, cwd, cache_dir)
        plan_obj = None
        if plan_file is not None:
            from decompose.guard.check import load_plan_cached

            plan_obj = load_plan_cached(plan_file, cache_dir)
        result = run_check(
            root, files, plan=plan_obj, plan_path=str(plan_file) if plan_file else None,
            config=config, base_ref=base_ref, cache_dir=cache_dir, cwd=cwd,
        )
    except PlanError as exc:
        more = len(exc.problems) - 1
        fail(exc.problems[0] + (f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""), EXIT_USAGE)
    except (CheckError, ConfigError, ValueError, FileNotFoundError) as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, EXIT_USAGE)
    if format is CheckFormat.text:
        if output is not None:
            fail("--output needs --format json or sarif")
        _print_text(result, cwd, plan_file)
    elif format is CheckFormat.json:
        emit(json.dumps(to_json_dict(result), indent=2) + "\n", output, force)
    else:
        emit(json.dumps(to_sarif_dict(result, __version__), indent=2) + "\n", output, force)
    raise typer.Exit(result.exit_code)
