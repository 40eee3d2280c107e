"""Benchmark: `decompose generate` against a cold `decompose analyze` of the same tree, in one run.

    python benchmarks/generate.py [--app privacyidea] [--source DIR] [--check] [--max-ratio 2]
                                  [--keep DIR] [--format table|json]

The target (issues 10 and 12): generating the default plan takes at most twice
the time of a cold analyze of the same monolith.  One run measures, on a copy
of the source tree (so no cache of anyone else is used or changed):

1. ``decompose analyze SRC`` with no facts cache (cold: every file parsed; it
   leaves the cache behind, as a user's first analyze does);
2. ``decompose plan SRC`` (the default plan, from that cache);
3. ``decompose generate --plan ...`` of that plan into an empty folder.

Each step is the console command in its own process (``python -m decompose``),
measured from outside: wall time, CPU time (user + system of the process and
every child it waited for: the parser pool), and peak resident memory of the
whole process tree (the sum over the process and its live descendants,
sampled every 50 ms from /proc; the largest single process from getrusage is
printed too).  The ratio is generate wall time / cold analyze wall time;
``--check`` exits 1 when it is above ``--max-ratio``.

Source trees: ``--app NAME`` takes a monolith of benchmarks/corpus.py (a
conformance app of ``APPS`` or a source-only entry of ``SOURCES``), fetched
and cached there; ``--source DIR`` any folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import corpus  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
_SKIP_NAMES = shutil.ignore_patterns(".decompose_cache", "__pycache__", ".git", ".venv", "node_modules", "*.pyc")


def SKIP(folder: str, names: list[str]) -> set[str]:
    """What the copy leaves out: caches and VCS folders, and anything neither a regular file,
    a folder nor a symlink (sockets and FIFOs a test suite left behind, e.g. privacyIDEA's
    gpg-agent sockets in tests/testdata/gpg: copytree cannot copy them)."""
    skipped = set(_SKIP_NAMES(folder, names))
    for n in names:
        p = os.path.join(folder, n)
        if n not in skipped and not (os.path.islink(p) or os.path.isdir(p) or os.path.isfile(p)):
            skipped.add(n)
    return skipped


@dataclass
class Step:
    name: str
    command: list[str]
    exit_code: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    peak_tree_mib: float = 0.0
    peak_process_mib: float = 0.0
    error: str = ""
    figures: dict = field(default_factory=dict)


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its live descendants (from /proc)."""
    parent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        rest = stat[stat.rfind(b")") + 2:].split()
        parent[int(entry.name)] = int(rest[1])
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parent.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def measure(name: str, command: list[str], *, cwd: Path, log: Path) -> Step:
    """Run ``command``; wall, CPU (rusage of the process and its waited-for children), peak tree RSS."""
    step = Step(name=name, command=command)
    peak = [0]
    with open(log.with_suffix(".out"), "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss(proc.pid))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        step.wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    step.exit_code = proc.returncode
    step.cpu = usage.ru_utime + usage.ru_stime
    step.peak_tree_mib = peak[0] / 2**20
    step.peak_process_mib = usage.ru_maxrss / 1024  # kB on Linux
    if step.exit_code != 0:
        lines = log.with_suffix(".err").read_text(errors="replace").strip().splitlines()
        step.error = lines[-1] if lines else f"exit code {step.exit_code}"
    return step


def source_tree(app: str | None, source: Path | None) -> tuple[str, Path]:
    """(label, folder) of the monolith to measure."""
    if source is not None:
        return source.name, source.resolve()
    spec = corpus.APPS.get(app) or corpus.SOURCES.get(app)
    if spec is None:
        known = ", ".join(sorted([*corpus.APPS, *corpus.SOURCES]))
        raise SystemExit(f"--app {app}: not in benchmarks/corpus.py (known: {known})")
    return f"{spec.dist} {spec.version}", corpus.source_of(app)


def count_files(folder: Path) -> tuple[int, int]:
    files = py = 0
    for _, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in (".decompose_cache", "__pycache__")]
        files += len(filenames)
        py += sum(1 for n in filenames if n.endswith(".py"))
    return files, py


