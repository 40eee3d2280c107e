"""Benchmark: a warm `decompose check` of a one-file change on Django, next to `lint-imports`.

    python benchmarks/check.py [--repeat 5] [--django 5.2.8]

Set-up: Django's source (from the PyPI wheel, see ``benchmarks/corpus.py``) is
copied into a temporary git repository, as a pre-commit hook would see it.
Both tools get the same rule: four ``django.contrib`` apps (sitemaps,
syndication, humanize, redirects) must not import each other directly.

* decompose: a ``decompose.yaml`` with one service per app and no interface
  (so any direct import between them is a boundary violation);
* import-linter: one ``forbidden`` contract per app with
  ``allow_indirect_imports = true`` (direct imports only, like decompose).

Measured, each in a fresh process (interpreter start and imports included):

1. cold ``decompose analyze`` (empty cache);
2. the first ``decompose check`` after it (builds the check snapshot from the
   facts cache);
3. a warm ``decompose check FILE`` after a one-file change (a new import
   appended, different each run so the file is really re-parsed), for a
   typical module and for Django's second-largest module; the median of
   ``--repeat`` runs, wall clock and the time the check reports itself;
4. ``lint-imports`` on the same change with its cache warm (grimp re-parses
   only the changed file), median of the same runs;

then a violating change, to show both tools catch it.  Ratios are
lint-imports / decompose (higher is better for decompose).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.corpus import DJANGO_VERSION, django_source  # noqa: E402

APPS = ["sitemaps", "syndication", "humanize", "redirects"]
TYPICAL = "django/contrib/sitemaps/views.py"
LARGE = "django/db/models/query.py"
ALLOWED = "from django.utils import timezone as _bench_tz{n}  # bench run {n} ({kind})"
VIOLATION = "from django.contrib.syndication import views as _bench_feeds  # crosses a boundary"
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-c", "commit.gpgsign=false"]

ANALYZE = r"""
import json, sys, time
from pathlib import Path
t = time.perf_counter()
from decompose.analysis.pipeline import analyze
an = analyze(Path(sys.argv[1]))
print(json.dumps({"seconds": time.perf_counter() - t, "modules": len(an.facts), "parsed": an.stats.parsed}))
"""


LIBRARY = r"""
import json, sys, time
t = time.perf_counter()
from pathlib import Path
from decompose.guard.check import run_check
from decompose.planning.planfile import load_plan
r = run_check(Path(sys.argv[1]), [sys.argv[2]], plan=load_plan(Path(sys.argv[1]) / "decompose.yaml"))
print(json.dumps({"seconds": time.perf_counter() - t, "errors": len(r.errors)}))
"""


def plan_yaml() -> str:
    services = "\n".join(f"  {app}:\n    modules: [django.contrib.{app}]" for app in APPS)
    return f"project: django\nsource: .\nservices:\n{services}\nshared:\n  modules: []\n"


def importlinter_ini() -> str:
    out = ["[importlinter]", "root_package = django", ""]
    for app in APPS:
        others = "\n".join(f"    django.contrib.{o}" for o in APPS if o != app)
        out += [
            f"[importlinter:contract:{app}]",
            f"name = django.contrib.{app} does not import the other apps",
            "type = forbidden",
            f"source_modules =\n    django.contrib.{app}",
            f"forbidden_modules =\n{others}",
            "allow_indirect_imports = true",
            "",
        ]
    return "\n".join(out)


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t, p


def decompose_check(work: Path, rel: str) -> tuple[float, float, dict]:
    wall, p = timed([sys.executable, "-m", "decompose", "check", "--format", "json", rel], work)
    if p.returncode not in (0, 1):
        raise SystemExit(f"decompose check failed ({p.returncode}): {p.stderr.strip()}")
    data = json.loads(p.stdout)
    return wall, data["timings"]["total"], data


def library_check(work: Path, rel: str) -> float:
    """A fresh interpreter calling the library directly: `decompose check` minus the CLI's own imports."""
    wall, p = timed([sys.executable, "-c", LIBRARY, str(work), rel], work)
    if p.returncode != 0:
        raise SystemExit(f"library check failed: {p.stderr.strip()}")
    return wall


