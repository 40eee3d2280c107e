"""``decompose verify``: the monolith's own test suite, run on the monolith and on the split system.

Adapters: running pytest in a subprocess with :mod:`decompose.runtime.verify_plugin`
(:func:`run_suite`) and reading what the plugin wrote (:func:`read_results`).
Pure: classifying each test and comparing the two runs (:func:`compare`).

A test's *reasons* say why its outcome on the split system is no statement
about the split system; a test with a reason never counts as a regression:

* it patched the app (``monkeypatch.setattr``, ``mock.patch``, ``patch.dict``
  of an app module or ``app.config``), or an object of another library, in
  the test process: the services run unpatched code;
* it made no request through an in-process client of the app on the monolith
  (nor on the split system): it tests code in the test process (*in-process
  only*), whatever it calls;
* it used a WebSocket through Starlette's TestClient, which stays in process.

*Notes* are told but change nothing: environment variables set in the test
process only, ``session``/``g`` inspected inside ``with client:`` (rebuilt in
the test process from the split system's cookies), app functions the test
called directly besides its requests.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from decompose.fsio import atomic_write
from decompose.runtime.verify_folder import (  # noqa: F401 - the folder's preparation, used here and by tests
    VERIFY_TMP,
    _hand_suite_folder_or_warn,
    _hand_suite_settings,
    _suite_names,
    write_app_config,
)

PLUGIN = "decompose.runtime.verify_plugin"
PLUGIN_COPY = "decompose_verify_plugin"  # module name of the plugin copied for another interpreter
PASSED = "passed"
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "not run")

# verdicts of a test, monolith vs split
SAME = "same"  # the same outcome on both (no reason)
REGRESSION = "regression"  # passes on the monolith, not on the split system, no reason: exit status 1
CLASSIFIED = "classified"  # has a reason: whatever its outcomes, no statement about the split system
SPLIT_ONLY = "split only"  # fails on the monolith, passes on the split system
BOTH_FAIL = "both fail"  # fails on both, differently
VERDICTS = (REGRESSION, CLASSIFIED, SPLIT_ONLY, BOTH_FAIL, SAME)


@dataclass
class TestOutcome:
    __test__ = False  # not a pytest test class

    id: str
    outcome: str
    message: str = ""
    when: str = ""
    duration: float = 0.0
    requests: int = 0
    contexts: int = 0
    websockets: int = 0
    template_reads: list[str] = field(default_factory=list)  # response.context / .templates read by the test
    app_patches: list[str] = field(default_factory=list)
    other_patches: list[str] = field(default_factory=list)
    config_patches: list[str] = field(default_factory=list)
    env_patches: list[str] = field(default_factory=list)
    direct_calls: dict[str, int] = field(default_factory=dict)
    app_objects: dict[str, list[str]] = field(default_factory=dict)  # app's in-memory objects -> methods the test called
    log_captures: list[str] = field(default_factory=list)  # assertLogs, LogCapture, caplog
    g_set: list[str] = field(default_factory=list)  # flask.g names the app's request handling set (monolith)
    g_missing: list[str] = field(default_factory=list)  # flask.g names looked up but unset (split)
    g_carried: list[str] = field(default_factory=list)  # flask.g names the app read that an earlier request set (monolith)
    uncommitted: list[str] = field(default_factory=list)  # requests whose uncommitted writes later queries saw (monolith)
    timed_out: float = 0.0  # the per-test limit it ran past (seconds), 0 if it did not
    seq: int = 0  # its place in the run's order (1, 2, ...; 0: unknown)


@dataclass
class SuiteRun:
    side: str  # "monolith" | "split"
    tests: dict[str, TestOutcome]
    returncode: int
    seconds: float
    log: Path
    command: list[str]
    status: str = ""  # what the plugin said about the run (shared database...)
    problem: str = ""  # why the suite produced no results, if it did not

    @property
    def ran(self) -> bool:
        return not self.problem

    def counts(self) -> dict[str, int]:
        c = Counter(t.outcome for t in self.tests.values())
        return {o: c[o] for o in OUTCOMES if c.get(o)}

    def log_tail(self, n: int = 15) -> list[str]:
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        return [ln for ln in lines if ln.strip()][-n:]


@dataclass
class Row:
    id: str
    monolith: str
    split: str
    verdict: str
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    message: str = ""  # the split run's failure message, else the monolith's

    def to_dict(self) -> dict:
        return {"id": self.id, "monolith": self.monolith, "split": self.split, "verdict": self.verdict,
                "reasons": self.reasons, "notes": self.notes, "message": self.message}


# --------------------------------------------------------------------------- reading the plugin's files


def _merge(into: TestOutcome | None, tid: str, raw: dict) -> TestOutcome:
    patches = raw.get("patches") or {}
    if into is None:
        into = TestOutcome(id=tid, outcome=raw.get("outcome") or "")
    elif raw.get("outcome") and not into.outcome:
        into.outcome = raw["outcome"]
    if raw.get("message") and not into.message:
        into.message = raw["message"]
    into.when = into.when or raw.get("when", "")
    into.duration = max(into.duration, float(raw.get("duration") or 0.0))
    into.timed_out = max(into.timed_out, float(raw.get("timed_out") or 0.0))
    into.seq = into.seq or int(raw.get("seq") or 0)
    into.requests += int(raw.get("requests") or 0)
    into.contexts += int(raw.get("contexts") or 0)
    into.websockets += int(raw.get("websockets") or 0)
    into.template_reads += [r for r in raw.get("template_reads") or [] if r not in into.template_reads]
    for attr, key in (("app_patches", "app"), ("other_patches", "other"), ("config_patches", "config"),
                      ("env_patches", "env")):
        have = getattr(into, attr)
        have += [p for p in patches.get(key, []) if p not in have]
    for attr in ("log_captures", "g_set", "g_missing", "g_carried", "uncommitted"):
        have = getattr(into, attr)
        have += [c for c in raw.get(attr) or [] if c not in have]
    for name, n in (raw.get("direct_calls") or {}).items():
        into.direct_calls[name] = into.direct_calls.get(name, 0) + int(n)
    _add_methods(into.app_objects, raw.get("app_objects") or {})
    return into


def _add_methods(into: dict[str, list[str]], more: dict[str, list[str]]) -> dict[str, list[str]]:
    """``into`` with the methods ``more`` lists per object, each object's methods once."""
    for name, methods in more.items():
        have = into.setdefault(name, [])
        have += [m for m in methods if m not in have]
    return into


