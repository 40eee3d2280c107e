"""Seeded, deterministic clustering of the coupling graph into services (pure).

Input: the combined coupling graph (:mod:`decompose.planning.signals`), the directed
dependency graph, the import cycles that run at import time, the user's
constraints and a seed.  Output: module -> service name, plus the modules
left in the shared library, and why.

Steps
-----
1. **Atoms.**  Modules that must stay together are merged into one atom
   (union-find): every runtime import cycle (strongly connected component),
   every user ``together`` group, and all modules pinned to the same service.
   A cycle spanning two pinned services, or a shared module and a service
   module, is a :class:`ConstraintError`.
2. **Shared library.**  Modules matching the user's ``shared`` globs, plus
   (``auto_shared``) every atom that depends only on shared modules, defines
   no table and is used from at least ``min_shared_users`` clusters of a
   first clustering pass - utilities like ``shop.utils.money``, bottom-up:
   ``shop.db`` qualifies once ``shop.config`` is shared.  Mirror image at the
   top: a *composition root* (an app factory importing every domain's
   routes) depends on ``min_shared_users`` clusters and no service module
   depends on it, so it belongs to none of them; it and its entry points
   (``__main__``, ``wsgi``) are shared too: every service needs its own
   wiring.  Parent packages of shared modules follow them.  The framework's
   app module (``roots``: the module creating the app, which generation
   copies into every service pruned to its routes) is shared outright, and so
   is a *layer package* (``empty_packages``: an ``__init__`` defining nothing,
   outside every app, above modules of two or more domains, needing only
   shared code): otherwise it ties every domain below it into one service.
2b. **Bonds** (calls passing live objects, which cannot cross the network):
   when the callee is a helper that can be shared (no tables, not pinned, with
   its own dependencies sharable too, at most
   :data:`MAX_BOND_SHARE` modules; tables allowed when its callers sit in
   :data:`HUB_DOMAINS` domains or more) and its callers are a shared module or sit
   in two or more domains, the callee and those dependencies join the shared
   library (a ``get_db()`` every blueprint calls is copied into each service,
   not the reason to merge them).  A hub whose dependencies are more than
   :data:`MAX_BOND_SHARE` modules is shared with all of them when none is a
   module of an app or a route module (those serve one domain): a
   ``get_tokens()`` returning token objects to every API blueprint makes its
   library a shared kernel, not one service of every blueprint.  Otherwise
   caller and callee are merged into one atom.
3. **Communities** on the graph of atoms (edge weights summed): Louvain
   (``networkx.community.louvain_communities`` with the seed; default) or
   greedy modularity (Clauset-Newman-Moore, deterministic by itself).
   Atoms with no edge at all join the cluster sharing their longest package
   prefix; one serving routes or owning tables only a cluster of its own domain.
4. **Pins.**  A community holding atoms pinned to different services is
   split: each unpinned atom goes to the pinned service it is most coupled to.
5. **Target count.**  Above the target, the two clusters whose merge raises
   modularity the most (Newman's delta Q) are merged, never two differently
   pinned ones; below it, the cluster whose split into two (Louvain on its
   own subgraph, raising the resolution until it separates) gives the best
   modularity is split.  Atoms are never split.
5b. **Size cap**: no service above :data:`MAX_SHARE` of the modules while its largest
   cluster holds two domains and splits.
5c. **Libraries** (:mod:`decompose.planning.libraries`): a cluster with no route module,
   no table and no module of an app (``utils``, ``configs``, a command line) joins the
   cluster it is most coupled to, under the size cap.
6. **Names** after the dominant package of each cluster (the package right
   below the common root, ``shop.orders.*`` -> ``orders``), made DNS-1123
   labels; a clash is resolved with the next package level
   (``orders-pricing``) or a number.  Pinned clusters take the pin's name.

Naming (step 6) lives in :mod:`decompose.planning.naming`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import networkx as nx

from decompose.analysis.roles import is_migration_module
from decompose.planning.libraries import fold_libraries
from decompose.planning.naming import _root_depth, name_by_domains, name_clusters
from decompose.planning.plan import SERVICE_NAME_RE

METHODS = ("louvain", "greedy")
#: A live-object bond is resolved by sharing the callee when that copies at most this many modules.
MAX_BOND_SHARE = 8
#: A bonded callee called from this many domains is shared even with tables of its own (they become
#: tables several services use): merging every caller's domain into one service would be worse.
HUB_DOMAINS = 3
#: No service holds more than this share of the modules (services + shared) while it can be split.
MAX_SHARE = 1 / 3


class ConstraintError(Exception):
    """The user's constraints contradict each other or the code; one line naming the problem."""


