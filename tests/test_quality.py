"""Quality figures checked against hand-computed values and brute force."""

from __future__ import annotations

import itertools
import random
from collections import deque

import networkx as nx
import pytest

from decompose.planning import quality as q


def part(*groups):
    """part("abc", "de") -> {"a": 0, "b": 0, "c": 0, "d": 1, "e": 1}"""
    return {o: i for i, g in enumerate(groups) for o in g}


# -- ARI -------------------------------------------------------------------------


def test_ari_worked_example():
    # A = {a,b}{c,d}, B = {a,b}{c}{d}; contingency rows (2,0,0),(0,1,1):
    # index = C(2,2) = 1; rows: C(2,2)+C(2,2) = 2; cols: C(2,2)+0+0 = 1; C(4,2) = 6
    # expected = 2*1/6 = 1/3; max = (2+1)/2 = 3/2; ARI = (1-1/3)/(3/2-1/3) = (2/3)/(7/6) = 4/7
    assert q.adjusted_rand_index(part("ab", "cd"), part("ab", "c", "d")) == pytest.approx(4 / 7)


def test_ari_anti_correlated_and_identical_and_relabelled():
    # A = {a,b}{c,d}, B = {a,c}{b,d}: index 0, expected 2*2/6, max 2 -> (0-2/3)/(2-2/3) = -1/2
    assert q.adjusted_rand_index(part("ab", "cd"), part("ac", "bd")) == pytest.approx(-0.5)
    a = part("abc", "de", "f")
    assert q.adjusted_rand_index(a, a) == pytest.approx(1.0)
    relabelled = {k: f"x{v}" for k, v in a.items()}
    assert q.adjusted_rand_index(a, relabelled) == pytest.approx(1.0)


def test_ari_hubert_arabie_larger_example():
    # 3x3 contingency table [[5,1,0],[1,4,1],[0,2,6]] (n = 20), computed by hand:
    # index = C(5,2)+C(4,2)+C(2,2)+C(6,2) = 10+6+1+15 = 32
    # rows (6,6,8): 15+15+28 = 58; cols (6,7,7): 15+21+21 = 57; C(20,2) = 190
    # expected = 58*57/190 = 17.4; max = 57.5; ARI = 14.6/40.1
    a, b = {}, {}
    table = [[5, 1, 0], [1, 4, 1], [0, 2, 6]]
    k = 0
    for i, row in enumerate(table):
        for j, n in enumerate(row):
            for _ in range(n):
                a[k], b[k] = i, j
                k += 1
    assert q.adjusted_rand_index(a, b) == pytest.approx(14.6 / 40.1)


def test_ari_only_compares_common_objects_and_degenerate_cases():
    assert q.adjusted_rand_index(part("ab", "cd"), {**part("ab", "cd"), "z": 9}) == pytest.approx(1.0)
    assert q.adjusted_rand_index(part("a", "b", "c"), part("a", "b", "c")) == 1.0
    assert q.adjusted_rand_index(part("abc"), part("a", "b", "c")) == pytest.approx(0.0)


# -- MoJo ------------------------------------------------------------------------


def _canon(groups):
    return frozenset(frozenset(g) for g in groups if g)


def brute_force_mojo(a: dict, b: dict) -> int:
    """Breadth-first search over Move (object to another or a new cluster) and Join operations."""
    start = _canon(q.clusters_of(a).values())
    goal = _canon(q.clusters_of(b).values())
    seen = {start: 0}
    todo = deque([start])
    while todo:
        state = todo.popleft()
        d = seen[state]
        if state == goal:
            return d
        groups = list(state)
        nxt = []
        for i, j in itertools.combinations(range(len(groups)), 2):  # joins
            rest = [g for k, g in enumerate(groups) if k not in (i, j)]
            nxt.append(_canon(rest + [groups[i] | groups[j]]))
        for i, g in enumerate(groups):  # moves
            for o in g:
                for j in [*range(len(groups)), None]:
                    if j == i:
                        continue
                    new = [set(x) for x in groups]
                    new[i].discard(o)
                    if j is None:
                        if len(g) == 1:
                            continue
                        new.append({o})
                    else:
                        new[j].add(o)
                    nxt.append(_canon(new))
        for s in nxt:
            if s not in seen:
                seen[s] = d + 1
                todo.append(s)
    raise AssertionError("unreachable")


def random_partition(objs, rng):
    k = rng.randint(1, len(objs))
    return {o: rng.randrange(k) for o in objs}


