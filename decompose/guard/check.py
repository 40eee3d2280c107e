"""``decompose check``: the incremental coupling guard behind the pre-commit hook.

Two halves live here:

* **The pure core** (:func:`module_edges`, :func:`evaluate`, :func:`tarjan_sccs`,
  :func:`owner_map`, :func:`to_json`, :func:`to_sarif`): plain data in, findings
  out.  It compares a *before* and an *after* dependency graph for a set of
  *checked* modules and applies the rules below.
* **The adapter** (:func:`run_check`): a persisted whole-project snapshot in
  ``<root>/.decompose_cache/check-snapshot.marshal``, the facts cache, git (for
  the baseline) and the parser, wired so that a warm check of one changed file
  re-parses that file only.

What is compared
----------------
*After* is the working tree.  *Before* is the same project with every checked
file replaced by its version at the base: ``--base-ref REF`` (by default
``HEAD`` when FILES are given inside a git work tree; outside git, the version
the previous check saw).  Everything not checked is identical on both sides,
so the differences are exactly what the checked files change.  With no FILES
(and no ``--base-ref``) every module is checked against an empty baseline: an
absolute audit where every cycle, crossing and exceeded threshold counts.

The graph is the one ``decompose analyze`` builds (``decompose.analysis.graph``): an
edge ``a -> b`` when ``a`` imports ``b`` or uses a symbol defined in ``b``.
Ca/Ce/instability count those edges; cycles count only import edges.

Rules (``Finding.rule``)
------------------------
``DC101`` boundary-violation (error)
    An import in a module of service A names something of service B that is
    not in B's interface (``decompose.yaml``).  ``from b.mod import f`` is
    allowed iff ``b.mod.f`` is an interface item of B (or a class/module
    prefix of one, or a re-export of one through ``b.mod``'s own imports);
    ``import b.mod`` / ``from b import mod`` is allowed iff the module is used
    and every symbol of it that the importing module uses is in B's
    interface; ``from b.mod import *`` never is.  Imports into shared modules
    are always allowed.  Every import of a checked file counts, whether new
    or not, and in every context (inside functions and under
    ``TYPE_CHECKING`` too: the split services will not have the code).
``DC102`` shared-imports-service (error)
    A shared module (copied into every service) imports a service's module.
``DC103`` new-cycle (error)
    An import of a checked module closes an import cycle that was not there
    before: the strongly connected component it lies in after the change
    holds modules that were not strongly connected to it before.
``DC104`` max-instability / ``DC105`` max-efferent / ``DC106`` max-afferent (error)
    ``[tool.decompose]`` limits, applied to the modules whose figures the
    change alters, when the figure is over the limit *and* worse than
    before (a ratchet: touching a module that is already over the limit
    without making it worse does not block the commit).  Instability is
    judged only for the checked modules and only when something depends on
    the module (Ca >= 1): a module nothing imports is unstable by nature.
    Afferent coupling is judged on the targets of the new imports, at the
    first new import into them.
``DC201`` unresolved-import (warning)
    A checked module imports an internal module that does not exist.
``DC202`` unplaced-module (note)
    A checked module inside the planned code base belongs to no service
    (not in ``decompose.yaml`` and not inferable from its package).

Modules missing from the plan are placed by their package: the nearest
ancestor package whose planned modules all belong to one owner (a service, or
shared) gives the owner; otherwise the module is unplaced and its imports are
not judged.  Modules outside the planned top-level packages (tests, scripts)
are never judged.

Exit status: 1 when any ``error`` finding exists, 0 otherwise (warnings and
notes never fail), 2 for bad input (raised as :class:`CheckError`).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from decompose.analysis.cache import content_key
from decompose.config import Config
from decompose.analysis.facts import FACTS_VERSION, ImportFact, ModuleFacts, SymbolUse
from decompose.planning.plan import Plan
from decompose.analysis.resolve import bare as _bare
from decompose.analysis.resolve import nearest_module, resolve

SNAPSHOT_VERSION = 2
SNAPSHOT_NAME = "check-snapshot.marshal"
RUNTIME_CONTEXTS = frozenset({"module", "conditional"})  # same as decompose.analysis.metrics
#: A file whose mtime is this close to the snapshot's write time is re-hashed
#: even when its stat matches (it may have changed within the clock's grain).
RACY_NS = 2_000_000_000


class CheckError(Exception):
    """Bad input (config, plan, files, ref); the message is one line naming the file."""


# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    level: str  # error | warning | note
    short: str
    help: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("DC101", "boundary-violation", "error",
             "Import crosses a service boundary outside the target service's interface",
             "Call the other service through a symbol listed in its interface in decompose.yaml, "
             "move the code, or change the plan."),
        Rule("DC102", "shared-imports-service", "error",
             "A shared module imports a module owned by a service",
             "Shared modules are copied into every service and must not depend on any service's code."),
        Rule("DC103", "new-cycle", "error",
             "Import closes a new import cycle",
             "Break the cycle: move the code both sides need into a module that depends on neither. "
             "Moving the import into a function hides the cycle at import time but keeps the coupling."),
        Rule("DC104", "max-instability", "error",
             "Module instability above tool.decompose.max_instability",
             "Instability I = Ce/(Ca+Ce); depend on fewer modules or on more stable ones."),
        Rule("DC105", "max-efferent", "error",
             "Module efferent coupling above tool.decompose.max_efferent",
             "The module depends on too many internal modules; split it."),
        Rule("DC106", "max-afferent", "error",
             "Module afferent coupling above tool.decompose.max_afferent",
             "Too many modules depend on the imported module; depend on a narrower one."),
        Rule("DC201", "unresolved-import", "warning",
             "Import of an internal module that does not exist",
             "The named module is not in the analysed tree: a typo, a deleted module, or an excluded file."),
        Rule("DC202", "unplaced-module", "note",
             "Module belongs to no service of the plan",
             "Add the module to a service or to shared in decompose.yaml so its imports are checked."),
        Rule("DC203", "cycle", "warning",
             "Import cycle (full check without a baseline)",
             "An existing import cycle; a full check reports it without failing, a check against a "
             "baseline fails only on cycles that are new."),
    )
}


@dataclass(slots=True)
class Finding:
    rule: str
    path: str  # relative to the project root, POSIX
    line: int
    module: str
    statement: str  # the import as written (reconstructed), "" when none applies
    target: str  # the module or symbol the finding is about
    message: str
    level: str = ""

    def __post_init__(self) -> None:
        if not self.level:
            self.level = RULES[self.rule].level

    @property
    def name(self) -> str:
        return RULES[self.rule].name

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.rule, self.target, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "name": self.name, **asdict(self)}


# ---------------------------------------------------------------------------
# Graph state (pure)
# ---------------------------------------------------------------------------

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
    module: str, imports: Iterable[Imp], uses: Iterable[Use], modules, top_levels
) -> tuple[dict[str, Edge], list[tuple[str, int]]]:
    """Internal out-edges of one module, exactly as ``decompose.analysis.graph.build_graph`` makes them.

    Returns the edges and the unresolved internal imports as (named module, line).
    """
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
    skipped: dict[str, tuple[str, int, int, str]] = field(default_factory=dict)  # relpath -> (reason, mtime, size, key)

    @property
    def modules(self) -> dict[str, ModuleInfo]:
        return self.info

    def top_levels(self) -> frozenset[str]:
        return frozenset(m.partition(".")[0] for m in self.info)

    def rebuild_edges(self, only: Iterable[str] | None = None) -> None:
        tops = self.top_levels()
        mods = self.info
        for m in (self.info if only is None else only):
            if m not in self.info:
                self.out.pop(m, None)
                self.unresolved.pop(m, None)
                continue
            self.out[m], self.unresolved[m] = module_edges(m, self.imports.get(m, ()), self.uses.get(m, ()), mods, tops)
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


# ---------------------------------------------------------------------------
# Cycles (pure)
# ---------------------------------------------------------------------------


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


def _import_adj(out: dict[str, dict[str, Edge]], contexts: frozenset[str] | None = None) -> dict[str, list[str]]:
    if contexts is None:
        return {m: [t for t, e in edges.items() if e.imports] for m, edges in out.items()}
    return {m: [t for t, e in edges.items() if e.imports and contexts & e.contexts] for m, edges in out.items()}


def _shortest_path(adj: dict[str, list[str]], src: str, dst: str, within: set[str]) -> list[str] | None:
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


# ---------------------------------------------------------------------------
# Plan ownership (pure)
# ---------------------------------------------------------------------------


def owner_map(plan: Plan) -> tuple[dict[str, str], dict[str, set[str]], frozenset[str]]:
    """(module -> owner, package prefix -> owners below it, planned top-level packages).

    The owner is a service name, or ``""`` for a shared module.
    """
    direct = plan.service_of()
    below: dict[str, set[str]] = {}
    for m, owner in direct.items():
        parts = m.split(".")
        for i in range(1, len(parts) + 1):
            below.setdefault(".".join(parts[:i]), set()).add(owner)
    tops = frozenset(m.partition(".")[0] for m in direct)
    return direct, below, tops


def owner_of(module: str, direct: dict[str, str], below: dict[str, set[str]]) -> str | None:
    """The module's owner: listed in the plan, or inferred from its nearest planned package."""
    if module in direct:
        return direct[module]
    prefix = module.rpartition(".")[0]
    while prefix:
        owners = below.get(prefix)
        if owners:
            return next(iter(owners)) if len(owners) == 1 else None
        prefix = prefix.rpartition(".")[0]
    return None


