"""Turn scanned files into facts: cached, in parallel across CPU cores, bounded per file.

Files are read and hashed in this process; only cache misses are parsed, by
worker processes (one per core when there are enough misses to pay for it,
else one).  ``progress`` is called with (done, total) so the CLI can draw a bar.

Hostile input is bounded per file (:class:`Limits`, from ``[tool.decompose]``):

* a file larger than ``max_file_bytes`` is skipped before it is read;
* a file whose parse runs longer than ``parse_timeout`` seconds is skipped: its
  worker is killed and replaced, and the rest of that worker's batch is
  parsed by the others;
* a file that kills its worker (a native crash in LibCST) is skipped with
  :data:`CRASH_REASON`; the worker is replaced the same way.

Workers die with the process that started them (``PR_SET_PDEATHSIG`` on Linux,
and a watchdog thread polling ``os.getppid()`` everywhere), so a ``kill -9``
of ``decompose analyze`` leaves no parser behind.  Parse results are committed
to the cache every few seconds, so a killed run keeps the work it did.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from decompose.analysis.cache import FactsCache, content_key
from decompose.analysis.facts import ModuleFacts, SkippedFile
from decompose.analysis.scan import SourceFile

#: Below this many cache misses one worker parses them all.
PARALLEL_THRESHOLD = 48
#: Parse results are written to the cache at least this often (seconds) ...
COMMIT_INTERVAL = 2.0
#: ... or after this many results, whichever comes first.
COMMIT_EVERY = 200

Progress = Callable[[int, int], None]
Job = tuple[bytes, str, str, bool]  # source, module, relpath, is_package
Outcome = tuple[ModuleFacts | None, str | None]

CRASH_REASON = "the parser crashed on this file (LibCST's native parser died, e.g. on an extremely deep expression)"
_TIMEOUT_RE = re.compile(r"^parse exceeded ([0-9.]+) s\b")


@dataclass(frozen=True)
class Limits:
    """Per-file bounds; 0 switches a bound off."""

    max_file_bytes: int = 2_000_000
    parse_timeout: float = 20.0


def timeout_reason(seconds: float) -> str:
    return f"parse exceeded {seconds:g} s (parse_timeout in [tool.decompose])"


def size_reason(size: int, limit: int) -> str:
    return f"{size:,} bytes, larger than max_file_bytes ({limit:,}); not parsed"


@dataclass
class ExtractStats:
    files: int = 0
    parsed: int = 0
    cached: int = 0
    workers: int = 1
    replaced: int = 0  # workers killed (timeout) or dead (crash) and replaced


@dataclass
class Extraction:
    facts: list[ModuleFacts]
    skipped: list[SkippedFile]
    stats: ExtractStats = field(default_factory=ExtractStats)
    keys: dict[str, str] = field(default_factory=dict)  # module -> content key


def _parse_one(job: Job) -> Outcome:
    # Imported here: a warm run with nothing to parse never pays for importing LibCST.
    from decompose.analysis.parse import parse_safely

    return parse_safely(*job)


# --------------------------------------------------------------------------- workers


def _die_with_parent(parent: int) -> None:
    """Make this worker exit as soon as ``parent`` is gone (even while it is blocked)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            pass
    if os.getppid() != parent:  # died before the line above took effect
        os._exit(0)

    def watchdog() -> None:  # the portable fallback (macOS, BSDs, a failed prctl)
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watchdog, name="decompose-parent-watchdog", daemon=True).start()


