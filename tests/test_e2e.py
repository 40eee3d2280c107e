"""End to end: analyze -> plan -> generate -> build -> up on sample_monolith, then the
monolith's own HTTP test suite against the split system's public port.

Every test of ``sample_monolith/tests`` that passes against the monolith (served
over HTTP the same way) must pass against the split system, with Docker and
with ``--local``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from decompose.runtime.runner import free_port
from tests.cli_command import decompose_cli

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_monolith"
SUITE_TIMEOUT = 600


def cli(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    r = subprocess.run(
        [*decompose_cli(), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO
    )
    return r


def check(r: subprocess.CompletedProcess, *ok_codes: int) -> subprocess.CompletedProcess:
    codes = ok_codes or (0,)
    assert r.returncode in codes, f"`{' '.join(map(str, r.args[len(decompose_cli()):]))}` exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return r


def run_suite(base_url: str, report: Path) -> dict[str, str]:
    """Run sample_monolith/tests against ``base_url``; returns test id -> passed/failed/error/skipped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(SHOP_BASE_URL=base_url, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", f"--junitxml={report}"],
        cwd=SAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT,
    )
    assert report.is_file(), f"the monolith's suite did not run (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    outcomes: dict[str, str] = {}
    details: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        tid = f"{case.get('classname')}::{case.get('name')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                details[tid] = (child.get("message") or "")[:500]
        outcomes[tid] = outcome
    run_suite.details = details  # type: ignore[attr-defined]
    return outcomes


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def monolith_server(tmp: Path):
    """The monolith itself, served over HTTP on a free port with a fresh database."""
    port = free_port()
    env = {**os.environ, "SHOP_PORT": str(port), "SHOP_HOST": "127.0.0.1", "SHOP_DATABASE_URL": f"sqlite:///{tmp}/monolith.db"}
    env["PYTHONPATH"] = str(SAMPLE)
    with open(tmp / "monolith.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "shop"], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("monolith")
    with monolith_server(tmp) as url:
        outcomes = run_suite(url, tmp / "junit.xml")
    passed = [t for t, o in outcomes.items() if o == "passed"]
    # the proof is only as strong as the baseline: most of the suite must pass on the monolith
    assert len(passed) >= 20 and len(passed) >= 0.9 * len(outcomes), outcomes
    return outcomes


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """analyze -> plan -> generate into a fresh folder, through the CLI as a user runs it."""
    work = tmp_path_factory.mktemp("pipeline")
    cache = work / "cache"
    r = check(cli("analyze", str(SAMPLE), "--format", "json", "--output", str(work / "analysis.json"), "--cache-dir", str(cache), "-q"))
    analysis = json.loads((work / "analysis.json").read_text())
    assert analysis, r.stderr
    plan = work / "decompose.yaml"
    check(cli("plan", str(SAMPLE), "--output", str(plan)), 0, 1)
    assert plan.is_file()
    out = work / "out"
    check(cli("generate", "--plan", str(plan), "--output", str(out)))
    assert (out / "decompose-output.json").is_file()
    return out


def exceptions_in_logs(logs: dict[str, str]) -> list[str]:
    """The distinct exception lines ("pkg.Error: message") each unit logged, for the failure report."""
    pat = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit)[\w]*)(: .*)?$")
    out = []
    for unit, text in sorted(logs.items()):
        seen = []
        for line in text.splitlines():
            if pat.match(line.strip()) and line.strip() not in seen:
                seen.append(line.strip())
        out += [f"{unit}: {e[:300]}" for e in seen[:5]]
    return out


def assert_split_passes_what_monolith_passes(
    baseline: dict[str, str], split: dict[str, str], details: dict[str, str], logs: dict[str, str]
) -> None:
    must = sorted(t for t, o in baseline.items() if o == "passed")
    broken = [
        f"{t}: {split.get(t, 'not run')}: {details.get(t, '').splitlines()[0] if details.get(t) else ''}"
        for t in must
        if split.get(t) != "passed"
    ]
    assert not broken, (
        f"{len(broken)} of {len(must)} monolith-passing tests fail on the split system:\n  "
        + "\n  ".join(broken)
        + "\nexceptions logged by the services:\n  "
        + "\n  ".join(exceptions_in_logs(logs) or ["(none)"])
    )