# ---------------------------------------------------------------------------
# Evaluation (pure)
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class Coupling:
    ca: int
    ce: int
    instability: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Dep:
    target: str
    line: int  # first import line (0 for a dependency made by symbol uses only)
    contexts: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class ModuleChange:
    module: str
    path: str
    added: list[Dep]
    removed: list[Dep]
    before: Coupling | None  # None: the module did not exist at the base
    after: Coupling | None  # None: the module is gone

    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "path": self.path,
            "added": [d.to_dict() for d in self.added],
            "removed": [d.to_dict() for d in self.removed],
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
        }


def _instability(ca: int, ce: int) -> float:
    return round(ce / (ca + ce), 4) if ca + ce else 0.0


def import_statement(module: str, is_package: bool, imp: ImportFact) -> str:
    """The import statement as written, rebuilt from its fact."""
    if imp.kind == "dynamic":
        return f'importlib.import_module("{imp.module}")'
    names = ", ".join(imp.names)
    if imp.kind == "relative" and imp.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (imp.level - 1)] if imp.level > 1 else base
        base_name = ".".join(base)
        rest = imp.module[len(base_name) + 1 :] if imp.module.startswith(base_name + ".") else (
            "" if imp.module == base_name else imp.module
        )
        return f"from {'.' * imp.level}{rest} import {names}"
    if imp.names:
        return f"from {imp.module} import {names}"
    return f"import {imp.module}" + (f" as {imp.alias}" if imp.alias else "")


def _in_interface(symbol: str, interface: set[str]) -> bool:
    if symbol in interface:
        return True
    prefix = symbol + "."
    return any(i.startswith(prefix) for i in interface)


def _reexport(module: str, name: str, imports: dict[str, list[Imp]], modules) -> str | None:
    """If ``module`` binds ``name`` by importing it, the fully qualified origin."""
    for imp_module, names, _line, _ctx, _kind, _level in imports.get(module, ()):
        for n in names:
            bare = _bare(n)
            alias = n.split(" as ", 1)[1].strip() if " as " in n else bare
            if alias == name and imp_module:
                sub = f"{imp_module}.{bare}"
                return sub if sub in modules else f"{imp_module}.{bare}"
    return None


def _symbol_allowed(module: str, name: str, interface: set[str], imports, modules, depth: int = 0) -> bool:
    symbol = f"{module}.{name}"
    if _in_interface(symbol, interface):
        return True
    if depth >= 5:
        return False
    origin = _reexport(module, name, imports, modules)
    if origin and origin != symbol:
        mod, _, sym = origin.rpartition(".")
        if origin in modules:  # re-export of a module: allowed if the module is an interface prefix
            return _in_interface(origin, interface)
        return _symbol_allowed(mod, sym, interface, imports, modules, depth + 1)
    return False


