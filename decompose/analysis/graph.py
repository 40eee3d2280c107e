"""Build the dependency graphs from module facts (pure: plain data in, NetworkX out).

Three graphs come out of :func:`build_graph`:

``internal``  (``nx.DiGraph``) one node per analysed module; an edge ``a -> b``
    when ``a`` imports ``b`` or uses a symbol defined in ``b``.  Edge data:

    * ``imports`` - number of import statements that resolve to ``b``;
    * ``lines`` - sorted line numbers of those statements in ``a``;
    * ``contexts`` - sorted set of contexts (module, function, conditional,
      type_checking) and ``kinds`` (absolute, relative, dynamic,
      string: a module named in a string an API imports, never external);
    * ``uses`` / ``calls`` - references to symbols of ``b`` (see SymbolUse);
    * ``weight`` - ``imports + uses``: the static coupling strength.

``external``  (``nx.DiGraph``) edges from analysed modules to third-party and
    standard-library *distributions* (top-level import names), node attribute
    ``category`` = ``"stdlib"`` or ``"thirdparty"``; kept apart so internal
    metrics are not drowned by ``os`` and ``typing``.

``symbols``  (``nx.DiGraph``) ``"mod:scope" -> "mod:Symbol"`` edges with
    ``count``/``calls``/``args`` (the argument slots the calls pass, ``SymbolUse.args``;
    None when unknown): which function or class uses which definition.

Import resolution follows ``decompose.analysis.resolve`` (the rules grimp uses too,
see docs/analysis.md).  An import of an internal top-level package that
matches no analysed module is *unresolved* and reported.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import networkx as nx

from decompose.analysis.facts import ImportFact, ModuleFacts
from decompose.analysis.resolve import (
    Without,
    hidden_from,
    loose_modules,
    package_roots,
    resolve,
    shadowed_submodules,
    use_module,
)

STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


@dataclass(slots=True)
class Unresolved:
    module: str  # the importing module
    target: str  # what it names
    line: int
    reason: str


@dataclass
class DependencyGraph:
    internal: nx.DiGraph
    external: nx.DiGraph
    symbols: nx.DiGraph
    unresolved: list[Unresolved] = field(default_factory=list)
    top_levels: frozenset[str] = frozenset()
    #: folders where packaged module names start ("" = the analysed root), see analysis.resolve
    roots: list[str] = field(default_factory=list)
    #: loose modules (top-level files outside every package root) -> their folder
    loose: dict[str, str] = field(default_factory=dict)
    #: submodules their package's ``__init__`` rebinds (``from .db import db``), see analysis.resolve
    shadowed: frozenset[str] = frozenset()

    def import_edges(self, include_contexts: Iterable[str] | None = None) -> set[tuple[str, str]]:
        """Internal edges created by import statements (optionally only some contexts)."""
        wanted = set(include_contexts) if include_contexts is not None else None
        out = set()
        for a, b, d in self.internal.edges(data=True):
            if not d["imports"]:
                continue
            if wanted is None or wanted & set(d["contexts"]):
                out.add((a, b))
        return out


def resolve_import(fact: ImportFact, modules: set[str] | frozenset[str], shadowed: Collection[str] = ()) -> list[str]:
    """Internal modules an import statement depends on; [] if it names no analysed module
    (see ``decompose.analysis.resolve`` for the rules)."""
    return resolve(fact.module, fact.names, modules, shadowed) or []


def _category(top: str) -> str:
    return "stdlib" if top in STDLIB else "thirdparty"


def build_graph(facts: Iterable[ModuleFacts]) -> DependencyGraph:
    facts = sorted(facts, key=lambda f: f.module)
    modules = frozenset(f.module for f in facts)
    top_levels = frozenset(m.split(".", 1)[0] for m in modules)
    internal = nx.DiGraph()
    external = nx.DiGraph()
    symbols = nx.DiGraph()
    unresolved: list[Unresolved] = []
    entries = [(f.module, f.path, f.is_package) for f in facts]
    roots = package_roots(entries)
    loose = loose_modules(entries)
    views: dict[frozenset[str], tuple[Collection[str], frozenset[str]]] = {}
    shadowed = shadowed_submodules(facts, modules)

    for f in facts:
        internal.add_node(f.module, path=f.path, is_package=f.is_package, lines=f.lines)

    edges: dict[tuple[str, str], dict] = defaultdict(
        lambda: {"imports": 0, "lines": set(), "contexts": set(), "kinds": set(), "uses": 0, "calls": 0}
    )
    ext_edges: dict[tuple[str, str], dict] = defaultdict(lambda: {"imports": 0, "lines": set(), "contexts": set()})

    for f in facts:
        # a loose module outside this module's folder tree is not importable from here
        hidden = hidden_from(f.path, loose) if loose else frozenset()
        if hidden not in views:
            views[hidden] = (Without(modules, hidden), top_levels - hidden) if hidden else (modules, top_levels)
        visible, tops = views[hidden]
        for imp in f.imports:
            if not imp.module:
                unresolved.append(Unresolved(f.module, "." * imp.level, imp.line, "relative import beyond the top-level package"))
                continue
            top = imp.module.split(".", 1)[0]
            if top not in tops and imp.kind == "string":
                continue  # a name in a string that is not the project's: no import of a package
            if top not in tops:
                e = ext_edges[(f.module, top)]
                e["imports"] += 1
                e["lines"].add(imp.line)
                e["contexts"].add(imp.context)
                continue
            targets = resolve(imp.module, imp.names, visible, shadowed)
            if targets is None:
                unresolved.append(Unresolved(f.module, imp.module, imp.line, "no such module in the analysed tree"))
                continue
            for t in targets:
                if t == f.module:
                    continue
                e = edges[(f.module, t)]
                e["imports"] += 1
                e["lines"].add(imp.line)
                e["contexts"].add(imp.context)
                e["kinds"].add(imp.kind)

        for use in f.uses:
            target_mod = use_module(use.target, visible, shadowed, use.start)
            if target_mod is None or target_mod == f.module:
                continue
            e = edges[(f.module, target_mod)]
            e["uses"] += use.count
            e["calls"] += use.calls
            rest = use.target[len(target_mod) + 1 :]
            symbol = rest.split(".", 1)[0] if rest else ""
            if symbol:
                src = f"{f.module}:{use.scope}"
                dst = f"{target_mod}:{symbol}"
                # the argument slots of the calls (None: some call's are not known)
                args = None if use.calls and use.args is None else set(use.args or ())
                if symbols.has_edge(src, dst):
                    d = symbols[src][dst]
                    d["count"] += use.count
                    d["calls"] += use.calls
                    d["args"] = None if d["args"] is None or args is None else d["args"] | args
                else:
                    symbols.add_edge(src, dst, count=use.count, calls=use.calls, args=args)

    for (a, b), e in sorted(edges.items()):
        internal.add_edge(
            a,
            b,
            imports=e["imports"],
            lines=sorted(e["lines"]),
            contexts=sorted(e["contexts"]),
            kinds=sorted(e["kinds"]),
            uses=e["uses"],
            calls=e["calls"],
            weight=e["imports"] + e["uses"],
        )
    for (a, top), e in sorted(ext_edges.items()):
        external.add_node(top, category=_category(top))
        external.add_edge(a, top, imports=e["imports"], lines=sorted(e["lines"]), contexts=sorted(e["contexts"]))
    unresolved.sort(key=lambda u: (u.module, u.line, u.target))
    return DependencyGraph(internal=internal, external=external, symbols=symbols, unresolved=unresolved,
                           top_levels=top_levels, roots=roots, loose=loose, shadowed=shadowed)