def _worker_main(conn, parent: int) -> None:
    """Parse the jobs of each batch received, sending one (index, outcome) per file."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        while True:
            batch = conn.recv()
            if batch is None:
                return
            for index, job in batch:
                conn.send((index, _parse_one(job)))
    except (EOFError, OSError, KeyboardInterrupt):
        return


def _pool_context():
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


class _Worker:
    def __init__(self, ctx) -> None:
        ours, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(theirs, os.getpid()), daemon=True, name="decompose-parser")
        self.proc.start()
        theirs.close()
        self.conn = ours
        self.queue: deque[int] = deque()  # job indices sent and not answered, in order
        self.since = 0.0  # when the head of the queue started parsing

    def send(self, indices: list[int], jobs: list[Job]) -> None:
        self.queue.extend(indices)
        self.since = time.monotonic()
        self.conn.send([(i, jobs[i]) for i in indices])

    def kill(self) -> None:
        try:
            self.proc.kill()
        except (OSError, AttributeError):  # pragma: no cover - already gone
            pass
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        # An idle worker holds nothing worth a clean exit: SIGKILL is immediate,
        # a polite shutdown costs ~20 ms of interpreter teardown per worker.
        self.kill()


def _run_pool(
    jobs: list[Job],
    workers: int,
    timeout: float,
    on_result: Callable[[int, Outcome], None],
    stats: ExtractStats,
) -> None:
    """Parse ``jobs`` in ``workers`` processes, calling ``on_result(index, outcome)``
    for each, in completion order.  A worker past ``timeout`` on one file, or one
    that dies, is replaced; that file gets its reason, its batch-mates are re-queued."""
    ctx = _pool_context()
    pending: deque[int] = deque(range(len(jobs)))
    size = max(4, min(32, len(jobs) // (workers * 8)))
    pool: list[_Worker] = []
    try:
        pool = [_Worker(ctx) for _ in range(workers)]
        while pending or any(w.queue for w in pool):
            for n, w in enumerate(pool):
                if not w.queue and pending:
                    batch = [pending.popleft() for _ in range(min(size, len(pending)))]
                    try:
                        w.send(batch, jobs)
                    except OSError:  # it died idle (killed from outside): replace it, keep the batch
                        w.queue.clear()
                        pending.extendleft(reversed(batch))
                        w.kill()
                        stats.replaced += 1
                        pool[n] = _Worker(ctx)
                        pool[n].send([pending.popleft() for _ in range(len(batch))], jobs)
            busy = [w for w in pool if w.queue]
            now = time.monotonic()
            wait_for = None
            if timeout:
                wait_for = max(0.0, min(w.since + timeout for w in busy) - now)
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=wait_for)
            for w in busy:
                lost: str | None = None
                if w.conn in ready or w.proc.sentinel in ready:
                    try:
                        while w.queue and w.conn.poll():
                            index, outcome = w.conn.recv()
                            w.queue.popleft()
                            w.since = time.monotonic()
                            on_result(index, outcome)
                    except (EOFError, OSError):
                        lost = CRASH_REASON
                    if w.queue and lost is None and not w.proc.is_alive():
                        lost = CRASH_REASON
                if lost is None and w.queue and timeout and time.monotonic() - w.since > timeout:
                    lost = timeout_reason(timeout)
                if lost is None:
                    continue
                # The file at the head of the queue killed (or stalled) this worker.
                culprit = w.queue.popleft()
                pending.extendleft(reversed(w.queue))
                w.queue.clear()
                w.kill()
                stats.replaced += 1
                pool[pool.index(w)] = _Worker(ctx)
                on_result(culprit, (None, lost))
    finally:
        for w in pool:
            if w.queue:
                w.kill()
            else:
                w.stop()


_warm = False


def _warm_up() -> None:
    """Import LibCST and parse one tiny module in this process, so every forked
    worker starts warm (the first parse of a process costs ~30 ms)."""
    global _warm
    if not _warm:
        from decompose.analysis.parse import parse_safely

        parse_safely(b"import os\n", "decompose_warm_up", "decompose_warm_up.py", False)
        _warm = True


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _cached_timeout_is_stale(error: str | None, limits: Limits) -> bool:
    """A cached timeout counts only while the limit is no higher than when it happened."""
    m = _TIMEOUT_RE.match(error or "")
    return bool(m) and (not limits.parse_timeout or limits.parse_timeout > float(m.group(1)))


def extract(
    files: Iterable[SourceFile],
    cache: FactsCache | None,
    jobs: int | None = None,
    progress: Progress | None = None,
    limits: Limits | None = None,
) -> Extraction:
    limits = limits or Limits()
    files = list(files)
    total = len(files)
    stats = ExtractStats(files=total)
    skipped: list[SkippedFile] = []
    results: dict[str, ModuleFacts] = {}
    keys: dict[str, str] = {}
    pending: list[tuple[SourceFile, str, bytes]] = []
    done = 0

    for f in files:
        try:
            if limits.max_file_bytes:
                size = os.stat(f.path).st_size
                if size > limits.max_file_bytes:
                    skipped.append(SkippedFile(f.relpath, size_reason(size, limits.max_file_bytes)))
                    done += 1
                    continue
            data = f.path.read_bytes()
        except OSError as exc:
            skipped.append(SkippedFile(f.relpath, f"cannot read: {exc.strerror or exc}"))
            done += 1
            continue
        if limits.max_file_bytes and len(data) > limits.max_file_bytes:  # grew since the stat
            skipped.append(SkippedFile(f.relpath, size_reason(len(data), limits.max_file_bytes)))
            done += 1
            continue
        key = content_key(f.module, f.is_package, f.relpath, data)
        keys[f.module] = key
        pending.append((f, key, data))

    hits = cache.get_many([k for _, k, _ in pending]) if cache is not None else {}
    misses: list[tuple[SourceFile, str, bytes]] = []
    for f, key, data in pending:
        if key in hits and not _cached_timeout_is_stale(hits[key][1], limits):
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

    last_commit = time.monotonic()
    uncommitted = 0
    shown = 0.0

    def record(i: int, outcome: Outcome) -> None:
        nonlocal done, last_commit, uncommitted, shown
        f, key, _ = misses[i]
        facts, error = outcome
        stats.parsed += 1
        if facts is not None:
            results[f.module] = facts
        else:
            skipped.append(SkippedFile(f.relpath, error or "unparsable"))
        done += 1
        if cache is not None:
            cache.put(key, facts, error)
            uncommitted += 1
            now = time.monotonic()
            if uncommitted >= COMMIT_EVERY or now - last_commit >= COMMIT_INTERVAL:
                cache.commit()  # a killed run keeps what it parsed so far
                last_commit, uncommitted = now, 0
        if progress:
            now = time.monotonic()
            if now - shown >= 0.1 or done == total:
                shown = now
                progress(done, total)

    if misses:
        _warm_up()  # load LibCST and warm it once, before forking workers

        workers = min(jobs or default_jobs(), max(1, len(misses) // 16))
        if len(misses) < PARALLEL_THRESHOLD:
            workers = 1
        stats.workers = workers
        _run_pool(
            [(d, f.module, f.relpath, f.is_package) for f, _, d in misses],
            workers,
            limits.parse_timeout,
            record,
            stats,
        )
    if cache is not None:
        cache.commit()
    if progress:
        progress(done, total)
    facts = [results[m] for m in sorted(results)]
    skipped.sort(key=lambda s: s.path)
    return Extraction(facts=facts, skipped=skipped, stats=stats, keys=keys)
