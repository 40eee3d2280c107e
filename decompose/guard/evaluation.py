"""The pure evaluation: before/after graphs in, findings and dependency changes out.

This module owns the comparison a check makes (see :mod:`decompose.guard.check`
for where *before* and *after* come from): :func:`baseline` builds the before
graph from the base versions of the checked modules, :func:`evaluate` applies
every rule of :mod:`decompose.guard.rules` to the checked modules (coupling
thresholds DC104-DC106, cycles DC103/DC203, unresolved imports DC201, and the
plan's boundaries through :mod:`decompose.guard.boundaries`) and lists the
dependency changes with Ca/Ce/instability before and after.  Plain data in
and out: no filesystem, no git, no parser.

Ca/Ce/instability count every internal edge (imports and symbol uses);
cycles count only import edges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from decompose.analysis.facts import ModuleFacts
from decompose.config import Config
from decompose.guard.boundaries import boundary_findings
from decompose.guard.graphstate import (
    RUNTIME_CONTEXTS,
    Edge,
    GraphState,
    Imp,
    Use,
    import_adj,
    module_edges,
    shortest_path,
    tarjan_sccs,
)
from decompose.guard.rules import Finding, import_statement
from decompose.planning.plan import Plan


@dataclass(slots=True)
class Coupling:
    ca: int
    ce: int
    instability: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Dep:
    target: str
    line: int  # first import line (0 for a dependency made by symbol uses only)
    contexts: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class ModuleChange:
    module: str
    path: str
    added: list[Dep]
    removed: list[Dep]
    before: Coupling | None  # None: the module did not exist at the base
    after: Coupling | None  # None: the module is gone

    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "path": self.path,
            "added": [d.to_dict() for d in self.added],
            "removed": [d.to_dict() for d in self.removed],
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
        }


def _instability(ca: int, ce: int) -> float:
    return round(ce / (ca + ce), 4) if ca + ce else 0.0


def _deps(edges: dict[str, Edge]) -> list[Dep]:
    """The dependencies ``edges`` make, by target, each at its first import line."""
    return [Dep(t, e.lines[0] if e.lines else 0, sorted(e.contexts)) for t, e in sorted(edges.items())]


def baseline(
    after: GraphState, checked: Iterable[str], base: dict[str, tuple[list[Imp], list[Use]] | None]
) -> tuple[dict[str, dict[str, Edge]], set[str]]:
    """The before graph: ``after`` with each checked module's edges made from its base version.

    ``base`` maps a checked module to its (imports, uses) at the base, or None
    when it did not exist there; modules missing from ``base`` are unchanged.
    Base imports resolve against today's module set.  Returns (before out-edges, absent modules).
    """
    before_out = dict(after.out)
    absent: set[str] = set()
    tops = after.top_levels()
    hidden = after.hidden()
    for m in checked:
        if m not in base:
            continue
        b = base[m]
        if b is None:
            absent.add(m)
            before_out[m] = {}
        else:
            before_out[m], _ = module_edges(m, b[0], b[1], after.info, tops, hidden(m))
    return before_out, absent


@dataclass
class Evaluation:
    findings: list[Finding]
    changes: list[ModuleChange]
    new_cycles: list[list[str]]


def evaluate(
    after: GraphState,
    before_out: dict[str, dict[str, Edge]],
    absent_before: set[str],
    checked: list[str],
    checked_facts: dict[str, ModuleFacts],
    plan: Plan | None,
    config: Config,
    absolute: bool = False,
    facts_of: Callable[[str], ModuleFacts | None] | None = None,
) -> Evaluation:
    """Apply every rule to the checked modules (pure).

    ``before_out`` is the full before graph (module -> out-edges); modules in
    ``absent_before`` did not exist at the base.  ``checked_facts`` holds the
    current facts of every checked module.  ``absolute``: a full audit
    against an empty baseline, where cycles are reported as ``DC203``
    warnings rather than new cycles and no dependency changes are listed.
    ``facts_of``: the facts of any module (the boundary rules read the definitions of the
    modules a star import names); by default only the checked modules' are known.
    """
    findings: list[Finding] = []
    info = after.info

    # -- dependency changes ---------------------------------------------------
    added_edges: dict[str, dict[str, Edge]] = {}
    removed_edges: dict[str, dict[str, Edge]] = {}
    for m in checked:
        a = after.out.get(m, {})
        b = before_out.get(m, {})
        added_edges[m] = {t: e for t, e in a.items() if t not in b}
        removed_edges[m] = {t: e for t, e in b.items() if t not in a}

    # -- coupling before / after ------------------------------------------------
    affected = set(checked)
    for m in checked:
        affected.update(added_edges[m])
        affected.update(removed_edges[m])
    indeg_after: Counter[str] = Counter()
    for edges in after.out.values():
        indeg_after.update(edges.keys())
    indeg_before = indeg_after.copy()
    for m in checked:
        indeg_before.subtract(added_edges[m].keys())
        indeg_before.update(removed_edges[m].keys())
    # modules whose before-edges differ without being checked do not exist: before_out == after.out elsewhere

    def coupling_after(m: str) -> Coupling | None:
        if m not in info:
            return None
        ca, ce = indeg_after[m], len(after.out.get(m, ()))
        return Coupling(ca, ce, _instability(ca, ce))

    def coupling_before(m: str) -> Coupling | None:
        if m in absent_before:
            return None
        ca, ce = indeg_before[m], len(before_out.get(m, ()))
        return Coupling(ca, ce, _instability(ca, ce))

    changes: list[ModuleChange] = []
    for m in sorted(affected):
        if m not in info and m not in before_out:
            continue
        changes.append(
            ModuleChange(
                module=m,
                path=info[m].relpath if m in info else "",
                added=_deps(added_edges.get(m, {})),
                removed=_deps(removed_edges.get(m, {})),
                before=coupling_before(m),
                after=coupling_after(m),
            )
        )
    change_of = {c.module: c for c in changes}

    def stmt_at(m: str, line: int) -> str:
        f = checked_facts.get(m)
        if f is None:
            return ""
        for imp in f.imports:
            if imp.line == line:
                return import_statement(m, f.is_package, imp)
        return ""

    # -- thresholds --------------------------------------------------------------
    def first_new(m: str) -> tuple[int, str]:
        lines = sorted((e.lines[0] if e.lines else 10**9, t) for t, e in added_edges[m].items())
        return lines[0] if lines else (0, "")

    if config.max_efferent is not None or config.max_instability is not None:
        for m in checked:
            c = change_of.get(m)
            if c is None or c.after is None:
                continue
            before = c.before or Coupling(0, 0, 0.0)
            line, tgt = first_new(m)
            stmt = stmt_at(m, line)
            if line == 10**9:  # the new dependencies come from symbol uses only: no import line to name
                line, stmt = 1, ""
            if config.max_efferent is not None and c.after.ce > config.max_efferent and c.after.ce > before.ce:
                findings.append(Finding(
                    "DC105", c.path, line or 1, m, stmt, tgt or m,
                    f"{m} now depends on {c.after.ce} internal modules (was {before.ce}; "
                    f"max_efferent = {config.max_efferent})",
                ))
            if (
                config.max_instability is not None
                and c.after.ca >= 1
                and c.after.instability > config.max_instability
                and c.after.instability > before.instability
            ):
                findings.append(Finding(
                    "DC104", c.path, line or 1, m, stmt, tgt or m,
                    f"{m} instability is {c.after.instability:.2f} (was {before.instability:.2f}; "
                    f"Ca {c.after.ca}, Ce {c.after.ce}; max_instability = {config.max_instability})",
                ))
    if config.max_afferent is not None:
        importers: dict[str, list[tuple[str, int, str]]] = {}
        for m in checked:
            for t, e in added_edges[m].items():
                importers.setdefault(t, []).append((info[m].relpath, e.lines[0] if e.lines else 1, m))
        for t in sorted(importers):
            c = change_of.get(t)
            if c is None or c.after is None:
                continue
            before = c.before or Coupling(0, 0, 0.0)
            if c.after.ca > config.max_afferent and c.after.ca > before.ca:
                path, line, m = min(importers[t])
                findings.append(Finding(
                    "DC106", path, line, m, stmt_at(m, line), t,
                    f"{t} is now depended on by {c.after.ca} internal modules (was {before.ca}; "
                    f"max_afferent = {config.max_afferent})",
                ))

    # -- new cycles ----------------------------------------------------------------
    new_cycles: list[list[str]] = []
    new_import_edges = [(m, t) for m in checked for t, e in added_edges[m].items() if e.imports]
    # an edge that existed before as a use-only edge and became an import edge is new for cycles too
    for m in checked:
        b = before_out.get(m, {})
        for t, e in after.out.get(m, {}).items():
            if e.imports and t in b and not b[t].imports:
                new_import_edges.append((m, t))
    if new_import_edges:
        adj_after = import_adj(after.out)
        sccs_after = tarjan_sccs(adj_after)
        comp_after = {n: i for i, c in enumerate(sccs_after) for n in c}
        candidates = [(u, v) for u, v in new_import_edges if u in comp_after and comp_after.get(v) == comp_after[u]]
        if candidates:
            adj_before = import_adj(before_out)
            sccs_before = tarjan_sccs(adj_before)
            comp_before = {n: i for i, c in enumerate(sccs_before) for n in c}
            runtime_adj = import_adj(after.out, RUNTIME_CONTEXTS)
            by_comp: dict[int, list[tuple[str, int, str, str]]] = {}
            for u, v in candidates:
                comp = sccs_after[comp_after[u]]
                prev = comp_before.get(u)
                if prev is not None and all(comp_before.get(n) == prev for n in comp):
                    continue  # the same modules were already strongly connected
                e = after.out[u][v]
                by_comp.setdefault(comp_after[u], []).append((info[u].relpath, e.lines[0] if e.lines else 1, u, v))
            for ci, edges in sorted(by_comp.items(), key=lambda kv: min(kv[1])):
                comp = sccs_after[ci]
                within = set(comp)
                path, line, u, v = min(edges)
                back = shortest_path(adj_after, v, u, within) or [v, u]
                cycle = [u, *back]
                steps = " -> ".join(
                    f"{a} ({info[a].relpath}:{','.join(map(str, after.out[a][b].lines))})" for a, b in zip(cycle, cycle[1:])
                ) + f" -> {u}"
                rt = runtime_adj
                runtime = any(
                    len(set(c) & within) > 1
                    for c in tarjan_sccs({n: [t for t in rt.get(n, ()) if t in within] for n in comp})
                )
                when = "at import time" if runtime else "only through imports inside functions or under TYPE_CHECKING"
                if absolute:
                    findings.append(Finding(
                        "DC203", path, line, u, stmt_at(u, line), v,
                        f"import cycle of {len(comp)} modules ({when}): {steps}",
                    ))
                else:
                    findings.append(Finding(
                        "DC103", path, line, u, stmt_at(u, line), v,
                        f"this import closes a new cycle of {len(comp)} modules ({when}): {steps}",
                    ))
                new_cycles.append(comp)

    # -- unresolved ------------------------------------------------------------------
    for m in checked:
        for target, line in after.unresolved.get(m, ()):
            findings.append(Finding(
                "DC201", info[m].relpath, line, m, stmt_at(m, line), target,
                f"{target} is not a module of the analysed tree",
            ))

    # -- boundaries -------------------------------------------------------------------
    if plan is not None:
        findings.extend(boundary_findings(after, checked, checked_facts, plan, facts_of=facts_of))

    findings.sort(key=Finding.sort_key)
    return Evaluation(findings=findings, changes=[] if absolute else changes, new_cycles=new_cycles)
