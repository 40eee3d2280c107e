"""Turn scanned files into facts: cached, in parallel across CPU cores.

Files are read and hashed in this process; only cache misses are parsed, by a
process pool when there are enough of them to pay for it.  ``progress`` is
called with (done, total) so the CLI can draw a bar.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from decompose.analysis.cache import FactsCache, content_key
from decompose.analysis.facts import ModuleFacts, SkippedFile
from decompose.analysis.scan import SourceFile

#: Below this many cache misses a process pool costs more than it saves.
PARALLEL_THRESHOLD = 48

Progress = Callable[[int, int], None]


@dataclass
class ExtractStats:
    files: int = 0
    parsed: int = 0
    cached: int = 0
    workers: int = 1


@dataclass
class Extraction:
    facts: list[ModuleFacts]
    skipped: list[SkippedFile]
    stats: ExtractStats = field(default_factory=ExtractStats)
    keys: dict[str, str] = field(default_factory=dict)  # module -> content key


def _parse_one(job: tuple[bytes, str, str, bool]) -> tuple[ModuleFacts | None, str | None]:
    # Imported here: a warm run with nothing to parse never pays for importing LibCST.
    from decompose.analysis.parse import parse_safely

    return parse_safely(*job)


def _parse_batch(jobs: list[tuple[bytes, str, str, bool]]) -> list[tuple[ModuleFacts | None, str | None]]:
    return [_parse_one(j) for j in jobs]


CRASH_REASON = "the parser crashed on this file (LibCST's native parser died, e.g. on an extremely deep expression)"


def _parse_isolated(job: tuple[bytes, str, str, bool]) -> tuple[ModuleFacts | None, str | None]:
    """Parse one file in a single-use process, so a native crash loses only this file."""
    with ProcessPoolExecutor(max_workers=1, mp_context=_pool_context()) as pool:
        try:
            return pool.submit(_parse_batch, [job]).result()[0]
        except BrokenProcessPool:
            return None, CRASH_REASON


def _pool_context():
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def extract(
    files: Iterable[SourceFile],
    cache: FactsCache | None,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> Extraction:
    files = list(files)
    total = len(files)
    stats = ExtractStats(files=total)
    skipped: list[SkippedFile] = []
    results: dict[str, ModuleFacts] = {}
    keys: dict[str, str] = {}
    pending: list[tuple[SourceFile, str, bytes]] = []

    for f in files:
        try:
            data = f.path.read_bytes()
        except OSError as exc:
            skipped.append(SkippedFile(f.relpath, f"cannot read: {exc.strerror or exc}"))
            continue
        key = content_key(f.module, f.is_package, f.relpath, data)
        keys[f.module] = key
        pending.append((f, key, data))

    done = 0
    hits = cache.get_many([k for _, k, _ in pending]) if cache is not None else {}
    misses: list[tuple[SourceFile, str, bytes]] = []
    for f, key, data in pending:
        if key in hits:
            facts, error = hits[key]
            stats.cached += 1
            if facts is not None:
                results[f.module] = facts
            else:
                skipped.append(SkippedFile(f.relpath, error or "unparsable"))
            done += 1
        else:
            misses.append((f, key, data))
    if progress:
        progress(done, total)

    def record(f: SourceFile, key: str, outcome: tuple[ModuleFacts | None, str | None]) -> None:
        facts, error = outcome
        stats.parsed += 1
        if facts is not None:
            results[f.module] = facts
        else:
            skipped.append(SkippedFile(f.relpath, error or "unparsable"))
        if cache is not None:
            cache.put(key, facts, error)

    if misses:
        from decompose.analysis import parse  # noqa: F401 - load LibCST once, before forking workers

    workers = min(jobs or default_jobs(), max(1, len(misses) // 16))
    if workers > 1 and len(misses) >= PARALLEL_THRESHOLD:
        stats.workers = workers
        # Batches of ~files/(workers*8) keep every core busy and the bar moving.
        size = max(4, len(misses) // (workers * 8))
        batches = [misses[i : i + size] for i in range(0, len(misses), size)]
        orphans: list[tuple[SourceFile, str, bytes]] = []
        with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
            futures = [
                (batch, pool.submit(_parse_batch, [(d, f.module, f.relpath, f.is_package) for f, _, d in batch]))
                for batch in batches
            ]
            for batch, fut in futures:
                try:
                    outcomes = fut.result()
                except BrokenProcessPool:
                    # A worker died (a native crash): every unfinished batch is lost with it.
                    orphans.extend(batch)
                    continue
                for (f, key, _), outcome in zip(batch, outcomes):
                    record(f, key, outcome)
                done += len(batch)
                if progress:
                    progress(done, total)
        # Re-parse what the dead pool lost, one isolated process per file, so
        # only the file that crashes the parser is skipped.
        for f, key, data in orphans:
            record(f, key, _parse_isolated((data, f.module, f.relpath, f.is_package)))
            done += 1
            if progress:
                progress(done, total)
    else:
        for f, key, data in misses:
            record(f, key, _parse_one((data, f.module, f.relpath, f.is_package)))
            done += 1
            if progress and (done % 25 == 0 or done == total):
                progress(done, total)
    if cache is not None:
        cache.commit()
    facts = [results[m] for m in sorted(results)]
    skipped.sort(key=lambda s: s.path)
    return Extraction(facts=facts, skipped=skipped, stats=stats, keys=keys)