def test_mojo_hand_example():
    # A = {1,2,3}{4,5,6}{7,8}, B = {1,2}{3,4,5}{6,7,8}
    # A1 tags (B1:2, B2:1) -> keep B1, move 3; A2 (B2:2, B3:1) -> move 6; A3 (B3:2) -> none.
    # 2 moves; every A cluster maps to a distinct group, no join: mno = 2.
    a = part([1, 2, 3], [4, 5, 6], [7, 8])
    b = part([1, 2], [3, 4, 5], [6, 7, 8])
    assert q.mojo(a, b) == 2
    # max distance to B: sizes (2,3,3) -> g = 3 -> 8 - 3 = 5; MoJoFM = (1 - 2/5) * 100 = 60
    assert q.max_mojo_to(b) == 5
    assert q.mojofm(a, b) == pytest.approx(60.0)


def test_mojo_needs_matching_not_greedy_tagging():
    # A1 = {a,b} ties between groups X and Y; A2 = {c} only in X.  A greedy choice of X
    # for A1 would force a join; the maximum matching gives A1 -> Y, A2 -> X.
    a = part("ab", "c")
    b = {"a": "X", "b": "Y", "c": "X"}
    assert q.mojo(a, b) == 1 == brute_force_mojo(a, b)


@pytest.mark.parametrize("seed", range(60))
def test_mojo_equals_brute_force(seed):
    rng = random.Random(seed)
    objs = list("abcdef"[: rng.randint(2, 6)])
    a, b = random_partition(objs, rng), random_partition(objs, rng)
    assert q.mojo(a, b) == brute_force_mojo(a, b)


@pytest.mark.parametrize("seed", range(12))
def test_max_mojo_to_is_the_maximum_over_all_partitions(seed):
    rng = random.Random(1000 + seed)
    objs = list("abcdef"[: rng.randint(2, 6)])
    b = random_partition(objs, rng)

    def all_partitions(items):
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for p in all_partitions(rest):
            for i in range(len(p)):
                yield p[:i] + [[first, *p[i]]] + p[i + 1 :]
            yield [[first], *p]

    worst = max(q.mojo(part(*p), b) for p in all_partitions(objs))
    assert q.max_mojo_to(b) == worst


def test_mojofm_bounds_and_asymmetry():
    b = part("abc", "def", "gh")
    assert q.mojofm(b, b) == 100.0
    # everything in one cluster: 5 moves + 0 joins, max = 8 - 3 = 5 -> 0
    assert q.mojofm(part("abcdefgh"), b) == pytest.approx(0.0)
    a = part("abcd", "efgh")
    assert q.mojofm(a, b) != q.mojofm(b, a)


# -- structural figures -------------------------------------------------------------


def test_modularity_matches_networkx_and_hand_value():
    g = nx.Graph()
    g.add_weighted_edges_from([("a", "b", 3), ("b", "c", 1), ("c", "d", 3), ("a", "c", 1)])
    p = part("ab", "cd")
    # m = 8; L = 3, 3; degrees: A = 3+3+1+... a:4,b:4 -> 8, c:5,d:3 -> 8
    # Q = 2 * (3/8 - (8/16)^2) = 2 * (0.375 - 0.25) = 0.25
    assert q.modularity(g, p) == pytest.approx(0.25)
    assert q.modularity(g, p) == pytest.approx(nx.community.modularity(g, [{"a", "b"}, {"c", "d"}]))
    assert q.modularity(nx.Graph(), {}) == 0.0


def test_structural_modularity_hand_value():
    # services X = {a,b}, Y = {c,d,e}; edges a->b, c->d, d->e, b->c, a->e
    edges = [("a", "b"), ("c", "d"), ("d", "e"), ("b", "c"), ("a", "e")]
    p = {"a": "X", "b": "X", "c": "Y", "d": "Y", "e": "Y"}
    # scoh X = 1/4, Y = 2/9; scop XY = 2 / (2*2*3) = 1/6; K = 2
    expected = (1 / 4 + 2 / 9) / 2 - (1 / 6) / 1
    assert q.structural_modularity(edges, p) == pytest.approx(expected)
    # a single service has no coupling term
    assert q.structural_modularity(edges, dict.fromkeys("abcde", "X")) == pytest.approx(5 / 25)


def test_icp_ifn_ned():
    p = {"a": "X", "b": "X", "c": "Y"}
    calls = {("a", "b"): 6, ("a", "c"): 3, ("c", "b"): 1, ("a", "lib"): 50}
    assert q.inter_partition_call_percentage(calls, p) == pytest.approx(4 / 10)
    assert q.inter_partition_call_percentage({}, p) is None
    assert q.interface_number({"X": 3, "Y": 0}, ["X", "Y"]) == pytest.approx(1.5)
    # sizes 6 (in [5,20]) and 2 (extreme): NED = 1 - 6/8
    p2 = {**{f"x{i}": "X" for i in range(6)}, "y1": "Y", "y2": "Y"}
    assert q.non_extreme_distribution(p2) == pytest.approx(0.25)
    assert q.non_extreme_distribution(p2, bounds=(1, 3)) == pytest.approx(0.75)
