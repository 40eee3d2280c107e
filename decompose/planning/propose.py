"""From analysis data to a proposed :class:`~decompose.planning.plan.Plan` (pure).

``propose`` wires the pure stages: signals -> combined coupling graph ->
clustering -> :func:`describe`, which fills in what a user needs to judge and
edit the split: each service's interface (the functions and classes other
services use, with their signatures), the tables it owns, its public routes,
why every module was placed where it is, the quality figures and the
blockers.  ``describe`` works on any assignment, so an edited plan can be
re-described and re-measured the same way.

Blockers (each a dict with ``kind`` and ``severity``):

``non-serializable-call`` (error) / ``unknown-serializability`` (warning)
    a function of one service called from another whose parameters or
    return value cannot cross a network boundary as data.  Only the
    parameters the cross-service calls fill count (an optional
    ``conn: Connection | None = None`` no such call passes stays behind).
    Judged from the annotations only: ORM model classes (live rows bound to a session), open
    files and streams, callables, lazy iterators/generators and live
    resources (sessions, engines, locks, sockets, requests) are not
    serializable; JSON-like builtins, ``TypedDict``, dataclasses,
    ``NamedTuple``, ``Enum``, pydantic models, ``datetime``/``Decimal``/
    ``UUID`` and containers of them are; a missing annotation, ``Any``,
    ``object`` or a class we cannot classify is *unknown* and reported as a
    warning, never assumed fine.
``cross-service-state`` (error)
    module-level mutable state (a mutable container assigned at module
    level, or a name a function rebinds with ``global``) of one service read
    or written directly by another service.
``shared-library-state`` (error)
    the same inside the shared library when two or more services use it:
    after the split every service holds its own copy and they diverge.
``shared-table`` (error)
    a table touched by modules of more than one service.
``orm-relation`` (error)
    a Django ``ForeignKey``/``ManyToManyField``/``OneToOneField`` of a model
    in one service to a model another service owns (model, field, target,
    file:line; :mod:`decompose.frameworks.django_models`); relations to
    Django's own apps (``auth``, ``contenttypes``...) never count.
``shared-uses-service`` (error; warning for a composition root)
    a shared-library module depending on service modules: the library
    would need that service's code.  For the app factory / entry points
    proposed as shared because they wire everything together this is
    expected, and a warning: each service needs its own wiring.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from decompose.planning import quality
from decompose.planning.cluster import Clustering, Constraints, cluster
from decompose.planning.cycles import cut_cycles
from decompose.planning.domains import find_domains, structure_signal
from decompose.analysis.facts import Definition, ModuleFacts
from decompose.analysis.graph import DependencyGraph, build_graph
from decompose.analysis.roles import excluded_role, is_migration_module, migrations_root
from decompose.analysis.metrics import RUNTIME_CONTEXTS
from decompose.analysis.resolve import bare, nearest_module
from decompose.planning.plan import InterfaceItem, Plan, RouteItem, Service
from decompose.frameworks.django_models import relation_blockers
from decompose.planning.serializable import (  # noqa: F401  (re-exported: propose's public names)
    APP_PARAMS, BAD_NAMES, OK_NAMES, _Resolver, classify_annotation, live_object_bonds, param_verdict, passed_params,
    return_verdict, split_bonds,
)
from decompose.planning.signals import (
    DEFAULT_WEIGHTS,
    Coupling,
    combine,
    data_signal,
    dynamic_signal,
    evolution_signal,
    module_calls,
    static_signal,
    table_access,
)

ROUND = 4


@dataclass
class Proposal:
    plan: Plan
    coupling: Coupling
    clustering: Clustering
    access: dict[str, dict[str, list[str]]]
    notes: list[str] = field(default_factory=list)


def runtime_cycles(graph: DependencyGraph) -> list[list[str]]:
    """Strongly connected components (> 1 module) of the imports that run at import time."""
    g = nx.DiGraph()
    g.add_nodes_from(graph.internal.nodes)
    g.add_edges_from(sorted(graph.import_edges(RUNTIME_CONTEXTS)))
    return sorted(sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1)


def dependency_graph(graph: DependencyGraph) -> nx.DiGraph:
    """Internal dependencies plus module -> parent package (importing a module runs its package first)."""
    d = nx.DiGraph()
    d.add_nodes_from(sorted(graph.internal.nodes))
    d.add_edges_from(sorted(graph.internal.edges))
    for m in sorted(graph.internal.nodes):
        parent = m.rpartition(".")[0]
        if parent and parent in d:
            d.add_edge(m, parent)
    return d


def propose(
    facts: list[ModuleFacts],
    graph: DependencyGraph,
    *,
    project: str,
    source: str = ".",
    weights: Mapping[str, float] | None = None,
    commits: Iterable[Iterable[str]] | None = None,
    trace_calls: Iterable[tuple[str, str, int]] | None = None,
    constraints: Constraints | None = None,
    seed: int = 42,
    method: str = "louvain",
    routes: Mapping[str, list[RouteItem]] | None = None,
    app_modules: Iterable[str] = (),
) -> Proposal:
    """The proposed plan.  ``app_modules``: the framework's app module (the module creating
    the app; generation copies it into every service), proposed as shared."""
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    facts = sorted(facts, key=lambda f: f.module)
    # Tests and project tooling never shape services: left out before anything is measured.
    excluded = {f.module: why for f in facts if (why := excluded_role(f.module, f.path))}
    excluded.update(_scripts(facts, graph, excluded))
    if excluded:
        facts = [f for f in facts if f.module not in excluded]
        graph = build_graph(facts)
    modules = [f.module for f in facts]
    notes: list[str] = []
    access = table_access(facts, graph)
    signals = {"static": static_signal(graph), "data": data_signal(access)}
    evo_note = "off"
    if commits is not None:
        cc = evolution_signal(commits, {f.path: f.module for f in facts})
        signals["evolution"] = cc.signal
        evo_note = f"{cc.used} of {cc.commits} commits used ({cc.skipped_large} with > 50 files ignored)"
    elif weights.get("evolution"):
        evo_note = "no git history"
    directed_calls = None
    if trace_calls is not None:
        directed_calls = module_calls(list(trace_calls), modules)
        signals["dynamic"] = dynamic_signal(directed_calls)
    domains = find_domains(facts)
    signals["structure"] = structure_signal(domains)
    coupling = combine(modules, signals, weights)
    cut = cut_cycles(facts, graph, domains.key_of)
    notes.extend(cut.notes)
    # a call passing live objects binds caller and callee, whatever their domains: it
    # cannot become an HTTP call and `decompose generate` refuses a plan splitting it
    # (split_bonds, the same predicate).  Atoms survive every later step (communities,
    # pins, the size cap, migrations), so the default plan is always one generate accepts.
    bonds = live_object_bonds(facts, graph)
    clustering = cluster(
        coupling.graph,
        dependency_graph(graph),
        cycles=cut.atoms,
        bonds=bonds,
        roots=[m for m in app_modules if m not in excluded],
        constraints=constraints,
        table_modules=[m for m, ts in access.items() if any(h in ("model", "table") for hs in ts.values() for h in hs)],
        seed=seed,
        method=method,
        keys=domains.key_of,
        labels=domains.label,
        domain_modules=domains.app_modules(),
        evidence={f.module: len(f.routes) + len({d.table for d in f.data if d.how in ("model", "table")}) for f in facts},
        generic_keys=domains.generic_keys(),
        empty_packages=[f.module for f in facts if f.is_package and not f.definitions and not f.routes and not f.data],
        route_modules=sorted({f.module for f in facts if f.routes} | {m for m, rs in (routes or {}).items() if rs}),
    )
    notes.extend(clustering.notes)
    # a bond into the shared library ties nothing (it is in every service)
    in_shared = set(clustering.shared)
    _migrations_with_their_tables(clustering, access, constraints,
                                  {m for grp, _ in bonds if not in_shared & set(grp) for m in grp},
                                  dependency_graph(graph))
    split = split_bonds({**{m: "" for m in clustering.shared}, **clustering.assignment}, bonds)
    if split:  # a broken invariant, never a plan generate would refuse
        raise AssertionError("proposal splits live-object bonds: " + "; ".join(split))
    plan = describe(
        clustering.assignment,
        clustering.shared,
        facts,
        graph,
        project=project,
        source=source,
        coupling=coupling,
        access=access,
        directed_calls=directed_calls,
        why=clustering.why,
        framework_routes=routes,
    )
    plan.quality["settings"] = {
        "method": method,
        "seed": seed,
        "weights": {k: weights.get(k, 0.0) for k in sorted(weights)},
        "evolution": evo_note,
        "dynamic": "trace" if trace_calls is not None else "off",
    }
    if constraints is not None and constraints.services is not None:
        plan.quality["settings"]["target_services"] = constraints.services
    plan.excluded = excluded
    if cut.blockers:
        plan.blockers = plan.blockers + cut.blockers
        order = {"error": 0, "warning": 1}
        plan.blockers.sort(key=lambda b: (order[b["severity"]], b["kind"], str(b.get("function") or b.get("state") or b.get("table") or b.get("module")), str(b.get("imports", ""))))
        plan.quality["blockers"] = {
            "errors": sum(1 for b in plan.blockers if b["severity"] == "error"),
            "warnings": sum(1 for b in plan.blockers if b["severity"] == "warning"),
        }
    return Proposal(plan=plan, coupling=coupling, clustering=clustering, access=access, notes=notes)


def _migrations_with_their_tables(clustering: Clustering, access: Mapping[str, Mapping[str, list[str]]],
                                  constraints: Constraints | None, bonded: set[str] = frozenset(),
                                  dependencies: nx.DiGraph | None = None) -> None:
    """Each migration (Alembic version, Django migration) goes to the service owning most of
    the tables it touches (owners: the services whose non-migration modules define them, or
    the shared library, whose tables every service uses: a migration of those is shared when
    everything it imports is); one bound to another module by a live-object call stays with it."""
    pinned = set(bonded)
    shared = set(clustering.shared)

    def needs(m: str) -> list[str]:
        return [] if dependencies is None else [t for t in dependencies.successors(m) if not m.startswith(t + ".")]

    def sharable(m: str) -> bool:
        return all(t in shared for t in needs(m))

    def by_needs(m: str) -> dict[str, float]:
        """A migration that cannot be shared for what it imports goes with the owners of that code."""
        votes: dict[str, float] = defaultdict(float)
        for t in needs(m):
            if t in clustering.assignment and not is_migration_module(t):
                votes[clustering.assignment[t]] += 1.0
        return votes

    if constraints is not None and constraints.pins:
        from fnmatch import fnmatchcase

        pinned = {m for m in clustering.assignment for pat in constraints.pins if fnmatchcase(m, pat)}
    owner: dict[str, set[str]] = defaultdict(set)
    for m, ts in access.items():
        s = "" if m in shared else clustering.assignment.get(m)
        if s is not None and not is_migration_module(m):
            for t_, hows in ts.items():
                if any(h in ("model", "table") for h in hows):
                    owner[t_].add(s)
    placed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # migrations root -> service -> count
    unplaced: list[str] = []
    for m in sorted(clustering.assignment):
        if not is_migration_module(m) or m in pinned:
            continue
        votes: dict[str, float] = defaultdict(float)
        for t_ in access.get(m, ()):
            for s in owner.get(t_, ()):
                votes[s] += 1.0 / len(owner[t_])
        if "" in votes and not sharable(m):
            del votes[""]
            votes = votes or by_needs(m)
        if not votes:
            unplaced.append(m)
            continue
        best = _most(votes)
        placed[migrations_root(m)][best] += 1
        _place_migration(clustering, m, best, f"migration of {', '.join(sorted(access[m]))}: with the "
                         + ("shared library, which defines those tables" if best == "" else "service owning those tables"))
    # The others (the environment, merge revisions, tables no module defines) go where most of
    # their folder's migrations went: one revision chain, never a service of migrations alone.
    for m in unplaced:
        counts = dict(placed.get(migrations_root(m)) or {})
        if "" in counts and not sharable(m):
            del counts[""]
            counts = counts or by_needs(m)
        if counts:
            _place_migration(clustering, m, _most(counts),
                             "migration touching no table a module defines: with most of its folder's migrations")
    clustering.shared.sort()


def _place_migration(clustering: Clustering, m: str, best: str, why: str) -> None:
    """Move migration ``m`` to service ``best`` ("" = the shared library)."""
    if best == "":
        clustering.assignment.pop(m, None)
        clustering.shared.append(m)
        clustering.why[m] = "shared: " + why
    elif best != clustering.assignment[m]:
        clustering.assignment[m] = best
        clustering.why[m] = why


def _most(counts: Mapping[str, float]) -> str:
    """The key with the highest count (the first by name among equals)."""
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _scripts(facts: list[ModuleFacts], graph: DependencyGraph, excluded: dict[str, str]) -> dict[str, str]:
    """One-off scripts: top-level single-file modules that no other module imports
    and that declare no routes and no tables (``manage_db.py``, ``wsgi.py``,
    ``celery_worker.py``).  They run on their own; services get their own entry points."""
    out: dict[str, str] = {}
    g = graph.internal
    for f in facts:
        m = f.module
        if "." in m or f.is_package or m in excluded or f.routes or f.data:
            continue
        importers = [u for u in (g.predecessors(m) if m in g else ()) if u not in excluded and u != m]
        if not importers:
            out[m] = "script: a top-level file no module imports; runs on its own, not part of a service"
    return out


# -- signatures ------------------------------------------------------------------



def signature(d: Definition) -> str:
    if d.kind == "class":
        return f"class {d.name}({', '.join(d.bases)})" if d.bases else f"class {d.name}"
    if d.kind not in ("function", "async_function"):
        return ""
    parts: list[str] = []
    saw_posonly = False
    star_done = False
    for p in d.params:
        if p.kind != "positional_only" and saw_posonly:
            parts.append("/")
            saw_posonly = False
        text = p.name
        if p.annotation:
            text += f": {p.annotation}"
        if p.default is not None:
            text += f" = {p.default}" if p.annotation else f"={p.default}"
        if p.kind == "positional_only":
            saw_posonly = True
        elif p.kind == "var_positional":
            text = "*" + text
            star_done = True
        elif p.kind == "keyword_only" and not star_done:
            parts.append("*")
            star_done = True
        elif p.kind == "var_keyword":
            text = "**" + text
        parts.append(text)
    if saw_posonly:
        parts.append("/")
    prefix = "async " if d.kind == "async_function" else ""
    ret = f" -> {d.returns}" if d.returns else ""
    return f"{prefix}({', '.join(parts)}){ret}"


# -- describe ----------------------------------------------------------------------


def _star_sources(facts: list[ModuleFacts]) -> dict[str, list[str]]:
    """Module -> the modules it star-imports (``from x import *``), the last first (the last binding wins)."""
    out: dict[str, list[str]] = {}
    for f in facts:
        stars = [i.module for i in f.imports if i.names == ["*"] and i.module and i.module != f.module]
        if stars:
            out[f.module] = stars[::-1]
    return out


def _definition(res: "_Resolver", stars: Mapping[str, list[str]], fq: str, depth: int = 0) -> tuple[str, Definition] | None:
    """``res.definition`` (re-exports by name) that also follows star re-exports: ``pkg.f`` where
    ``pkg/__init__.py`` does ``from .mod import *`` and ``pkg.mod`` defines public ``f``."""
    found = res.definition(fq)
    if found is not None or depth >= 5:
        return found
    seen = set()
    while fq not in seen:  # the end of the by-name chain, then its star imports
        seen.add(fq)
        mod, _, name = fq.rpartition(".")
        nxt = res.imported.get((mod, name))
        if nxt is None:
            break
        fq = nxt
    mod, _, name = fq.rpartition(".")
    if name.startswith("_") or (mod, name) in res.defs:
        return None
    for src in stars.get(mod, ()):
        found = _definition(res, stars, f"{src}.{name}", depth + 1)
        if found is not None:
            return found
    return None


def imported_symbols(facts: list[ModuleFacts], owner: Mapping[str, str], res: "_Resolver",
                     stars: Mapping[str, list[str]] | None = None):
    """(user, its owner, defining module, definition) for every ``from mod import name`` of a
    module in one service (or shared) naming, in a module of another service, a definition
    that lives in another service than the user's and is not shared.

    Added to the interface by :func:`describe` (issue 11: a fresh plan must pass its own
    ``check`` audit, which judges every import, used or not).  A name is followed through the
    re-exports of ``mod`` (by name or star import, as ``check`` follows them) to where it is
    defined, and named there.  A star import ``from mod import *`` names every public
    definition of ``mod``."""
    stars = _star_sources(facts) if stars is None else stars
    for f in facts:
        s_user = owner.get(f.module)
        if s_user is None:
            continue
        for imp in f.imports:
            if not imp.names or imp.module not in owner or imp.module == f.module:
                continue
            s_mod = owner[imp.module]
            if s_mod == "" or s_mod == s_user:
                continue  # the check judges an import by the owner of the module it names first
            if imp.names == ["*"]:
                src = res.by_module.get(imp.module)
                for d in (src.definitions if src is not None else ()):
                    if not d.name.startswith("_"):
                        yield f.module, s_user, imp.module, d
                continue
            for n in imp.names:
                name = n.split(" as ", 1)[0].strip()
                if f"{imp.module}.{name}" in owner:
                    continue  # a submodule: a module import, judged by its uses
                found = _definition(res, stars, f"{imp.module}.{name}")
                if found is None:
                    continue
                d_mod, d = found
                s_def = owner.get(d_mod)
                if s_def is None or s_def == "" or s_def == s_user:
                    continue  # defined in the user's own service or in shared code: it is there
                yield f.module, s_user, d_mod, d


def imported_modules(facts: list[ModuleFacts], owner: Mapping[str, str]):
    """(user, its owner, module) for every import of a module of another service (or, from a shared
    module, of any service) that ``check`` judges as the module itself: a module import the user
    uses nothing of (a side-effect import: ``import app.signals``, ``from . import tasks``,
    ``importlib.import_module("app.x")``), or whose module object it uses (``include(app.urls)``).

    The rule mirrors :func:`decompose.guard.boundaries.boundary_findings`: the uses of the user
    land in their nearest module; a module import reaches the submodules below it that no other
    import names (``import pkg`` then ``pkg.sub.f``), judged there."""
    modules = {f.module for f in facts} | set(owner)
    for f in facts:
        s_user = owner.get(f.module)
        if s_user is None:
            continue
        uses: dict[str, list[str]] = defaultdict(list)
        for u in f.uses:
            t = nearest_module(u.target, modules)
            if t is not None and t != f.module:
                uses[t].append(u.target)
        targets = {i.module for i in f.imports if i.module in modules and not i.names}
        targets |= {f"{i.module}.{bare(n)}" for i in f.imports if i.module and i.names != ["*"]
                    for n in i.names if f"{i.module}.{bare(n)}" in modules}
        reached: dict[str, list[str]] = defaultdict(list)
        for sub in sorted(uses):
            if sub not in targets:
                above = max((t for t in targets if sub.startswith(t + ".")), key=len, default=None)
                if above is not None:
                    reached[above].append(sub)
        judged = {i.module for i in f.imports if i.module in modules and not i.names}
        judged |= {f"{i.module}.{bare(n)}" for i in f.imports if i.module in modules and i.names != ["*"]
                   for n in i.names if f"{i.module}.{bare(n)}" in modules}
        seen: set[str] = set()
        for t in sorted(judged):
            for sub in [t, *reached.get(t, ())]:
                s_def = owner.get(sub)
                if sub == f.module or sub in seen or s_def in (None, "", s_user):
                    continue
                if sub == t:
                    unused = not uses.get(t) and (s_user == "" or not reached.get(t))
                else:
                    unused = False
                if unused or sub in uses.get(sub, ()):
                    seen.add(sub)
                    yield f.module, s_user, sub


def _fmt(x: float) -> str:
    return f"{round(x, 2):g}"


def describe(
    assignment: Mapping[str, str],
    shared: Iterable[str],
    facts: list[ModuleFacts],
    graph: DependencyGraph,
    *,
    project: str,
    source: str = ".",
    coupling: Coupling | None = None,
    access: Mapping[str, Mapping[str, list[str]]] | None = None,
    directed_calls: Mapping[tuple[str, str], int] | None = None,
    why: Mapping[str, str] | None = None,
    framework_routes: Mapping[str, list[RouteItem]] | None = None,
) -> Plan:
    """The full plan for a given assignment (module -> service) and shared list
    (``framework_routes``: module -> routes declared outside decorators, Django's urlconf)."""
    facts = sorted(facts, key=lambda f: f.module)
    by_module = {f.module: f for f in facts}
    shared = sorted(set(shared))
    why = dict(why or {})
    access = access if access is not None else table_access(facts, graph)
    svc_of = dict(assignment)
    owner = {**svc_of, **{m: "" for m in shared}}  # "" = shared library
    names = sorted(set(svc_of.values()))
    model_classes = {
        f"{f.module}.{d.symbol}" for f in facts for d in f.data if d.how in ("model", "table") and d.symbol
    }
    res = _Resolver(facts, model_classes)
    stars = _star_sources(facts)

    # interface: symbols of one service used from another
    iface: dict[str, dict[str, InterfaceItem]] = defaultdict(dict)
    cross_calls: dict[str, dict] = {}
    blockers: list[dict] = []
    shared_uses: dict[tuple[str, str], list[str]] = defaultdict(list)
    sym_users: dict[str, set[str]] = defaultdict(set)  # "mod.name" -> user modules (scope-qualified)
    for src, dst, d in sorted(graph.symbols.edges(data=True)):
        user, _, scope = src.partition(":")
        mod, _, name = dst.partition(":")
        found = _definition(res, stars, f"{mod}.{name}")
        if found is not None:
            mod, definition = found
            name = definition.name
        else:
            definition = None
        sym_users[f"{mod}.{name}"].add(f"{user}:{scope}")
        if user not in owner or mod not in owner or user == mod:
            continue
        s_user, s_def = owner[user], owner[mod]
        if s_user == "" and s_def != "":
            shared_uses[(user, mod)].append(name)
            continue
        if s_def == "" or s_user == s_def:
            continue
        fq = f"{mod}.{name}"
        item = iface[s_def].get(fq)
        if item is None:
            item = iface[s_def][fq] = InterfaceItem(
                name=fq,
                kind=definition.kind if definition else "unknown",
                signature=signature(definition) if definition else "",
                used_by=[],
            )
        if s_user not in item.used_by:
            item.used_by.append(s_user)
        if definition is not None and definition.kind in ("function", "async_function") and d.get("calls", 0):
            entry = cross_calls.setdefault(fq, {"definition": definition, "module": mod, "to": s_def, "callers": set(),
                                                "calls": 0, "passed": set()})
            entry["callers"].add((f"{user}.{scope}" if scope != "<module>" else user, s_user))
            entry["calls"] += d.get("calls", 0)
            # only the parameters these calls fill go over the wire (an optional `conn=None` they never pass does not)
            entry["passed"].update(p.name for p in passed_params(definition.params, d.get("args")))

    # names imported across services that no recorded use covers (imported and only re-exported,
    # passed on, used in a class body...): the import itself runs in the split service
    for user, s_user, mod, definition in imported_symbols(facts, owner, res, stars):
        if s_user == "":
            if definition.name not in shared_uses.get((user, mod), ()):
                shared_uses[(user, mod)].append(definition.name)
            continue
        fq = f"{mod}.{definition.name}"
        item = iface[owner[mod]].get(fq)
        if item is None:
            item = iface[owner[mod]][fq] = InterfaceItem(
                name=fq, kind=definition.kind, signature=signature(definition), used_by=[])
        if s_user not in item.used_by:
            item.used_by.append(s_user)

    # modules imported across services as modules: for their side effects, or to use the module object
    shared_modules: dict[str, set[str]] = defaultdict(set)
    for user, s_user, mod in imported_modules(facts, owner):
        if s_user == "":
            shared_modules[user].add(mod)
            continue
        item = iface[owner[mod]].get(mod)
        if item is None:
            item = iface[owner[mod]][mod] = InterfaceItem(name=mod, kind="module", signature="", used_by=[])
        if s_user not in item.used_by:
            item.used_by.append(s_user)

    for fq, e in sorted(cross_calls.items()):
        dfn: Definition = e["definition"]
        bad, unknown = [], []
        for p in dfn.params:
            if p.name not in e["passed"]:
                continue
            if p.kind in ("var_positional", "var_keyword") and p.annotation is None:
                unknown.append(f"parameter {'*' if p.kind == 'var_positional' else '**'}{p.name}: no annotation")
                continue
            v, w = param_verdict(p, e["module"], res)
            if v == "bad":
                bad.append(f"parameter {p.name}: {w}")
            elif v == "unknown":
                unknown.append(f"parameter {p.name}: {w}")
        v, w = return_verdict(dfn, e["module"], res)
        if v == "bad":
            bad.append(f"return: {w}")
        elif v == "unknown":
            unknown.append(f"return: {w}")
        if not bad and not unknown:
            continue
        callers = sorted(e["callers"])
        blockers.append(
            {
                "kind": "non-serializable-call" if bad else "unknown-serializability",
                "severity": "error" if bad else "warning",
                "function": fq,
                "service": e["to"],
                "called_from": sorted({s for _, s in callers}),
                "callers": sorted({c for c, _ in callers}),
                "problems": bad + unknown,
            }
        )

    # module-level mutable state
    state: dict[str, dict] = {}
    for f in facts:
        for dfn in f.definitions:
            if dfn.kind == "variable" and dfn.mutable:
                state.setdefault(f"{f.module}.{dfn.name}", {"module": f.module, "how": set(), "writers": set()})["how"].add(
                    "mutable container"
                )
        for gw in f.global_writes:
            st = state.setdefault(f"{f.module}.{gw.name}", {"module": f.module, "how": set(), "writers": set()})
            st["how"].add(f"rebound by global in {gw.scope}")
            st["writers"].add(f"{f.module}:{gw.scope}")
    for fq, st in sorted(state.items()):
        mod = st["module"]
        if mod not in owner:
            continue
        users = set(sym_users.get(fq, set()))
        for w in st["writers"]:  # callers of the functions that rebind it touch it too
            wm, _, ws = w.partition(":")
            users |= {u for u in sym_users.get(f"{wm}.{ws}", set())}
        services = {owner[u.partition(":")[0]] for u in users if u.partition(":")[0] in owner}
        home = owner[mod]
        if home == "":
            services.discard("")
            if len(services) < 2:
                continue
            kind = "shared-library-state"
        else:
            foreign = services - {home, ""}
            if not foreign:
                continue
            services = foreign
            kind = "cross-service-state"
        blockers.append(
            {
                "kind": kind,
                "severity": "error",
                "state": fq,
                "how": sorted(st["how"]),
                "owner": home or "shared",
                "used_by": sorted(services),
                "users": sorted(u for u in users if u.partition(":")[0] in owner and owner[u.partition(":")[0]] in services),
            }
        )

    # tables
    tables_owned: dict[str, set[str]] = defaultdict(set)
    table_users: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for m, ts in access.items():
        if m not in owner:
            continue
        for t, hows in ts.items():
            table_users[t][owner[m] or "shared"].add(f"{m} ({', '.join(hows)})")
            if any(h in ("model", "table") for h in hows) and owner[m]:
                tables_owned[owner[m]].add(t)
    for t, users in sorted(table_users.items()):
        if len(users) > 1:
            owners = sorted(s for s, ts in tables_owned.items() if t in ts)
            blockers.append(
                {
                    "kind": "shared-table",
                    "severity": "error",
                    "table": t,
                    "owner": ", ".join(owners) or "none",
                    "used_by": sorted(users),
                    "access": {s: sorted(v) for s, v in sorted(users.items())},
                }
            )
    blockers.extend(relation_blockers(by_module, owner))  # Django ORM relations across services
    by_shared: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (user, mod), syms in shared_uses.items():
        by_shared[user][mod] |= {f"{mod}.{s}" for s in syms}
    for user, mods in shared_modules.items():
        for mod in mods:
            by_shared[user][mod].add(mod)
    for user, deps in sorted(by_shared.items()):
        root = why.get(user, "").startswith(("shared: composition root", "shared: entry point"))
        blockers.append(
            {
                "kind": "shared-uses-service",
                "severity": "warning" if root else "error",
                "module": user,
                "services": sorted({owner[m] for m in deps}),
                "symbols": sorted(x for v in deps.values() for x in v),
                "note": (
                    "composition root: every service needs its own copy wired with its own parts only"
                    if root
                    else "the shared library would need this service's code"
                ),
            }
        )
    order = {"error": 0, "warning": 1}
    blockers.sort(key=lambda b: (order[b["severity"]], b["kind"], str(b.get("function") or b.get("state") or b.get("table") or b.get("module"))))

    # services
    services: dict[str, Service] = {}
    for name in names:
        mods = sorted(m for m, s in svc_of.items() if s == name)
        routes = [
            RouteItem(method=meth, path=r.path, function=f"{m}.{r.function}")
            for m in mods
            if m in by_module
            for r in by_module[m].routes
            for meth in (r.methods or ["GET"])
        ] + [r for m in mods for r in (framework_routes or {}).get(m, [])]
        reasons = {}
        for m in mods:
            parts = []
            if m in why:
                parts.append(why[m])
            if coupling is not None:
                strong = coupling.strongest(m, 3)
                if strong:
                    parts.append(
                        "strongest: "
                        + ", ".join(
                            f"{nb}{'' if owner.get(nb) == name else ' [' + (owner.get(nb) or 'shared') + ']'} "
                            f"({_fmt(w)}: {', '.join(f'{k} {_fmt(v)}' for k, v in raw.items())})"
                            for nb, w, raw in strong
                        )
                    )
                else:
                    parts.append("no coupling to any other module")
            if parts:
                reasons[m] = "; ".join(parts)
        services[name] = Service(
            name=name,
            modules=mods,
            interface=sorted(iface.get(name, {}).values(), key=lambda i: i.name),
            tables=sorted(tables_owned.get(name, set())),
            routes=routes,
            reasons=reasons,
        )
    shared_reasons = {m: why[m] for m in shared if m in why}

    # quality
    service_modules = {m: s for m, s in svc_of.items()}
    q: dict = {"services": len(names), "modules": len(service_modules), "shared_modules": len(shared)}
    if coupling is not None:
        q["modularity"] = round(quality.modularity(coupling.graph, service_modules), ROUND)
    q["structural_modularity"] = round(quality.structural_modularity(graph.internal.edges, service_modules), ROUND)
    if directed_calls is not None:
        calls, src = directed_calls, "trace"
    else:
        calls = {(a, b): d.get("calls", 0) for a, b, d in graph.internal.edges(data=True)}
        src = "static"
    icp = quality.inter_partition_call_percentage(calls, service_modules)
    q["icp"] = None if icp is None else round(icp, ROUND)
    q["icp_source"] = src
    q["ifn"] = round(quality.interface_number({s: len(v.interface) for s, v in services.items()}, names), ROUND)
    q["ned"] = round(quality.non_extreme_distribution(service_modules), ROUND)
    q["ned_bounds"] = list(quality.NED_BOUNDS)
    q["blockers"] = {
        "errors": sum(1 for b in blockers if b["severity"] == "error"),
        "warnings": sum(1 for b in blockers if b["severity"] == "warning"),
    }
    return Plan(
        project=project,
        services=services,
        shared=shared,
        source=source,
        quality=q,
        blockers=blockers,
        shared_reasons=shared_reasons,
    )
