"""``decompose check``: the incremental coupling guard behind the pre-commit hook.

This module owns :func:`run_check`, the wiring of the adapters around the
pure core, and is the entry point the command line and the benchmark import.
The guard's other modules, each with its own seam:

* pure: :mod:`~decompose.guard.rules` (the rules and findings),
  :mod:`~decompose.guard.graphstate` (the incremental module graph),
  :mod:`~decompose.guard.boundaries` (owners and interfaces from the plan),
  :mod:`~decompose.guard.evaluation` (before/after in, findings out),
  :mod:`~decompose.guard.report` (the result, JSON and SARIF);
* adapters: :mod:`~decompose.guard.snapshot` (the persisted graph state in
  ``<root>/.decompose_cache/check-snapshot.marshal`` and the plan cache),
  :mod:`~decompose.guard.gather` (the facts cache, the parser, keeping the
  snapshot current), :mod:`~decompose.guard.git` (the baseline), wired here so
  that a warm check of one changed file re-parses that file only.

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

Exit status: 1 when any ``error`` finding exists, 0 otherwise (warnings and
notes never fail), 2 for bad input (raised as :class:`CheckError`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from decompose.analysis.cache import content_key
from decompose.analysis.facts import ModuleFacts
from decompose.config import Config
from decompose.guard.errors import CheckError
from decompose.guard.evaluation import baseline, evaluate
from decompose.guard.gather import Facts, cold_state, names_new_submodule, refresh, rescan
from decompose.guard.git import git_blobs, git_commit, git_toplevel
from decompose.guard.graphstate import Edge, GraphState, Imp, ModuleInfo, Use, compact_imports, compact_uses
from decompose.guard.report import CheckResult, to_json_dict, to_sarif_dict
from decompose.guard.snapshot import SNAPSHOT_NAME, fingerprint, load_plan_cached, load_snapshot, save_snapshot
from decompose.planning.plan import Plan

#: What the command line and the benchmark import from here; everything else from the owning module.
__all__ = ["CheckError", "CheckResult", "load_plan_cached", "run_check", "to_json_dict", "to_sarif_dict"]

#: A checked module -> its (imports, uses) at the base, or None where it did not exist there.
Base = dict[str, tuple[list[Imp], list[Use]] | None]


def _rel_to_root(root: Path, name: str, cwd: Path) -> str | None:
    p = Path(name)
    p = p if p.is_absolute() else cwd / p
    for cand in (Path(os.path.abspath(p)), p.resolve()):
        try:
            return cand.relative_to(root).as_posix()
        except ValueError:
            continue
    return None


def _classify_files(root: Path, files: list[str], cwd: Path) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """FILES as (.py relpaths under root, folders as relpath prefixes, (name, reason) of those not checked).

    Raises :class:`CheckError` for a name that does not exist: a typo must not give a green check.
    """
    skipped: list[tuple[str, str]] = []
    wanted: list[str] = []  # relpaths under root
    folders: list[str] = []  # a folder checks the modules below it
    for name in files:
        if not (cwd / name).exists():
            raise CheckError(f"{name}: no such file")
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
    return wanted, folders, skipped


def _base_versions(
    root: Path,
    state: GraphState,
    checked: list[str],
    base_ref: str | None,
    previous: tuple[dict[str, ModuleInfo], dict[str, list[Imp]], dict[str, list[Use]]] | None,
    facts: Facts,
) -> tuple[str, Base]:
    """(description of the baseline, the checked modules' versions at the base).

    The base is ``base_ref`` (default ``HEAD``) in a git work tree, else
    ``previous`` (the state the previous check saw; None on a first check,
    where nothing is claimed changed).  Modules left out of the mapping are
    unchanged at the base.
    """
    base: Base = {}
    top = git_toplevel(root)
    if top is None:
        if base_ref is not None:
            raise CheckError(f"{root}: --base-ref {base_ref} needs a git work tree")
        # Outside git the baseline is what the previous check saw; on a first check
        # there is nothing to compare with, so no change (and no new cycle) is claimed.
        if previous is None:
            return "none (first check outside git)", base
        prev_info, prev_imports, prev_uses = previous
        for m in checked:
            if m not in prev_info:
                base[m] = None
            elif prev_info[m].key != state.info[m].key:
                base[m] = (prev_imports[m], prev_uses.get(m, []))
        return "the previous check", base
    ref = base_ref or "HEAD"
    commit = git_commit(top, ref)
    blobs: dict[str, bytes | None] = {}
    if commit is None:
        if base_ref is not None:
            raise CheckError(f"{top}: --base-ref {base_ref!r} is not a commit of this repository")
        desc = "HEAD (no commits yet: every checked file is new)"
    else:
        desc = f"{ref} ({commit[:12]})"
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
    return desc, base


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
    wanted, folders, skipped = _classify_files(root, files or [], cwd)

    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(root)
    snap_file = cache_dir / SNAPSHOT_NAME
    fp = fingerprint(config)
    facts = Facts(cache_dir)
    stats: dict[str, Any] = {"snapshot": "warm", "rehashed": 0, "scanned": False}
    try:
        loaded = load_snapshot(snap_file, fp)
        lap("snapshot_load")
        previous = None
        if loaded is None:
            stats["snapshot"] = "cold"
            stats["scanned"] = True
            state = cold_state(root, config, facts)
            dirty = True
            lap("cold_build")
        else:
            state, written = loaded
            # the state the previous check saw: the baseline outside git
            previous = dict(state.info), dict(state.imports), dict(state.uses)
            dirty, _ = refresh(root, state, written, facts, stats)
            lap("refresh")

        def modules_of(rels: list[str]) -> list[str]:
            by_path = {i.relpath: m for m, i in state.info.items()}
            return [by_path[r] for r in rels if r in by_path]

        if folders:
            if not stats["scanned"]:  # new files below the folders
                stats["scanned"] = True
                dirty |= rescan(root, state, config, facts)
            known = sorted(i.relpath for i in state.info.values())
            wanted += [r for r in known if any(r.startswith(f) for f in folders) and r not in wanted]
        if not stats["scanned"] and len(modules_of(wanted)) < len(wanted):
            stats["scanned"] = True  # a file the snapshot does not know: a new module, or excluded
            dirty |= rescan(root, state, config, facts)
            lap("scan")
        checked = sorted(set(state.info) if files is None else set(modules_of(wanted)))
        if not stats["scanned"] and (
            any(state.unresolved.get(m) for m in checked) or names_new_submodule(root, state, checked)
        ):
            stats["scanned"] = True  # an unresolved import may name a module created since the snapshot
            dirty |= rescan(root, state, config, facts)
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
        if files is None and base_ref is None:
            base_desc = "none (every module checked against an empty baseline)"
            before_out: dict[str, dict[str, Edge]] = {m: {} for m in state.info}
            absent = set(state.info)
        else:
            base_desc, base = _base_versions(root, state, checked, base_ref, previous, facts)
            before_out, absent = baseline(state, checked, base)
        lap("baseline")

        def facts_of(m: str) -> ModuleFacts | None:
            """Any module's facts (the facts cache; parsed on a miss), for the star imports the rules follow."""
            if m in checked_facts:
                return checked_facts[m]
            i = state.info.get(m)
            return None if i is None else facts.get([(i.key, None, m, i.relpath, i.is_package, root / i.relpath)])[i.key][0]

        ev = evaluate(state, before_out, absent, checked, checked_facts, plan, config,
                      absolute=files is None and base_ref is None, facts_of=facts_of)
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
