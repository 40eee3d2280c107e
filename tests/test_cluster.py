"""Clustering on hand-built coupling graphs: domains recovered, constraints honoured, deterministic."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from decompose.planning.cluster import ConstraintError, Constraints, cluster
from decompose.planning.naming import name_clusters

DOMAINS = {
    "shop.alpha": ["shop.alpha", "shop.alpha.api", "shop.alpha.models", "shop.alpha.service"],
    "shop.beta": ["shop.beta", "shop.beta.api", "shop.beta.models", "shop.beta.service"],
    "shop.gamma": ["shop.gamma", "shop.gamma.api", "shop.gamma.models", "shop.gamma.service"],
}
UTIL = "shop.util"


def build(order_seed: int | None = None, extra_edges=()):
    """Dense domains, weak links between them, and a util used by everyone that uses nothing."""
    edges = []
    deps = []
    for pkg, mods in DOMAINS.items():
        api, models, service = f"{pkg}.api", f"{pkg}.models", f"{pkg}.service"
        for a, b, w in ((api, service, 5), (service, models, 6), (api, models, 2)):
            edges.append((a, b, w))
            deps.append((a, b))
        for m in (api, models, service):
            edges.append((m, pkg, 1))
            deps.append((m, pkg))  # package containment (import-time dependency)
            edges.append((m, UTIL, 1))
            deps.append((m, UTIL))
    edges += [("shop.beta.service", "shop.alpha.service", 1), ("shop.gamma.service", "shop.beta.service", 1)]
    deps += [("shop.beta.service", "shop.alpha.service"), ("shop.gamma.service", "shop.beta.service")]
    edges += list(extra_edges)
    if order_seed is not None:
        random.Random(order_seed).shuffle(edges)
    g = nx.Graph()
    for a, b, w in edges:
        g.add_edge(a, b, weight=w)
    d = nx.DiGraph()
    d.add_nodes_from(g.nodes)
    d.add_edges_from(deps)
    return g, d


def services_of(result):
    out = {}
    for m, s in result.assignment.items():
        out.setdefault(s, set()).add(m)
    return out


@pytest.mark.parametrize("method", ["louvain", "greedy"])
def test_recovers_domains_and_proposes_shared_util(method):
    g, d = build()
    r = cluster(g, d, seed=7, method=method)
    assert r.shared == [UTIL]
    assert "used from 3 of 3 clusters" in r.why[UTIL]
    assert services_of(r) == {name.split(".")[1]: set(mods) for name, mods in DOMAINS.items()}


def test_deterministic_regardless_of_edge_insertion_order():
    results = set()
    for order in range(5):
        g, d = build(order_seed=order)
        r = cluster(g, d, seed=3)
        results.add(tuple(sorted(r.assignment.items())))
    assert len(results) == 1


def test_runtime_cycle_is_never_split():
    # alpha.models and gamma.api import each other at import time, weakly
    g, d = build(extra_edges=[("shop.alpha.models", "shop.gamma.api", 0.1)])
    r = cluster(g, d, cycles=[["shop.alpha.models", "shop.gamma.api"]], seed=1)
    assert r.assignment["shop.alpha.models"] == r.assignment["shop.gamma.api"]
    assert "import cycle" in r.why["shop.alpha.models"]


def test_pins_name_and_separate_services():
    g, d = build()
    c = Constraints(pins={"shop.alpha.*": "billing", "shop.alpha": "billing", "shop.beta.models": "ledger"})
    r = cluster(g, d, constraints=c, seed=1)
    svc = services_of(r)
    assert set(DOMAINS["shop.alpha"]) <= svc["billing"]
    assert r.assignment["shop.beta.models"] == "ledger"
    assert "pinned to billing" in r.why["shop.alpha.api"]


def test_pin_brings_modules_of_different_domains_together():
    g, d = build()
    c = Constraints(pins={"shop.alpha.api": "edge", "shop.gamma.api": "edge"})
    r = cluster(g, d, constraints=c, seed=1)
    assert r.assignment["shop.alpha.api"] == r.assignment["shop.gamma.api"] == "edge"


def test_together_groups_and_forced_shared():
    g, d = build()
    c = Constraints(together=[["shop.alpha.api", "shop.beta.api"]], shared=["shop.gamma.models"], auto_shared=False)
    r = cluster(g, d, constraints=c, seed=1)
    assert r.assignment["shop.alpha.api"] == r.assignment["shop.beta.api"]
    assert r.shared == ["shop.gamma.models"]  # auto_shared off: util is not proposed
    assert UTIL in r.assignment


@pytest.mark.parametrize("target", [1, 2, 4, 6])
def test_target_number_of_services(target):
    g, d = build()
    r = cluster(g, d, constraints=Constraints(services=target), seed=5)
    assert len(set(r.assignment.values())) == target
    # domains are kept whole when merging (target < 3)
    if target <= 3:
        for mods in DOMAINS.values():
            assert len({r.assignment[m] for m in mods}) == 1


def test_target_count_respects_pins_and_reports_when_unreachable():
    g, d = build()
    c = Constraints(services=1, pins={"shop.alpha.api": "one", "shop.beta.api": "two"})
    r = cluster(g, d, constraints=c, seed=5)
    assert len(set(r.assignment.values())) == 2
    assert any("pinned to different services" in n for n in r.notes)


@pytest.mark.parametrize(
    "constraints, message",
    [
        (Constraints(pins={"shop.nothing*": "x"}), "matches no analysed module"),
        (Constraints(pins={"shop.alpha.api": "Bad_Name"}), "not a DNS-1123 label"),
        (Constraints(pins={"shop.alpha.*": "x", "shop.alpha.api": "y"}), "pinned to both"),
        (Constraints(pins={"shop.alpha.api": "x"}, shared=["shop.alpha.api"]), "both pinned"),
        (Constraints(services=0), ">= 1"),
    ],
)
def test_constraint_errors_are_one_line(constraints, message):
    g, d = build()
    with pytest.raises(ConstraintError) as exc:
        cluster(g, d, constraints=constraints, seed=1)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_cycle_across_two_pins_is_an_error():
    g, d = build()
    c = Constraints(pins={"shop.alpha.api": "x", "shop.beta.api": "y"})
    with pytest.raises(ConstraintError, match="pinned to different services"):
        cluster(g, d, cycles=[["shop.alpha.api", "shop.beta.api"]], constraints=c, seed=1)


def test_names_are_dns_labels_unique_and_after_the_dominant_package():
    clusters = [
        ["shop.orders", "shop.orders.models", "shop.orders.service"],
        ["shop.orders.pricing", "shop.orders.pricing_rules"],
        ["shop.Foo_Bar.x"],
        ["shop.orders.cart"],
    ]
    names = name_clusters(clusters)
    assert names[0] == "orders"
    assert names[1] == "orders-pricing"
    assert names[2] == "foo-bar"
    assert names[3] == "orders-cart"
    assert len(set(names)) == 4
    assert name_clusters([["a"], ["b"]], fixed={1: "pinned"}) == ["a", "pinned"]


def test_composition_root_and_its_entry_point_are_shared_but_not_a_used_orchestrator():
    extra = [(f"{pkg}.api", "shop.app", 2) for pkg in DOMAINS] + [("shop.main", "shop.app", 2)]
    g, d = build(extra_edges=extra)
    for pkg in DOMAINS:
        d.add_edge("shop.app", f"{pkg}.api")
    d.add_edge("shop.main", "shop.app")
    r = cluster(g, d, seed=3)
    assert {"shop.app", "shop.main"} <= set(r.shared)
    assert "composition root" in r.why["shop.app"] and "entry point" in r.why["shop.main"]
    # the same wiring module is no root once a service module depends on it
    d.add_edge("shop.beta.service", "shop.app")
    r = cluster(g, d, seed=3)
    assert "shop.app" not in r.shared and "shop.main" not in r.shared
    r = cluster(g, d, seed=3, constraints=Constraints(composition_roots=False))
    assert "shop.app" not in r.shared


def _keys(g):
    return {m: m.split(".")[1] for m in g.nodes if m.count(".") >= 1}


def test_bond_into_a_table_free_helper_used_by_two_domains_shares_it():
    """shop.alpha.service hands live objects out (say a connection); beta and gamma call it.
    Sharing the callee keeps the three domains apart; without the sharing rule they'd merge."""
    g, d = build()
    bonds = [(["shop.beta.service", "shop.alpha.service"], "kept with ...: passes a connection"),
             (["shop.gamma.service", "shop.alpha.service"], "kept with ...: passes a connection")]
    d.remove_edge("shop.alpha.service", "shop.alpha.models")  # a helper with no tables behind it
    r = cluster(g, d, seed=7, bonds=bonds, keys=_keys(g), table_modules=["shop.alpha.models", "shop.beta.models", "shop.gamma.models"])
    assert "shop.alpha.service" in r.shared and "live objects" in r.why["shop.alpha.service"]
    assert len({r.assignment[f"shop.{x}.api"] for x in ("alpha", "beta", "gamma")}) == 3