def baseline(
    after: GraphState, checked: Iterable[str], base: dict[str, tuple[list[Imp], list[Use]] | None]
) -> tuple[dict[str, dict[str, Edge]], set[str]]:
    """The before graph: ``after`` with each checked module's edges made from its base version.

    ``base`` maps a checked module to its (imports, uses) at the base, or None
    when it did not exist there; modules missing from ``base`` are unchanged.
    Base imports resolve against today's module set.  Returns (before out-edges, absent modules).
    """
    before_out = dict(after.out)
    absent: set[str] = set()
    tops = after.top_levels()
    for m in checked:
        if m not in base:
            continue
        b = base[m]
        if b is None:
            absent.add(m)
            before_out[m] = {}
        else:
            before_out[m], _ = module_edges(m, b[0], b[1], after.info, tops)
    return before_out, absent


@dataclass
class Evaluation:
    findings: list[Finding]
    changes: list[ModuleChange]
    new_cycles: list[list[str]]


def evaluate(
    after: GraphState,
    before_out: dict[str, dict[str, Edge]],
    absent_before: set[str],
    checked: list[str],
    checked_facts: dict[str, ModuleFacts],
    plan: Plan | None,
    config: Config,
    absolute: bool = False,
) -> Evaluation:
    """Apply every rule to the checked modules (pure).

    ``before_out`` is the full before graph (module -> out-edges); modules in
    ``absent_before`` did not exist at the base.  ``checked_facts`` holds the
    current facts of every checked module.  ``absolute``: a full audit
    against an empty baseline, where cycles are reported as ``DC203``
    warnings rather than new cycles and no dependency changes are listed.
    """
    findings: list[Finding] = []
    info = after.info

    # -- dependency changes ---------------------------------------------------
    added_edges: dict[str, dict[str, Edge]] = {}
    removed_edges: dict[str, dict[str, Edge]] = {}
    for m in checked:
        a = after.out.get(m, {})
        b = before_out.get(m, {})
        added_edges[m] = {t: e for t, e in a.items() if t not in b}
        removed_edges[m] = {t: e for t, e in b.items() if t not in a}

    # -- coupling before / after ------------------------------------------------
    affected = set(checked)
    for m in checked:
        affected.update(added_edges[m])
        affected.update(removed_edges[m])
    indeg_after: Counter[str] = Counter()
    for edges in after.out.values():
        indeg_after.update(edges.keys())
    indeg_before = indeg_after.copy()
    for m in checked:
        indeg_before.subtract(added_edges[m].keys())
        indeg_before.update(removed_edges[m].keys())
    # modules whose before-edges differ without being checked do not exist: before_out == after.out elsewhere

    def coupling_after(m: str) -> Coupling | None:
        if m not in info:
            return None
        ca, ce = indeg_after[m], len(after.out.get(m, ()))
        return Coupling(ca, ce, _instability(ca, ce))

    def coupling_before(m: str) -> Coupling | None:
        if m in absent_before:
            return None
        ca, ce = indeg_before[m], len(before_out.get(m, ()))
        return Coupling(ca, ce, _instability(ca, ce))

    changes: list[ModuleChange] = []
    for m in sorted(affected):
        if m not in info and m not in before_out:
            continue
        changes.append(
            ModuleChange(
                module=m,
                path=info[m].relpath if m in info else "",
                added=[Dep(t, e.lines[0] if e.lines else 0, sorted(e.contexts)) for t, e in sorted(added_edges.get(m, {}).items())],
                removed=[Dep(t, e.lines[0] if e.lines else 0, sorted(e.contexts)) for t, e in sorted(removed_edges.get(m, {}).items())],
                before=coupling_before(m),
                after=coupling_after(m),
            )
        )
    change_of = {c.module: c for c in changes}

    def stmt_at(m: str, line: int) -> str:
        f = checked_facts.get(m)
        if f is None:
            return ""
        for imp in f.imports:
            if imp.line == line:
                return import_statement(m, f.is_package, imp)
        return ""

    # -- thresholds --------------------------------------------------------------
    def first_new(m: str) -> tuple[int, str]:
        lines = sorted((e.lines[0] if e.lines else 10**9, t) for t, e in added_edges[m].items())
        return lines[0] if lines else (0, "")

    if config.max_efferent is not None or config.max_instability is not None:
        for m in checked:
            c = change_of.get(m)
            if c is None or c.after is None:
                continue
            before = c.before or Coupling(0, 0, 0.0)
            line, tgt = first_new(m)
            stmt = stmt_at(m, line)
            if line == 10**9:  # the new dependencies come from symbol uses only: no import line to name
                line, stmt = 1, ""
            if config.max_efferent is not None and c.after.ce > config.max_efferent and c.after.ce > before.ce:
                findings.append(Finding(
                    "DC105", c.path, line or 1, m, stmt, tgt or m,
                    f"{m} now depends on {c.after.ce} internal modules (was {before.ce}; "
                    f"max_efferent = {config.max_efferent})",
                ))
            if (
                config.max_instability is not None
                and c.after.ca >= 1
                and c.after.instability > config.max_instability
                and c.after.instability > before.instability
            ):
                findings.append(Finding(
                    "DC104", c.path, line or 1, m, stmt, tgt or m,
                    f"{m} instability is {c.after.instability:.2f} (was {before.instability:.2f}; "
                    f"Ca {c.after.ca}, Ce {c.after.ce}; max_instability = {config.max_instability})",
                ))
    if config.max_afferent is not None:
        importers: dict[str, list[tuple[str, int, str]]] = {}
        for m in checked:
            for t, e in added_edges[m].items():
                importers.setdefault(t, []).append((info[m].relpath, e.lines[0] if e.lines else 1, m))
        for t in sorted(importers):
            c = change_of.get(t)
            if c is None or c.after is None:
                continue
            before = c.before or Coupling(0, 0, 0.0)
            if c.after.ca > config.max_afferent and c.after.ca > before.ca:
                path, line, m = min(importers[t])
                findings.append(Finding(
                    "DC106", path, line, m, stmt_at(m, line), t,
                    f"{t} is now depended on by {c.after.ca} internal modules (was {before.ca}; "
                    f"max_afferent = {config.max_afferent})",
                ))

    # -- new cycles ----------------------------------------------------------------
    new_cycles: list[list[str]] = []
    new_import_edges = [(m, t) for m in checked for t, e in added_edges[m].items() if e.imports]
    # an edge that existed before as a use-only edge and became an import edge is new for cycles too
    for m in checked:
        b = before_out.get(m, {})
        for t, e in after.out.get(m, {}).items():
            if e.imports and t in b and not b[t].imports:
                new_import_edges.append((m, t))
    if new_import_edges:
        adj_after = _import_adj(after.out)
        sccs_after = tarjan_sccs(adj_after)
        comp_after = {n: i for i, c in enumerate(sccs_after) for n in c}
        candidates = [(u, v) for u, v in new_import_edges if u in comp_after and comp_after.get(v) == comp_after[u]]
        if candidates:
            adj_before = _import_adj(before_out)
            sccs_before = tarjan_sccs(adj_before)
            comp_before = {n: i for i, c in enumerate(sccs_before) for n in c}
            runtime_adj = _import_adj(after.out, RUNTIME_CONTEXTS)
            by_comp: dict[int, list[tuple[str, int, str, str]]] = {}
            for u, v in candidates:
                comp = sccs_after[comp_after[u]]
                prev = comp_before.get(u)
                if prev is not None and all(comp_before.get(n) == prev for n in comp):
                    continue  # the same modules were already strongly connected
                e = after.out[u][v]
                by_comp.setdefault(comp_after[u], []).append((info[u].relpath, e.lines[0] if e.lines else 1, u, v))
            for ci, edges in sorted(by_comp.items(), key=lambda kv: min(kv[1])):
                comp = sccs_after[ci]
                within = set(comp)
                path, line, u, v = min(edges)
                back = _shortest_path(adj_after, v, u, within) or [v, u]
                cycle = [u, *back]
                steps = " -> ".join(
                    f"{a} ({info[a].relpath}:{','.join(map(str, after.out[a][b].lines))})" for a, b in zip(cycle, cycle[1:])
                ) + f" -> {u}"
                rt = runtime_adj
                runtime = any(
                    len(set(c) & within) > 1
                    for c in tarjan_sccs({n: [t for t in rt.get(n, ()) if t in within] for n in comp})
                )
                when = "at import time" if runtime else "only through imports inside functions or under TYPE_CHECKING"
                if absolute:
                    findings.append(Finding(
                        "DC203", path, line, u, stmt_at(u, line), v,
                        f"import cycle of {len(comp)} modules ({when}): {steps}",
                    ))
                else:
                    findings.append(Finding(
                        "DC103", path, line, u, stmt_at(u, line), v,
                        f"this import closes a new cycle of {len(comp)} modules ({when}): {steps}",
                    ))
                new_cycles.append(comp)

    # -- unresolved ------------------------------------------------------------------
    for m in checked:
        for target, line in after.unresolved.get(m, ()):
            findings.append(Finding(
                "DC201", info[m].relpath, line, m, stmt_at(m, line), target,
                f"{target} is not a module of the analysed tree",
            ))

    # -- boundaries -------------------------------------------------------------------
    if plan is not None:
        findings.extend(_boundary_findings(after, checked, checked_facts, plan))

    findings.sort(key=Finding.sort_key)
    return Evaluation(findings=findings, changes=[] if absolute else changes, new_cycles=new_cycles)


