"""Tests that use the objects the app keeps in memory, in the test process, under ``decompose verify``
(issue 10).

LNbits keeps its login throttle in a module-level cache (``lnbits.utils.cache.cache``); its
``test_login_throttles_by_account_and_resets_after_success`` reads and rewrites that cache in the
test process between requests.  On the split system the auth service has its own cache: the test
fails (the test process's copy never saw the failures), and alan stays blocked in the service for
two minutes, so the next ten tests that log him in answered 429: regressions without a reason.
Now the plugin records the methods of the app's module-level objects that test code calls
(``find_app_objects``), verify lists a test that used them and failed with that reason, and runs
the regressions that came after such a test once more on a freshly started split system: those
that pass there are listed as order-dependent, naming the tests before them; those that fail
again stay regressions.  Checked on tests/data/verify_memory, a FastAPI monolith whose login
throttle and last-login note live in one in-memory cache that two services share on the monolith.
"""

from __future__ import annotations

import enum
import queue
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from decompose.runtime import verify_plugin as plugin
from decompose.runtime.verify import SuiteRun, TestOutcome, after_state_users, compare, mark_order_dependent
from tests.test_verify import check, cli, rows, verify_json

FIXTURE = Path(__file__).resolve().parent / "data" / "verify_memory"
PLAN = """\
version: 1
project: memapp
source: memapp
services:
  auth:
    modules: [memapp.auth]
  shop:
    modules: [memapp.shop]
shared:
  modules: [memapp, memapp.cache, memapp.app]
"""
TESTS = "tests/test_memory.py::"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("verify-memory")
    shutil.copytree(FIXTURE, work / "memapp", ignore=shutil.ignore_patterns("__pycache__"))
    (work / "plan.yaml").write_text(PLAN)
    check(cli("generate", "--plan", work / "plan.yaml", "--output", work / "out"))
    return work


@pytest.fixture(scope="module")
def report(work) -> dict:
    report = verify_json(work / "out", work / "memapp" / "tests", "--local", code=1)
    # the services' logs of the first split run outlive the second start
    kept = work / "out" / ".decompose-run" / "verify" / "split-logs" / "auth.log"
    assert "429" in kept.read_text(), kept
    return report


def test_a_test_using_the_apps_in_memory_cache_is_listed_with_the_objects_and_methods(report):
    by_id = rows(report)
    assert report["monolith"]["counts"] == {"passed": 6}
    row = by_id[TESTS + "test_2_throttle_resets_after_success"]
    assert (row["monolith"], row["split"], row["verdict"]) == ("passed", "failed", "classified"), row
    assert any("memapp.cache:cache (get, pop, set)" in r and "keeps its own" in r for r in row["reasons"]), row
    # an event of the standard library the app keeps at module level is such an object too
    row = by_id[TESTS + "test_6_restart_is_asked_for"]
    assert (row["monolith"], row["split"], row["verdict"]) == ("passed", "failed", "classified"), row
    assert any("memapp.auth:restart (clear, is_set)" in r for r in row["reasons"]), row
    # a test that calls no method of an in-memory object has no such reason
    assert by_id[TESTS + "test_1_login"]["verdict"] == "same"
    assert by_id[TESTS + "test_5_items"]["verdict"] == "same"


def test_a_regression_after_it_that_passes_on_a_fresh_split_system_is_listed_as_order_dependent(report):
    by_id = rows(report)
    row = by_id[TESTS + "test_3_login_again"]
    assert (row["monolith"], row["split"], row["verdict"]) == ("passed", "failed", "classified"), row
    assert any(r.startswith("order: passes when run again on a freshly started split system, without the earlier")
               and "test_2_throttle_resets_after_success" in r for r in row["reasons"]), row
    assert "429" in row["message"]
    assert "(alone)" in next(r for r in row["reasons"] if r.startswith("order:"))
    # the re-run held the two regressions that followed test 2, each alone; the one failing again ran once
    # more after the earlier test of its module that passed on the split system (test 1), not tests 2, 3 and 6
    assert report["rerun"]["counts"] == {"failed": 1, "passed": 1}, report["rerun"]
    assert report["rerun_context"]["counts"] == {"failed": 1, "passed": 1}, report["rerun_context"]