def test_bond_into_a_module_with_tables_merges_two_domains_but_a_hub_of_three_is_shared():
    g, d = build()
    tables = ["shop.alpha.models", "shop.beta.models", "shop.gamma.models"]
    two = [(["shop.beta.service", "shop.alpha.service"], "kept with ...: returns an ORM row")]
    r = cluster(g, d, seed=7, bonds=two, keys=_keys(g), table_modules=tables)
    assert "shop.alpha.service" not in r.shared
    assert r.assignment["shop.beta.service"] == r.assignment["shop.alpha.service"]
    # called from three domains: merging them all would be worse than sharing the helper and its table
    g.add_edge("shop.util", "shop.delta.api", weight=1)
    g.add_edge("shop.delta.api", "shop.alpha.service", weight=1)
    d.add_edge("shop.delta.api", "shop.alpha.service")
    three = two + [(["shop.gamma.service", "shop.alpha.service"], "kept with ...: returns an ORM row"),
                   (["shop.delta.api", "shop.alpha.service"], "kept with ...: returns an ORM row")]
    r = cluster(g, d, seed=7, bonds=three, keys=_keys(g), table_modules=tables)
    assert {"shop.alpha.service", "shop.alpha.models"} <= set(r.shared)
    assert r.assignment["shop.beta.service"] != r.assignment["shop.gamma.service"]