def read_results(folder: Path) -> tuple[dict[str, TestOutcome], str]:
    """Every test the plugin recorded in ``folder`` (xdist workers merged), and its status line."""
    tests: dict[str, TestOutcome] = {}
    status = ""
    for path in sorted(Path(folder).glob("results-*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        status = status or data.get("config", "")
        for tid, raw in (data.get("tests") or {}).items():
            tests[tid] = _merge(tests.get(tid), tid, raw)
    for t in tests.values():
        if not t.outcome:
            t.outcome = "not run"
    return dict(sorted(tests.items())), status


# --------------------------------------------------------------------------- running pytest


def plugin_args(python: str, work: Path) -> tuple[list[str], dict[str, str]]:
    """``-p`` arguments and environment that load the plugin into ``python``.

    This interpreter imports it from decompose; another one (``--python``) gets
    a copy of the file, which needs nothing but the standard library and pytest.
    Interpreters are told apart by path, not by the binary a path resolves to: a
    virtualenv's ``python`` is a symlink to the same binary with other packages.
    """
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        return ["-p", PLUGIN], {}
    folder = work / "plugin"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("verify_plugin.py"), folder / f"{PLUGIN_COPY}.py")
    return ["-p", PLUGIN_COPY], {"PYTHONPATH": str(folder)}


#: Variables of this process a suite run never inherits: each run sets its own, and those a
#: pytest running verify (xdist worker, current test) would leave that make the suite's
#: pytest believe it is an xdist worker itself.  PYTEST_ADDOPTS and PYTEST_PLUGINS stay.
_OWN_ENV = ("DECOMPOSE_VERIFY_", "DECOMPOSE_DATABASE", "DECOMPOSE_SECRET_KEY_FILE", "PYTEST_XDIST_",
            "PYTEST_CURRENT_TEST")


def suite_env(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith(_OWN_ENV)}
    for k, v in extra.items():
        if k == "PYTHONPATH" and env.get("PYTHONPATH"):
            v = os.pathsep.join([v, env["PYTHONPATH"]])
        env[k] = v
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


#: The monolith run's per-test limit is this many times ``--test-timeout`` (it only guards
#: against a suite that hangs on its own); a test slow on the monolith gets this many times
#: its monolith duration on the split system, if that is longer than ``--test-timeout``.
MONOLITH_LIMIT_FACTOR = 5
SLOW_TEST_FACTOR = 3


def split_limits(mono: SuiteRun, test_timeout: float) -> dict[str, float]:
    """Per-test limits of the split run longer than ``test_timeout``: the tests slow on the monolith."""
    if not test_timeout:
        return {}
    return {tid: round(SLOW_TEST_FACTOR * t.duration, 1) for tid, t in mono.tests.items()
            if SLOW_TEST_FACTOR * t.duration > test_timeout}


def run_suite(
    side: str,
    *,
    python: str,
    tests: Path,
    cwd: Path,
    work: Path,
    env: dict[str, str],
    pytest_args: list[str] = (),  # type: ignore[assignment]
    timeout: float = 1800,
    test_timeout: float = 0.0,
    limits: dict[str, float] | None = None,
) -> SuiteRun:
    """Run the suite once (``side``: "monolith", "split" or "rerun", a second split run); ``env`` holds
    the plugin's settings.

    ``test_timeout``: seconds a test may take (0: no limit), ``limits`` longer ones for single tests;
    a test past its limit is interrupted and fails with "timed out", and the suite goes on."""
    report = work / f"{side}-results"
    shutil.rmtree(report, ignore_errors=True)
    report.mkdir(parents=True)
    p_args, p_env = plugin_args(python, work)
    argv = [python, "-m", "pytest", str(tests), *p_args, "-p", "no:cacheprovider", "-q", "-rN", *pytest_args]
    limit_env = {"DECOMPOSE_VERIFY_TEST_TIMEOUT": f"{test_timeout:g}"} if test_timeout else {}
    if test_timeout and limits:
        atomic_write(work / f"{side}-limits.json", json.dumps(limits, indent=1, sort_keys=True) + "\n")
        limit_env["DECOMPOSE_VERIFY_TEST_LIMITS"] = str(work / f"{side}-limits.json")
    mode = "monolith" if side == "monolith" else "split"  # a re-run is a split run too
    run_env = suite_env(dict(os.environ), {**p_env, **env, **limit_env, "DECOMPOSE_VERIFY_MODE": mode,
                                           "DECOMPOSE_VERIFY_REPORT": str(report)})
    log = work / f"{side}.log"
    t0 = time.monotonic()
    problem = ""
    with open(log, "wb") as out:
        try:
            proc = subprocess.run(argv, cwd=cwd, env=run_env, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code, problem = -1, f"the suite did not finish in {timeout:.0f}s"
        except OSError as exc:
            code, problem = -1, f"cannot run {python}: {exc.strerror or exc}"
    seconds = time.monotonic() - t0
    results, status = ({}, "")
    try:
        results, status = read_results(report)
    except (OSError, ValueError) as exc:
        problem = problem or f"unreadable results: {exc}"
    if not results and not problem:
        problem = (f"pytest exited {code} without running a test" if code not in (0, 5)
                   else "no test collected")
    elif results and not problem and all(t.when == "collect" for t in results.values()):
        first = next(iter(results.values()))
        problem = f"no test ran: {len(results)} collection error(s), e.g. {first.id}: {first.message}"

    return SuiteRun(side, results, code, seconds, log, argv, status=status, problem=problem)


# --------------------------------------------------------------------------- classification (pure)


def reasons_and_notes(mono: TestOutcome | None, split: TestOutcome | None) -> tuple[list[str], list[str]]:
    """Why a test's split outcome is no statement about the split system; what else to know."""
    sides = [t for t in (mono, split) if t is not None]
    reasons: list[str] = []
    notes: list[str] = []

    def union(attr: str) -> list[str]:
        out: list[str] = []
        for t in sides:
            out += [p for p in getattr(t, attr) if p not in out]
        return out

    app = union("app_patches")
    if app:
        reasons.append(f"patches the app in the test process: {', '.join(app)}; the services run it unpatched")
    other = union("other_patches")
    if other:
        reasons.append(f"patches {', '.join(other)} in the test process only; the services use the real one")
    config = union("config_patches")
    if config:
        reasons.append(f"changes {', '.join(config)} of the test's app only; the services keep their configuration")
    logs = union("log_captures")
    if logs:
        reasons.append(f"reads the log records of the test process ({', '.join(logs)}); the split system's "
                       "request handling logs in the services' processes")
    g_read = [n for n in (split.g_missing if split is not None else []) if mono is not None and n in mono.g_set]
    if g_read:
        reasons.append(f"reads {', '.join('g.' + n for n in g_read)} in the test process, which the app's request "
                       "handling set there on the monolith; the split system handles the request in a service")
    carried = mono.g_carried if mono is not None else []
    if carried and (split is None or split.outcome != PASSED):
        reasons.append(f"passes on the monolith reading {', '.join('g.' + n for n in carried)} in the app's request "
                       "handling, left in flask.g by an earlier request or the test (its app context outlives "
                       "requests); a service's request starts with an empty g")
    left = mono.uncommitted if mono is not None else []
    if left and (split is None or split.outcome != PASSED):
        reasons.append(f"passes on the monolith reading writes that {', '.join(left)} left uncommitted in the "
                       "database session the test's requests share (its app context outlives requests); a "
                       "service's request ends with its session, which drops them, as the monolith does in "
                       "production")
    objects: dict[str, list[str]] = {}
    for t in sides:
        _add_methods(objects, t.app_objects)
    if objects and (split is None or split.outcome != PASSED):
        used = "; ".join(f"{name} ({', '.join(sorted(methods))})" for name, methods in sorted(objects.items()))
        reasons.append(f"uses objects the app keeps in memory in the test process: {used}; each service keeps "
                       "its own, which the test's requests change and the test never sees")
    observed = mono if mono is not None else split
    made_requests = observed is not None and observed.requests > 0
    if observed is not None and not made_requests and (split is None or split.requests == 0):
        calls = {}
        for t in sides:
            for k, v in t.direct_calls.items():
                calls[k] = max(calls.get(k, 0), v)
        called = f" (calls {', '.join(sorted(calls))} directly)" if calls else ""
        reasons.append(f"in-process only: made no request through a client of the app{called}; "
                       "it tests code in the test process, not the split system")
    if any(t.websockets for t in sides):
        reasons.append("uses a WebSocket through TestClient, which verify leaves in process")
    reads = union("template_reads")
    if reads:
        reasons.append(f"reads {' and '.join(reads)} (assertTemplateUsed...): Django records them while a template "
                       "renders in the process that renders it, a service of the split system; not observable over HTTP")
    env = union("env_patches")
    if env:
        notes.append(f"sets the environment of the test process only: {', '.join(env)}")
    if split is not None and split.contexts:
        notes.append("inspects session/g inside `with client:`: rebuilt in the test process from the split "
                     "system's response (the app's before_request functions run there once more)")
    if made_requests:
        calls = {}
        for t in sides:
            for k, v in t.direct_calls.items():
                calls[k] = max(calls.get(k, 0), v)
        if calls:
            notes.append(f"also calls {', '.join(sorted(calls))} directly (in the test process, on the shared database)")
    return reasons, notes


def verdict(mono: str, split: str, has_reason: bool) -> str:
    if has_reason:
        return CLASSIFIED
    if mono == PASSED:
        return SAME if split == PASSED else REGRESSION
    if split == PASSED:
        return SPLIT_ONLY
    return SAME if mono == split else BOTH_FAIL


def compare(mono: SuiteRun, split: SuiteRun) -> list[Row]:
    rows = []
    for tid in sorted(set(mono.tests) | set(split.tests)):
        m, s = mono.tests.get(tid), split.tests.get(tid)
        m_out = m.outcome if m else "not run"
        s_out = s.outcome if s else "not run"
        reasons, notes = reasons_and_notes(m, s)
        message = (s.message if s and s_out != PASSED else "") or (m.message if m and m_out != PASSED else "")
        rows.append(Row(tid, m_out, s_out, verdict(m_out, s_out, bool(reasons)), reasons, notes, message))
    return rows


def summary(rows: list[Row]) -> dict[str, int]:
    c = Counter(r.verdict for r in rows)
    return {v: c.get(v, 0) for v in VERDICTS}


# --------------------------------------------------------------------------- what verify needs from the output folder


def app_packages(manifest: dict) -> list[str]:
    """Top-level packages of the monolith's modules in the services (what the plugin calls the app)."""
    tops = set()
    for s in manifest.get("services") or []:
        for m in [*(s.get("modules") or []), *(s.get("borrowed_modules") or [])]:
            if isinstance(m, str) and m:
                tops.add(m.split(".", 1)[0])
    return sorted(tops)


def suite_root(tests: Path) -> Path:
    """Where pytest runs: the nearest folder above ``tests`` with a project or pytest configuration."""
    tests = tests.resolve()
    start = tests if tests.is_dir() else tests.parent
    for folder in [start, *start.parents]:
        if any((folder / f).is_file() for f in ("pyproject.toml", "setup.cfg", "setup.py", "pytest.ini", "tox.ini")):
            return folder
    return start.parent if start.parent != start else start


# --------------------------------------------------------------------------- a split system already running (adapter)


def running_docker(m, *, client=None):
    """The project's system as ``up`` left it (a :class:`runner.Running`), when every unit's container runs; else None."""
    from decompose.runtime import runner
    from decompose.runtime.docker_build import LABEL_PROJECT, LABEL_SERVICE, docker_client
    from decompose.runtime.verify_folder import LABEL_VERIFY_DIR

    client = client or docker_client()
    found = {c.labels.get(LABEL_SERVICE): c
             for c in client.containers.list(filters={"label": f"{LABEL_PROJECT}={m.project}"})}
    if any(u.name not in found or found[u.name].status != "running" for u in m.units):
        return None
    front = runner.public_unit(m)
    bindings = (found[front.name].attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{front.port}/tcp") or []
    if not bindings:
        return None
    host = bindings[0].get("HostIp") or "127.0.0.1"
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{bindings[0]['HostPort']}"
    dirs = {found[u.name].labels.get(LABEL_VERIFY_DIR, "") for u in m.services}
    return runner.Running(m.project, url, {n: c.name for n, c in found.items()}, 0.0,
                          rpc_secret_file=str(runner.rpc_secret_path(m.root, "docker")),
                          verify_dir=dirs.pop() if len(dirs) == 1 else "")


def running_local(m):
    """The system ``up --local`` left running in ``m.root``, when every unit's process is alive; else None."""
    from decompose.runtime import runner

    reg = runner._read_registry(m.root)
    procs = {p["name"]: runner.LocalProc(**p) for p in reg.get("processes", [])}
    if not reg.get("url") or any(u.name not in procs or not runner._alive(procs[u.name]) for u in m.units):
        return None
    return runner.Running(m.project, reg["url"], {n: f"127.0.0.1:{p.port}" for n, p in procs.items()}, 0.0,
                          rpc_secret_file=str(runner.rpc_secret_path(m.root, "local")),
                          verify_dir=reg.get("verify_dir", ""))


# --------------------------------------------------------------------------- the whole run (adapter)


class VerifyError(RuntimeError):
    """Cannot verify at all (bad tests path, unreadable output folder)."""


@dataclass
class Verification:
    mode: str  # "local" | "docker"
    database: str  # "shared" | "generated"
    url: str = ""
    started: bool = False  # verify started the split system (and stops it unless kept)
    stopped: bool = False
    verify_dir: str = ""
    monolith: SuiteRun | None = None
    split: SuiteRun | None = None
    rerun: SuiteRun | None = None  # regressions after tests that may have left state behind, alone, on a fresh system
    rerun_context: SuiteRun | None = None  # those failing again, after their class's earlier passing tests
    rows: list[Row] = field(default_factory=list)
    up_failure: Exception | None = None  # runner.UpFailed: the split system did not start
    warnings: list[str] = field(default_factory=list)
    work: Path | None = None

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == REGRESSION]

    @property
    def ok(self) -> bool:
        return (self.up_failure is None and self.split is not None and self.split.ran
                and self.monolith is not None and self.monolith.ran and not self.regressions)


def read_manifest_json(out: Path) -> dict:
    from decompose.runtime.docker_build import MANIFEST_NAME

    try:
        return json.loads((Path(out) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VerifyError(f"{Path(out) / MANIFEST_NAME}: {exc}") from None


def verify(
    out: Path,
    tests: Path,
    *,
    local: bool = False,
    port: int = 0,
    python: str | None = None,
    cwd: Path | None = None,
    pytest_args: list[str] = (),  # type: ignore[assignment]
    startup_timeout: float = 120.0,
    suite_timeout: float = 1800.0,
    test_timeout: float = 120.0,
    keep: bool = False,
    database: str = "shared",
    client=None,
    status=None,
) -> Verification:
    """Run ``tests`` on the monolith, then on the split system of ``out`` (started if not running)."""
    from decompose.runtime import runner
    from decompose.runtime.docker_build import load_manifest
    from decompose.runtime.verify_folder import verify_env

    say = status or (lambda name, text: None)
    tests = Path(tests).resolve()
    if not tests.exists():
        raise VerifyError(f"{tests}: no such test file or folder")
    out = Path(out).resolve()
    m = load_manifest(out)
    raw = read_manifest_json(out)
    python = python or sys.executable
    cwd = Path(cwd).resolve() if cwd else suite_root(tests)
    packages = app_packages(raw)
    work = runner.run_dir(out) / "verify"
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(runner.run_dir(out), 0o700)
    result = Verification(mode="local" if local else "docker", database=database, work=work)
    base = {"DECOMPOSE_VERIFY_PACKAGES": ",".join(packages)}
    urlconf = (raw.get("verify") or {}).get("django_root_urlconf") or ""
    if urlconf:
        base["DECOMPOSE_VERIFY_DJANGO_URLCONF"] = urlconf

    say("monolith", f"running {tests} with {Path(python).name} in {cwd}")
    result.monolith = run_suite("monolith", python=python, tests=tests, cwd=cwd, work=work, env=base,
                                pytest_args=list(pytest_args), timeout=suite_timeout,
                                test_timeout=MONOLITH_LIMIT_FACTOR * test_timeout)
    say("monolith", _counts_text(result.monolith))
    if not result.monolith.ran:
        return result

    running = running_local(m) if local else running_docker(m, client=client)

    def start(port: int, note: bool):
        """Start the split system afresh (a new shared database); raises runner.UpFailed."""
        verify_dir = None
        if database == "shared":
            shared = work / "shared"
            shutil.rmtree(shared, ignore_errors=True)  # a fresh database for a fresh system
            verify_dir = shared
            keys, warned = write_app_config(shared, work / "monolith-results", containers=not local)
            _hand_suite_settings(work / "monolith-results", shared)
            warned += _hand_suite_folder_or_warn(shared, tests, cwd, link=local)[1]
            if note:
                result.warnings.extend(warned)
                if keys:
                    say("split", f"the services take on the {keys} configuration keys the suite's app ran with")
        say("split", f"starting the split system ({result.mode}) on port {port}")
        if local:
            return runner.up_local(m, port=port, timeout=startup_timeout, status=say, verify_dir=verify_dir,
                                   python=python)
        return runner.up_docker(m, port=port, timeout=startup_timeout, client=client, status=say,
                                verify_dir=verify_dir)

    if running is None:
        port = port or runner.free_port()
        try:
            running = start(port, note=True)
        except runner.UpFailed as exc:
            result.up_failure = exc
            result.started = True
            if not keep:
                _down(out, m, local, client)
                result.stopped = True
            return result
        result.started = True
    else:
        say("split", f"using the running split system at {running.url}")
        if database == "shared" and not running.verify_dir:
            result.warnings.append(
                "the running split system was not started for verify (`decompose up --verify-dir`): "
                "the suite's own database writes are not seen by the services")
        elif database == "shared":  # its services read the suite app's configuration when it changes
            _, warned = write_app_config(Path(running.verify_dir), work / "monolith-results", containers=not local)
            result.warnings.extend(warned)
            before = _suite_names(Path(running.verify_dir))
            name, warned = _hand_suite_folder_or_warn(Path(running.verify_dir), tests, cwd, link=local)
            result.warnings.extend(warned)
            if name is not None and name not in before:
                result.warnings.append(
                    f"the running split system was started before the suite's folder {name!r} was handed over: "
                    f"its services do not see {name}/... at the path the suite names it by; "
                    "let verify start the system (or run it again with --keep and reuse that one)")
    result.url = running.url
    result.verify_dir = running.verify_dir if database == "shared" else ""
    env = {**base, "DECOMPOSE_VERIFY_URL": running.url, "DECOMPOSE_VERIFY_CONTAINERS": "" if local else "1"}
    if result.verify_dir:
        env.update(verify_env(result.verify_dir))
        env.update({} if local else {"TMPDIR": str(Path(result.verify_dir) / VERIFY_TMP)})  # seen by containers
        config_module = _config_module(m)
        if config_module is None:
            result.warnings.append(
                f"{out}: the services have no decompose_rt/verify_config.py (generated by an older decompose): "
                "regenerate so that they read the shared database")
        else:
            env["DECOMPOSE_VERIFY_CONFIG_MODULE"] = str(config_module)
    split_args = list(pytest_args)
    if result.verify_dir and distributes(split_args):
        split_args += ["-n", "0"]
        result.warnings.append("the split run does not distribute the suite over pytest-xdist workers (-n 0): "
                               "its workers would share the split system's one database, where the monolith run "
                               "gave each its own")
    try:
        say("split", f"running {tests} against {running.url}")
        limits = split_limits(result.monolith, test_timeout)
        result.split = run_suite("split", python=python, tests=tests, cwd=cwd, work=work, env=env,
                                 pytest_args=split_args, timeout=suite_timeout, test_timeout=test_timeout,
                                 limits=limits)
        say("split", _counts_text(result.split))
        stopped = sorted(t.id for t in result.split.tests.values() if t.timed_out)
        if stopped:
            result.warnings.append(
                f"{len(stopped)} test(s) ran past the per-test limit on the split system and were stopped "
                f"(--test-timeout {test_timeout:g}): {', '.join(stopped[:5])}{' ...' if len(stopped) > 5 else ''}")
        result.rows = compare(result.monolith, result.split)
        one_process = bool(result.verify_dir) or not distributes(split_args)  # one order of the tests
        again = after_state_users(result.rows, result.split) if one_process else {}
        if again and not result.started:
            result.warnings.append(
                f"{len(again)} regression(s) ran after tests that may have left state behind on the split system; "
                "they were not run again on a fresh one because verify did not start the system (it was "
                "running already): stop it (`decompose down`) and verify again to tell the order-dependent ones")
            again = {}
        if again:
            # each of them failed after a test that may have left state behind on the split system:
            # once more, on a fresh one, without those
            say("split", f"{len(again)} regression(s) after tests that may have left state behind (they used the "
                         "app's in-memory objects, or failed with a listed reason): running them again on a "
                         "freshly started split system")
            # the services' logs of the split run, before the new start replaces them
            shutil.rmtree(work / "split-logs", ignore_errors=True)
            if local:
                shutil.copytree(runner.run_dir(out) / "logs", work / "split-logs", dirs_exist_ok=True)
            else:
                (work / "split-logs").mkdir(parents=True)
                with contextlib.suppress(Exception):  # logs are best effort
                    flt = {"label": f"{runner.LABEL_PROJECT}={m.project}"}
                    for c in (client or runner.docker_client()).containers.list(all=True, filters=flt):
                        name = (c.labels or {}).get(runner.LABEL_SERVICE) or c.name
                        (work / "split-logs" / f"{name}.log").write_bytes(c.logs())
            # first each alone; those failing again, after the earlier tests of their class that passed
            for side, context in (("rerun", False), ("rerun-context", True)):
                _down(out, m, local, client)
                try:
                    running = start(port, note=False)
                except runner.UpFailed as exc:
                    result.warnings.append(f"the re-run of {len(again)} regression(s) did not happen: the split "
                                           f"system did not start again: {str(exc).splitlines()[0]}")
                    break
                only = work / f"{side}-only.json"
                chosen = rerun_selection(again, result.split) if context else sorted(again)
                atomic_write(only, json.dumps(chosen, indent=1) + "\n")
                run = run_suite(side, python=python, tests=tests, cwd=cwd, work=work,
                                env={**env, "DECOMPOSE_VERIFY_URL": running.url, "DECOMPOSE_VERIFY_ONLY": str(only)},
                                pytest_args=split_args, timeout=suite_timeout, test_timeout=test_timeout,
                                limits=limits)
                setattr(result, "rerun_context" if context else "rerun", run)
                say("split", f"{'re-run with context' if context else 're-run'}: " + _counts_text(run))
                mark_order_dependent(result.rows, again, run, result.split, context=context)
                again = {tid: before for tid, before in again.items()
                         if run.tests.get(tid) is None or run.tests[tid].outcome != PASSED}
                if not again:
                    break
    finally:
        if result.started and not keep:
            _down(out, m, local, client)
            result.stopped = True
    return result


def after_state_users(rows: list[Row], split: SuiteRun) -> dict[str, list[str]]:
    """Regressions that ran after tests that may have left state behind on the split system (per
    regression: those earlier tests, in the split run's order): tests that used the app's
    in-memory objects in the test process, and listed tests that failed on the split system (they
    stopped before their own clean-up: privacyIDEA's test_10 leaves the admin policies it set)."""
    failing = {r.id for r in rows if r.verdict == CLASSIFIED and r.split != PASSED}
    users = sorted((t.seq, t.id) for t in split.tests.values() if t.seq and (t.app_objects or t.id in failing))
    out: dict[str, list[str]] = {}
    for r in rows:
        t = split.tests.get(r.id)
        if r.verdict != REGRESSION or t is None or not t.seq:
            continue
        before = [tid for seq, tid in users if seq < t.seq]
        if before:
            out[r.id] = before
    return out


def _scope(test_id: str) -> str:
    """A test's class (``file::Class``) or, for a test function, its module (``file``)."""
    return test_id.rsplit("::", 1)[0]


def rerun_selection(again: dict[str, list[str]], split: SuiteRun) -> list[str]:
    """What the re-run runs, in the split run's order: the regressions of ``again`` and, before each,
    the earlier tests of its class (or module) that passed on the split system (so ran to their own
    clean-up; a failing one, listed or not, may have stopped before it).  A test of a class that
    builds on its earlier tests (privacyIDEA's ``test_01`` makes the realms and users the later ones
    log in with) needs them: alone it would fail for want of them."""
    chosen = set(again)
    for tid in again:
        t = split.tests.get(tid)
        if t is None or not t.seq:
            continue
        chosen.update(o.id for o in split.tests.values()
                      if o.seq and o.seq < t.seq and _scope(o.id) == _scope(tid) and o.outcome == PASSED)
    return sorted(chosen, key=lambda tid: (split.tests[tid].seq if tid in split.tests else 0, tid))


def mark_order_dependent(rows: list[Row], again: dict[str, list[str]], rerun: SuiteRun, split: SuiteRun,
                         context: bool = False) -> int:
    """Regressions that pass when run again on a freshly started split system without the
    earlier tests that may have left state behind (alone, or with ``context`` after
    :func:`rerun_selection`'s earlier tests) get that as their reason, naming those tests."""
    n = 0
    for r in rows:
        t = rerun.tests.get(r.id)
        if r.id not in again or t is None or t.outcome != PASSED:
            continue
        kinds = []
        memory = [b for b in again[r.id] if split.tests[b].app_objects]
        failed = [b for b in again[r.id] if b not in memory]  # listed, failed on the split system
        for tests, what in ((memory, "using the app's in-memory objects in the test process"),
                            (failed, "listed with a reason that failed on the split system before their own "
                                     "clean-up")):
            if tests:  # the nearest ones named
                named = ("... " if len(tests) > 3 else "") + ", ".join(b.rsplit("::", 1)[-1] for b in tests[-3:])
                kinds.append(f"{len(tests)} test(s) {what} ({named})")
        how = ("after the earlier tests of its class or module that passed on the split system" if context
               else "alone")
        r.reasons.append("order: passes when run again on a freshly started split system, without the earlier tests "
                         f"that may have left state behind ({how}); "
                         f"in the suite's order it ran after {' and after '.join(kinds)}, which may have "
                         "left state behind in the services or the shared database")
        r.verdict = CLASSIFIED
        n += 1
    return n


def distributes(pytest_args: list[str]) -> bool:
    """The pytest arguments run the suite on pytest-xdist workers (``-n 2``, ``-nauto``, ``--numprocesses``)."""
    for i, a in enumerate(pytest_args):
        if a in ("-n", "--numprocesses"):
            return i + 1 < len(pytest_args) and pytest_args[i + 1] not in ("0",)
        if a.startswith("--numprocesses="):
            return a.split("=", 1)[1] != "0"
        if a.startswith("-n") and len(a) > 2 and not a.startswith("--"):
            return a[2:] != "0"
    return False



def _config_module(m) -> Path | None:
    for s in m.services:
        path = Path(s.source or s.context) / "decompose_rt" / "verify_config.py"
        if path.is_file():
            return path
    return None


def _down(out: Path, m, local: bool, client) -> None:
    from decompose.runtime import runner

    if local:
        runner.down_local(out)
    else:
        runner.down_docker(m.project, client=client)
        runner.forget_rpc_secret(out, "docker")


def _counts_text(run: SuiteRun) -> str:
    if not run.ran:
        return f"{run.problem} (log: {run.log})"
    c = run.counts()
    return ", ".join(f"{n} {o}" for o, n in c.items()) + f" in {run.seconds:.1f}s"
