"""benchmarks/conformance.py: the app's test command as `decompose verify` takes it, and the
split-system figures read from `decompose verify --format json`."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.conformance import carry_modes, render, split_cell, verify_arguments, verify_figures
from benchmarks.corpus import AppSpec


def _spec(*command: str) -> AppSpec:
    return AppSpec(name="x", dist="x", version="1", sha256="", framework="flask", subdir="", python="3.11",
                   install=(), test_command=("python", "-m", "pytest", *command))


def test_test_paths_and_options_are_split_as_verify_takes_them(tmp_path: Path):
    for rel in ("tests/test_a.py", "tests/test_b.py", "tests/api/x.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    # privacyIDEA's shape: several files, xdist options whose values are not paths
    assert verify_arguments(_spec("-p", "no:cacheprovider", "-q", "-rfE", "-n", "2", "--dist", "loadfile",
                                  "tests/test_a.py", "tests/test_b.py"), tmp_path) == \
        ("tests/test_a.py", ["tests/test_b.py", "-rfE", "-n", "2", "--dist", "loadfile"])
    # lnbits' shape: `-o addopts=` then a folder
    assert verify_arguments(_spec("-q", "-o", "addopts=", "tests/api"), tmp_path) == ("tests/api", ["-o", "addopts="])
    # no path: the suite is tests/
    assert verify_arguments(_spec("-q", "--numprocesses", "0"), tmp_path) == ("tests", ["--numprocesses", "0"])
    # an option's value that happens to be a folder stays the option's
    assert verify_arguments(_spec("--rootdir", "tests", "tests/test_a.py"), tmp_path) == \
        ("tests/test_a.py", ["--rootdir", "tests"])


def _report(rows: list[tuple[str, str, str, list[str]]], **extra) -> str:
    tests = [{"id": i, "monolith": m, "split": s, "verdict": v, "reasons": r, "notes": [], "message": "assert 404 == 200\nmore"}
             for i, m, s, v, r in [(a, b, c, _verdict(b, c, d), d) for a, b, c, d in rows]]
    doc = {"monolith": {"ran": True, "counts": {"passed": 3}, "seconds": 1.0},
           "split": {"ran": True, "counts": {"passed": 1, "failed": 2}, "seconds": 2.0},
           "up_failure": None, "summary": {}, "tests": tests}
    doc.update(extra)
    return json.dumps(doc)


def _verdict(m: str, s: str, reasons: list[str]) -> str:
    if reasons:
        return "classified"
    if m == "passed":
        return "same" if s == "passed" else "regression"
    return "split only" if s == "passed" else "same"


def test_split_figures_count_tests_passing_on_both_listed_and_regressions():
    fig = verify_figures(_report([
        ("t::a", "passed", "passed", []),
        ("t::b", "passed", "failed", ["patches the app in the test process: x.y (mock.patch); ..."]),
        ("t::c", "passed", "failed", []),
        ("t::d", "failed", "failed", []),
    ]))
    assert (fig["monolith_passed"], fig["passed_both"], fig["classified"], fig["classified_failing"],
            fig["regressions"], fig["measured"]) == (3, 1, 1, 1, 1, True)
    assert fig["reasons"] == {"patches the app in the test process": 1}
    assert fig["first_regressions"] == [{"id": "t::c", "message": "assert 404 == 200"}]
    assert fig["error"] == "1 regression(s), first t::c: assert 404 == 200"
    assert split_cell({"split_tests": {"local": fig}}, "local") == "1/3 passed, 1 listed, 1 regression"


def test_a_split_system_that_did_not_start_is_no_figure():
    fig = verify_figures(_report([], up_failure={
        "error": "2 unit(s) failed to start: a (exited with code 3)",
        "failures": [{"name": "a", "reason": "exited with code 3",
                      "logs": ['  File "/app/x/settings.py", line 9, in <module>',
                               "importlib.metadata.PackageNotFoundError: No package metadata was found for x"]}]}))
    assert not fig["measured"]
    assert fig["error"] == "the split system did not start: 2 unit(s) failed to start: a (exited with code 3)"
    assert "PackageNotFoundError" in fig["units"]
    assert split_cell({"split_tests": {"docker": dict(fig, outcome="failed")}}, "docker").startswith(
        "failed: the split system did not start")
    assert split_cell({"split_tests": {}}, "docker") == "-"


def test_a_run_of_one_mode_keeps_the_other_modes_figures_of_the_last_report():
    previous = {"app": "flaskr", "ran_at": "2026-12-01 10:00 UTC", "decompose_commit": "abc1234",
                "steps": [{"name": "analyze", "outcome": "ok", "seconds": 1.0, "detail": {}},
                          {"name": "up-local", "outcome": "ok", "seconds": 2.0, "detail": {}},
                          {"name": "build", "outcome": "ok", "seconds": 9.0, "detail": {}},
                          {"name": "verify", "outcome": "ok", "seconds": 30.0, "detail": {}}],
                "split_tests": {"local": {"measured": True, "passed_both": 1, "monolith_passed": 2, "classified": 0,
                                          "regressions": 1, "tests": 2},
                                "docker": {"measured": True, "passed_both": 2, "monolith_passed": 2, "classified": 0,
                                           "regressions": 0, "tests": 2}}}
    now = {"app": "flaskr", "dist": "flask", "version": "3.1.3", "framework": "flask", "source": "s",
           "test_command": "pytest", "ran_at": "2026-12-02 10:00 UTC", "decompose_commit": "def5678",
           "steps": [{"name": "analyze", "outcome": "ok", "seconds": 1.0, "detail": {}},
                     {"name": "up-local", "outcome": "ok", "seconds": 2.0, "detail": {}}],
           "split_tests": {"local": {"measured": True, "passed_both": 2, "monolith_passed": 2, "classified": 0,
                                     "regressions": 0, "tests": 2}}}
    carry_modes(now, previous, {"local"})
    # the local figures are this run's; the Docker ones the last report's, marked with their run
    assert now["split_tests"]["local"]["passed_both"] == 2 and "reused_from" not in now["split_tests"]["local"]
    assert now["split_tests"]["docker"]["reused_from"] == "2026-12-01 10:00 UTC, decompose at abc1234"
    assert [s["name"] for s in now["steps"]] == ["analyze", "up-local", "build", "verify"]
    assert split_cell(now, "docker") == "2/2 passed, 0 listed, 0 regressions (run of 2026-12-01 10:00 UTC)"
    md = render({"flaskr": now})
    assert "| build (run of 2026-12-01 10:00 UTC) | ok |" in md
    assert "not run this time: the run of 2026-12-01 10:00 UTC, decompose at abc1234" in md
