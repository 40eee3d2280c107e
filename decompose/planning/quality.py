"""Quality figures of a decomposition (pure: plain data in, numbers out).

Every formula, with its source, is written out in ``docs/plan-quality.md``.

Partitions are plain mappings ``object -> cluster label``.  In a plan the
objects are modules and the labels service names; modules of the shared
library are left out of the structural figures (they are a library copied
into every service, not a service) and form one cluster of their own in the
comparison figures (MoJoFM, ARI), in both the proposal and the reference.

Figures:

* :func:`modularity` - Newman's modularity Q of a weighted undirected graph;
* :func:`structural_modularity` - SM (Jin et al. 2019, as used by Mono2Micro);
* :func:`inter_partition_call_percentage` - ICP (Kalia et al. 2021);
* :func:`interface_number` - IFN (Jin et al. 2019 / Kalia et al. 2021);
* :func:`non_extreme_distribution` - NED (Wu et al. 2005 / Kalia et al. 2021);
* :func:`mojo` / :func:`mojofm` - MoJo distance and MoJoFM (Tzerpos & Holt 1999,
  Wen & Tzerpos 2003/2004), with the optimal maximum-matching algorithm;
* :func:`adjusted_rand_index` - ARI (Hubert & Arabie 1985) from the
  contingency table.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from math import comb

import networkx as nx

Partition = Mapping[Hashable, Hashable]

#: Mono2Micro's bounds for a "non-extreme" partition size (classes there, modules here).
NED_BOUNDS = (5, 20)


def clusters_of(partition: Partition) -> dict[Hashable, list[Hashable]]:
    """label -> sorted members."""
    out: dict[Hashable, list[Hashable]] = defaultdict(list)
    for obj, label in partition.items():
        out[label].append(obj)
    return {k: sorted(v, key=str) for k, v in sorted(out.items(), key=lambda kv: str(kv[0]))}


# -- structure -----------------------------------------------------------------


def modularity(graph: nx.Graph, partition: Partition, weight: str = "weight") -> float:
    """Newman's modularity ``Q = sum_c [ L_c / m - (D_c / 2m)^2 ]`` of an undirected weighted graph.

    ``L_c`` is the total weight of the edges inside community ``c``, ``D_c``
    the sum of the weighted degrees of its nodes and ``m`` the total edge
    weight.  Nodes not in ``partition`` are ignored (the graph is restricted
    to the partitioned nodes).  0.0 for a graph without edge weight.
    """
    nodes = [n for n in graph.nodes if n in partition]
    sub = graph.subgraph(nodes)
    m = 0.0
    inside: dict[Hashable, float] = defaultdict(float)
    degree: dict[Hashable, float] = defaultdict(float)
    for a, b, d in sorted(sub.edges(data=True), key=lambda e: (str(e[0]), str(e[1]))):
        w = float(d.get(weight, 1.0))
        m += w
        ca, cb = partition[a], partition[b]
        degree[ca] += w
        degree[cb] += w
        if ca == cb:
            inside[ca] += w
    if m == 0:
        return 0.0
    return sum(inside[c] / m - (degree[c] / (2 * m)) ** 2 for c in sorted(set(partition[n] for n in nodes), key=str))


def structural_modularity(edges: Iterable[tuple[Hashable, Hashable]], partition: Partition) -> float:
    """SM = (1/K) sum_i mu_i / N_i^2  -  (1 / (K(K-1)/2)) sum_{i<j} sigma_ij / (2 N_i N_j).

    ``mu_i``: dependency edges inside service i; ``sigma_ij``: edges between
    services i and j (either direction); ``N_i``: modules of service i;
    ``K``: number of services.  Edges touching objects outside the partition
    are ignored; the coupling term is 0 for a single service.
    """
    groups = clusters_of(partition)
    labels = list(groups)
    k = len(labels)
    if k == 0:
        return 0.0
    size = {label: len(members) for label, members in groups.items()}
    mu: Counter = Counter()
    sigma: Counter = Counter()
    for a, b in set(edges):
        if a == b or a not in partition or b not in partition:
            continue
        ca, cb = partition[a], partition[b]
        if ca == cb:
            mu[ca] += 1
        else:
            sigma[tuple(sorted((ca, cb), key=str))] += 1
    cohesion = sum(mu[c] / size[c] ** 2 for c in labels) / k
    if k == 1:
        return cohesion
    coupling = sum(s / (2 * size[a] * size[b]) for (a, b), s in sigma.items())
    return cohesion - coupling / (k * (k - 1) / 2)


def inter_partition_call_percentage(calls: Mapping[tuple[Hashable, Hashable], float], partition: Partition) -> float | None:
    """ICP = calls between different services / all calls between partitioned objects.

    ``calls`` maps (caller, callee) to a call count.  Calls whose caller or
    callee is outside the partition (e.g. the shared library) and calls of an
    object to itself are not counted.  ``None`` when there is no call at all.
    """
    total = 0.0
    inter = 0.0
    for (a, b), n in calls.items():
        if a == b or a not in partition or b not in partition:
            continue
        total += n
        if partition[a] != partition[b]:
            inter += n
    if total == 0:
        return None
    return inter / total


def interface_number(interfaces: Mapping[Hashable, int], services: Iterable[Hashable]) -> float:
    """IFN = (1/K) sum_i ifn_i, ifn_i = number of interface items (symbols other services use) of service i."""
    services = list(services)
    if not services:
        return 0.0
    return sum(interfaces.get(s, 0) for s in services) / len(services)


def non_extreme_distribution(partition: Partition, bounds: tuple[int, int] = NED_BOUNDS) -> float:
    """NED = 1 - (objects in services whose size lies within ``bounds``) / (all objects); lower is better."""
    n = len(partition)
    if n == 0:
        return 0.0
    low, high = bounds
    ok = sum(len(m) for m in clusters_of(partition).values() if low <= len(m) <= high)
    return 1 - ok / n


# -- comparison with a reference --------------------------------------------------


def _common(a: Partition, b: Partition) -> tuple[dict, dict]:
    objs = set(a) & set(b)
    return {o: a[o] for o in objs}, {o: b[o] for o in objs}


def _max_matching_size(adjacency: dict[int, list[int]]) -> int:
    """Maximum cardinality matching of a bipartite graph (augmenting paths, Kuhn's algorithm)."""
    match_right: dict[int, int] = {}

    def augment(left: int, seen: set[int]) -> bool:
        for right in adjacency[left]:
            if right in seen:
                continue
            seen.add(right)
            if right not in match_right or augment(match_right[right], seen):
                match_right[right] = left
                return True
        return False

    size = 0
    for left in sorted(adjacency):
        if augment(left, set()):
            size += 1
    return size


def mojo(a: Partition, b: Partition) -> int:
    """MoJo distance mno(A, B): fewest Move and Join operations turning A into B (one direction).

    The optimal algorithm of Wen & Tzerpos (2003): tag every object of each
    cluster A_i with its group in B; ``v_ij = |A_i ∩ B_j|``.  Each A_i must
    keep its objects of one group with maximal ``v_ij`` and move the others,
    so moves = ``sum_i (|A_i| - max_j v_ij)``.  Which group each A_i keeps is
    chosen by a maximum matching in the bipartite graph linking A_i to every
    group where ``v_ij`` is maximal: with ``g`` = size of that matching, the
    ``l`` clusters end up in ``g`` distinct groups and ``l - g`` joins are
    needed.  mno(A, B) = moves + l - g.  Only objects present in both
    partitions are compared.
    """
    a, b = _common(a, b)
    groups_a = clusters_of(a)
    labels_b = {label: i for i, label in enumerate(sorted(set(b.values()), key=str))}
    moves = 0
    adjacency: dict[int, list[int]] = {}
    for i, members in enumerate(groups_a.values()):
        tags = Counter(labels_b[b[o]] for o in members)
        best = max(tags.values())
        moves += len(members) - best
        adjacency[i] = sorted(j for j, v in tags.items() if v == best)
    matched = _max_matching_size(adjacency)
    return moves + len(groups_a) - matched


def max_mojo_to(b: Partition) -> int:
    """max over all partitions A of mno(A, B) = n - g (Wen & Tzerpos 2004).

    ``g`` is found greedily from B's group sizes in increasing order: a
    group of size s raises g by one when g < s.  ``tests/test_quality.py``
    checks it against the maximum over every partition of small sets.
    """
    g = 0
    for size in sorted(Counter(b.values()).values()):
        if g < size:
            g += 1
    return len(b) - g


def mojofm(a: Partition, b: Partition) -> float:
    """MoJoFM(A, B) = (1 - mno(A, B) / max mno(any A, B)) * 100, B the reference; 100 = identical.

    Computed on the objects present in both partitions.  When the maximum is
    0 (at most one object) every partition equals B and the value is 100.
    """
    a, b = _common(a, b)
    worst = max_mojo_to(b)
    if worst == 0:
        return 100.0
    return (1 - mojo(a, b) / worst) * 100


def contingency(a: Partition, b: Partition) -> dict[tuple[Hashable, Hashable], int]:
    """n_ij = |A_i ∩ B_j| over the objects present in both partitions."""
    a, b = _common(a, b)
    return dict(Counter((a[o], b[o]) for o in a))


def adjusted_rand_index(a: Partition, b: Partition) -> float:
    """ARI (Hubert & Arabie 1985) from the contingency table n_ij, row sums a_i, column sums b_j.

    ``ARI = (index - expected) / (max - expected)`` with
    ``index = sum_ij C(n_ij, 2)``,
    ``expected = sum_i C(a_i, 2) * sum_j C(b_j, 2) / C(n, 2)`` and
    ``max = (sum_i C(a_i, 2) + sum_j C(b_j, 2)) / 2``.
    When ``max == expected`` (both partitions all-singletons, or both one
    cluster, or fewer than two objects) the partitions agree trivially and
    the value is 1.0.
    """
    table = contingency(a, b)
    n = sum(table.values())
    rows: Counter = Counter()
    cols: Counter = Counter()
    for (i, j), v in table.items():
        rows[i] += v
        cols[j] += v
    index = sum(comb(v, 2) for v in table.values())
    sum_rows = sum(comb(v, 2) for v in rows.values())
    sum_cols = sum(comb(v, 2) for v in cols.values())
    total_pairs = comb(n, 2)
    if total_pairs == 0:
        return 1.0
    expected = sum_rows * sum_cols / total_pairs
    maximum = (sum_rows + sum_cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)