@dataclass
class Constraints:
    services: int | None = None  # target number of services
    pins: dict[str, str] = field(default_factory=dict)  # module glob -> service name
    together: list[list[str]] = field(default_factory=list)  # groups of module globs kept together
    shared: list[str] = field(default_factory=list)  # module globs left in the shared library
    auto_shared: bool = True
    min_shared_users: int = 3  # clusters that must use a module for it to be proposed as shared
    composition_roots: bool = True  # auto_shared also takes modules wiring many clusters that nobody uses
    origin: str = "constraints"  # where they came from, for messages


@dataclass
class Clustering:
    assignment: dict[str, str]  # service module -> service name
    shared: list[str]
    why: dict[str, str]  # module -> constraint-based reason (pinned, cycle, shared...)
    notes: list[str] = field(default_factory=list)
    method: str = "louvain"

    def partition(self) -> dict[str, str]:
        return dict(self.assignment)


def _match(globs: Iterable[str], modules: list[str], what: str, origin: str) -> dict[str, list[str]]:
    out = {}
    for pat in globs:
        hits = [m for m in modules if fnmatchcase(m, pat)]
        if not hits:
            raise ConstraintError(f"{origin}: {what} {pat!r} matches no analysed module")
        out[pat] = hits
    return out


class _UnionFind:
    def __init__(self, items: Iterable[str]):
        self.parent = {i: i for i in items}

    def find(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for x in sorted(self.parent):
            out[self.find(x)].append(x)
        return dict(sorted(out.items()))


def _quotient(graph: nx.Graph, atoms: Mapping[str, list[str]]) -> nx.Graph:
    """Graph of atoms (keyed by representative), edge weights summed, built in sorted order."""
    rep = {m: r for r, ms in atoms.items() for m in ms}
    q = nx.Graph()
    q.add_nodes_from(sorted(atoms))
    w: dict[tuple[str, str], float] = defaultdict(float)
    for a, b, d in graph.edges(data=True):
        if a not in rep or b not in rep:
            continue
        ra, rb = rep[a], rep[b]
        if ra != rb:
            w[(ra, rb) if ra < rb else (rb, ra)] += float(d.get("weight", 1.0))
    for (a, b), v in sorted(w.items()):
        q.add_edge(a, b, weight=v)
    return q


def _communities(q: nx.Graph, method: str, seed: int, resolution: float = 1.0) -> list[list[str]]:
    if q.number_of_nodes() == 0:
        return []
    if q.number_of_edges() == 0:
        return [[n] for n in sorted(q.nodes)]
    if method == "louvain":
        comms = nx.community.louvain_communities(q, weight="weight", resolution=resolution, seed=seed)
    elif method == "greedy":
        comms = nx.community.greedy_modularity_communities(q, weight="weight", resolution=resolution)
    else:
        raise ConstraintError(f"unknown clustering method {method!r} (known: {', '.join(METHODS)})")
    return sorted((sorted(c) for c in comms), key=lambda c: c[0])


def _common_prefix_len(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        n += 1
    return n


def _attach_isolated(q: nx.Graph, comms: list[list[str]], atoms: Mapping[str, list[str]],
                     keys: Mapping[str, str] | None = None, evidence: Mapping[str, int] | None = None) -> list[list[str]]:
    """Atoms without any edge join the cluster sharing their longest package prefix.  One
    serving routes or owning tables (``evidence``) joins only a cluster of its own domain
    (``keys``; without keys: sharing more than the root package every module shares, the
    project itself being no evidence), and two isolated atoms join each other only when they
    serve one domain: three blueprints left with no edge once their library is shared stay
    three services, whether or not a sibling blueprint with edges formed a cluster."""
    isolated = [c[0] for c in comms if len(c) == 1 and q.degree(c[0]) == 0]
    rest = [list(c) for c in comms if not (len(c) == 1 and q.degree(c[0]) == 0)]
    if not rest:
        return comms
    formed = len(rest)
    root = _root_depth(sorted({m for c in comms for a in c for m in atoms[a]})) if len(comms) > 1 else 0
    for atom in isolated:
        best, best_key = None, None
        serves = any((evidence or {}).get(m) for m in atoms[atom])
        own_domain = serves and keys is not None
        for i, c in enumerate(rest):
            score = max((_common_prefix_len(m, n) for m in atoms[atom] for c_atom in c for n in atoms[c_atom]
                         if (i < formed and not own_domain) or keys is None or keys.get(m, m) == keys.get(n, n)),
                        default=0)
            key = (-score, i)
            if best_key is None or key < best_key:
                best, best_key = i, key
        if best_key is not None and -best_key[0] > (root if serves and not own_domain else 0):
            rest[best].append(atom)
        else:
            rest.append([atom])
    return sorted((sorted(c) for c in rest), key=lambda c: c[0])


def _modularity_of(q: nx.Graph, comms: list[list[str]]) -> float:
    if q.number_of_edges() == 0:
        return 0.0
    return nx.community.modularity(q, [set(c) for c in comms], weight="weight")


def _merge_once(q: nx.Graph, comms: list[list[str]], pin_of: Mapping[str, str]) -> list[list[str]] | None:
    """Merge the pair of clusters with the highest modularity gain (never two differently pinned ones)."""
    m = q.size(weight="weight")
    label = {n: i for i, c in enumerate(comms) for n in c}
    between: dict[tuple[int, int], float] = defaultdict(float)
    degree: dict[int, float] = defaultdict(float)
    for a, b, d in q.edges(data=True):
        w = d.get("weight", 1.0)
        degree[label[a]] += w
        degree[label[b]] += w
        if label[a] != label[b]:
            i, j = sorted((label[a], label[b]))
            between[(i, j)] += w
    pins = [{pin_of[n] for n in c if n in pin_of} for c in comms]
    best, best_key = None, None
    for i in range(len(comms)):
        for j in range(i + 1, len(comms)):
            if pins[i] and pins[j] and pins[i] != pins[j]:
                continue
            gain = 0.0 if m == 0 else between[(i, j)] / m - degree[i] * degree[j] / (2 * m * m)
            key = (-round(gain, 12), -between[(i, j)], i, j)
            if best_key is None or key < best_key:
                best, best_key = (i, j), key
    if best is None:
        return None
    i, j = best
    merged = [c for k, c in enumerate(comms) if k not in (i, j)] + [comms[i] + comms[j]]
    return sorted((sorted(c) for c in merged), key=lambda c: c[0])


def _induced(q: nx.Graph, nodes: Iterable[str]) -> nx.Graph:
    """The subgraph of ``q`` on ``nodes``, nodes and edges added in sorted order.  Not
    ``q.subgraph(nodes)``: for a small subset NetworkX iterates the node *set*, whose order
    follows the string hash (PYTHONHASHSEED), and Louvain's result depends on node order."""
    keep = set(nodes)
    sub = nx.Graph()
    sub.add_nodes_from(sorted(keep))
    sub.add_edges_from(sorted((a, b, d) if a < b else (b, a, d) for a, b, d in q.edges(sorted(keep), data=True)
                              if a in keep and b in keep))
    return sub


def _split_in_two(q: nx.Graph, cluster: list[str], method: str, seed: int) -> list[list[str]] | None:
    sub = _induced(q, cluster)
    if len(cluster) < 2:
        return None
    parts: list[list[str]] | None = None
    if sub.number_of_edges() == 0:
        parts = [[n] for n in sorted(cluster)]
    else:
        for resolution in (1.0, 2.0, 4.0, 8.0, 16.0, 64.0):
            comms = _communities(sub, method, seed, resolution)
            if len(comms) >= 2:
                parts = comms
                break
        if parts is None:
            a, b = nx.community.kernighan_lin_bisection(sub, weight="weight", seed=seed)
            parts = [sorted(a), sorted(b)]
    while len(parts) > 2:
        merged = _merge_once(sub, parts, {})
        if merged is None:
            break
        parts = merged
    return parts


def _atom_deps(r: str, atoms, atom_of, dependencies) -> set[str]:
    """The atoms atom ``r``'s modules depend on, besides itself; a module's dependency on its
    own parent package does not count (every module "depends" on its package ``__init__``)."""
    members = set(atoms[r])
    return {
        atom_of[t]
        for m in atoms[r]
        if m in dependencies
        for t in dependencies.successors(m)
        if t not in members and t in atom_of and not _is_parent(m, t)
    }


def _is_parent(child: str, parent: str) -> bool:
    """``parent`` is a package holding ``child`` (``a.b`` of ``a.b.c``)."""
    return child.startswith(parent + ".")


def _auto_shared(atoms, atom_of, atom_pin, forced, table_modules, dependencies, run, c: Constraints, why,
                 app_roots: frozenset[str] = frozenset(), served: frozenset[str] = frozenset()) -> set[str]:
    """Atoms proposed for the shared library (see step 2 of the module docstring).

    Bottom-up, level by level.  A level holds the undecided atoms (not
    pinned, defining no table) whose dependencies all lie in the shared set
    so far; a module's dependency on its own parent package does not count
    (every module "depends" on its package ``__init__``), nor does a
    submodule count as a user of its package.  The level is left
    out of a clustering pass over the remaining atoms (so a hub cannot pull
    its users into one cluster), and each member is shared when its users
    fall into at least ``min_shared_users`` of those clusters (or into every
    cluster, when there are fewer).  Shared atoms let the next level form;
    it stops when a level adds nothing.  Finally the parent packages of
    shared modules whose own dependencies are shared join them.
    """

    def deps_of(r: str) -> set[str]:
        return _atom_deps(r, atoms, atom_of, dependencies)

    def users_of(r: str) -> set[str]:
        members = set(atoms[r])
        return {
            atom_of[u]
            for m in atoms[r]
            if m in dependencies
            for u in dependencies.predecessors(m)
            if u not in members and u in atom_of and not _is_parent(u, m)
        }

    eligible = {r for r in atoms if r not in forced and r not in atom_pin and not (table_modules & set(atoms[r]))}
    shared: set[str] = set(forced)
    decided: set[str] = set()
    while True:
        level = sorted(r for r in eligible - decided - shared if deps_of(r) <= shared)
        if not level:
            break
        decided |= set(level)
        rest = [r for r in atoms if r not in shared and r not in level]
        if not rest:
            break
        first = run(rest)
        cluster_of_atom = {a: i for i, comm in enumerate(first) for a in comm}
        need = min(c.min_shared_users, max(2, len(first)))
        added = False
        for r in level:
            reached = {cluster_of_atom[u] for u in users_of(r) if u in cluster_of_atom}
            if len(reached) >= need:
                shared.add(r)
                added = True
                for m in atoms[r]:
                    why[m] = f"shared: used from {len(reached)} of {len(first)} clusters, depends only on shared modules"
        if not added:
            break
    # composition roots: wire many clusters together, and no service module depends on them
    rest = [r for r in atoms if r not in shared]
    if rest and c.composition_roots:
        first = run(rest)
        cluster_of_atom = {a: i for i, comm in enumerate(first) for a in comm}
        need = min(c.min_shared_users, max(2, len(first)))
        spans = {r: {cluster_of_atom[t] for t in deps_of(r) if t in cluster_of_atom} for r in rest}
        removed: set[str] = set()
        while True:
            # a module serving routes serves its own domain: never a composition root
            roots = {r for r in rest if r in eligible and r not in removed and len(spans[r]) >= need
                     and not served & set(atoms[r])}
            grew = True
            while grew:  # entry points (``__main__``, ``wsgi``) that only reach roots and shared code
                grew = False
                for r in rest:
                    if r in eligible and r not in roots and r not in removed and not served & set(atoms[r]):
                        deps = deps_of(r)
                        if deps & (roots | app_roots) and deps <= roots | shared:
                            roots.add(r)
                            grew = True
            bad = {r for r in roots if not users_of(r) <= roots | app_roots}
            if not bad:
                break
            removed |= bad
        for r in sorted(roots):
            shared.add(r)
            n = len(spans[r])
            for m in atoms[r]:
                why[m] = (
                    f"shared: composition root, wires {n} clusters together and no service module depends on it"
                    if n >= need and r not in app_roots
                    else "shared: entry point of a composition root"
                )
    # parent packages of shared modules come along when they depend on nothing else, and so do
    # the modules the shared library itself imports (an app factory's configuration): left in a
    # service, every service's copy of the library would need that service's code
    changed = True
    while changed:
        changed = False
        for r in sorted(eligible - shared):
            if not deps_of(r) <= shared:
                continue
            children = [x for s_ in shared for x in atoms[s_] if any(_is_parent(x, m) for m in atoms[r])]
            # (an app module declaring routes itself imports its own domain's code: not the library's)
            users = (sorted(atoms[u][0] for u in users_of(r) & shared if not served & set(atoms[u]))
                     if not served & set(atoms[r]) else [])
            if children or users:
                shared.add(r)
                changed = True
                for m in atoms[r]:
                    why[m] = (f"shared: package of shared module(s) {', '.join(sorted(children)[:3])}, depends only on shared modules"
                              if children else
                              f"shared: the shared library imports it ({', '.join(users[:3])}), and it depends only on shared modules")
    return shared - set(forced)

def _layer_packages(empty: set[str], atoms, atom_of, atom_pin, shared_atoms, table_modules, dependencies, keys,
                    why) -> set[str]:
    """Step 2's layer packages: a package ``__init__`` that defines nothing (``api/``,
    ``lib/``), outside every app, above modules of two or more domains and needing only
    shared code.  Importing any of its submodules runs it, so left in a service it would tie
    every domain below it into that one; copied into each service it costs nothing."""
    out: set[str] = set()
    children: dict[str, set[str]] = defaultdict(set)
    for m in atom_of:
        for i in range(1, m.count(".") + 1):
            children[m.rsplit(".", i)[0]].add((keys or {}).get(m, m))
    for m in sorted(empty):
        r = atom_of.get(m)
        if r is None or r in shared_atoms or atoms[r] != [m] or r in atom_pin or m in table_modules:
            continue
        domains = children.get(m, set())
        if len(domains) >= 2 and _atom_deps(r, atoms, atom_of, dependencies) <= shared_atoms | out:
            out.add(r)
            why[m] = f"shared: package defining nothing above {len(domains)} domains, depends only on shared modules"
    return out


def _sharable_closure(r: str, atoms, atom_of, atom_pin, shared_atoms, blocked: set[str], dependencies,
                      limit: int | None = MAX_BOND_SHARE) -> set[str] | None:
    """``r`` and the atoms it depends on that are not shared yet, if all can be shared (none
    pinned, none holding a ``blocked`` module) and they are at most ``limit`` modules; else None."""
    out, todo, parents = set(), [r], set()
    size = 0
    while todo:
        x = todo.pop()
        if x in out or x in shared_atoms:
            continue
        if x in atom_pin or blocked & set(atoms[x]):
            return None
        out.add(x)
        size += len(atoms[x])
        if limit is not None and size > limit:
            return None
        for m in atoms[x]:
            if m in dependencies:
                for t in dependencies.successors(m):
                    if t in atom_of:
                        (parents.add if _is_parent(m, t) else todo.append)(atom_of[t])
    # parent packages (what ``from pkg import NAME`` needs, or mere containment) come
    # along when they can, on their own: never a reason not to share
    for x in sorted(parents - out - shared_atoms):
        if x in atom_pin or blocked & set(atoms[x]):
            continue
        if _atom_deps(x, atoms, atom_of, dependencies) <= out | shared_atoms and (limit is None or size + len(atoms[x]) <= limit):
            out.add(x)
            size += len(atoms[x])
    return out


def _mark_shared(add: set[str], callee: str, callers: Iterable[str], atoms, why, how: str = "") -> None:
    """The reasons of the modules a bond's sharing adds (the callee, and what it needs)."""
    shown = ", ".join(sorted(set(callers))[:3]) + ("..." if len(set(callers)) > 3 else "")
    for a in sorted(add):
        for m in atoms[a]:
            why[m] = (f"shared: {callee} passes live objects to its callers ({shown}){how}, "
                      "so each service gets its own copy"
                      if callee in atoms[a] else f"shared: needed by the shared module {callee}")


def _share_bonded(bonds, atoms, atom_of, atom_pin, shared_atoms, table_modules, dependencies, keys, why,
                  serving: set[str] = frozenset()) -> list[str]:
    """Step 2b's sharing (see the module docstring), to a fixed point: sharing a callee
    can make its own bonded callees eligible in the next round.  A hub whose closure is
    over :data:`MAX_BOND_SHARE` modules is shared with all of it when none of it is a
    ``serving`` module (an app's modules, route modules: they serve one domain).  Adds to
    ``shared_atoms``; returns notes on the large closures shared."""
    notes: list[str] = []
    callers_of: dict[str, list[str]] = defaultdict(list)
    for (user, callee, *_), _reason in bonds:
        callers_of[callee].append(user)
    changed = True
    while changed:
        changed = False
        for callee, callers in sorted(callers_of.items()):
            ca = atom_of.get(callee)
            if ca is None or ca in shared_atoms:
                continue
            from_shared = any(atom_of.get(u) in shared_atoms for u in callers)
            domains = {(keys or {}).get(u, u) for u in callers if atom_of.get(u) not in (None, ca) and atom_of.get(u) not in shared_atoms}
            if not from_shared and len(domains) < 2:
                continue
            # a hub's closure may define tables: they become tables several services use
            hub = len(domains) >= HUB_DOMAINS
            add = _sharable_closure(ca, atoms, atom_of, atom_pin, shared_atoms, set() if hub else set(table_modules),
                                    dependencies)
            how = ""
            if add is None and hub:
                add = _sharable_closure(ca, atoms, atom_of, atom_pin, shared_atoms, set(serving), dependencies, limit=None)
                if add is not None:
                    n = sum(len(atoms[a]) for a in add)
                    how = f" from {len(domains)} domains"
                    notes.append(f"shared {callee} with the {n - 1} module(s) it needs: its live-object calls "
                                 f"from {len(domains)} domains would have merged them into one service")
            if add is None:
                continue
            shared_atoms |= add
            changed = True
            _mark_shared(add, callee, callers, atoms, why, how)
    return notes


def cluster(
    coupling: nx.Graph,
    dependencies: nx.DiGraph,
    *,
    cycles: Iterable[Iterable[str]] = (),
    constraints: Constraints | None = None,
    table_modules: Iterable[str] = (),
    domain_modules: Iterable[str] = (),
    bonds: Iterable[tuple[Iterable[str], str]] = (),
    roots: Iterable[str] = (),
    seed: int = 42,
    method: str = "louvain",
    keys: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    evidence: Mapping[str, int] | None = None,
    generic_keys: Iterable[str] = (),
    max_share: float | None = MAX_SHARE,
    route_modules: Iterable[str] = (),
    empty_packages: Iterable[str] = (),
) -> Clustering:
    """Cluster the modules of ``coupling`` into services (see the module docstring)."""
    if method not in METHODS:
        raise ConstraintError(f"unknown clustering method {method!r} (known: {', '.join(METHODS)})")
    c = constraints or Constraints()
    origin = c.origin
    modules = sorted(coupling.nodes)
    if not modules:
        raise ConstraintError("nothing to cluster: no modules")
    if c.services is not None and c.services < 1:
        raise ConstraintError(f"{origin}: the target number of services must be >= 1, got {c.services}")
    for svc in sorted(set(c.pins.values())):
        if not SERVICE_NAME_RE.match(svc):
            raise ConstraintError(f"{origin}: pinned service name {svc!r} is not a DNS-1123 label")

    why: dict[str, str] = {}
    notes: list[str] = []

    # 1. pins, together-groups, cycles -> atoms
    pin_of: dict[str, str] = {}
    for pat, hits in _match(sorted(c.pins), modules, "pin", origin).items():
        for m in hits:
            if m in pin_of and pin_of[m] != c.pins[pat]:
                raise ConstraintError(f"{origin}: module {m!r} is pinned to both {pin_of[m]!r} and {c.pins[pat]!r}")
            pin_of[m] = c.pins[pat]
            why[m] = f"pinned to {c.pins[pat]} by {origin}"
    forced_shared = set()
    for pat, hits in _match(c.shared, modules, "shared pattern", origin).items():
        for m in hits:
            if m in pin_of:
                raise ConstraintError(f"{origin}: module {m!r} is both pinned to {pin_of[m]!r} and shared ({pat!r})")
            forced_shared.add(m)
            why[m] = f"shared: matches {pat!r} in {origin}"
    uf = _UnionFind(modules)
    by_pin: dict[str, list[str]] = defaultdict(list)
    for m, s in pin_of.items():
        by_pin[s].append(m)
    for ms in by_pin.values():
        for m in ms[1:]:
            uf.union(ms[0], m)
    for group in c.together:
        hits = sorted({m for hs in _match(group, modules, "together pattern", origin).values() for m in hs})
        for m in hits[1:]:
            uf.union(hits[0], m)
        for m in hits:
            why.setdefault(m, f"kept together with {', '.join(x for x in hits if x != m)} by {origin}")
    for cyc in cycles:
        cyc = sorted(m for m in cyc if m in coupling)
        for m in cyc[1:]:
            uf.union(cyc[0], m)
        if len(cyc) > 1:
            for m in cyc:
                why.setdefault(m, f"in an import cycle with {', '.join(x for x in cyc if x != m)}")
    atoms = uf.groups()
    atom_of = {m: r for r, ms in atoms.items() for m in ms}
    atom_pin: dict[str, str] = {}
    for r, ms in atoms.items():
        pins = sorted({pin_of[m] for m in ms if m in pin_of})
        if len(pins) > 1:
            raise ConstraintError(
                f"{origin}: modules {', '.join(ms)} must stay together (import cycle or together group) "
                f"but are pinned to different services: {', '.join(pins)}"
            )
        if pins:
            atom_pin[r] = pins[0]
        shared_part = sorted(set(ms) & forced_shared)
        if shared_part and len(shared_part) != len(ms):
            others = sorted(set(ms) - forced_shared)
            raise ConstraintError(
                f"{origin}: {', '.join(shared_part)} is shared but must stay together with {', '.join(others)} (import cycle or together group)"
            )
    shared_atoms = {atom_of[m] for m in forced_shared}

    def run(active: list[str]) -> list[list[str]]:
        q = _quotient(coupling, {r: atoms[r] for r in active})
        comms = _attach_isolated(q, _communities(q, method, seed), atoms, keys, evidence)
        return comms

    # 2. shared library: the bottom layer, judged by how many clusters reach it
    own_tables = set(table_modules)
    domain_modules = set(domain_modules)
    table_modules = own_tables | domain_modules  # both stay in services
    if c.auto_shared:
        app_roots = set()
        for m in sorted(set(roots)):
            r = atom_of.get(m)
            if r is not None and r not in atom_pin and not (table_modules & set(atoms[r])) and r not in shared_atoms:
                app_roots.add(r)
                for x in atoms[r]:
                    why[x] = "shared: composition root (the app module), copied into every service pruned to its routes"
        shared_atoms |= app_roots
        shared_atoms |= _auto_shared(atoms, atom_of, atom_pin, shared_atoms, table_modules, dependencies, run, c, why,
                                     frozenset(app_roots), frozenset(route_modules))
        shared_atoms |= _layer_packages(set(empty_packages), atoms, atom_of, atom_pin, shared_atoms, table_modules,
                                        dependencies, keys, why)
    # 2b. bonds: modules joined by calls that cannot cross the network (arguments or
    # results that are live objects) stay in one service.  Bonds into the shared
    # library need nothing: it is copied into every service.  A sharable callee
    # called from a shared module or from several domains joins the shared library.
    bonds = [(list(g), r) for g, r in bonds]
    if c.auto_shared:
        notes.extend(_share_bonded(bonds, atoms, atom_of, atom_pin, shared_atoms, own_tables, dependencies, keys, why,
                                   domain_modules | set(route_modules)))
    for group, reason in bonds:
        bonded = sorted({atom_of[m] for m in group if m in atom_of and atom_of[m] not in shared_atoms})
        if len(bonded) < 2:
            continue
        pins = sorted({atom_pin[r] for r in bonded if r in atom_pin})
        if len(pins) > 1:
            raise ConstraintError(
                f"{origin}: {reason}, but those modules are pinned to different services: {', '.join(pins)}"
            )
        keep = bonded[0]
        for r in bonded[1:]:
            for m in atoms.pop(r):
                atoms[keep].append(m)
                atom_of[m] = keep
            atom_pin.pop(r, None)
        atoms[keep].sort()
        if pins:
            atom_pin[keep] = pins[0]
        for m in group:
            if m in atom_of:
                why.setdefault(m, reason)
    shared = sorted(m for r in shared_atoms for m in atoms[r])
    active = [r for r in atoms if r not in shared_atoms]
    if not active:
        raise ConstraintError(f"{origin}: every module ended up in the shared library; nothing left to make services of")

    # 3. communities
    q = _quotient(coupling, {r: atoms[r] for r in active})
    comms = _attach_isolated(q, _communities(q, method, seed), atoms, keys, evidence)

    # 4. pins: split communities holding atoms pinned to different services
    fixed_comms: list[list[str]] = []
    for comm in comms:
        pins = sorted({atom_pin[a] for a in comm if a in atom_pin})
        if len(pins) <= 1:
            fixed_comms.append(comm)
            continue
        anchor = {p: [a for a in comm if atom_pin.get(a) == p] for p in pins}
        for a in comm:
            if a in atom_pin:
                continue
            scores = {p: sum(q[a][x]["weight"] for x in anchor[p] if q.has_edge(a, x)) for p in pins}
            best = sorted(pins, key=lambda p: (-scores[p], p))[0]
            anchor[best].append(a)
        fixed_comms.extend(sorted(v) for v in anchor.values())
    comms = sorted((sorted(x) for x in fixed_comms), key=lambda x: x[0])

    # 5. target number of services
    if c.services is not None:
        while len(comms) > c.services:
            merged = _merge_once(q, comms, atom_pin)
            if merged is None:
                notes.append(f"kept {len(comms)} services: the remaining clusters are pinned to different services")
                break
            comms = merged
        while len(comms) < c.services:
            best, best_q = None, None
            for i, comm in enumerate(comms):
                parts = _split_in_two(q, comm, method, seed)
                if not parts or len(parts) < 2:
                    continue
                cand = [x for k, x in enumerate(comms) if k != i] + parts
                pins_ok = all(len({atom_pin[a] for a in p if a in atom_pin}) <= 1 for p in parts)
                if not pins_ok:
                    continue
                score = _modularity_of(q, cand)
                if best_q is None or score > best_q + 1e-12:
                    best, best_q = cand, score
            if best is None:
                notes.append(
                    f"only {len(comms)} services possible: every cluster is a single cycle, pin or together group"
                )
                break
            comms = sorted((sorted(x) for x in best), key=lambda x: x[0])

    # 5b. no service above max_share of the modules: split the largest while it splits
    # migrations are not counted by the size cap: they follow their tables afterwards (propose), so a
    # cluster over the cap without them ends over it with them
    total = sum(1 for m in modules if not is_migration_module(m))
    if c.services is None and max_share is not None:
        substance = domain_modules | {m for m, n in (evidence or {}).items() if n}
        while True:
            sizes = [sum(1 for a in comm for m in atoms[a] if not is_migration_module(m)) for comm in comms]
            i = max(range(len(comms)), key=lambda k: (sizes[k], -k))
            # the domains it holds: keys of its app modules and of modules serving routes or
            # owning tables (a lone wiring module, e.g. a project urlconf, is not a second domain)
            held = ({keys.get(m, m) for a in comms[i] for m in atoms[a]
                     if m in substance or not substance} if keys is not None else {""})
            if sizes[i] <= max_share * total or len(held) < 2 or len({atom_pin[a] for a in comms[i] if a in atom_pin}) > 1:
                break  # small enough, one domain only (a big app is one service), or pinned
            parts = _split_in_two(q, comms[i], method, seed)
            if not parts or len(parts) < 2 or any(len({atom_pin[a] for a in p if a in atom_pin}) > 1 for p in parts):
                notes.append(f"a service holds {sizes[i]} of {total} modules: its atoms (import cycles, bonds) do not split further")
                break
            notes.append(f"split a cluster of {sizes[i]} of {total} modules (over {max_share:.0%}) in two")
            comms = sorted((sorted(x) for x in [x for k, x in enumerate(comms) if k != i] + parts), key=lambda x: x[0])

    # 5c. libraries: a cluster holding no route module, no table and no module of an app serves no
    # domain of its own (``utils``, ``configs``, a command line): it goes with the service it is
    # most coupled to, while that stays under the size cap
    if c.services is None and keys is not None:
        substance = domain_modules | own_tables | set(route_modules) | {m for m, n in (evidence or {}).items() if n}
        if substance:
            cap = None if max_share is None else max_share * total
            comms = fold_libraries(q, comms, atoms, atom_pin, substance, cap, why)

    # 6. names
    clusters = [sorted(m for a in comm for m in atoms[a]) for comm in comms]
    fixed: dict[int, str] = {}
    for i, comm in enumerate(comms):
        pins = {atom_pin[a] for a in comm if a in atom_pin}
        if pins:
            fixed[i] = pins.pop()
    if keys is not None:
        names = name_by_domains(clusters, keys, labels or {}, fixed, evidence, generic_keys)
    else:
        names = name_clusters(clusters, fixed, root_modules=[m for cl in clusters for m in cl])
    assignment = {m: names[i] for i, cl in enumerate(clusters) for m in cl}
    return Clustering(
        assignment=dict(sorted(assignment.items())),
        shared=shared,
        why=dict(sorted(why.items())),
        notes=notes,
        method=method,
    )
