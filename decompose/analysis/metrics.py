"""Coupling metrics over the internal dependency graph (pure).

Per module (Robert C. Martin, *Agile Software Development*, 2002):

* ``ca`` afferent coupling: how many other modules depend on it;
* ``ce`` efferent coupling: how many other modules it depends on;
* ``instability`` I = Ce / (Ca + Ce), 0 when both are 0;
* ``fan_in`` / ``fan_out``: the same but weighted (imports + symbol uses).

Per package (every dotted prefix that is an analysed package) the same
figures counting only dependencies that cross the package's border.

Cycles are the strongly connected components with more than one module.  For
each, one shortest cycle through its smallest module is given with the import
lines that close it, and ``runtime`` tells whether the cycle is still there
when imports that never run at import time (inside functions, under
``TYPE_CHECKING``) are ignored: only those cycles can break an import.  For a
runtime cycle the example only uses imports that run at import time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import networkx as nx

from decompose.analysis.graph import DependencyGraph

RUNTIME_CONTEXTS = frozenset({"module", "conditional"})


@dataclass(slots=True)
class ModuleMetrics:
    module: str
    ca: int
    ce: int
    instability: float
    fan_in: int
    fan_out: int
    external: int  # third-party + stdlib distributions imported
    lines: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class PackageMetrics:
    package: str
    modules: int
    ca: int
    ce: int
    instability: float
    internal_edges: int  # dependencies between modules of the package

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class CycleStep:
    source: str
    target: str
    path: str  # file of ``source``
    lines: list[int]


@dataclass(slots=True)
class Cycle:
    modules: list[str]
    runtime: bool
    example: list[CycleStep] = field(default_factory=list)
    edges: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Metrics:
    modules: dict[str, ModuleMetrics]
    packages: dict[str, PackageMetrics]
    cycles: list[Cycle]

    def to_dict(self) -> dict:
        return {
            "modules": [self.modules[m].to_dict() for m in sorted(self.modules)],
            "packages": [self.packages[p].to_dict() for p in sorted(self.packages)],
            "cycles": [c.to_dict() for c in self.cycles],
        }


def _instability(ca: int, ce: int) -> float:
    return round(ce / (ca + ce), 4) if ca + ce else 0.0


def module_metrics(graph: DependencyGraph) -> dict[str, ModuleMetrics]:
    g = graph.internal
    ext = graph.external
    out = {}
    for m, data in g.nodes(data=True):
        ca = g.in_degree(m)
        ce = g.out_degree(m)
        out[m] = ModuleMetrics(
            module=m,
            ca=ca,
            ce=ce,
            instability=_instability(ca, ce),
            fan_in=int(g.in_degree(m, weight="weight")),
            fan_out=int(g.out_degree(m, weight="weight")),
            external=ext.out_degree(m) if m in ext else 0,
            lines=data.get("lines", 0),
        )
    return out


def package_metrics(graph: DependencyGraph) -> dict[str, PackageMetrics]:
    g = graph.internal
    packages = sorted(m for m, d in g.nodes(data=True) if d.get("is_package"))
    members: dict[str, list[str]] = {p: [] for p in packages}
    for m in g.nodes:
        parts = m.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in members:
                members[prefix].append(m)
    out = {}
    for p in packages:
        inside = set(members[p])
        callers, callees = set(), set()
        internal_edges = 0
        for m in inside:
            for s in g.predecessors(m):
                if s not in inside:
                    callers.add(s)
            for t in g.successors(m):
                if t in inside:
                    internal_edges += 1
                else:
                    callees.add(t)
        ca, ce = len(callers), len(callees)
        out[p] = PackageMetrics(p, len(inside), ca, ce, _instability(ca, ce), internal_edges)
    return out


def _shortest_cycle(g: nx.DiGraph, start: str, members: set[str]) -> list[str]:
    sub = g.subgraph(members)
    best: list[str] | None = None
    for succ in sorted(sub.successors(start)):
        try:
            path = nx.shortest_path(sub, succ, start)
        except nx.NetworkXNoPath:
            continue
        cand = [start, *path]
        if best is None or len(cand) < len(best):
            best = cand
    return best or [start, start]


def find_cycles(graph: DependencyGraph) -> list[Cycle]:
    g = graph.internal
    runtime_g = nx.DiGraph()
    runtime_g.add_nodes_from(g.nodes)
    runtime_g.add_edges_from(
        (a, b) for a, b, d in g.edges(data=True) if d["imports"] and RUNTIME_CONTEXTS & set(d["contexts"])
    )
    runtime_sccs = [c for c in nx.strongly_connected_components(runtime_g) if len(c) > 1]
    import_g = nx.DiGraph()
    import_g.add_nodes_from(g.nodes)
    import_g.add_edges_from((a, b, d) for a, b, d in g.edges(data=True) if d["imports"])
    cycles = []
    for comp in nx.strongly_connected_components(import_g):
        if len(comp) < 2:
            continue
        inner = [r for r in runtime_sccs if r <= comp]
        runtime = bool(inner)
        if runtime:
            # show a cycle that really runs at import time, not one through a function-level import
            r = min(inner, key=lambda r: (-len(r), min(r)))
            path = _shortest_cycle(runtime_g, min(r), r)
        else:
            path = _shortest_cycle(import_g, min(comp), comp)
        steps = [
            CycleStep(a, b, g.nodes[a].get("path", ""), list(g[a][b]["lines"]))
            for a, b in zip(path, path[1:])
        ]
        n_edges = import_g.subgraph(comp).number_of_edges()
        cycles.append(Cycle(sorted(comp), runtime, steps, n_edges))
    cycles.sort(key=lambda c: (-len(c.modules), c.modules))
    return cycles


def compute_metrics(graph: DependencyGraph) -> Metrics:
    return Metrics(modules=module_metrics(graph), packages=package_metrics(graph), cycles=find_cycles(graph))