def acknowledged_shared_uses(plan: Plan) -> dict[str, set[str]]:
    """Shared module -> the service symbols it uses that the plan records as ``shared-uses-service`` blockers.

    Accepts fully qualified ``symbols`` or names relative to ``depends_on``.
    """
    out: dict[str, set[str]] = {}
    for b in plan.blockers:
        if not isinstance(b, dict) or b.get("kind") != "shared-uses-service":
            continue
        base = str(b.get("depends_on") or "")
        syms = out.setdefault(str(b.get("module", "")), set())
        for x in b.get("symbols") or ():
            x = str(x)
            syms.add(f"{base}.{x}" if base and not x.startswith(base + ".") else x)
    return out


def _boundary_findings(after: GraphState, checked: list[str], checked_facts: dict[str, ModuleFacts], plan: Plan) -> list[Finding]:
    direct, below, planned_tops = owner_map(plan)
    interface: dict[str, set[str]] = {name: {i.name for i in s.interface} for name, s in plan.services.items()}
    # shared -> service dependencies the plan itself records as blockers: known, not new
    acknowledged = acknowledged_shared_uses(plan)
    modules = after.info
    out: list[Finding] = []
    for m in sorted(checked):
        f = checked_facts.get(m)
        if f is None:
            continue
        src = owner_of(m, direct, below)
        path = after.info[m].relpath
        if src is None:
            if m.partition(".")[0] in planned_tops:
                out.append(Finding("DC202", path, 1, m, "", m,
                                   f"{m} is in no service of the plan and its package does not tell which; "
                                   "its imports are not checked"))
            continue
        uses_by_module: dict[str, list[SymbolUse]] = {}
        for u in f.uses:
            t = nearest_module(u.target, modules)
            if t is not None and t != m:
                uses_by_module.setdefault(t, []).append(u)

        for imp in f.imports:
            if not imp.module or imp.module not in modules:
                continue
            stmt = import_statement(m, f.is_package, imp)
            # (target module, symbol or None for a module import)
            items: list[tuple[str, str | None]] = []
            if not imp.names:
                items.append((imp.module, None))
            elif imp.names == ["*"]:
                items.append((imp.module, "*"))
            else:
                for n in imp.names:
                    bare = _bare(n)
                    sub = f"{imp.module}.{bare}"
                    items.append((sub, None) if sub in modules else (imp.module, bare))
            for target, symbol in items:
                if target == m:
                    continue
                dst = owner_of(target, direct, below)
                if dst is None or dst == "" or dst == src:
                    continue
                what = target if symbol is None else f"{target}.{symbol}"
                if src == "":
                    if symbol is None:
                        syms = sorted({_symbol_of(u.target, target) for u in uses_by_module.get(target, [])}) or [target]
                    else:
                        syms = [what]
                    for sym in syms:
                        if sym in acknowledged.get(m, ()):
                            out.append(Finding("DC102", path, imp.line, m, stmt, sym,
                                               f"shared module {m} imports {sym} of service {dst!r} "
                                               "(a blocker recorded in the plan)", level="warning"))
                        else:
                            out.append(Finding("DC102", path, imp.line, m, stmt, sym,
                                               f"shared module {m} imports {sym} of service {dst!r}"))
                    continue
                iface = interface.get(dst, set())
                if symbol == "*":
                    out.append(Finding("DC101", path, imp.line, m, stmt, target,
                                       f"{src} -> {dst}: star import from {target} (only named interface symbols may cross)"))
                elif symbol is not None:
                    if not _symbol_allowed(target, symbol, iface, after.imports, modules):
                        out.append(Finding("DC101", path, imp.line, m, stmt, what,
                                           f"{src} -> {dst}: {what} is not in the interface of {dst!r}"))
                else:
                    if target in iface:  # the module itself is listed as an interface item
                        continue
                    used = uses_by_module.get(target, [])
                    # uses that go through a submodule of target belong to that submodule, handled above
                    bad = sorted({
                        _symbol_of(u.target, target) for u in used
                        if not _use_allowed(u.target, target, iface, after.imports, modules)
                    })
                    if not used:
                        out.append(Finding("DC101", path, imp.line, m, stmt, target,
                                           f"{src} -> {dst}: imports module {target} without using any of its "
                                           f"interface symbols (a module import cannot cross a service boundary)"))
                    for sym in bad:
                        out.append(Finding("DC101", path, imp.line, m, stmt, sym,
                                           f"{src} -> {dst}: {sym} (used through `{stmt}`) is not in the interface of {dst!r}"))
    return out


