"""Module-level state that diverges once a service runs as several replicas (pure).

The monolith ran in one process: a module-level dict used as a cache, a
counter rebound with ``global``, a memoised function reading the database
all had ONE copy.  Split into services with ``replicas`` > 1 (the prod
Kubernetes overlay and ``up --swarm`` default to
:data:`~decompose.planning.plan.DEFAULT_REPLICAS`), every replica holds its
own copy and the copies silently disagree.

:func:`findings` lists, per service with more than one replica, each such
state of the modules in its tree, from the analysis facts:

* ``global-write``: a function rebinds the name (``global x; x = ...``);
* ``mutated``: a function mutates a module-level list/dict/set in place
  (``CACHE[k] = v``, ``SEEN.add(x)``);
* ``memoised``: a function decorated with ``functools.lru_cache`` /
  ``functools.cache`` that uses the database (raw SQL in its body, or a use of
  a module that defines or queries tables).

Each finding names file:line and what to do; :func:`notes` renders one line per state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from decompose.analysis.facts import ModuleFacts

#: Decorators (as written, call arguments dropped) that memoise per process.
MEMOISERS = frozenset({"lru_cache", "functools.lru_cache", "cache", "functools.cache"})

ADVICE = {
    "global-write": ("move the value to the database or a cache service the replicas share "
                     "(or keep {service} at 1 replica: `replicas: 1` in decompose.yaml); per-process "
                     "setup built the same way in every replica (settings, an engine) is safe to keep"),
    "mutated": ("move the container to the database or a cache service the replicas share "
                "(or keep {service} at 1 replica: `replicas: 1` in decompose.yaml)"),
    "memoised": ("each replica caches its own copy and never sees another replica's writes: drop the cache, "
                 "or cache in a shared cache service with invalidation (or keep {service} at 1 replica: "
                 "`replicas: 1` in decompose.yaml)"),
}


def _module_of(target: str, known: Mapping[str, ModuleFacts]) -> str | None:
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        m = ".".join(parts[:i])
        if m in known:
            return m
    return None


def module_state(f: ModuleFacts, known: Mapping[str, ModuleFacts]) -> list[dict[str, Any]]:
    """The run-time module state of one module, sorted by line."""
    defined = {d.name: d for d in f.definitions}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for gw in f.global_writes:
        d = defined.get(gw.name)
        kind = "mutated" if d is not None and d.kind == "variable" and d.mutable else "global-write"
        key = (kind, gw.name)
        entry = out.setdefault(key, {"kind": kind, "module": f.module, "path": f.path, "name": gw.name,
                                     "line": d.line if d is not None else gw.line, "writers": []})
        entry["writers"].append(f"{gw.scope} (line {gw.line})")
    for d in f.definitions:
        if d.kind not in ("function", "async_function"):
            continue
        if not any(dec.split("(", 1)[0].strip() in MEMOISERS for dec in d.decorators):
            continue
        touches = [t.table for t in f.data if d.line <= t.line <= d.end_line]  # SQL/models in its body
        for u in f.uses:
            if u.scope == d.name:
                m = _module_of(u.target, known)
                if m is not None and known[m].data:
                    touches.extend(t.table for t in known[m].data)
        if not touches:
            continue
        out[("memoised", d.name)] = {"kind": "memoised", "module": f.module, "path": f.path, "name": d.name,
                                     "line": d.line, "writers": [], "tables": sorted(set(touches))}
    return sorted(out.values(), key=lambda e: (e["line"], e["name"], e["kind"]))


def findings(
    services: Mapping[str, Iterable[str]],
    replicas: Mapping[str, int],
    facts: Iterable[ModuleFacts],
) -> list[dict[str, Any]]:
    """Module state of every service with more than one replica (``services``: name -> modules in its tree)."""
    known = {f.module: f for f in facts}
    cache: dict[str, list[dict[str, Any]]] = {}
    out: list[dict[str, Any]] = []
    for name in sorted(services):
        n = replicas.get(name, 1)
        if n <= 1:
            continue
        for m in sorted(set(services[name])):
            if m not in known:
                continue
            if m not in cache:
                cache[m] = module_state(known[m], known)
            for e in cache[m]:
                out.append({**e, "service": name, "replicas": n, "where": f"{e['path']}:{e['line']}",
                            "advice": ADVICE[e["kind"]].format(service=name)})
    return out


def notes(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per state (the services that copy the same module share it), for the terminal, MIGRATION.md
    and ``notes``; :func:`findings` keeps one entry per service."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for e in entries:
        groups.setdefault((e["where"], e["name"], e["kind"]), []).append(e)
    out = []
    for (where, name, kind), es in sorted(groups.items()):
        e = es[0]
        what = {
            "global-write": f"module-level {name} rebound with `global` by {', '.join(e['writers'])}",
            "mutated": f"module-level container {name} mutated by {', '.join(e['writers'])}",
            "memoised": f"{name} memoised per process (lru_cache) and reads tables {', '.join(e.get('tables', []))}",
        }[kind]
        who = ", ".join(f"{x['service']} ({x['replicas']} replicas)" for x in es)
        advice = ADVICE[kind].format(service="the service" if len(es) > 1 else e["service"])
        out.append(f"replicas: {where} ({e['module']}): {what}; every replica of {who} has its own copy: {advice}")
    return out
