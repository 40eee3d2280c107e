"""The guard's incremental module graph (pure): :class:`GraphState`, SCCs, shortest paths.

This module owns the whole project's module graph as the check keeps it
between runs: per module its :class:`ModuleInfo` (path, content key, stat
signature), compact imports and symbol uses, and the resolved out-edges
(:class:`Edge`) that :func:`module_edges` makes from them exactly as
``decompose.analysis.graph.build_graph`` makes the ``internal`` graph (same
resolution rule, :mod:`decompose.analysis.resolve`; the agreement is tested).
Edges are re-resolved for the changed modules only.  Cycles are found by
:func:`tarjan_sccs` and explained by :func:`shortest_path` over
:func:`import_adj`.

Why a second graph model
------------------------
The analyzer (``decompose.analysis.graph``, ``metrics``) builds NetworkX
graphs once per ``decompose analyze``: it needs the external and symbol
graphs, weighted degrees and, in planning, Louvain communities.  The guard
runs on every commit for a few changed files and needs only out-edges,
in-degree counts, SCCs when a checked module gains an import edge and one
shortest path per new cycle, on a graph that persists between runs.
Measured on Django 5.2.8 (883 modules, 3,054 internal edges), one fresh
process per run, CPU time, medians of 9 (the 2-core machine had a load
average of 9-16, so wall clock was 2-4x these):

* the guard's path: importing ``decompose.guard.check`` 75 ms, loading the
  marshal snapshot 14 ms, :func:`tarjan_sccs` on the whole import graph
  2 ms;
* the same with NetworkX: importing ``networkx`` alone 159 ms, more than all
  of the above together, then 9 ms to build an ``nx.DiGraph`` from the
  snapshot (or 12 ms to unpickle one) and 8 ms for
  ``nx.strongly_connected_components``;
* the analyzer's own path (import 170 ms, every module's facts from the
  facts cache 88 ms, ``build_graph`` 125 ms, ``find_cycles`` 30 ms) costs
  about 410 ms more than the guard's.

A warm check of a one-file change takes 0.55 s of CPU in a fresh process
(the library call of ``benchmarks/check.py``, most of it importing LibCST
and parsing), so NetworkX would add about 30% to the pre-commit hook for
nothing it needs.  Hence two models, kept from disagreeing by one rule:
both resolve imports with :mod:`decompose.analysis.resolve`,
:func:`module_edges` makes the edges ``build_graph`` makes, and
``tests/test_check.py`` compares the edges with ``build_graph``'s on the
sample monolith and :func:`tarjan_sccs` with NetworkX on random graphs.  Use NetworkX for analysis built
once per run; use this module where the graph is kept between runs and
updated per changed file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from decompose.analysis.facts import ModuleFacts
from decompose.analysis.resolve import Without, hidden_from, loose_modules, nearest_module, resolve

RUNTIME_CONTEXTS = frozenset({"module", "conditional"})  # same as decompose.analysis.metrics


#: (module, names, line, context, kind, level): an ImportFact, compactly
Imp = tuple
#: (target, count, calls): symbol uses aggregated by target
Use = tuple


@dataclass(slots=True)
class Edge:
    imports: int = 0
    lines: list[int] = field(default_factory=list)
    contexts: set[str] = field(default_factory=set)
    uses: int = 0
    calls: int = 0


@dataclass(slots=True)
class ModuleInfo:
    relpath: str
    is_package: bool
    key: str
    lines: int = 0
    mtime_ns: int = 0
    size: int = -1


def compact_imports(facts: ModuleFacts) -> list[Imp]:
    return [(i.module, tuple(i.names), i.line, i.context, i.kind, i.level) for i in facts.imports]


def compact_uses(facts: ModuleFacts) -> list[Use]:
    agg: dict[str, list[int]] = {}
    for u in facts.uses:
        a = agg.setdefault(u.target, [0, 0])
        a[0] += u.count
        a[1] += u.calls
    return [(t, c, k) for t, (c, k) in agg.items()]


def module_edges(
    module: str, imports: Iterable[Imp], uses: Iterable[Use], modules, top_levels, hidden: frozenset[str] = frozenset()
) -> tuple[dict[str, Edge], list[tuple[str, int]]]:
    """Internal out-edges of one module, exactly as ``decompose.analysis.graph.build_graph`` makes them.

    ``hidden``: the loose modules this module cannot import (``analysis.resolve.hidden_from``).
    Returns the edges and the unresolved internal imports as (named module, line).
    """
    if hidden:
        modules, top_levels = Without(modules, hidden), top_levels - hidden
    edges: dict[str, Edge] = {}
    unresolved: list[tuple[str, int]] = []
    for imp_module, names, line, context, _kind, _level in imports:
        if not imp_module:
            continue
        if imp_module.partition(".")[0] not in top_levels:
            continue
        targets = resolve(imp_module, names, modules)
        if targets is None:
            unresolved.append((imp_module, line))
            continue
        for t in targets:
            if t == module:
                continue
            e = edges.get(t)
            if e is None:
                e = edges[t] = Edge()
            e.imports += 1
            if line not in e.lines:
                e.lines.append(line)
            e.contexts.add(context)
    for target, count, calls in uses:
        t = nearest_module(target, modules)
        if t is None or t == module:
            continue
        e = edges.get(t)
        if e is None:
            e = edges[t] = Edge()
        e.uses += count
        e.calls += calls
    for e in edges.values():
        e.lines.sort()
    return edges, unresolved


@dataclass
class GraphState:
    """The whole project's module graph, as much as a check needs of it."""

    info: dict[str, ModuleInfo]
    imports: dict[str, list[Imp]]
    uses: dict[str, list[Use]]
    out: dict[str, dict[str, Edge]] = field(default_factory=dict)
    unresolved: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: files that give no module: relpath -> (module or "", is_package, reason, mtime_ns, size)
    skipped: dict[str, tuple[str, bool, str, int, int]] = field(default_factory=dict)

    @property
    def modules(self) -> dict[str, ModuleInfo]:
        return self.info

    def top_levels(self) -> frozenset[str]:
        return frozenset(m.partition(".")[0] for m in self.info)

    def hidden(self) -> Callable[[str], frozenset[str]]:
        """module -> the loose modules it cannot import (as ``build_graph`` decides)."""
        loose = loose_modules((m, i.relpath, i.is_package) for m, i in self.info.items())
        if not loose:
            return lambda _m: frozenset()
        return lambda m: hidden_from(self.info[m].relpath, loose) if m in self.info else frozenset()

    def rebuild_edges(self, only: Iterable[str] | None = None) -> None:
        tops = self.top_levels()
        mods = self.info
        hidden = self.hidden()
        for m in (self.info if only is None else only):
            if m not in self.info:
                self.out.pop(m, None)
                self.unresolved.pop(m, None)
                continue
            self.out[m], self.unresolved[m] = module_edges(m, self.imports.get(m, ()), self.uses.get(m, ()), mods, tops,
                                                           hidden(m))
        if only is None:
            for m in list(self.out):
                if m not in self.info:
                    del self.out[m]

    def set_facts(self, facts: ModuleFacts, info: ModuleInfo) -> None:
        self.info[facts.module] = info
        self.imports[facts.module] = compact_imports(facts)
        self.uses[facts.module] = compact_uses(facts)

    def remove(self, module: str) -> None:
        for d in (self.info, self.imports, self.uses, self.out, self.unresolved):
            d.pop(module, None)

    @classmethod
    def from_facts(cls, facts: Iterable[ModuleFacts], infos: dict[str, ModuleInfo]) -> "GraphState":
        st = cls(info={}, imports={}, uses={})
        for f in facts:
            st.set_facts(f, infos[f.module])
        st.rebuild_edges()
        return st


def tarjan_sccs(adj: dict[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(adj):
        if root in index:
            continue
        work = [(root, iter(sorted(adj.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(adj.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def import_adj(out: dict[str, dict[str, Edge]], contexts: frozenset[str] | None = None) -> dict[str, list[str]]:
    """Module -> targets of its import edges (only imports made in one of ``contexts``, when given)."""
    if contexts is None:
        return {m: [t for t, e in edges.items() if e.imports] for m, edges in out.items()}
    return {m: [t for t, e in edges.items() if e.imports and contexts & e.contexts] for m, edges in out.items()}


def shortest_path(adj: dict[str, list[str]], src: str, dst: str, within: set[str]) -> list[str] | None:
    """A shortest path ``src`` -> ``dst`` through nodes of ``within`` (BFS in sorted order), or None."""
    prev: dict[str, str | None] = {src: None}
    q = deque([src])
    while q:
        n = q.popleft()
        if n == dst:
            path = [n]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])  # type: ignore[arg-type]
            return path[::-1]
        for t in sorted(adj.get(n, ())):
            if t in within and t not in prev:
                prev[t] = n
                q.append(t)
    return None
