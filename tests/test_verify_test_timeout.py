"""verify's per-test time limit (issue 10).

LNbits' suite hung on the split system after its 23rd test (a test waiting for an
event that a service's process, not the test process, received) until the whole run was
killed at its suite timeout: no test's outcome survived.  Now a test past its limit is
interrupted and fails "timed out", the suite goes on; one that does not stop ends the suite
with the results so far; results are written while the suite runs, so a suite killed from
outside keeps what it had finished.  Each case runs a real pytest suite in a subprocess.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from decompose.runtime.verify import SuiteRun, TestOutcome, run_suite, split_limits


def _suite(tmp_path, body: str):
    tests = tmp_path / "suite"
    tests.mkdir()
    (tests / "test_it.py").write_text(textwrap.dedent(body), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    return tests, work


def _run(tmp_path, body: str, *, env=None, **kw) -> SuiteRun:
    tests, work = _suite(tmp_path, body)
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})}
    return run_suite("split", python=sys.executable, tests=tests, cwd=tests, work=work, env=env, **kw)


def _outcome(run: SuiteRun, name: str) -> TestOutcome:
    [t] = [t for tid, t in run.tests.items() if tid.endswith(name)]
    return t


def test_a_hanging_test_fails_as_timed_out_and_the_suite_goes_on(tmp_path):
    run = _run(tmp_path, """
        import asyncio, time, unittest

        def test_sleeps():
            time.sleep(60)

        def test_waits_for_an_event_nobody_sets():
            asyncio.run(asyncio.wait_for(asyncio.Event().wait(), 60))

        class Case(unittest.TestCase):
            def test_blocks(self):
                time.sleep(60)

        def test_after():
            assert True
    """, test_timeout=1.5, timeout=120)
    assert run.ran, run.problem
    for name in ("test_sleeps", "test_waits_for_an_event_nobody_sets", "test_blocks"):
        t = _outcome(run, name)
        assert t.outcome == "failed", (name, t)
        assert t.timed_out == 1.5
        assert t.message.startswith("timed out on the split system: still running after 2s"), t.message
    assert _outcome(run, "test_after").outcome == "passed"
    assert run.seconds < 40


def test_a_hanging_asyncio_test_is_cancelled_and_its_loop_serves_the_next_test(tmp_path):
    """LNbits' suite shares one event loop (and the clients on it) among its tests; its
    ``test_pay_invoice`` waits for a payment event no service sends to the test process.
    Interrupted by an exception raised inside the loop's machinery, the 237 tests after it
    failed with ``anyio.ClosedResourceError``.  The test's task is cancelled instead: its
    ``finally`` runs, and the loop goes on serving."""
    run = _run(tmp_path, """
        import asyncio
        from pathlib import Path

        LOOP = asyncio.new_event_loop()  # one loop for the session, as pytest-asyncio's session scope
        CLEANED = Path(__file__).with_name("cleaned")

        def test_waits_for_a_payment_event():
            async def wait():
                try:
                    await asyncio.Event().wait()
                finally:
                    CLEANED.write_text("yes")
            LOOP.run_until_complete(wait())

        def test_after_uses_the_same_loop():
            assert CLEANED.read_text() == "yes"
            assert LOOP.run_until_complete(asyncio.sleep(0, result=7)) == 7
    """, test_timeout=1.5, timeout=120)
    hung = _outcome(run, "test_waits_for_a_payment_event")
    assert hung.outcome == "failed" and hung.timed_out == 1.5, hung
    assert hung.message.startswith("timed out on the split system"), hung.message
    after = _outcome(run, "test_after_uses_the_same_loop")
    assert after.outcome == "passed", after.message


def test_a_hanging_anyio_test_fails_and_anyio_s_runner_serves_the_next_tests(tmp_path):
    """anyio's pytest plugin (LNbits) runs every async test and fixture in ONE long-lived runner
    task.  Cancelling that task (it is the one whose await chain reaches the test) ended the
    runner, and the 181 tests after LNbits' ``test_pay_invoice`` failed with
    ``anyio.ClosedResourceError``.  Only the test's own coroutine is interrupted now, where it
    waits; the runner, and the session fixture living in it, go on.  On uvloop, as LNbits."""
    run = _run(tmp_path, """
        import asyncio
        import pytest
        from pathlib import Path

        CLEANED = Path(__file__).with_name("cleaned")

        @pytest.fixture(scope="session")
        def anyio_backend():
            return "asyncio", {"use_uvloop": True}  # as LNbits' conftest

        @pytest.fixture(scope="session")
        async def client():
            yield {"loop": asyncio.get_running_loop()}

        @pytest.mark.anyio
        async def test_waits_for_a_payment_event(client):
            try:
                await asyncio.Event().wait()
            finally:
                CLEANED.write_text("yes")

        @pytest.mark.anyio
        async def test_waits_in_a_task_of_its_own(client):
            await asyncio.ensure_future(asyncio.sleep(60))

        @pytest.mark.anyio
        async def test_swallows_exceptions_while_it_waits(client):
            while True:
                try:
                    await asyncio.sleep(60)
                except Exception:
                    pass

        @pytest.mark.anyio
        async def test_after_uses_the_same_runner(client):
            assert CLEANED.read_text() == "yes"
            assert client["loop"] is asyncio.get_running_loop()
            assert await asyncio.sleep(0, result=7) == 7

        @pytest.mark.anyio
        async def test_and_the_one_after(client):
            await asyncio.sleep(0)
    """, test_timeout=1.5, timeout=120)
    assert run.ran, run.problem
    for name in ("test_waits_for_a_payment_event", "test_waits_in_a_task_of_its_own",
                 "test_swallows_exceptions_while_it_waits"):
        hung = _outcome(run, name)
        assert hung.outcome == "failed" and hung.timed_out == 1.5, (name, hung)
        assert hung.message.startswith("timed out on the split system"), hung.message
    for name in ("test_after_uses_the_same_runner", "test_and_the_one_after"):
        after = _outcome(run, name)
        assert after.outcome == "passed", (name, after.message)
    assert run.seconds < 60


def test_a_test_slow_on_the_monolith_gets_a_longer_limit(tmp_path):
    mono = SuiteRun("monolith", {
        "suite/test_it.py::test_slow": TestOutcome("suite/test_it.py::test_slow", "passed", duration=1.0),
        "suite/test_it.py::test_fast": TestOutcome("suite/test_it.py::test_fast", "passed", duration=0.01),
    }, 0, 1.0, tmp_path / "log", [])
    limits = split_limits(mono, 1.0)
    assert limits == {"suite/test_it.py::test_slow": 3.0}
    assert split_limits(mono, 0) == {}
    run = _run(tmp_path, """
        import time

        def test_slow():
            time.sleep(2)

        def test_fast():
            time.sleep(2)
    """, test_timeout=1.0, limits={"test_it.py::test_slow": 3.0})
    assert _outcome(run, "test_slow").outcome == "passed"
    assert _outcome(run, "test_fast").timed_out == 1.0


def test_a_test_that_will_not_stop_ends_the_suite_with_its_results(tmp_path):
    run = _run(tmp_path, """
        import time

        def test_first():
            assert True

        def test_swallows_the_interruption():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    time.sleep(60)
                except BaseException:
                    pass

        def test_never_reached():
            assert True
    """, env={"DECOMPOSE_VERIFY_TEST_GRACE": "1"}, test_timeout=1.0, timeout=120)
    assert run.returncode == 3
    assert _outcome(run, "test_first").outcome == "passed"
    stuck = _outcome(run, "test_swallows_the_interruption")
    assert stuck.outcome == "failed" and stuck.timed_out == 1.0
    assert "the suite was ended after it" in stuck.message
    assert not [tid for tid in run.tests if tid.endswith("test_never_reached")]
    assert run.seconds < 40


def test_a_suite_killed_from_outside_keeps_what_it_finished(tmp_path):
    run = _run(tmp_path, """
        import time

        def test_first():
            assert True

        def test_hangs():
            time.sleep(120)
    """, test_timeout=0, timeout=8)
    assert run.problem == "the suite did not finish in 8s"
    assert _outcome(run, "test_first").outcome == "passed"


def test_no_limit_unless_asked(tmp_path):
    run = _run(tmp_path, """
        import time

        def test_takes_its_time():
            time.sleep(2.5)
    """, test_timeout=0)
    assert _outcome(run, "test_takes_its_time").outcome == "passed"