def run(label: str, src: Path, work: Path, python: str) -> dict:
    tree = work / "src"
    shutil.copytree(src, tree, ignore=SKIP, symlinks=True)
    files, py = count_files(tree)
    dc = [python, "-m", "decompose"]
    plan = work / "decompose.yaml"
    out = work / "out"
    steps = [measure("analyze (cold)", [*dc, "analyze", str(tree), "--format", "json", "-q",
                                        "-o", str(work / "analyze.json")], cwd=work, log=work / "analyze")]
    if steps[-1].exit_code == 0:
        steps.append(measure("plan", [*dc, "plan", str(tree), "-o", str(plan), "-q"], cwd=work, log=work / "plan"))
    if steps[-1].exit_code == 0:
        steps.append(measure("generate", [*dc, "generate", "--plan", str(plan), "-o", str(out), "--format", "json"],
                             cwd=work, log=work / "generate"))
        gen = steps[-1]
        if gen.exit_code == 0:
            summary = json.loads((work / "generate.out").read_text())
            written = sum(1 for p in out.rglob("*") if p.is_file())
            gen.figures = {"services": len(summary.get("services", [])), "files_written": written,
                           "bytes_written": sum(p.stat().st_size for p in out.rglob("*") if p.is_file())}
    by = {s.name: s for s in steps}
    ok = all(s.exit_code == 0 for s in steps) and len(steps) == 3
    ratio = by["generate"].wall / by["analyze (cold)"].wall if ok and by["analyze (cold)"].wall else None
    cpu_ratio = by["generate"].cpu / by["analyze (cold)"].cpu if ok and by["analyze (cold)"].cpu else None
    return {"monolith": label, "files": files, "py_files": py, "steps": [asdict(s) for s in steps],
            "ratio": ratio, "cpu_ratio": cpu_ratio, "cores": os.cpu_count(), "load_before": os.getloadavg()[0]}


def report(res: dict, max_ratio: float) -> str:
    lines = [f"{res['monolith']}: {res['files']} files ({res['py_files']} .py), {res['cores']} cores, "
             f"load average {res['load_before']:.1f} at the start", ""]
    lines.append(f"{'step':<16}{'exit':>5}{'wall s':>10}{'cpu s':>10}{'peak tree MiB':>15}{'peak proc MiB':>15}")
    for s in res["steps"]:
        lines.append(f"{s['name']:<16}{s['exit_code']:>5}{s['wall']:>10.1f}{s['cpu']:>10.1f}"
                     f"{s['peak_tree_mib']:>15.0f}{s['peak_process_mib']:>15.0f}")
        if s["error"]:
            lines.append(f"    {s['name']}: {s['error']}")
        if s["figures"]:
            lines.append("    " + ", ".join(f"{k} {v}" for k, v in s["figures"].items()))
    lines.append("")
    if res["ratio"] is None:
        lines.append("ratio generate / cold analyze: not measured (a step failed)")
    else:
        verdict = "ok" if res["ratio"] <= max_ratio else "ABOVE TARGET"
        lines.append(f"ratio generate / cold analyze (wall): {res['ratio']:.2f}x  (target <= {max_ratio:g}x: {verdict})")
        lines.append(f"ratio generate / cold analyze (CPU):  {res['cpu_ratio']:.2f}x  (analyze parses on every core)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--app", default="privacyidea", help="a monolith of benchmarks/corpus.py (APPS or SOURCES)")
    ap.add_argument("--source", type=Path, help="measure this folder instead of a corpus app")
    ap.add_argument("--check", action="store_true", help="exit 1 when generate takes more than --max-ratio x analyze")
    ap.add_argument("--max-ratio", type=float, default=2.0)
    ap.add_argument("--keep", type=Path, help="work in this (new) folder and keep it: copy, plan, output, logs")
    ap.add_argument("--python", default=sys.executable, help="the Python whose decompose is measured")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    a = ap.parse_args(argv)
    label, src = source_tree(a.app, a.source)
    if a.keep is not None:
        a.keep.mkdir(parents=True, exist_ok=False)
        res = run(label, src, a.keep.resolve(), a.python)
    else:
        with tempfile.TemporaryDirectory(prefix="decompose-bench-generate-") as tmp:
            res = run(label, src, Path(tmp), a.python)
    res["max_ratio"] = a.max_ratio
    if a.format == "json":
        print(json.dumps(res, indent=2))
    else:
        print(report(res, a.max_ratio))
    if any(s["exit_code"] != 0 for s in res["steps"]):
        return 2
    if a.check and (res["ratio"] is None or res["ratio"] > a.max_ratio):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
