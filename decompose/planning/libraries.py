"""Library clusters go with the domain they serve (pure; step 5c of :mod:`decompose.planning.cluster`).

A cluster of the community step that holds no route module, no table and no
module of an app (:mod:`decompose.planning.domains`) serves no domain of its
own: ``utils``, ``configs``, ``fixtures``, a command line.  A domain expert
does not make a service of it; it joins the cluster with substance that it is
most coupled to (the summed weight of the coupling edges between them), as
long as that one stays under the size cap.  One coupled to no such cluster
stays as it is.  Pinned clusters are never folded.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx

from decompose.analysis.roles import is_migration_module


def fold_libraries(q: nx.Graph, comms: list[list[str]], atoms, atom_pin, substance: set[str],
                    cap: float | None, why: dict[str, str]) -> list[list[str]]:
    """Each library cluster (no module in ``substance``, not pinned) joins the cluster with
    substance it is most coupled to (summed edge weight), unless that would take it over ``cap``
    modules (migrations not counted); one coupled to none stays as it is."""
    def size(comm: list[str]) -> int:
        return sum(1 for a in comm for m in atoms[a] if not is_migration_module(m))

    def serves(comm: list[str]) -> bool:
        return any(m in substance for a in comm for m in atoms[a]) or any(a in atom_pin for a in comm)

    comms = [list(x) for x in comms]
    while True:
        libraries = sorted((i for i, x in enumerate(comms) if not serves(x)), key=lambda i: (size(comms[i]), comms[i][0]))
        comm_of = {a: k for k, x in enumerate(comms) for a in x}
        moved = False
        for i in libraries:
            weight: dict[int, float] = defaultdict(float)
            for a in comms[i]:
                for b, d in q[a].items():
                    if comm_of[b] != i:
                        weight[comm_of[b]] += float(d.get("weight", 1.0))
            targets = sorted((k for k, w in weight.items() if w > 0 and serves(comms[k])
                              and (cap is None or size(comms[k]) + size(comms[i]) <= cap)),
                             key=lambda k: (-round(weight[k], 9), comms[k][0]))
            if not targets:
                continue
            k = targets[0]
            into = sorted({m for a in comms[k] for m in atoms[a] if m in substance})[:2]
            for a in comms[i]:
                for m in atoms[a]:
                    why.setdefault(m, f"library (no routes, tables or app modules of its own): with "
                                      f"{', '.join(into)}, the code it is most coupled to")
            comms[k] = sorted(comms[k] + comms[i])
            del comms[i]
            moved = True
            break
        if not moved:
            return sorted((sorted(x) for x in comms), key=lambda x: x[0])