def _symbol_of(use_target: str, module: str) -> str:
    """``pkg.mod.Symbol.attr`` used through module ``pkg.mod`` -> ``pkg.mod.Symbol``."""
    rest = use_target[len(module) + 1 :]
    return f"{module}.{rest.split('.', 1)[0]}" if rest else module


def _use_allowed(use_target: str, module: str, iface: set[str], imports, modules) -> bool:
    rest = use_target[len(module) + 1 :]
    if not rest:
        return False  # the module object itself
    symbol = rest.split(".", 1)[0]
    return _in_interface(use_target, iface) or _symbol_allowed(module, symbol, iface, imports, modules)


# ---------------------------------------------------------------------------
# Result and renderers (pure)
# ---------------------------------------------------------------------------


@dataclass
class CheckResult:
    root: Path
    checked: list[str]  # modules
    findings: list[Finding]
    changes: list[ModuleChange]
    base: str  # description of the baseline
    plan: str | None  # plan file used
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of FILES not checked
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


def to_json_dict(r: CheckResult) -> dict[str, Any]:
    counts = Counter(f.level for f in r.findings)
    return {
        "version": 1,
        "root": str(r.root),
        "base": r.base,
        "plan": r.plan,
        "checked": sorted(r.checked),
        "summary": {"errors": counts["error"], "warnings": counts["warning"], "notes": counts["note"],
                    "exit_code": r.exit_code},
        "findings": [f.to_dict() for f in r.findings],
        "changes": [c.to_dict() for c in r.changes],
        "skipped": [{"path": p, "reason": why} for p, why in r.skipped],
        "timings": {k: round(v, 4) for k, v in r.timings.items()},
        "stats": r.stats,
    }


SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def to_sarif_dict(r: CheckResult, tool_version: str) -> dict[str, Any]:
    rule_ids = list(RULES)
    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.short},
            "fullDescription": {"text": f"{rule.short}."},
            "help": {"text": rule.help},
            "defaultConfiguration": {"level": rule.level},
        }
        for rule in RULES.values()
    ]
    results = []
    for f in r.findings:
        fp = hashlib.sha256(f"{f.rule}\0{f.module}\0{f.statement}\0{f.target}".encode()).hexdigest()[:32]
        results.append({
            "ruleId": f.rule,
            "ruleIndex": rule_ids.index(f.rule),
            "level": f.level,
            "message": {"text": f"{f.message}" + (f" [{f.statement}]" if f.statement else "")},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": f.path, "uriBaseId": "SRCROOT"},
                    "region": {"startLine": max(1, f.line)},
                },
                "logicalLocations": [{"fullyQualifiedName": f.module, "kind": "module"}],
            }],
            "partialFingerprints": {"decomposeFinding/v1": fp},
            "properties": {"target": f.target, "statement": f.statement},
        })
    root_uri = r.root.resolve().as_uri().rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "decompose",
                "semanticVersion": tool_version,
                "version": tool_version,
                "informationUri": "https://pypi.org/project/decompose/",
                "rules": rules,
            }},
            "originalUriBaseIds": {"SRCROOT": {"uri": root_uri}},
            "invocations": [{"executionSuccessful": True, "exitCode": r.exit_code}],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


# ---------------------------------------------------------------------------
# Adapter: snapshot on disk, facts cache, parser, git
# ---------------------------------------------------------------------------


def _fingerprint(config: Config) -> str:
    from decompose import __version__

    return "|".join([
        f"decompose={__version__}", f"snapshot={SNAPSHOT_VERSION}", f"facts={FACTS_VERSION}", f"py={sys.version_info[0]}.{sys.version_info[1]}",
        f"marshal={marshal.version}", "exclude=" + "\0".join(sorted(config.exclude)),
        "roots=" + "\0".join(sorted(config.source_roots)),
    ])


def save_snapshot(path: Path, state: GraphState, fingerprint: str) -> None:
    from decompose.fsio import atomic_write

    data = {
        "fingerprint": fingerprint,
        "written_ns": time.time_ns(),
        "info": {m: (i.relpath, i.is_package, i.key, i.lines, i.mtime_ns, i.size) for m, i in state.info.items()},
        "imports": state.imports,
        "uses": state.uses,
        "skipped": state.skipped,
        # resolved edges, so that a warm load does not resolve every import again
        "out": {
            m: [(t, e.imports, tuple(e.lines), tuple(sorted(e.contexts)), e.uses, e.calls) for t, e in es.items()]
            for m, es in state.out.items()
        },
        "unresolved": state.unresolved,
    }
    atomic_write(path, marshal.dumps(data))


def load_snapshot(path: Path, fingerprint: str) -> tuple[GraphState, int] | None:
    """The snapshot at ``path`` if it exists, is readable and was made with the same settings."""
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        return None
    try:
        info = {m: ModuleInfo(*t) for m, t in data["info"].items()}
        st = GraphState(info=info, imports=data["imports"], uses=data["uses"], skipped=data["skipped"])
        st.out = {
            m: {t: Edge(n, list(lines), set(ctx), uses, calls) for t, n, lines, ctx, uses, calls in es}
            for m, es in data["out"].items()
        }
        st.unresolved = data["unresolved"]
    except (KeyError, TypeError, ValueError):
        return None
    if st.out.keys() != info.keys():
        return None
    return st, int(data["written_ns"])


PLAN_CACHE_NAME = "check-plan.marshal"


