"""Real monoliths end to end with Docker: analyze -> plan -> generate -> build -> up -> verify.

Each app comes from PyPI through ``benchmarks.corpus`` (pinned sdist + sha256,
cached in ``~/.cache/decompose-corpus`` with its own virtualenv; no app code is
in this repository).  The plan is a hand plan from
``tests/data/corpus_plans/<app>.yaml`` (module -> service only, with the reason
it is used in its header) when there is one, else decompose's default plan,
which must then have two services or more.  Every command is the installed CLI (``DECOMPOSE_CLI``, a wheel
in CI), and the app's own test suite runs in the app's virtualenv
(``verify --python``) against the running split system.

Asserted: ``verify`` exits 0, no regression, and the split system passes every
test the monolith passes except those verify lists with a reason
(``classified``): split passed == monolith passed - listed.

    python -m pytest tests/test_corpus_e2e.py            # both apps (slow: see docs/conformance.md)
    DECOMPOSE_E2E_APPS=flaskr python -m pytest tests/test_corpus_e2e.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.cli_command import decompose_cli
from tests.generate_support import free_port

REPO = Path(__file__).resolve().parent.parent
PLANS = REPO / "tests" / "data" / "corpus_plans"
#: flaskr and FlaskBB by default (DECOMPOSE_E2E_APPS names others, or one of them): docs/verify.md.
APPS = [a for a in os.environ.get("DECOMPOSE_E2E_APPS", "flaskr flaskbb").split() if a]

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def cli(*args, cwd: Path = REPO, timeout: float = 1800) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([*decompose_cli(), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=cwd)


def check(r: subprocess.CompletedProcess, *codes: int) -> subprocess.CompletedProcess:
    assert r.returncode in (codes or (0,)), f"exit {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-6000:]}"
    return r


class App:
    """One corpus app copied, planned and generated in a work folder."""

    def __init__(self, name: str, work: Path) -> None:
        from benchmarks.corpus import APPS as SPECS, app_source, app_venv, venv_python

        self.spec = SPECS[name]
        src = app_source(self.spec)
        app_venv(self.spec)  # cached: built once per machine (.complete marker)
        self.python = venv_python(self.spec)
        self.work = work
        self.root = work / name
        shutil.copytree(src, self.root, symlinks=True, ignore=shutil.ignore_patterns(
            "__pycache__", ".decompose_cache", "instance", "*.egg-info", "*.sqlite*", "*.log", *self.spec.clean))
        self.timings: dict[str, float] = {}
        self.plan = work / "decompose.yaml"
        self.out = work / "out"
        self.project = f"e2e{name.replace('-', '')}"

    def step(self, name: str, *args, **kw) -> subprocess.CompletedProcess:
        t0 = time.monotonic()
        r = cli(*args, **kw)
        self.timings[name] = round(time.monotonic() - t0, 1)
        return r

    def make_plan(self) -> str:
        check(self.step("analyze", "analyze", self.root, "--format", "json"))
        hand = PLANS / f"{self.spec.name}.yaml"
        if hand.is_file():
            plan = yaml.safe_load(hand.read_text())
            plan.update(project=self.project, source=str(self.root))
            self.plan.write_text(yaml.safe_dump(plan, sort_keys=False))
            return "hand"
        check(self.step("plan", "plan", self.root, "--output", self.plan, "--format", "json"))
        plan = yaml.safe_load(self.plan.read_text())
        assert len(plan.get("services") or {}) >= 2, f"default plan of {self.spec.name}: one service"
        plan["project"] = self.project
        self.plan.write_text(yaml.safe_dump(plan, sort_keys=False))
        return "default"


@pytest.fixture(scope="module", params=APPS)
def app(request, tmp_path_factory) -> App:
    a = App(request.param, tmp_path_factory.mktemp(f"e2e-{request.param}"))
    a.plan_kind = a.make_plan()
    check(a.step("generate", "generate", "--plan", a.plan, "--output", a.out))
    return a


def test_build_up_verify_docker(app, docker_client_fixture):
    manifest = json.loads((app.out / "decompose-output.json").read_text())
    base = ["--base-image", app.spec.base_image] if app.spec.base_image else []  # why: at the corpus entry
    r = check(app.step("build", "build", app.out, "--quiet", "--format", "json", *base), 0)
    built = json.loads(r.stdout)
    assert not built["failed"] and len(built["built"]) == len(manifest["services"]) + 1, r.stdout[-3000:]
    port = free_port()
    verify_dir = app.work / "verify-shared"
    try:
        check(app.step("up", "up", app.out, "--port", port, "--timeout", "300", "--verify-dir", verify_dir))
        tests = app.root / "tests"
        args = ["verify", app.out, "--tests", tests, "--python", app.python, "--cwd", app.root, "--format", "json",
                "--suite-timeout", str(app.spec.test_timeout)]
        extra = list(app.spec.test_command[app.spec.test_command.index("-q") + 1:])  # the app's own pytest options
        r = app.step("verify", *args, "--", *extra, timeout=app.spec.test_timeout * 2 + 600)
    finally:
        check(cli("down", app.out))
    report = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
    assert r.returncode == 0, (f"verify exit {r.returncode}; regressions {report.get('regressions')}\n"
                               f"{r.stderr[-4000:]}")
    rows = report["tests"]
    mono_passed = {t["id"] for t in rows if t["monolith"] == "passed"}
    split_passed = {t["id"] for t in rows if t["split"] == "passed"}
    classified = {t["id"] for t in rows if t["verdict"] == "classified"}
    # "in-process only": the test made no request through a client of the app, so its split outcome
    # says nothing about the split system (FlaskBB's suite: every test; docs/verify.md)
    in_process = {t["id"] for t in rows if any(r.startswith("in-process only") for r in t["reasons"])}
    listed = {t["id"] for t in rows if t["id"] in classified and t["id"] in mono_passed and t["split"] != "passed"}
    assert report["regressions"] == []
    assert all(t["reasons"] for t in rows if t["verdict"] == "classified")
    assert mono_passed - split_passed == listed, sorted(mono_passed - split_passed - listed)[:20]
    assert len(split_passed & mono_passed) == len(mono_passed) - len(listed)
    expected = app.spec.expected
    if expected is not None:
        assert len(mono_passed) == expected.passed, (len(mono_passed), expected)
    print(f"\n{app.spec.name}: plan {app.plan_kind} ({len(manifest['services'])} services), "
          f"monolith {len(mono_passed)} passed, split {len(split_passed & mono_passed)} of them, "
          f"{len(classified)} classified ({len(in_process)} in-process only, {len(listed)} of the monolith's "
          f"passes not passing on the split system); seconds {app.timings}")