def test_split_system_as_local_processes_passes_the_monolith_suite(generated, baseline, tmp_path):
    port = free_port()
    # the installed CLI may live in its own venv (pipx, CI): the services run in this test environment
    up = cli("up", "--local", "--python", sys.executable, "--port", str(port), "--timeout", "120", str(generated))
    try:
        check(up)
        assert up.stdout.strip() == f"http://127.0.0.1:{port}"
        split = run_suite(f"http://127.0.0.1:{port}", tmp_path / "junit.xml")
        logs = {p.stem: p.read_text(errors="replace") for p in (generated / ".decompose-run/logs").glob("*.log")}
        assert_split_passes_what_monolith_passes(baseline, split, run_suite.details, logs)
    finally:
        check(cli("down", "--local", str(generated)))


@pytest.mark.docker
@pytest.mark.slow
def test_split_system_in_docker_passes_the_monolith_suite(generated, baseline, tmp_path, base_image, docker_client_fixture):
    from decompose.runtime.docker_build import load_manifest

    m = load_manifest(generated)
    t0 = time.monotonic()
    check(cli("build", "--base-image", base_image, "-q", str(generated), timeout=2400))
    build_s = time.monotonic() - t0
    port = free_port()
    try:
        t1 = time.monotonic()
        up = check(cli("up", "--port", str(port), "--timeout", "180", str(generated)))
        assert up.stdout.strip() == f"http://127.0.0.1:{port}"
        up_s = time.monotonic() - t1
        containers = docker_client_fixture.containers.list(all=True, filters={"label": f"io.decompose.project={m.project}"})
        # the PostgreSQL-backed split system (the default for the sample, which uses SQLAlchemy)
        assert sorted(c.labels["io.decompose.service"] for c in containers) == sorted([u.name for u in m.units]
                                                                                      + ["postgres"])
        for c in containers:  # the generated images run as a non-root user on a read-only root
            assert c.attrs["Config"]["User"] not in ("", "root", "0", "0:0"), c.name
            assert c.attrs["HostConfig"]["ReadonlyRootfs"] is True
            env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
            if c.labels["io.decompose.role"] == "service":  # its URL is a mounted secret file, never an env value
                assert env["SHOP_DATABASE_URL_FILE"].startswith("/run/secrets/db-") and "SHOP_DATABASE_URL" not in env
        # one database per service (and the shared one), each holding the tables the plan gives it
        server = json.loads((generated / "decompose-output.json").read_text())["database"]["server"]
        pg = docker_client_fixture.containers.get(f"{m.project}-postgres")

        def psql(db: str, sql: str) -> list[str]:
            r = pg.exec_run(["psql", "-U", "postgres", "-d", db, "-tAc", sql])
            assert r.exit_code == 0, r.output
            return r.output.decode().split()

        assert set(psql("postgres", "SELECT datname FROM pg_database WHERE NOT datistemplate")) == (
            {d["name"] for d in server["databases"]} | {"postgres"})
        for d in server["databases"]:
            assert set(d["tables"]) <= set(psql(d["name"], "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        split = run_suite(f"http://127.0.0.1:{port}", tmp_path / "junit.xml")
        logs = {c.labels["io.decompose.service"]: c.logs().decode("utf-8", "replace") for c in containers}
        assert_split_passes_what_monolith_passes(baseline, split, run_suite.details, logs)
        print(f"e2e docker: {len(m.units)} images built in {build_s:.0f}s, up in {up_s:.0f}s")
    finally:
        down = check(cli("down", str(generated)))
    assert f"removed {len(m.units) + 1} container(s), 1 network(s)" in down.stderr
