"""Benchmark: `decompose analyze` on Django, cold and warm, next to grimp.build_graph.

    python benchmarks/analyze.py [--repeat 3] [--django 5.2.8]

Every measurement runs in a fresh Python process (so imports, caches in
memory and the process pool start are all paid for), timed inside the process
around the library call, and with its peak resident memory (the process plus
its pool workers).  Cold = empty on-disk cache; warm = the cache filled by a
previous run and nothing changed.  grimp is measured the same way with its
own cache (``cache_dir``) off (cold) and on (warm).  The figures are medians
over ``--repeat`` runs; ratios are decompose / grimp (lower is better for
decompose).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.corpus import DJANGO_VERSION, django_source  # noqa: E402

DECOMPOSE = r"""
import json, resource, sys, time
from pathlib import Path
from decompose.analysis.pipeline import analyze
t = time.perf_counter()
an = analyze(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]), jobs=int(sys.argv[3]) or None)
dt = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": dt, "rss_kb": rss, "modules": len(an.facts),
                  "edges": len(an.graph.import_edges()), "parsed": an.stats.parsed, "cached": an.stats.cached}))
"""

GRIMP = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import grimp
cache = sys.argv[2] if sys.argv[2] != "-" else None
t = time.perf_counter()
g = grimp.build_graph("django", cache_dir=cache)
dt = time.perf_counter() - t
edges = sum(len(g.find_modules_directly_imported_by(m)) for m in g.modules)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": dt, "rss_kb": rss, "modules": len(g.modules), "edges": edges}))
"""


def run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--django", default=DJANGO_VERSION)
    ap.add_argument("--jobs", type=int, default=0, help="decompose parser processes (0: all cores)")
    args = ap.parse_args()

    src = django_source(args.django)
    tree = src / "django"
    print(f"Django {args.django}: {sum(1 for _ in tree.rglob('*.py'))} .py files under {tree}")

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        cold, warm = [], []
        for i in range(args.repeat):
            cache = Path(tmp) / f"dc-{i}"
            cold.append(run(DECOMPOSE, str(tree), str(cache), str(args.jobs)))
            warm.append(run(DECOMPOSE, str(tree), str(cache), str(args.jobs)))
        rows["decompose"] = (cold, warm)
        gcold, gwarm = [], []
        for i in range(args.repeat):
            gcold.append(run(GRIMP, str(src), "-"))
            gcache = str(Path(tmp) / f"grimp-{i}")
            run(GRIMP, str(src), gcache)  # fill grimp's cache
            gwarm.append(run(GRIMP, str(src), gcache))
        rows["grimp"] = (gcold, gwarm)

    assert all(r["cached"] == 0 for r in rows["decompose"][0]), "cold runs must parse everything"
    assert all(r["parsed"] == 0 for r in rows["decompose"][1]), "warm runs must parse nothing"
    print()
    print(f"{'tool':<12}{'modules':>9}{'edges':>8}{'cold s':>9}{'warm s':>9}{'cold MiB':>10}{'warm MiB':>10}")
    for tool, (c, w) in rows.items():
        print(
            f"{tool:<12}{c[0]['modules']:>9}{c[0]['edges']:>8}{median(c, 'seconds'):>9.3f}{median(w, 'seconds'):>9.3f}"
            f"{median(c, 'rss_kb') / 1024:>10.0f}{median(w, 'rss_kb') / 1024:>10.0f}"
        )
    (dc, dw), (gc, gw) = rows["decompose"], rows["grimp"]
    print()
    print(f"ratio decompose/grimp  cold time {median(dc, 'seconds') / median(gc, 'seconds'):.2f}x"
          f"   warm time {median(dw, 'seconds') / median(gw, 'seconds'):.2f}x"
          f"   cold memory {median(dc, 'rss_kb') / median(gc, 'rss_kb'):.2f}x")
    print(f"decompose warm/cold speed-up: {median(dc, 'seconds') / median(dw, 'seconds'):.1f}x"
          f"  (median of {args.repeat} runs each, fresh process per run)")
    print("note: decompose extracts far more than grimp (definitions, symbol uses, routes, tables),"
          " grimp only import edges.")


if __name__ == "__main__":
    main()