def test_a_regression_that_fails_again_on_a_fresh_split_system_stays_a_regression(report):
    """The last login the shop reads lives in the auth service's cache only: a real defect of the cut."""
    row = rows(report)[TESTS + "test_4_shop_sees_the_last_login"]
    assert (row["monolith"], row["split"], row["verdict"]) == ("passed", "failed", "regression"), row
    assert row["reasons"] == []
    assert report["regressions"] == [TESTS + "test_4_shop_sees_the_last_login"]
    assert report["ok"] is False


@pytest.mark.docker
@pytest.mark.slow
def test_the_re_run_in_docker_restarts_the_containers_and_keeps_their_first_logs(work, base_image,
                                                                                docker_client_fixture):
    """The same suite against the containers: the re-run starts them afresh (a fresh shared database,
    fresh in-memory caches), and the services' logs of the first split run are kept before."""
    out = work / "out"
    try:
        report = verify_json(out, work / "memapp" / "tests", "--build", "--base-image", base_image, "--timeout",
                             "180", code=1)
    finally:
        check(cli("down", out))
    assert report["mode"] == "docker" and report["stopped"]
    assert report["regressions"] == [TESTS + "test_4_shop_sees_the_last_login"]
    row = rows(report)[TESTS + "test_3_login_again"]
    assert row["verdict"] == "classified" and any(r.startswith("order:") for r in row["reasons"]), row
    assert report["rerun"]["counts"] == {"failed": 1, "passed": 1}, report["rerun"]
    kept = out / ".decompose-run" / "verify" / "split-logs" / "auth.log"
    assert "429" in kept.read_text(), kept


def test_on_a_split_system_it_did_not_start_verify_says_why_it_re_ran_nothing(report, work, tmp_path):
    """A system started before (``decompose up --verify-dir``) is not restarted by verify: the
    regressions after the throttle test stay regressions, and verify says what to do."""
    import sys

    from decompose.runtime.runner import free_port

    out = work / "out"
    check(cli("up", "--local", out, "--python", sys.executable, "--port", free_port(), "--verify-dir",
              tmp_path / "shared"))
    try:
        again = verify_json(out, work / "memapp" / "tests", "--local", code=1)
    finally:
        check(cli("down", "--local", out))
    assert again["started"] is False and again["rerun"] is None
    assert sorted(again["regressions"]) == [TESTS + "test_3_login_again", TESTS + "test_4_shop_sees_the_last_login"]
    assert any("2 regression(s) ran after tests that may have left state behind" in w and "`decompose down`" in w
               for w in again["warnings"]), again["warnings"]
    # a system verify started itself re-runs them, and gives no such warning
    assert not [w for w in report["warnings"] if "left state behind" in w]


class _Color(enum.Enum):
    RED = 1


class _Throttle:
    def __init__(self):
        self.hits = {}


class _Database:
    def __init__(self):
        self.connection = sqlite3.connect(":memory:")


def test_only_instances_of_the_apps_own_classes_that_are_not_database_handles_count(monkeypatch):
    monkeypatch.setattr(plugin, "PACKAGES", frozenset({__name__.split(".")[0]}))
    assert plugin._keeps_state(_Throttle())
    assert not plugin._keeps_state(_Throttle)  # a class
    assert not plugin._keeps_state(_Color.RED)  # an enum member: a constant
    assert not plugin._keeps_state(test_only_instances_of_the_apps_own_classes_that_are_not_database_handles_count)
    assert not plugin._keeps_state(_Database())  # holds a database connection: the shared database
    assert not plugin._keeps_state({"a": 1})  # not a class of the app's
    monkeypatch.setattr(plugin, "PACKAGES", frozenset({"elsewhere"}))
    assert not plugin._keeps_state(_Throttle())
    assert plugin._keeps_state(threading.Event())  # runtime state of any module-level owner
    assert plugin._keeps_state(queue.Queue())
    assert not plugin._keeps_state(threading.Lock())


def _run(side: str, outcomes: dict[str, str], objects: tuple[str, ...] = ()) -> SuiteRun:
    tests = {tid: TestOutcome(id=tid, outcome=o, seq=i + 1, requests=1, app_objects={"app.cache:cache": ["get"]}
                              if tid in objects else {})
             for i, (tid, o) in enumerate(outcomes.items())}
    return SuiteRun(side, tests, 0, 1.0, Path("log"), [])


