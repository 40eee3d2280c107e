"""benchmarks/plan_quality.py's row: modules and the largest share count the shared library.

The plan's JSON gives ``shared`` as ``{"modules": [...], "reasons": {...}}``; counting the
dict's keys made *modules* the service modules plus 2, and the largest share of privacyIDEA
(307 shared modules) 29% instead of 9%.
"""

from __future__ import annotations

from benchmarks.plan_quality import figures


def test_modules_count_the_shared_library():
    plan = {"services": {"a": {"modules": ["p.a", "p.a.x"]}, "b": {"modules": ["p.b"]}},
            "shared": {"modules": ["p", "p.util", "p.db", "p.lib"], "reasons": {"p": "root"}},
            "quality": {}}
    row = figures("p", plan, {"ari": 1.0, "mojofm": 100.0, "modules": 7}, {"findings": []}, 0.0, 0.0)
    assert (row["modules"], row["shared"], row["largest"], row["largest_share"]) == (7, 4, "a", round(2 / 7, 4))
