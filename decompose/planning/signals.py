"""Coupling signals between modules, combined into one weighted graph (pure).

Each signal is a mapping ``(module_a, module_b) -> raw strength`` over
unordered pairs (stored with ``a < b``) of analysed modules:

``static``
    imports plus symbol uses between the two modules, both directions
    (the ``weight`` of :mod:`decompose.analysis.graph` edges), plus 1 between a
    module and its parent package: importing ``shop.orders.service`` runs
    ``shop/orders/__init__.py`` first, so every module depends on its
    package at import time even without an import statement.
``data``
    modules touching the same table.  A module touches a table when it
    defines the model or ``Table`` mapping it, uses a model class of another
    module (through the symbol graph, following package re-exports), or
    names it in raw SQL.  A table touched by ``n`` modules adds
    ``1 / (n - 1)`` to each of their pairs (each module's total share of a
    table is 1, so a table everybody touches does not glue everything).
``evolution``
    co-change: each commit touching ``n >= 2`` analysed modules adds
    ``1 / (n - 1)`` to each of their pairs; commits changing more than
    ``max_files`` files (mass reformatting, vendoring) are ignored, and a
    pair must have changed together in at least ``min_support`` (2) commits
    to count at all (one commit is an anecdote, not a coupling).
``dynamic``
    calls recorded at run time by ``decompose trace`` between the two
    modules, both directions.
``structure``
    the project's own structure: modules of one domain candidate (the same
    app package, or the same name across technical layers, see
    :mod:`decompose.planning.domains`); a candidate of ``n`` modules adds
    ``1 / (n - 1)`` to each of its pairs.

Signals are on different scales (a trace can count thousands of calls), so
before mixing each one is normalised to [0, 1] with
``log(1 + w) / log(1 + max w)``: the strongest pair of every signal counts 1,
and heavy tails are compressed.  The combined weight of a pair is
``sum_s weight_s * normalised_s``; a weight of 0 switches a signal off.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from decompose.analysis.facts import ModuleFacts
from decompose.analysis.graph import DependencyGraph

SIGNALS = ("static", "data", "evolution", "dynamic", "structure")
DEFAULT_WEIGHTS = {"static": 1.0, "data": 1.0, "evolution": 0.5, "dynamic": 1.0, "structure": 2.0}
#: Commits touching more files than this are ignored by the evolutionary signal.
MAX_COMMIT_FILES = 50
#: Pairs that changed together in fewer commits than this are ignored.
MIN_SUPPORT = 2

Pair = tuple[str, str]
Signal = dict[Pair, float]


def pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def parse_weights(text: str | None, base: Mapping[str, float] | None = None) -> dict[str, float]:
    """``"static=1,data=1,evolution=0.5"`` -> weights (unnamed signals keep ``base``/defaults).

    Raises ValueError with a one-line message on an unknown signal or a bad number.
    """
    weights = dict(DEFAULT_WEIGHTS if base is None else base)
    if not text:
        return weights
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"--weights: {item!r} must be name=number (signals: {', '.join(SIGNALS)})")
        if name not in SIGNALS:
            raise ValueError(f"--weights: unknown signal {name!r} (signals: {', '.join(SIGNALS)})")
        try:
            w = float(value)
        except ValueError:
            raise ValueError(f"--weights: {name}={value.strip()!r} is not a number") from None
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"--weights: {name} must be a finite number >= 0, got {value.strip()}")
        weights[name] = w
    return weights


# -- static ----------------------------------------------------------------------


def static_signal(graph: DependencyGraph) -> Signal:
    out: Signal = defaultdict(float)
    modules = set(graph.internal.nodes)
    for a, b, d in graph.internal.edges(data=True):
        if a != b:
            out[pair(a, b)] += float(d.get("weight", 0))
    for m in modules:
        parent = m.rpartition(".")[0]
        if parent and parent in modules:
            out[pair(m, parent)] += 1.0
    return {k: v for k, v in sorted(out.items()) if v > 0}


# -- data ------------------------------------------------------------------------


def _reexport_resolver(facts: Iterable[ModuleFacts]):
    """(module, name) -> (defining module, name), following ``from x import name`` re-exports."""
    defined = {f.module: {d.name for d in f.definitions} for f in facts}
    imported: dict[tuple[str, str], str] = {}
    for f in facts:
        for imp in f.imports:
            if imp.module and imp.names and imp.names != ["*"]:
                for n in imp.names:
                    imported.setdefault((f.module, n), imp.module)

    def resolve(module: str, name: str) -> tuple[str, str]:
        seen = set()
        while (module, name) not in seen:
            seen.add((module, name))
            if name in defined.get(module, ()):
                return module, name
            nxt = imported.get((module, name))
            if nxt is None or nxt not in defined:
                return module, name
            module = nxt
        return module, name

    return resolve


def table_access(facts: Iterable[ModuleFacts], graph: DependencyGraph) -> dict[str, dict[str, list[str]]]:
    """module -> table -> sorted list of how it touches it ("model", "table", "sql", "uses Model of mod")."""
    facts = sorted(facts, key=lambda f: f.module)
    resolve = _reexport_resolver(facts)
    model_table: dict[tuple[str, str], str] = {}
    access: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for f in facts:
        for d in f.data:
            access[f.module][d.table].add(d.how)
            if d.symbol and d.how in ("model", "table"):
                model_table[(f.module, d.symbol)] = d.table
    for src, dst in graph.symbols.edges:
        user = src.partition(":")[0]
        mod, _, sym = dst.partition(":")
        mod, sym = resolve(mod, sym)
        table = model_table.get((mod, sym))
        if table is not None and user != mod:
            access[user][table].add(f"uses {mod}.{sym}")
    return {m: {t: sorted(h) for t, h in sorted(ts.items())} for m, ts in sorted(access.items())}


def data_signal(access: Mapping[str, Mapping[str, object]]) -> Signal:
    by_table: dict[str, list[str]] = defaultdict(list)
    for m, tables in access.items():
        for t in tables:
            by_table[t].append(m)
    out: Signal = defaultdict(float)
    for t in sorted(by_table):
        mods = sorted(set(by_table[t]))
        if len(mods) < 2:
            continue
        share = 1.0 / (len(mods) - 1)
        for i, a in enumerate(mods):
            for b in mods[i + 1 :]:
                out[(a, b)] += share
    return dict(sorted(out.items()))


# -- evolution -------------------------------------------------------------------


@dataclass
class CoChange:
    signal: Signal
    commits: int = 0  # commits read
    used: int = 0  # commits touching >= 2 analysed modules (and not too big)
    skipped_large: int = 0


def evolution_signal(
    commits: Iterable[Iterable[str]],
    path_to_module: Mapping[str, str],
    max_files: int = MAX_COMMIT_FILES,
    min_support: int = MIN_SUPPORT,
) -> CoChange:
    """Co-change strengths from commits given as lists of paths (relative to the analysed root)."""
    out: Signal = defaultdict(float)
    support: dict[Pair, int] = defaultdict(int)
    result = CoChange(signal={})
    for files in commits:
        files = list(files)
        result.commits += 1
        if len(files) > max_files:
            result.skipped_large += 1
            continue
        mods = sorted({path_to_module[p] for p in files if p in path_to_module})
        if len(mods) < 2:
            continue
        result.used += 1
        share = 1.0 / (len(mods) - 1)
        for i, a in enumerate(mods):
            for b in mods[i + 1 :]:
                out[(a, b)] += share
                support[(a, b)] += 1
    result.signal = {k: v for k, v in sorted(out.items()) if support[k] >= min_support}
    return result


# -- dynamic ---------------------------------------------------------------------


def module_calls(calls: Iterable[tuple[str, str, int]], modules: Iterable[str]) -> dict[tuple[str, str], int]:
    """Directed (caller module, callee module) -> count, only between analysed modules.

    ``calls`` items are (caller, callee, count) where caller/callee are
    ``"module:scope"`` or plain module names.
    """
    known = set(modules)
    out: dict[tuple[str, str], int] = defaultdict(int)
    for caller, callee, n in calls:
        a = caller.partition(":")[0]
        b = callee.partition(":")[0]
        if a != b and a in known and b in known:
            out[(a, b)] += int(n)
    return dict(sorted(out.items()))


def dynamic_signal(directed: Mapping[tuple[str, str], int]) -> Signal:
    out: Signal = defaultdict(float)
    for (a, b), n in directed.items():
        if a != b:
            out[pair(a, b)] += n
    return dict(sorted(out.items()))


# -- combination -----------------------------------------------------------------


def normalise(signal: Mapping[Pair, float]) -> Signal:
    top = max(signal.values(), default=0.0)
    if top <= 0:
        return {}
    scale = math.log1p(top)
    return {k: math.log1p(v) / scale for k, v in sorted(signal.items()) if v > 0}


@dataclass
class Coupling:
    """The combined undirected coupling graph and the raw signals it came from."""

    graph: nx.Graph
    signals: dict[str, Signal]
    weights: dict[str, float]
    notes: list[str] = field(default_factory=list)

    def strongest(self, module: str, limit: int = 3) -> list[tuple[str, float, dict[str, float]]]:
        """The module's heaviest edges: (neighbour, combined weight, {signal: raw value})."""
        g = self.graph
        if module not in g:
            return []
        items = []
        for nb in g.neighbors(module):
            d = g[module][nb]
            raw = {s: d[s] for s in SIGNALS if d.get(s)}
            items.append((nb, d["weight"], raw))
        items.sort(key=lambda x: (-x[1], x[0]))
        return items[:limit]


def combine(modules: Iterable[str], signals: Mapping[str, Signal], weights: Mapping[str, float]) -> Coupling:
    """One undirected weighted graph over ``modules``; edge attrs: weight plus each signal's raw value."""
    g = nx.Graph()
    mods = sorted(set(modules))
    g.add_nodes_from(mods)
    known = set(mods)
    edges: dict[Pair, dict[str, float]] = defaultdict(dict)
    for name in SIGNALS:
        sig = signals.get(name) or {}
        w = float(weights.get(name, 0.0))
        norm = normalise({k: v for k, v in sig.items() if k[0] in known and k[1] in known})
        for k, v in norm.items():
            e = edges[k]
            e[name] = round(sig[k], 6)
            e["weight"] = e.get("weight", 0.0) + w * v
    for (a, b), attrs in sorted(edges.items()):
        if attrs.get("weight", 0.0) > 0:
            g.add_edge(a, b, **attrs)
    return Coupling(graph=g, signals={k: dict(v) for k, v in signals.items()}, weights=dict(weights))
