"""Bounded work per file: size and time limits, a stuck worker killed and replaced,
workers that die with their parent, and cache commits a killed run keeps.

Measured on this 2-core machine before the limits: a module of 50,000 chained
``+`` terms kept ``analyze`` busy for more than 5 minutes inside LibCST, a
5 MB module took 42 s and 3.5 GB; after ``kill -9`` of ``analyze`` its pool
workers stayed alive, and a rerun found nothing in the cache.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decompose.analysis.pipeline import analyze
from decompose.cli import app

REPO = Path(__file__).resolve().parent.parent


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def project(root: Path, n: int = 6, config: str = "") -> Path:
    write(root, "pkg/__init__.py", "")
    for i in range(n):
        write(root, f"pkg/m{i:03d}.py", f"import os\nX{i} = {i}\n")
    if config:
        write(root, "pyproject.toml", "[tool.decompose]\n" + config)
    return root


def chained_plus(terms: int = 50_000) -> str:
    return "x = " + " + ".join(["a"] * terms) + "\n"


def test_a_file_over_max_file_bytes_is_skipped_unread(tmp_path):
    root = project(tmp_path / "p", config="max_file_bytes = 10000\n")
    write(root, "pkg/huge.py", "X = 1\n" * 5000)  # 30,000 bytes
    r = CliRunner().invoke(app, ["analyze", str(root), "-q", "--no-cache"])
    assert r.exit_code == 1, r.stderr
    assert "skipped pkg/huge.py: 30,000 bytes, larger than max_file_bytes (10,000); not parsed" in r.stderr
    an = analyze(root, use_cache=False)
    assert "pkg.huge" not in an.facts_by_module and len(an.facts) == 7


def test_a_file_over_parse_timeout_is_skipped_and_the_run_continues(tmp_path):
    """The real pathological file: LibCST on 50,000 chained ``+`` (>5 min before)."""
    root = project(tmp_path / "p", config="parse_timeout = 2\n")
    write(root, "pkg/chain.py", chained_plus())
    t0 = time.monotonic()
    r = CliRunner().invoke(app, ["analyze", str(root), "-q", "--no-cache"])
    elapsed = time.monotonic() - t0
    assert r.exit_code == 1, r.stderr
    assert "skipped pkg/chain.py: parse exceeded 2 s (parse_timeout in [tool.decompose])" in r.stderr
    assert elapsed < 30, elapsed
    import multiprocessing

    assert multiprocessing.active_children() == []  # the stuck worker was killed, not left behind


def _stall_one(monkeypatch, module: str, seconds: float) -> None:
    import decompose.analysis.extract as extract

    real = extract._parse_one

    def slow(job):
        if job[1] == module:
            time.sleep(seconds)
        return real(job)

    monkeypatch.setattr(extract, "_parse_one", slow)  # workers are forked: they inherit it


def test_a_stuck_worker_is_killed_and_replaced_its_batch_parsed_by_others(tmp_path, monkeypatch):
    _stall_one(monkeypatch, "pkg.m007", 3600)
    root = project(tmp_path / "p", n=120, config="parse_timeout = 1.5\n")
    t0 = time.monotonic()
    an = analyze(root, use_cache=False, jobs=2)
    assert time.monotonic() - t0 < 30
    assert an.stats.workers == 2 and an.stats.replaced == 1
    assert [(s.path, s.reason) for s in an.skipped] == [
        ("pkg/m007.py", "parse exceeded 1.5 s (parse_timeout in [tool.decompose])")
    ]
    assert len(an.facts) == 120  # 119 modules + the package: nothing else of m007's batch is lost


def test_a_cached_timeout_is_reused_only_while_the_limit_is_not_raised(tmp_path, monkeypatch):
    _stall_one(monkeypatch, "pkg.m002", 3)
    root = project(tmp_path / "p", config="parse_timeout = 1\n")
    cache = tmp_path / "cache"
    first = analyze(root, cache_dir=cache)
    assert [s.path for s in first.skipped] == ["pkg/m002.py"]
    again = analyze(root, cache_dir=cache)  # same limit: the timeout comes from the cache, no 1 s wait
    assert again.stats.parsed == 0 and [s.reason for s in again.skipped] == [first.skipped[0].reason]
    (root / "pyproject.toml").write_text("[tool.decompose]\nparse_timeout = 30\n")
    raised = analyze(root, cache_dir=cache)  # a higher limit: parsed again, and now it fits
    assert raised.stats.parsed == 1 and raised.skipped == []


def test_limits_are_validated(tmp_path):
    root = project(tmp_path / "p", config="parse_timeout = -1\n")
    r = CliRunner().invoke(app, ["analyze", str(root), "-q", "--no-cache"])
    assert r.exit_code == 2 and "tool.decompose.parse_timeout must be >= 0" in r.stderr
    (root / "pyproject.toml").write_text('[tool.decompose]\nmax_file_bytes = "big"\n')
    r = CliRunner().invoke(app, ["analyze", str(root), "-q", "--no-cache"])
    assert r.exit_code == 2 and "tool.decompose.max_file_bytes must be an integer" in r.stderr
    (root / "pyproject.toml").write_text("[tool.decompose]\nmax_file_bytes = 0\nparse_timeout = 0\n")
    assert analyze(root, use_cache=False).skipped == []  # 0 switches a limit off


def descendants(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                kids = Path(f"/proc/{p}/task/{t}/children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in out:
                    out.add(k)
                    todo.append(k)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = {p for p in pids if alive(p)}
        if not left:
            return set()
        time.sleep(0.1)
    return {p for p in pids if alive(p)}


def cached_rows(cache: Path) -> int:
    db = cache / "facts.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM facts").fetchone()[0]
    except sqlite3.Error:
        return 0


SLOW_ANALYZE = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {repo!r})
    import decompose.analysis.extract as extract
    real = extract._parse_one
    def slow(job):
        time.sleep(0.2)
        return real(job)
    extract._parse_one = slow
    from pathlib import Path
    from decompose.analysis.pipeline import analyze
    analyze(Path({root!r}), cache_dir=Path({cache!r}), jobs=2)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent_and_its_parse_work_is_kept(tmp_path):
    """kill -9 of an analysis: no worker survives it, and the rerun starts from the cache."""
    root = project(tmp_path / "p", n=400)
    cache = tmp_path / "cache"
    script = SLOW_ANALYZE.format(repo=str(REPO), root=str(root), cache=str(cache))
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while cached_rows(cache) == 0 and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the analysis ended before it was killed: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        workers = descendants(proc.pid)
        assert cached_rows(cache) > 0, "nothing was committed to the cache while the analysis ran"
        assert len(workers) == 2, workers
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert wait_gone(workers, 5) == set(), "workers outlived their killed parent"
    rerun = analyze(root, cache_dir=cache)
    assert rerun.stats.cached > 0 and rerun.stats.cached + rerun.stats.parsed == 401


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_analyze_on_django_leaves_no_worker_and_keeps_the_cache(django_source, tmp_path):
    cache = tmp_path / "cache"
    cmd = [sys.executable, "-m", "decompose", "analyze", str(django_source), "-q", "-f", "json",
           "--cache-dir", str(cache), "-j", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while (cached_rows(cache) == 0 or len(descendants(proc.pid)) < 2) and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"analyze ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        workers = descendants(proc.pid)
        rows = cached_rows(cache)
        assert rows > 0 and len(workers) >= 2, (rows, workers)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert wait_gone(workers, 5) == set(), "workers outlived their killed parent"
    rerun = analyze(django_source, cache_dir=cache)
    assert rerun.stats.cached >= rows > 0, (rerun.stats, rows)