def load_plan_cached(path: Path, cache_dir: Path | None = None) -> Plan:
    """``decompose.yaml`` through a cache of its validated form.

    PyYAML's pure-Python loader (needed to reject duplicate keys) takes about
    half a second on a Django-size plan; the plan is re-read only when its
    bytes change (SHA-256), otherwise rebuilt from a marshal file in the cache
    folder of the plan's directory.  Errors are raised as ``PlanError`` exactly
    as ``planfile.load_plan`` raises them.
    """
    from decompose import __version__
    from decompose.analysis.cache import default_cache_dir
    from decompose.fsio import atomic_write
    from decompose.planning.plan import PlanError
    from decompose.planning.planfile import loads_plan

    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PlanError([f"{path}: no such plan file (run `decompose plan` first)"]) from None
    except OSError as exc:
        raise PlanError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    digest = hashlib.sha256(f"{__version__}\0{SNAPSHOT_VERSION}\0".encode() + raw).hexdigest()
    cfile = (Path(cache_dir) if cache_dir else default_cache_dir(path.resolve().parent)) / PLAN_CACHE_NAME
    try:
        data = marshal.loads(cfile.read_bytes())
        if isinstance(data, dict) and data.get("digest") == digest:
            return Plan.from_dict(data["plan"], str(path))
    except (OSError, EOFError, ValueError, TypeError, KeyError, PlanError):
        pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError([f"{path}: cannot read: not UTF-8 ({exc.reason} at byte {exc.start})"]) from None
    plan = loads_plan(text, str(path))
    try:
        atomic_write(cfile, marshal.dumps({"digest": digest, "plan": plan.to_dict()}))
    except (OSError, ValueError):
        pass  # an unwritable cache or an unmarshalable value only costs speed
    return plan


def _git(cwd: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=False)
    except OSError:  # git not installed
        return None


def git_toplevel(root: Path) -> Path | None:
    p = _git(root, "rev-parse", "--show-toplevel")
    if p is None or p.returncode != 0:
        return None
    return Path(os.fsdecode(p.stdout.strip())).resolve()


def git_blobs(top: Path, ref: str, relpaths: list[str]) -> dict[str, bytes | None]:
    """Contents of ``relpaths`` (relative to the repository top) at ``ref``; None where absent."""
    if not relpaths:
        return {}
    req = b"".join(f"{ref}:{p}\n".encode() for p in relpaths)
    p = _git(top, "cat-file", "--batch", input=req)
    if p is None or p.returncode != 0:
        raise CheckError(f"{top}: git cat-file failed: {(p.stderr.decode(errors='replace').strip() if p else 'git not found')}")
    out: dict[str, bytes | None] = {}
    buf = p.stdout
    pos = 0
    for rel in relpaths:
        nl = buf.index(b"\n", pos)
        header = buf[pos:nl].split()
        pos = nl + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            out[rel] = buf[pos : pos + size]
            pos += size + 1
        elif len(header) == 3:  # a tree or a submodule at that path: not a file there
            pos += int(header[2]) + 1
            out[rel] = None
        else:  # "<object> missing" / "ambiguous"
            out[rel] = None
    return out


class _Facts:
    """Facts by content key: the SQLite facts cache first, the parser on a miss (both lazily)."""

    def __init__(self, cache_dir: Path):
        self.cache_dir = cache_dir
        self._cache = None
        self.parsed = 0
        self.cached = 0
        self.memo: dict[str, tuple[ModuleFacts | None, str | None]] = {}

    @property
    def cache(self):
        if self._cache is None:
            from decompose.analysis.cache import FactsCache

            try:
                self._cache = FactsCache(self.cache_dir)
            except Exception:  # an unusable cache must not stop the check  # noqa: BLE001
                self._cache = False
        return self._cache or None

    def get(self, jobs: list[tuple[str, bytes | None, str, str, bool, Path | None]]) -> dict[str, tuple[ModuleFacts | None, str | None]]:
        """jobs: (key, data or None to read from path, module, relpath, is_package, path) -> key -> outcome."""
        out: dict[str, tuple[ModuleFacts | None, str | None]] = {}
        for j in jobs:
            if j[0] in self.memo:
                out[j[0]] = self.memo[j[0]]
        jobs = [j for j in jobs if j[0] not in out]
        if not jobs:
            return out
        cache = self.cache
        hits = cache.get_many(sorted({j[0] for j in jobs})) if cache is not None else {}
        for key, data, module, relpath, is_pkg, path in jobs:
            if key in out:
                continue
            if key in hits:
                out[key] = hits[key]
                self.cached += 1
                continue
            if data is None:
                try:
                    data = path.read_bytes()  # type: ignore[union-attr]
                except OSError as exc:
                    out[key] = (None, f"cannot read: {exc.strerror or exc}")
                    continue
            from decompose.analysis.parse import parse_safely  # LibCST is imported only when a file must be parsed

            out[key] = parse_safely(data, module, relpath, is_pkg)
            self.parsed += 1
            if cache is not None:
                cache.put(key, *out[key])
        self.memo.update(out)
        return out

    def close(self) -> None:
        if self._cache:
            self._cache.close()
        self._cache = False


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _cold_state(root: Path, config: Config, facts: _Facts) -> GraphState:
    """Scan and parse the whole tree (through the facts cache, in parallel like ``analyze``)."""
    from decompose.analysis.extract import extract
    from decompose.analysis.scan import scan

    scanned = scan(root, exclude=config.exclude, source_roots=config.source_roots)
    stat = {f.module: _stat(f.path) or (0, -1) for f in scanned.files}  # before reading, see _add_files
    ex = extract(scanned.files, facts.cache)
    facts.parsed += ex.stats.parsed
    facts.cached += ex.stats.cached
    state = GraphState(info={}, imports={}, uses={})
    by_module = {f.module: f for f in scanned.files}
    for fc in ex.facts:
        f = by_module[fc.module]
        key = ex.keys[fc.module]
        facts.memo[key] = (fc, None)
        state.set_facts(fc, ModuleInfo(f.relpath, f.is_package, key, fc.lines, *stat[fc.module]))
    parsed = {fc.module for fc in ex.facts}
    reasons = {sk.path: sk.reason for sk in ex.skipped}
    for f in scanned.files:
        if f.module not in parsed:
            state.skipped[f.relpath] = (f.module, f.is_package, reasons.get(f.relpath, "unparsable"), *stat[f.module])
    for sk in scanned.skipped:
        state.skipped.setdefault(sk.path, ("", False, sk.reason, 0, -1))
    state.rebuild_edges()
    return state


