"""Terminal presentation with rich: tables and progress bars (presentation adapter)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from decompose.analysis.pipeline import Analysis

out = Console(soft_wrap=False)
err = Console(stderr=True)


@contextlib.contextmanager
def progress_bar(description: str, quiet: bool = False) -> Iterator:
    """Yields ``update(done, total)``; draws a bar on stderr unless quiet."""
    if quiet or not err.is_terminal:  # no stray control output in hooks, CI logs and pipes
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def print_analysis(an: Analysis, top: int = 25) -> None:
    g = an.graph.internal
    m = an.metrics
    s = an.stats
    ext = an.graph.external
    thirdparty = sorted(n for n, d in ext.nodes(data=True) if d.get("category") == "thirdparty")

    summary = Table(title=f"decompose analyze: {an.root}", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("modules", f"{len(an.facts)} ({sum(f.lines for f in an.facts):,} lines)")
    summary.add_row("internal dependencies", str(g.number_of_edges()))
    summary.add_row("third-party packages", ", ".join(thirdparty) or "-")
    summary.add_row(
        "cycles", f"{len(m.cycles)} ({sum(1 for c in m.cycles if c.runtime)} at import time)"
    )
    summary.add_row("package roots", ", ".join(f"{r}/" if r else ". (the analysed folder)" for r in an.graph.roots))
    if an.graph.loose:
        by_folder: dict[str, list[str]] = {}
        for mod, folder in sorted(an.graph.loose.items()):
            by_folder.setdefault(folder, []).append(mod)
        summary.add_row("loose modules", "; ".join(
            f"{folder}/: {', '.join(ms)}" for folder, ms in sorted(by_folder.items())
        ) + " (outside every package root: importable only from their own folder)")
    summary.add_row("parsed / from cache", f"{s.parsed} / {s.cached} ({s.workers} worker(s), {an.timings['total']:.2f}s)")
    if an.skipped:
        summary.add_row("skipped files", f"[red]{len(an.skipped)}[/red]")
    out.print(summary)

    mods = Table(title=f"Most coupled modules (top {top} by Ca+Ce)", title_justify="left")
    for col, kw in (
        ("module", {}),
        ("Ca", {"justify": "right"}),
        ("Ce", {"justify": "right"}),
        ("I", {"justify": "right"}),
        ("fan-in", {"justify": "right"}),
        ("fan-out", {"justify": "right"}),
        ("lines", {"justify": "right"}),
    ):
        mods.add_column(col, **kw)
    ranked = sorted(m.modules.values(), key=lambda x: (-(x.ca + x.ce), x.module))[:top]
    for x in ranked:
        mods.add_row(x.module, str(x.ca), str(x.ce), f"{x.instability:.2f}", str(x.fan_in), str(x.fan_out), str(x.lines))
    out.print(mods)

    pk = [p for p in m.packages.values() if p.package.count(".") <= 1]
    if pk:
        pt = Table(title="Packages", title_justify="left")
        for col in ("package", "modules", "Ca", "Ce", "I", "internal deps"):
            pt.add_column(col, justify="left" if col == "package" else "right")
        for p in sorted(pk, key=lambda p: p.package):
            pt.add_row(p.package, str(p.modules), str(p.ca), str(p.ce), f"{p.instability:.2f}", str(p.internal_edges))
        out.print(pt)

    if m.cycles:
        ct = Table(title="Import cycles", title_justify="left")
        ct.add_column("#", justify="right")
        ct.add_column("modules", justify="right")
        ct.add_column("at import time")
        ct.add_column("shortest cycle (file:line of each import)")
        for i, c in enumerate(m.cycles, 1):
            steps = " → ".join(f"{st.source} ({escape(st.path)}:{','.join(map(str, st.lines))})" for st in c.example)
            steps += f" → {c.example[-1].target}" if c.example else ""
            ct.add_row(str(i), str(len(c.modules)), "yes" if c.runtime else "no", steps)
        out.print(ct)

    if an.graph.unresolved:
        ut = Table(title="Unresolved internal imports", title_justify="left")
        for col in ("module", "line", "imports", "reason"):
            ut.add_column(col)
        for u in an.graph.unresolved[:top]:
            ut.add_row(u.module, str(u.line), escape(u.target), escape(u.reason))
        out.print(ut)

    if an.skipped or an.notes:
        st = Table(title="Skipped files and notes", title_justify="left")
        st.add_column("file")
        st.add_column("problem")
        for sk in an.skipped:
            st.add_row(f"[red]{escape(sk.path)}[/red]", escape(sk.reason))
        for n in an.notes:
            st.add_row(f"[yellow]{escape(n.path)}[/yellow]", escape(n.reason))
        out.print(st)
