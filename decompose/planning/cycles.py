"""Which import cycles must keep their modules together, and where to cut the large ones (pure).

A cycle of imports that run at import time cannot be split without work, so
its modules normally form one atom of the clustering.  A large cycle would
then force one huge service (one 814-module cycle through a GraphQL schema
package made one service of half a project).  Here:

* imports at function level or under ``TYPE_CHECKING`` never count (the
  graph's runtime contexts only), nor do **registration imports**: a package
  ``__init__`` importing its own submodules (to register routes or models),
  which a split handles by giving each service its own wiring;
* a remaining cycle whose modules all serve one domain (one key of
  :mod:`decompose.planning.domains`), or that is small (at most
  :data:`SMALL_CYCLE` modules), stays one atom;
* a larger cycle spanning several domains is cut: on the graph of its
  domains (edge weight = import statements from one domain to another) a
  minimum feedback arc set is approximated with the Eades-Lin-Smyth
  ordering, and the imports along those arcs are the **cycle breakers**.
  Without them the cycle falls into domain-sized pieces (the strongly
  connected components that remain), which become the atoms.  Each breaker
  is reported as an ``import-cycle`` blocker naming the importing file and
  line: the work to do before the split runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx

from decompose.analysis.facts import ModuleFacts
from decompose.analysis.graph import DependencyGraph, resolve_import
from decompose.analysis.metrics import RUNTIME_CONTEXTS

#: Cycles up to this many modules are kept whole even across domains.
SMALL_CYCLE = 4


@dataclass
class CycleCut:
    atoms: list[list[str]]  # groups of modules that must stay together (each > 1 module)
    blockers: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_registration(importer: str, imported: str, packages: set[str]) -> bool:
    """A package ``__init__`` importing one of its own submodules."""
    return importer in packages and imported.startswith(importer + ".")


def _eades_order(g: nx.DiGraph) -> list[str]:
    """Eades-Lin-Smyth greedy ordering (weighted): arcs pointing backwards form a small feedback arc set."""
    g = g.copy()
    left: list[str] = []
    right: list[str] = []

    def w_in(n):
        return sum(d["weight"] for _, _, d in g.in_edges(n, data=True))

    def w_out(n):
        return sum(d["weight"] for _, _, d in g.out_edges(n, data=True))

    while g.number_of_nodes():
        changed = True
        while changed:
            changed = False
            for n in sorted(g.nodes):
                if g.out_degree(n) == 0:
                    right.append(n)
                    g.remove_node(n)
                    changed = True
            for n in sorted(g.nodes):
                if g.in_degree(n) == 0:
                    left.append(n)
                    g.remove_node(n)
                    changed = True
        if not g.number_of_nodes():
            break
        best = sorted(g.nodes, key=lambda n: (-(w_out(n) - w_in(n)), n))[0]
        left.append(best)
        g.remove_node(best)
    return left + right[::-1]


def cut_cycles(facts: list[ModuleFacts], graph: DependencyGraph, key_of: Mapping[str, str]) -> CycleCut:
    by_module = {f.module: f for f in facts}
    packages = {f.module for f in facts if f.is_package}
    modules = set(graph.internal.nodes)
    edges = sorted(
        (a, b) for a, b in graph.import_edges(RUNTIME_CONTEXTS) if a != b and not is_registration(a, b, packages)
    )
    g = nx.DiGraph()
    g.add_nodes_from(sorted(modules))
    g.add_edges_from(edges)
    out = CycleCut(atoms=[])
    for scc in sorted(sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1):
        keys = sorted({key_of.get(m, m) for m in scc})
        if len(scc) <= SMALL_CYCLE or len(keys) < 2:
            out.atoms.append(scc)
            continue
        members = set(scc)
        kg = nx.DiGraph()
        kg.add_nodes_from(keys)
        count: dict[tuple[str, str], int] = defaultdict(int)
        for a, b in g.subgraph(scc).edges:
            ka, kb = key_of.get(a, a), key_of.get(b, b)
            if ka != kb:
                count[(ka, kb)] += 1
        for (ka, kb), n in sorted(count.items()):
            kg.add_edge(ka, kb, weight=n)
        pos = {k: i for i, k in enumerate(_eades_order(kg))}
        back = {(ka, kb) for ka, kb in count if pos[ka] > pos[kb]}
        cut = nx.DiGraph(g.subgraph(scc))
        removed = sorted((a, b) for a, b in cut.edges if (key_of.get(a, a), key_of.get(b, b)) in back)
        cut.remove_edges_from(removed)
        pieces = sorted(sorted(c) for c in nx.strongly_connected_components(cut) if len(c) > 1)
        out.atoms.extend(pieces)
        largest = max((len(p) for p in pieces), default=1)
        out.notes.append(
            f"import cycle of {len(scc)} modules across {len(keys)} domains cut at {len(removed)} import(s) "
            f"into pieces of at most {largest} modules (import-cycle blockers)"
        )
        for a, b in removed:
            f = by_module.get(a)
            lines = sorted(
                {
                    i.line
                    for i in (f.imports if f else [])
                    if i.context in RUNTIME_CONTEXTS and b in resolve_import(i, frozenset(modules))
                }
            )
            out.blockers.append(
                {
                    "kind": "import-cycle",
                    "severity": "error",
                    "module": a,
                    "imports": b,
                    "at": [f"{f.path}:{n}" for n in lines] if f else [],
                    "cycle_modules": len(scc),
                    "note": f"breaks an import cycle of {len(members)} modules between domains "
                    f"{key_of.get(a, a)} and {key_of.get(b, b)}: import lazily (inside the function) or move the shared part",
                }
            )
    return out