def _add_files(root: Path, state: GraphState, files, facts: _Facts) -> list[str]:
    """Read, hash and get facts for ``files`` (SourceFile); put them into ``state``. Returns modules added/updated."""
    jobs = []
    meta = []
    for f in files:
        st = _stat(f.path)  # before reading: a change after this is seen by the next check
        try:
            data = f.path.read_bytes()
        except OSError as exc:
            state.skipped[f.relpath] = (f.module, f.is_package, f"cannot read: {exc.strerror or exc}", 0, -1)
            continue
        key = content_key(f.module, f.is_package, f.relpath, data)
        jobs.append((key, data, f.module, f.relpath, f.is_package, f.path))
        meta.append((f, key, st or (0, -1)))
    outcomes = facts.get(jobs)
    done = []
    for f, key, (mtime, size) in meta:
        fc, error = outcomes[key]
        if fc is None:
            state.remove(f.module)
            state.skipped[f.relpath] = (f.module, f.is_package, error or "unparsable", mtime, size)
            continue
        state.skipped.pop(f.relpath, None)
        state.set_facts(fc, ModuleInfo(f.relpath, f.is_package, key, fc.lines, mtime, size))
        done.append(f.module)
    return done


def _rel_to_root(root: Path, name: str, cwd: Path) -> str | None:
    p = Path(name)
    p = p if p.is_absolute() else cwd / p
    for cand in (Path(os.path.abspath(p)), p.resolve()):
        try:
            return cand.relative_to(root).as_posix()
        except ValueError:
            continue
    return None


def _refresh(root: Path, state: GraphState, written: int, facts: _Facts, stats: dict) -> tuple[bool, bool]:
    """Bring a loaded snapshot up to date with the files on disk (by stat, then content key).

    Returns (anything changed, the module set changed).
    """
    from decompose.analysis.scan import SourceFile

    changed: list[SourceFile] = []
    gone: list[str] = []
    dirty = False
    for m, i in state.info.items():
        st = _stat(root / i.relpath)
        if st is None:
            gone.append(m)
            continue
        if st != (i.mtime_ns, i.size) or st[0] >= written - RACY_NS:
            stats["rehashed"] += 1
            try:
                data = (root / i.relpath).read_bytes()
            except OSError:
                gone.append(m)
                continue
            if content_key(m, i.is_package, i.relpath, data) != i.key:
                changed.append(SourceFile(root / i.relpath, i.relpath, m, i.is_package))
            else:
                if st != (i.mtime_ns, i.size):
                    i.mtime_ns, i.size = st
                    dirty = True
                if time.time_ns() - st[0] > RACY_NS:
                    dirty = True  # rewritten now, the snapshot's time no longer makes this file racy
    for rel, (m, is_pkg, _reason, mtime, size) in list(state.skipped.items()):
        st = _stat(root / rel)
        if st is None:
            del state.skipped[rel]
            dirty = True
        elif m and st != (mtime, size):
            changed.append(SourceFile(root / rel, rel, m, is_pkg))
    for m in gone:
        state.remove(m)
    before = set(state.info)
    updated = _add_files(root, state, changed, facts) if changed else []
    set_changed = bool(gone) or set(state.info) != before
    if set_changed:
        state.rebuild_edges()
    elif updated:
        state.rebuild_edges(updated)
    return dirty or bool(gone or changed), set_changed


def _names_new_submodule(root: Path, state: GraphState, checked: list[str]) -> bool:
    """Whether a checked module's ``from pkg import name`` names a submodule file the snapshot lacks."""
    for m in checked:
        for imp_module, names, *_ in state.imports.get(m, ()):
            info = state.info.get(imp_module)
            if info is None or not info.is_package:
                continue
            folder = root / info.relpath.rpartition("/")[0] if "/" in info.relpath else root
            for n in names:
                n = _bare(n)
                if n == "*" or f"{imp_module}.{n}" in state.info:
                    continue
                if (folder / f"{n}.py").is_file() or (folder / n / "__init__.py").is_file():
                    return True
    return False


def _rescan(root: Path, state: GraphState, config: Config, facts: _Facts) -> bool:
    """Reconcile the snapshot's module set with a full scan of the tree; True if it changed."""
    from decompose.analysis.scan import scan

    sc = scan(root, exclude=config.exclude, source_roots=config.source_roots)
    on_disk = {f.relpath: f for f in sc.files}
    gone = [m for m, i in state.info.items() if i.relpath not in on_disk or on_disk[i.relpath].module != m]
    for m in gone:
        state.remove(m)
    known = {i.relpath for i in state.info.values()}
    new = [f for rel, f in on_disk.items() if rel not in known]
    for sk in sc.skipped:
        state.skipped.setdefault(sk.path, ("", False, sk.reason, 0, -1))
    added = _add_files(root, state, new, facts) if new else []
    if gone or added:
        state.rebuild_edges()
        return True
    return False