SPLIT_SCRIPT = r"""
import json, random, sys
import networkx as nx
from decompose.planning.cluster import _split_in_two
rnd = random.Random(5)
q = nx.Graph()
names = sorted(f"app.m{i:03d}" for i in range(120))
q.add_nodes_from(names)
for i, a in enumerate(names):
    for b in rnd.sample(names, 4):
        if a != b:
            q.add_edge(a, b, weight=1.0)
subset = names[:30]  # a small part of the graph: what the size cap splits
print(json.dumps(_split_in_two(q, subset, "louvain", 42)))
"""


def test_splitting_a_cluster_does_not_depend_on_the_string_hash():
    """The size cap splits a cluster on its own subgraph; NetworkX's ``subgraph`` of a small
    subset iterates a set (hash order), and Louvain follows node order: privacyIDEA's and
    lnbits' plans changed with PYTHONHASHSEED.  Same input, same split, whatever the seed."""
    import os
    import subprocess
    import sys

    outs = {subprocess.run([sys.executable, "-c", SPLIT_SCRIPT], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2, 3, 4)}
    assert len(outs) == 1, outs


def test_a_blueprint_left_without_edges_is_its_own_service_not_its_coupled_siblings():
    """privacyIDEA's shape: one package of blueprint modules (``pi.api.<domain>``), two coupled to
    each other, the others coupled only to the shared library.  Once that library is shared, the
    lone blueprints have no edge; sharing the package ``pi.api`` with the coupled pair is no
    reason to join them (it put 30 blueprints into one service): each stays a service of its own,
    and a lone module of a blueprint's own domain still joins it."""
    g = nx.Graph()
    g.add_edge("pi.api.auth", "pi.api.token", weight=3)
    g.add_edge("pi.api.auth", "pi.lib.auth", weight=2)
    lone = ["pi.api.clients", "pi.api.event", "pi.api.realm"]
    utils = [f"pi.util.u{i}" for i in range(6)]  # a library big enough to keep the size cap out
    for m in ["pi.api.auth", "pi.api.token", "pi.lib.auth", *lone, "pi.models.token"]:
        for u in utils:
            g.add_edge(m, u, weight=1)
    d = nx.DiGraph()
    d.add_nodes_from(g.nodes)
    d.add_edges_from((m, u) for m in g.nodes if m not in utils for u in utils)
    keys = {m: m.rpartition(".")[2] for m in g.nodes}
    evidence = {m: 1 for m in ["pi.api.auth", "pi.api.token", *lone, "pi.models.token"]}
    r = cluster(g, d, seed=7, keys=keys, evidence=evidence, table_modules=["pi.models.token"],
                constraints=Constraints(shared=["pi.util.*"]))
    assert r.shared == utils and not r.notes
    by = services_of(r)
    assert {"pi.api.auth", "pi.api.token"} <= by[r.assignment["pi.api.auth"]]
    for m in lone:
        assert by[r.assignment[m]] == {m}, (m, by)
    # the table module of the token domain, with no edge left either, joins its blueprint
    assert r.assignment["pi.models.token"] == r.assignment["pi.api.token"]
