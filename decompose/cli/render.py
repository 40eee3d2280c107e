"""Serialise an analysis: JSON (stable schema), Graphviz DOT and Mermaid (pure).

The JSON schema is documented in docs/json-schema.md; it only grows by new
keys within a major version (``"schema": "decompose.analysis/1"``).  Nothing
time- or machine-dependent is included, so the same tree gives the same bytes.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import networkx as nx

from decompose.analysis.pipeline import Analysis

SCHEMA = "decompose.analysis/1"


def _edge_dict(a: str, b: str, d: dict) -> dict:
    return {
        "source": a,
        "target": b,
        "imports": d["imports"],
        "lines": d["lines"],
        "contexts": d["contexts"],
        "kinds": d["kinds"],
        "uses": d["uses"],
        "calls": d["calls"],
        "weight": d["weight"],
    }


def analysis_to_dict(an: Analysis) -> dict:
    g = an.graph.internal
    ext = an.graph.external
    m = an.metrics
    modules = []
    for f in an.facts:
        mm = m.modules[f.module]
        modules.append(
            {
                "module": f.module,
                "path": f.path,
                "is_package": f.is_package,
                "lines": f.lines,
                "ca": mm.ca,
                "ce": mm.ce,
                "instability": mm.instability,
                "fan_in": mm.fan_in,
                "fan_out": mm.fan_out,
                "definitions": len(f.definitions),
                "imports": [
                    {"module": i.module, "names": i.names, "line": i.line, "kind": i.kind, "context": i.context}
                    for i in f.imports
                ],
                "uses": [
                    {"scope": u.scope, "target": u.target, "count": u.count, "calls": u.calls, "line": u.line}
                    for u in f.uses
                ],
                "tables": sorted({d.table for d in f.data}),
                "routes": [{"path": r.path, "methods": r.methods, "function": r.function} for r in f.routes],
            }
        )
    edges = [_edge_dict(a, b, d) for a, b, d in sorted(g.edges(data=True), key=lambda e: (e[0], e[1]))]
    external = [
        {
            "module": a,
            "package": b,
            "category": ext.nodes[b]["category"],
            "imports": d["imports"],
            "lines": d["lines"],
            "contexts": d["contexts"],
        }
        for a, b, d in sorted(ext.edges(data=True), key=lambda e: (e[0], e[1]))
    ]
    ext_packages = sorted(n for n in ext.nodes if "category" in ext.nodes[n])
    return {
        "schema": SCHEMA,
        "root": an.root.name,
        "summary": {
            "modules": len(an.facts),
            "packages": sum(1 for f in an.facts if f.is_package),
            "lines": sum(f.lines for f in an.facts),
            "internal_edges": g.number_of_edges(),
            "external_packages": {
                "stdlib": [p for p in ext_packages if ext.nodes[p]["category"] == "stdlib"],
                "thirdparty": [p for p in ext_packages if ext.nodes[p]["category"] == "thirdparty"],
            },
            "cycles": len(m.cycles),
            "runtime_cycles": sum(1 for c in m.cycles if c.runtime),
            "unresolved": len(an.graph.unresolved),
            "skipped": len(an.skipped),
        },
        "modules": modules,
        "edges": edges,
        "external": external,
        "packages": [m.packages[p].to_dict() for p in sorted(m.packages)],
        "cycles": [c.to_dict() for c in m.cycles],
        "unresolved": [
            {"module": u.module, "target": u.target, "line": u.line, "reason": u.reason} for u in an.graph.unresolved
        ],
        "skipped": [s.to_dict() for s in an.skipped],
        "notes": [s.to_dict() for s in an.notes],
        # where dotted names start ("." = the analysed root); loose modules: top-level files outside
        # every root, importable only from their own folder (they never shadow installed packages)
        "roots": [r or "." for r in an.graph.roots],
        "loose": [{"module": m, "folder": f} for m, f in sorted(an.graph.loose.items())],
    }


def to_json(an: Analysis) -> str:
    return json.dumps(analysis_to_dict(an), indent=2, sort_keys=True) + "\n"


def collapse(g: nx.DiGraph, depth: int | None) -> nx.DiGraph:
    """Merge modules to their first ``depth`` dotted components (None: unchanged)."""
    if not depth:
        return g
    out = nx.DiGraph()
    key = lambda m: ".".join(m.split(".")[:depth])  # noqa: E731
    for n in g.nodes:
        out.add_node(key(n))
    weights: dict[tuple[str, str], int] = defaultdict(int)
    for a, b, d in g.edges(data=True):
        ka, kb = key(a), key(b)
        if ka != kb:
            weights[(ka, kb)] += d.get("weight", 1)
    for (a, b), w in weights.items():
        out.add_edge(a, b, weight=w)
    return out


def _cycle_edges(an: Analysis, g: nx.DiGraph) -> set[tuple[str, str]]:
    members = [set(c.modules) for c in an.metrics.cycles]
    return {(a, b) for a, b in g.edges if any(a in s and b in s for s in members)}


def to_dot(an: Analysis, depth: int | None = None) -> str:
    g = collapse(an.graph.internal, depth)
    in_cycle = _cycle_edges(an, g) if not depth else set()
    lines = [
        "digraph decompose {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];',
        '  edge [color="#555555"];',
    ]
    for n in sorted(g.nodes):
        lines.append(f"  {json.dumps(n)};")
    for a, b in sorted(g.edges):
        w = g[a][b].get("weight", 1)
        attrs = [f'label="{w}"', f"penwidth={min(1 + w / 5, 6):.1f}"]
        if (a, b) in in_cycle:
            attrs.append('color="#c0392b"')
        lines.append(f"  {json.dumps(a)} -> {json.dumps(b)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_id(name: str) -> str:
    return "m_" + re.sub(r"[^0-9A-Za-z_]", "_", name)


def to_mermaid(an: Analysis, depth: int | None = None) -> str:
    g = collapse(an.graph.internal, depth)
    in_cycle = _cycle_edges(an, g) if not depth else set()
    lines = ["graph LR"]
    for n in sorted(g.nodes):
        lines.append(f'  {_mermaid_id(n)}["{n}"]')
    link_styles = []
    for i, (a, b) in enumerate(sorted(g.edges)):
        lines.append(f"  {_mermaid_id(a)} -->|{g[a][b].get('weight', 1)}| {_mermaid_id(b)}")
        if (a, b) in in_cycle:
            link_styles.append(i)
    if link_styles:
        lines.append(f"  linkStyle {','.join(map(str, link_styles))} stroke:#c0392b,stroke-width:2px")
    return "\n".join(lines) + "\n"
