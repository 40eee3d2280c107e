"""Gathering facts for the check: the facts cache and parser, and keeping a snapshot current.

This module owns the check's reads of the tree: :class:`Facts` (module facts
by content key, from the analysis SQLite cache first and the parser on a
miss, both loaded lazily so a warm check that parses nothing imports
neither), :func:`cold_state` (a whole-tree scan into a new
:class:`~decompose.guard.graphstate.GraphState`), :func:`refresh` (bring a
loaded snapshot up to date by stat, then content key), :func:`rescan`
(reconcile its module set with a full scan) and
:func:`names_new_submodule` (whether a scan is needed for a new submodule).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from decompose.analysis.cache import content_key
from decompose.analysis.facts import ModuleFacts
from decompose.analysis.resolve import bare as _bare
from decompose.config import Config
from decompose.guard.graphstate import GraphState, ModuleInfo

#: A file whose mtime is this close to the snapshot's write time is re-hashed
#: even when its stat matches (it may have changed within the clock's grain).
RACY_NS = 2_000_000_000

#: What :meth:`Facts.get` is asked for: (content key, the bytes or None to read
#: them from path, module, relpath, is_package, path).
Job = tuple


class Facts:
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

    def get(self, jobs: list[Job]) -> dict[str, tuple[ModuleFacts | None, str | None]]:
        """Content key -> (facts, None) or (None, why not) for each :data:`Job`."""
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


def file_stat(path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of ``path``, or None when it cannot be stat-ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def cold_state(root: Path, config: Config, facts: Facts) -> GraphState:
    """Scan and parse the whole tree (through the facts cache, in parallel like ``analyze``)."""
    from decompose.analysis.extract import extract
    from decompose.analysis.scan import scan

    scanned = scan(root, exclude=config.exclude, source_roots=config.source_roots)
    stat = {f.module: file_stat(f.path) or (0, -1) for f in scanned.files}  # before reading, see add_files
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


def add_files(root: Path, state: GraphState, files, facts: Facts) -> list[str]:
    """Read, hash and get facts for ``files`` (SourceFile); put them into ``state``. Returns modules added/updated."""
    jobs = []
    meta = []
    for f in files:
        st = file_stat(f.path)  # before reading: a change after this is seen by the next check
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


def refresh(root: Path, state: GraphState, written: int, facts: Facts, stats: dict) -> tuple[bool, bool]:
    """Bring a loaded snapshot up to date with the files on disk (by stat, then content key).

    Returns (anything changed, the module set changed).
    """
    from decompose.analysis.scan import SourceFile

    changed: list[SourceFile] = []
    gone: list[str] = []
    dirty = False
    for m, i in state.info.items():
        st = file_stat(root / i.relpath)
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
        st = file_stat(root / rel)
        if st is None:
            del state.skipped[rel]
            dirty = True
        elif m and st != (mtime, size):
            changed.append(SourceFile(root / rel, rel, m, is_pkg))
    for m in gone:
        state.remove(m)
    before = set(state.info)
    updated = add_files(root, state, changed, facts) if changed else []
    set_changed = bool(gone) or set(state.info) != before
    if set_changed:
        state.rebuild_edges()
    elif updated:
        state.rebuild_edges(updated)
    return dirty or bool(gone or changed), set_changed


def names_new_submodule(root: Path, state: GraphState, checked: list[str]) -> bool:
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


def rescan(root: Path, state: GraphState, config: Config, facts: Facts) -> bool:
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
    added = add_files(root, state, new, facts) if new else []
    if gone or added:
        state.rebuild_edges()
        return True
    return False