def lint_imports(work: Path, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    exe = shutil.which("lint-imports")
    cmd = [exe] if exe else [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"]
    wall, p = timed([*cmd, "--no-logo", ".importlinter"], work, env)
    if p.returncode not in (0, 1):
        raise SystemExit(f"lint-imports failed ({p.returncode}): {p.stdout[-2000:]} {p.stderr[-2000:]}")
    return wall, p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--django", default=DJANGO_VERSION)
    args = ap.parse_args()

    src = django_source(args.django) / "django"
    with tempfile.TemporaryDirectory(prefix="decompose-bench-check-") as tmp:
        work = Path(tmp) / "django-project"
        shutil.copytree(src, work / "django", ignore=shutil.ignore_patterns("__pycache__"))
        (work / "decompose.yaml").write_text(plan_yaml())
        (work / ".importlinter").write_text(importlinter_ini())
        subprocess.run([*GIT, "init", "-q"], cwd=work, check=True)
        subprocess.run([*GIT, "add", "-A"], cwd=work, check=True)
        subprocess.run([*GIT, "commit", "-q", "-m", "django"], cwd=work, check=True)
        env = {**os.environ, "PYTHONPATH": str(work)}
        n_files = sum(1 for _ in (work / "django").rglob("*.py"))
        print(f"Django {args.django}: {n_files} .py files, copied to a git repository in {work}")
        print(f"rule: {', '.join('django.contrib.' + a for a in APPS)} must not import each other (direct imports)")

        # 1-2: cold analyze, then the first check (snapshot build)
        p = subprocess.run([sys.executable, "-c", ANALYZE, str(work)], capture_output=True, text=True, check=True)
        cold = json.loads(p.stdout.strip().splitlines()[-1])
        wall, inproc, data = decompose_check(work, TYPICAL)
        print(f"cold decompose analyze:              {cold['seconds']:7.2f} s  ({cold['modules']} modules parsed)")
        print(f"first decompose check (snapshot):    {wall:7.2f} s  (in-process {inproc:.2f} s, {data['stats']['snapshot']})")

        # lint-imports: cold once, then its cache is warm
        li_cold, p = lint_imports(work, env)
        print(f"cold lint-imports (builds its cache): {li_cold:6.2f} s  ({'contracts kept' if p.returncode == 0 else 'contracts BROKEN'})")

        results = {}
        for rel in (TYPICAL, LARGE):
            path = work / rel
            original = path.read_text()
            walls, inprocs, parsed, lints, libs = [], [], [], [], []
            try:
                for n in range(args.repeat):
                    path.write_text(original + "\n" + ALLOWED.format(n=n, kind="lib") + "\n")
                    libs.append(library_check(work, rel))
                    path.write_text(original + "\n" + ALLOWED.format(n=n, kind="cli") + "\n")
                    w, i, data = decompose_check(work, rel)
                    if data["summary"]["errors"]:
                        raise SystemExit(f"unexpected findings: {data['findings']}")
                    walls.append(w)
                    inprocs.append(i)
                    parsed.append(data["stats"]["parsed"])
                    lw, lp = lint_imports(work, env)
                    if lp.returncode != 0:
                        raise SystemExit(f"lint-imports unexpectedly failed:\n{lp.stdout[-3000:]}")
                    lints.append(lw)
            finally:
                path.write_text(original)
            results[rel] = (
                statistics.median(walls), statistics.median(inprocs), statistics.median(lints), max(parsed),
                statistics.median(libs),
            )

        print(f"\nwarm check of a one-file change (a new import appended), median of {args.repeat} runs:")
        print(f"{'changed file':36} {'size':>6} {'decompose':>10} {'(library)':>10} {'(in-proc)':>10} "
              f"{'lint-imports':>13} {'ratio':>6}")
        for rel, (w, i, li, parsed, lib) in results.items():
            size = (work / rel).stat().st_size
            print(f"{rel:36} {size / 1024:4.0f}KB {w:9.3f}s {lib:9.3f}s {i:9.3f}s {li:12.3f}s {li / w:5.2f}x")
        print("decompose: wall clock of `decompose check FILE` (interpreter start, CLI imports, the check);\n"
              "library: a fresh interpreter importing decompose.guard.check and calling run_check (no CLI imports);\n"
              "in-proc: the time the check reports for itself (incl. importing LibCST to parse the file);\n"
              f"files re-parsed per run: {max(r[3] for r in results.values())}; "
              f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
              "ratio: lint-imports / decompose wall clock")

        # a violating change: both tools must catch it
        path = work / TYPICAL
        original = path.read_text()
        try:
            path.write_text(original + "\n" + VIOLATION + "\n")
            w, i, data = decompose_check(work, TYPICAL)
            lw, lp = lint_imports(work, env)
        finally:
            path.write_text(original)
        ours = [(f["rule"], f["path"], f["line"]) for f in data["findings"] if f["level"] == "error"]
        print(f"\nviolating change ({VIOLATION.split('  #')[0]}):")
        print(f"  decompose check: exit {data['summary']['exit_code']}, {ours}  {w:.3f}s")
        print(f"  lint-imports:    exit {lp.returncode} ({'broken contract reported' if 'BROKEN' in lp.stdout else 'no report'})  {lw:.3f}s")
        if not ours or lp.returncode == 0:
            raise SystemExit("the two tools disagree on the violating change")


if __name__ == "__main__":
    main()
