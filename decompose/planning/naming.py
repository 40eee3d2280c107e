"""Service names for clusters (pure): DNS-1123 labels from the dominant package or domain.

After the dominant package of each cluster (the package right below the common
root, ``shop.orders.*`` -> ``orders``), or with domains (:mod:`decompose.planning.domains`)
after the domain holding most of its modules; a clash is resolved with the next
package level (``orders-pricing``) or a number, never with ``tests``.  Pinned
clusters take the pin's name.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping


def dns_label(text: str) -> str:
    """``text`` as a DNS-1123 label: lower case, ``-`` for the rest, a letter first, 63 at most."""
    s = re.sub(r"[^a-z0-9-]+", "-", text.lower().replace("_", "-")).strip("-")
    s = re.sub(r"-{2,}", "-", s)
    if not s or not s[0].isalpha():
        s = f"svc-{s}".rstrip("-")
    return s[:63].rstrip("-")


def _root_depth(modules: list[str]) -> int:
    """Number of leading dotted components every module shares (the common root package)."""
    if not modules:
        return 0
    parts = [m.split(".") for m in modules]
    if len(parts) == 1:
        return len(parts[0]) - 1
    depth = 0
    for comps in zip(*parts):
        if len(set(comps)) != 1:
            break
        depth += 1
    return depth


def _component(module: str, depth: int) -> str:
    comps = module.split(".")
    return comps[depth] if depth < len(comps) else comps[-1]


def name_clusters(clusters: list[list[str]], fixed: Mapping[int, str] | None = None, root_modules: list[str] | None = None) -> list[str]:
    """DNS-1123 names after each cluster's dominant package; ``fixed`` names (pins) are kept."""
    fixed = dict(fixed or {})
    every = sorted(root_modules if root_modules is not None else [m for c in clusters for m in c])
    depth = _root_depth(every)
    names: list[str | None] = [fixed.get(i) for i in range(len(clusters))]
    taken = {n for n in names if n}
    base: dict[int, str] = {}
    for i, c in enumerate(clusters):
        if names[i]:
            continue
        # A package's weight is its distinct direct children in the cluster: a
        # sub-package (plugins, say) counts once, however many modules it holds.
        heads = {".".join(m.split(".")[: depth + 2]) for m in c}
        counts = Counter(_component(m, depth) for m in heads)
        base[i] = dns_label(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0])
    by_base: dict[str, list[int]] = defaultdict(list)
    for i, b in base.items():
        by_base[b].append(i)
    for b, idxs in sorted(by_base.items()):
        idxs.sort(key=lambda i: (-len(clusters[i]), clusters[i][0]))
        for rank, i in enumerate(idxs):
            if rank == 0 and b not in taken:
                names[i] = b
                taken.add(b)
                continue
            inside = [m for m in clusters[i] if dns_label(_component(m, depth)) == b and len(m.split(".")) > depth + 1]
            sub = Counter(_component(m, depth + 1) for m in inside or clusters[i])
            candidate = None
            for comp, _ in sorted(sub.items(), key=lambda kv: (-kv[1], kv[0])):
                cand = dns_label(f"{b}-{comp}")
                if cand not in taken and cand != b:
                    candidate = cand
                    break
            n = 2
            while candidate is None or candidate in taken:
                candidate = dns_label(f"{b}-{n}")
                n += 1
            names[i] = candidate
            taken.add(candidate)
    return [n or "" for n in names]


_TEST_WORDS = frozenset({"tests", "test", "testing", "conftest"})


def name_by_domains(
    clusters: list[list[str]],
    keys: Mapping[str, str],
    labels: Mapping[str, str],
    fixed: Mapping[int, str] | None = None,
    evidence: Mapping[str, int] | None = None,
    generic: Iterable[str] = (),
) -> list[str]:
    """Names from the domains each cluster holds (:mod:`decompose.planning.domains`), never numbered.

    A cluster is named after its dominant domain: the one declaring the most
    tables and routes in it (``evidence``: module -> count), then the one with
    the most modules, then by name; a
    name another cluster took first (larger clusters choose first) is
    extended with the next domains (``token-policy``), then with the
    package of its first module.  ``fixed`` names (pins) are kept.
    """
    fixed = dict(fixed or {})
    generic = set(generic)
    names: list[str] = [fixed.get(i, "") for i in range(len(clusters))]
    taken = {n for n in names if n}
    order = sorted((i for i in range(len(clusters)) if not names[i]), key=lambda i: (-len(clusters[i]), clusters[i][0]))
    for i in order:
        counts = Counter(keys.get(m, m) for m in clusters[i])
        weight = Counter({k: 0 for k in counts})
        for m in clusters[i]:
            weight[keys.get(m, m)] += (evidence or {}).get(m, 0)
        ranked = [k for k, _ in sorted(counts.items(), key=lambda kv: (-weight[kv[0]], -kv[1], kv[0]))]
        # a technical layer (models, views, migrations ...) names a service only when nothing else can
        ranked = [k for k in ranked if k not in generic] + [k for k in ranked if k in generic]
        words = [dns_label(labels.get(k, k.rpartition(".")[2])) for k in ranked]
        words = [w for w in words if w and not (set(w.split("-")) & _TEST_WORDS)] or [dns_label(clusters[i][0].replace(".", "-"))]
        candidates = ["-".join(words[:n]) for n in range(1, min(len(words), 3) + 1)]
        # then the domain and the part of it the cluster holds most (``accounts-migrations``)
        top = ranked[0] if ranked else ""
        leaf = labels.get(top, top.rpartition(".")[2])
        below = Counter(
            p[p.index(leaf) + 1] for m in clusters[i] if keys.get(m, m) == top
            for p in [m.split(".")] if leaf in p[:-1]
        )
        candidates += [f"{words[0]}-{dns_label(x)}" for x, _ in sorted(below.items(), key=lambda kv: (-kv[1], kv[0]))]
        candidates += [dns_label(f"{words[0]}-{m.replace('.', '-')}") for m in clusters[i]]
        name = next((dns_label(x) for x in candidates if dns_label(x) not in taken), None)
        if name is None:  # cannot happen: module paths are unique; still never loop
            name = dns_label(clusters[i][0].replace(".", "-"))
        names[i] = name
        taken.add(name)
    return names