def run_check(
    root: Path,
    files: list[str] | None = None,
    *,
    plan: Plan | None = None,
    plan_path: str | None = None,
    config: Config | None = None,
    base_ref: str | None = None,
    cache_dir: Path | None = None,
    cwd: Path | None = None,
) -> CheckResult:
    """Check ``files`` (paths relative to ``cwd``; None: every module) of the project at ``root``.

    Raises :class:`CheckError` (and ``ConfigError`` from the config) on bad input.
    """
    from decompose.analysis.cache import default_cache_dir
    from decompose.config import load_config

    timings: dict[str, float] = {}
    t0 = tick = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - tick
        tick = now

    root = Path(root).resolve()
    if not root.is_dir():
        raise CheckError(f"{root}: not a directory")
    cwd = Path(cwd or os.getcwd())
    config = config if config is not None else load_config(root)

    # FILES first: bad arguments fail before any work
    skipped: list[tuple[str, str]] = []
    wanted: list[str] = []  # relpaths under root
    folders: list[str] = []  # a folder checks the modules below it
    for name in files or ():
        if not (cwd / name).exists():
            raise CheckError(f"{name}: no such file")  # a typo must not give a green check
        rel = _rel_to_root(root, name, cwd)
        if rel is None:
            skipped.append((name, f"outside the analysed tree {root}"))
        elif (root / rel).is_dir():
            folders.append("" if rel == "." else rel.rstrip("/") + "/")
        elif not rel.endswith(".py"):
            skipped.append((rel, "not a .py file"))
        elif not (root / rel).is_file():
            raise CheckError(f"{name}: no such file")
        else:
            wanted.append(rel)

    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(root)
    snap_file = cache_dir / SNAPSHOT_NAME
    fp = _fingerprint(config)
    facts = _Facts(cache_dir)
    stats: dict[str, Any] = {"snapshot": "warm", "rehashed": 0, "scanned": False}
    try:
        loaded = load_snapshot(snap_file, fp)
        lap("snapshot_load")
        prev_info: dict[str, ModuleInfo] | None = None
        if loaded is None:
            stats["snapshot"] = "cold"
            stats["scanned"] = True
            state = _cold_state(root, config, facts)
            dirty = True
            lap("cold_build")
        else:
            state, written = loaded
            # the state the previous check saw: the baseline outside git
            prev_info, prev_imports, prev_uses = dict(state.info), dict(state.imports), dict(state.uses)
            dirty, _ = _refresh(root, state, written, facts, stats)
            lap("refresh")

        def modules_of(rels: list[str]) -> list[str]:
            by_path = {i.relpath: m for m, i in state.info.items()}
            return [by_path[r] for r in rels if r in by_path]

        if folders:
            if not stats["scanned"]:  # new files below the folders
                stats["scanned"] = True
                dirty |= _rescan(root, state, config, facts)
            known = sorted(i.relpath for i in state.info.values())
            wanted += [r for r in known if any(r.startswith(f) for f in folders) and r not in wanted]
        if not stats["scanned"] and len(modules_of(wanted)) < len(wanted):
            stats["scanned"] = True  # a file the snapshot does not know: a new module, or excluded
            dirty |= _rescan(root, state, config, facts)
            lap("scan")
        checked = sorted(set(state.info) if files is None else set(modules_of(wanted)))
        if not stats["scanned"] and (
            any(state.unresolved.get(m) for m in checked) or _names_new_submodule(root, state, checked)
        ):
            stats["scanned"] = True  # an unresolved import may name a module created since the snapshot
            dirty |= _rescan(root, state, config, facts)
            lap("scan")
        found = set(modules_of(wanted))
        by_path = {i.relpath: m for m, i in state.info.items()}
        for rel in wanted:
            if by_path.get(rel) not in found:
                reason = state.skipped.get(rel, ("", False, "excluded by [tool.decompose] exclude, or not an importable module", 0, 0))[2]
                skipped.append((rel, reason))

        # -- facts of the checked modules ------------------------------------------------------
        infos = {m: state.info[m] for m in checked}
        outcomes = facts.get([(i.key, None, m, i.relpath, i.is_package, root / i.relpath) for m, i in infos.items()])
        checked_facts = {m: outcomes[i.key][0] for m, i in infos.items() if outcomes[i.key][0] is not None}
        lap("facts")

        # -- the baseline ----------------------------------------------------------------------
        base: dict[str, tuple[list[Imp], list[Use]] | None] = {}
        if files is None and base_ref is None:
            base_desc = "none (every module checked against an empty baseline)"
            before_out: dict[str, dict[str, Edge]] = {m: {} for m in state.info}
            absent = set(state.info)
        else:
            top = git_toplevel(root)
            if top is None:
                if base_ref is not None:
                    raise CheckError(f"{root}: --base-ref {base_ref} needs a git work tree")
                # Outside git the baseline is what the previous check saw; on a first check
                # there is nothing to compare with, so no change (and no new cycle) is claimed.
                base_desc = "the previous check" if prev_info is not None else "none (first check outside git)"
                for m in checked:
                    if prev_info is None:
                        continue
                    if m not in prev_info:
                        base[m] = None
                    elif prev_info[m].key != state.info[m].key:
                        base[m] = (prev_imports[m], prev_uses.get(m, []))
            else:
                ref = base_ref or "HEAD"
                v = _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
                blobs: dict[str, bytes | None] = {}
                if v is None or v.returncode != 0:
                    if base_ref is not None:
                        raise CheckError(f"{top}: --base-ref {base_ref!r} is not a commit of this repository")
                    base_desc = "HEAD (no commits yet: every checked file is new)"
                else:
                    base_desc = f"{ref} ({v.stdout.decode().strip()[:12]})"
                    rel_top = {m: (root / state.info[m].relpath).relative_to(top).as_posix() for m in checked}
                    got = git_blobs(top, ref, sorted(set(rel_top.values())))
                    blobs = {m: got[rel_top[m]] for m in checked}
                base_jobs = []
                for m in checked:
                    data = blobs.get(m)
                    i = state.info[m]
                    if data is None:
                        base[m] = None
                        continue
                    key = content_key(m, i.is_package, i.relpath, data)
                    if key != i.key:
                        base_jobs.append((key, data, m, i.relpath, i.is_package, None))
                base_facts = facts.get(base_jobs)
                for key, _data, m, *_rest in base_jobs:
                    bf = base_facts[key][0]
                    # unparsable at the base: nothing to compare with, the module counts as new
                    base[m] = (compact_imports(bf), compact_uses(bf)) if bf is not None else None
            before_out, absent = baseline(state, checked, base)
        lap("baseline")

        ev = evaluate(state, before_out, absent, checked, checked_facts, plan, config,
                      absolute=files is None and base_ref is None)
        if files is None:  # every module checked: list only those whose dependencies or figures moved
            ev.changes = [c for c in ev.changes if c.added or c.removed or c.before != c.after]
        lap("evaluate")
        facts.close()
        if dirty:
            try:
                save_snapshot(snap_file, state, fp)
            except OSError:
                pass  # an unwritable cache folder only costs speed
            lap("snapshot_save")
    finally:
        facts.close()
    for m in checked:
        if m not in checked_facts:
            skipped.append((infos[m].relpath, outcomes[infos[m].key][1] or "unparsable"))
    checked = [m for m in checked if m in checked_facts]
    stats.update(parsed=facts.parsed, cached=facts.cached, modules=len(state.info), checked=len(checked))
    timings["total"] = time.perf_counter() - t0
    return CheckResult(
        root=root, checked=checked, findings=ev.findings, changes=ev.changes, base=base_desc,
        plan=plan_path, skipped=sorted(skipped), timings=timings, stats=stats,
    )