def test_regressions_after_a_listed_test_that_failed_are_re_run_too_and_named_by_kind():
    """privacyIDEA's test_10 fails on the split system (listed: it reads g an earlier request left) before
    its delete_policy; the admin policies it set make test_11b answer 403.  Alone on a fresh split
    system test_11b passes; test_12, which fails there too, stays a regression."""
    ids = ["t::test_09_cache", "t::test_10_attrs", "t::test_11b", "t::test_12", "t::test_05_before"]
    mono = _run("monolith", {i: "passed" for i in ids})
    split = _run("split", {"t::test_05_before": "failed", "t::test_09_cache": "failed", "t::test_10_attrs": "failed",
                           "t::test_11b": "failed", "t::test_12": "failed"}, objects=("t::test_09_cache",))
    rows = compare(mono, split)
    by_id = {r.id: r for r in rows}
    assert by_id["t::test_09_cache"].verdict == "classified"  # used the cache, failed
    by_id["t::test_10_attrs"].verdict = "classified"  # as the reason of the g it read would
    by_id["t::test_10_attrs"].reasons.append("relies on g an earlier request left")
    again = after_state_users(rows, split)
    # test_05 ran before any of them (seq 1): not re-run; the two later regressions name both earlier tests
    assert again == {"t::test_11b": ["t::test_09_cache", "t::test_10_attrs"],
                     "t::test_12": ["t::test_09_cache", "t::test_10_attrs"]}
    rerun = _run("rerun", {"t::test_11b": "passed", "t::test_12": "failed"})
    assert mark_order_dependent(rows, again, rerun, split) == 1
    assert by_id["t::test_11b"].verdict == "classified"
    (reason,) = by_id["t::test_11b"].reasons
    assert reason.startswith("order: passes when run again on a freshly started split system, without the earlier "
                             "tests that may have left state behind")
    assert "1 test(s) using the app's in-memory objects" in reason and "(test_09_cache)" in reason
    assert "1 test(s) listed with a reason that failed on the split system" in reason and "(test_10_attrs)" in reason
    assert by_id["t::test_12"].verdict == "regression" and by_id["t::test_12"].reasons == []
    assert by_id["t::test_05_before"].verdict == "regression"


def test_the_re_run_keeps_the_earlier_tests_of_a_regressions_class_that_left_nothing_behind():
    """privacyIDEA's ValidateAPITestCase: test_01 makes the realms and users test_12 logs in with;
    test_11c failed on the split system (listed: it replaces the app's datetime) and left its token.
    Re-run alone, test_12 found no user (ERR904); it needs test_01, and not test_11c.  Nor a test
    failing there for another reason (AuthApiTestCase's test_04 fails on both): it may have stopped
    before its clean-up too."""
    split = _run("split", {"a::C::test_01_setup": "passed", "a::C::test_04_fails_on_both": "failed",
                           "a::C::test_11c_listed": "failed", "a::D::test_01_other_class": "passed",
                           "a::C::test_12": "failed", "a::C::test_13_after": "passed", "b::test_fn_1": "passed",
                           "b::test_fn_2": "failed"})
    again = {"a::C::test_12": ["a::C::test_11c_listed"], "b::test_fn_2": ["a::C::test_11c_listed"]}
    from decompose.runtime.verify import rerun_selection

    assert rerun_selection(again, split) == ["a::C::test_01_setup", "a::C::test_12", "b::test_fn_1", "b::test_fn_2"]
    mono = _run("monolith", {tid: "passed" for tid in split.tests})
    rows = compare(mono, split)
    rerun = _run("rerun-context", {"a::C::test_01_setup": "passed", "a::C::test_12": "passed", "b::test_fn_1": "passed",
                                   "b::test_fn_2": "failed"})
    assert mark_order_dependent(rows, again, rerun, split, context=True) == 1
    (row,) = [r for r in rows if r.id == "a::C::test_12"]
    assert row.verdict == "classified"
    assert "(after the earlier tests of its class or module that passed on the split system)" in row.reasons[0]
