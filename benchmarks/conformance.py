"""Conformance: how far decompose gets on real monoliths (the corpus of benchmarks/corpus.py).

    python benchmarks/conformance.py                    # every app: own suite, analyze, plan, generate
    python benchmarks/conformance.py flaskr flaskbb     # only these
    python benchmarks/conformance.py --local            # + up --local / down --local / verify --local
    python benchmarks/conformance.py --docker           # + build / up / down / verify (Docker engine)
    python benchmarks/conformance.py --no-verify ...    # without `decompose verify`
    python benchmarks/conformance.py --no-monolith-tests   # reuse the suite's figures of the last report
    # a commit alone, not a shared checkout's edits: a worktree of it, decompose installed from it
    git worktree add --detach /tmp/wt HEAD && pip install -q --no-deps --target /tmp/wt-lib /tmp/wt
    python /tmp/wt/benchmarks/conformance.py --decompose-lib /tmp/wt-lib --local --docker lnbits

For each app: fetch its pinned sdist and build its virtualenv (cached), run
its own test suite on the monolith, then the installed ``decompose`` command:
``analyze``, ``plan`` (default options), ``generate`` and, on request,
``build``/``up``/``down`` and ``verify`` (the app's own suite on the monolith
and on the split system, side by side) per mode.  The local services and the
suite run with the app's virtualenv (``--python``).  Every step runs in its own process group with a
timeout (a hang is recorded as such and killed, not waited for) and is
recorded as ok / failed / timeout / skipped with its time and the first error
line (``error: ...`` line, else the exception line of a traceback with the
innermost frame's file:line, else the first line on stderr).  A step after a
failed one it needs is skipped.  Rewrites ``docs/conformance.md`` and
``docs/conformance.json`` (the apps not run this time keep their last result, and
so do the modes not run this time, marked with the run they come from).
Work folders (plans, generated output, logs of every step) are under
``<corpus cache>/conformance/<app>/``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from benchmarks.corpus import (  # noqa: E402
    APPS,
    DJANGO_CANDIDATES,
    AppSpec,
    app_source,
    app_venv,
    clean_state,
    corpus_dir,
    test_environment,
    venv_python,
)

DOCS_MD = REPO / "docs" / "conformance.md"
DOCS_JSON = REPO / "docs" / "conformance.json"

# seconds per step
TIMEOUTS = {
    "setup": 1800, "analyze": 600, "plan": 900, "generate": 900,
    "build": 1800, "up": 300, "down": 180, "verify": 3600,
}
MODES = ("local", "docker")
#: The steps of each mode (``_run_up_down``): a run without a mode keeps those of the last report.
MODE_STEPS = {"local": ("up-local", "down-local", "verify-local"), "docker": ("build", "up", "down", "verify")}
PROJECT_PREFIX = "conformance-"   # the plan's project name (Docker names): conformance-<app>


@dataclass
class Step:
    name: str
    outcome: str = "skipped"       # ok | failed | timeout | skipped
    seconds: float = 0.0
    exit_code: int | None = None
    error: str = ""                # first error line
    where: str = ""                # file:line of the innermost frame of a traceback
    command: str = ""
    log: str = ""                  # where stdout/stderr went
    detail: dict = field(default_factory=dict)


@dataclass
class Result:
    app: str
    dist: str
    version: str
    framework: str
    source: str
    test_command: str
    test_env: dict
    monolith_tests: dict = field(default_factory=dict)   # passed, failed, errors, skipped, total, seconds, outcome
    split_tests: dict = field(default_factory=dict)     # per mode ("local", "docker"): verify's figures
    steps: list[Step] = field(default_factory=list)
    ran_at: str = ""
    decompose_commit: str = ""


# --------------------------------------------------------------------------- running


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200",
        "_TYPER_STANDARD_TRACEBACK": "1",   # plain Python tracebacks (file, line), not rich boxes
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update(extra or {})
    return env


def run(cmd: list[str], *, cwd: Path, log: Path, timeout: float, env: dict[str, str] | None = None) -> tuple[int | None, float, str, str]:
    """Run ``cmd`` in its own process group; returns (exit code or None on timeout, seconds, stdout, stderr)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with open(log.with_suffix(".out"), "w") as out, open(log.with_suffix(".err"), "w") as err:
        p = subprocess.Popen(cmd, cwd=cwd, env=env or _env(), stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc: int | None = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
            _kill_group(p)
    dt = time.perf_counter() - t
    return rc, dt, log.with_suffix(".out").read_text(errors="replace"), log.with_suffix(".err").read_text(errors="replace")


def _kill_group(p: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+)')
_EXC = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Failure)|[A-Za-z_][\w.]*\.[A-Z]\w*)(: .*)?$")


def first_error(stdout: str, stderr: str) -> tuple[str, str]:
    """(first error line, file:line of the innermost traceback frame) of a failed command."""
    where = ""
    lines = stderr.splitlines()
    tb = [i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call last)")]
    if tb:
        frames = []
        exc = ""
        for ln in lines[tb[-1]:]:
            m = _FRAME.match(ln)
            if m:
                frames.append(f"{_short(m.group(1))}:{m.group(2)}")
            elif frames and ln and not ln.startswith(" ") and not ln.startswith("Traceback"):
                exc = ln.strip()
                break
        where = frames[-1] if frames else ""
        # the innermost frame inside decompose is the one the team fixes
        ours = [f for f in frames if f.startswith("decompose/")]
        if ours and ours[-1] != where:
            where = f"{where} (decompose: {ours[-1]})"
        if exc:
            return exc, where
    for text in (stderr, stdout):
        for ln in text.splitlines():
            s = ln.strip()
            if s.lower().startswith("error:") or s.startswith("Error:"):
                return s, where
    for ln in lines:
        if ln.strip() and not ln.startswith("WARNING") and "warn" not in ln.lower()[:20]:
            return ln.strip(), where
    for ln in stdout.splitlines()[::-1]:
        if ln.strip():
            return ln.strip(), where
    return "", where


def unit_errors(stdout: str) -> list[dict]:
    """Per unit that failed in ``up --format json``: its reason and the exception of its log's traceback."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return []
    found = []
    for f in doc.get("failures", []) if isinstance(doc, dict) else []:
        logs = f.get("logs") or []
        exc, where = first_error("", "Traceback (most recent call last):\n" + "\n".join(logs)) if logs else ("", "")
        if exc.startswith("Traceback") or exc == (logs[0].strip() if logs else ""):
            exc = ""
        found.append({"unit": f.get("name", ""), "reason": f.get("reason", ""), "error": exc, "where": where})
    return found


def _short(path: str) -> str:
    p = Path(path)
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        pass
    parts = p.parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1:])
    try:   # generated output: out/services/<service>/app/...
        return "/".join(p.resolve().relative_to(corpus_dir() / "conformance").parts[1:])
    except ValueError:
        pass
    try:
        return "<app>/" + str(p.resolve().relative_to(corpus_dir() / "src"))
    except ValueError:
        return path


def do_step(res: Result, name: str, cmd: list[str], *, cwd: Path, work: Path, env: dict[str, str] | None = None,
            timeout: float | None = None, ok_codes: tuple[int, ...] = (0,)) -> Step:
    step = Step(name=name, command=" ".join(_rel(c, work) for c in cmd))
    log = work / "logs" / name
    step.log = _rel(str(log.with_suffix(".err")), work)
    rc, dt, out, err = run(cmd, cwd=cwd, log=log, timeout=timeout or TIMEOUTS[name], env=env)
    step.seconds = round(dt, 2)
    step.exit_code = rc
    if rc is None:
        step.outcome = "timeout"
        step.error = f"no answer within {timeout or TIMEOUTS[name]:.0f} s (killed)"
        e, w = first_error(out, err)
        step.where = w
        if e:
            step.detail["last_error_line"] = e
    elif rc in ok_codes:
        step.outcome = "ok"
    else:
        step.outcome = "failed"
        step.error, step.where = first_error(out, err)
    step.detail["stdout"] = out
    res.steps.append(step)
    return step


def _rel(arg: str, work: Path) -> str:
    if arg == shutil.which("decompose") or arg.startswith("import sys; sys.path.insert(0, "):
        return "decompose"
    for base, name in ((work, "$WORK"), (corpus_dir() / "src", "$SRC"), (corpus_dir(), "$CORPUS")):
        if arg.startswith(str(base)):
            return name + arg[len(str(base)):]
    return arg


def skip(res: Result, name: str, why: str) -> Step:
    s = Step(name=name, outcome="skipped", error=why)
    res.steps.append(s)
    return s


# --------------------------------------------------------------------------- pytest summary

_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)")


def pytest_counts(output: str) -> dict:
    """Counts from pytest's last summary line ('3 failed, 20 passed, 1 error in 4.2s')."""
    for ln in reversed(output.splitlines()):
        s = ln.strip().strip("=").strip()
        if re.search(r"\bin [\d.]+s\b", s) and _SUMMARY.search(s):
            c = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "xfailed": 0, "xpassed": 0}
            for n, kind in _SUMMARY.findall(s):
                kind = {"error": "errors", "warning": "warnings"}.get(kind, kind)
                if kind in c:
                    c[kind] = int(n)
            c["total"] = sum(c[k] for k in ("passed", "failed", "errors", "skipped", "xfailed", "xpassed"))
            c["summary"] = s
            return c
        if s.startswith("no tests ran"):
            return {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "xfailed": 0, "xpassed": 0, "total": 0, "summary": s}
    return {}


# --------------------------------------------------------------------------- one app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def decompose_cmd(lib: str | None = None) -> list[str]:
    """The ``decompose`` measured: with ``lib`` (``--decompose-lib``: a folder decompose was
    installed into, ``pip install --no-deps --target LIB <checkout>``) that one, run by this
    interpreter - so a clean ``git worktree`` of a commit is measured alone, not the edits of a
    shared checkout; else the installed console script."""
    if lib:
        return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(Path(lib).resolve())!r}); "
                "from decompose.cli import app; app(prog_name='decompose')"]
    exe = shutil.which("decompose")
    return [exe] if exe else [sys.executable, "-m", "decompose"]


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=False,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "decompose", "templates"], cwd=REPO,
                               check=False, capture_output=True, text=True).stdout.strip()
        return head + (" + uncommitted changes in decompose/ or templates/" if dirty else "")
    except OSError:
        return ""


def run_app(spec: AppSpec, args: argparse.Namespace, previous: dict | None) -> Result:
    work = corpus_dir() / "conformance" / spec.name
    if work.exists():
        shutil.rmtree(work)
    (work / "logs").mkdir(parents=True)
    res = Result(app=spec.name, dist=spec.dist, version=spec.version, framework=spec.framework,
                 source=f"{spec.dist}-{spec.version} sdist" + (f", {spec.subdir}/" if spec.subdir else ""),
                 test_command=" ".join(spec.test_command), test_env=dict(spec.test_env),
                 ran_at=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 decompose_commit=git_commit())
    dc = decompose_cmd(args.decompose_lib)
    print(f"== {spec.key}", flush=True)

    # setup: sdist + venv (cached)
    t = time.perf_counter()
    setup = Step(name="setup", command=f"corpus: sdist {spec.dist}=={spec.version} + venv (python{spec.python})")
    try:
        with open(work / "logs" / "setup.log", "w") as log:
            src = app_source(spec)
            app_venv(spec, log=log)
        setup.outcome = "ok"
    except Exception as e:  # noqa: BLE001 - recorded, not raised
        setup.outcome = "failed"
        setup.error = f"{type(e).__name__}: {e}".splitlines()[0]
        src = None
    setup.seconds = round(time.perf_counter() - t, 2)
    setup.log = "$WORK/logs/setup.log"
    res.steps.append(setup)
    _progress(setup)
    if src is None:
        for name in ("monolith-tests", "analyze", "plan", "generate"):
            skip(res, name, "setup failed")
        return res

    # the monolith's own suite
    if args.no_monolith_tests and previous and previous.get("monolith_tests"):
        res.monolith_tests = dict(previous["monolith_tests"], reused_from=previous.get("ran_at", "earlier run"))
        st = Step(name="monolith-tests", outcome=previous["monolith_tests"].get("outcome", "ok"),
                  seconds=previous["monolith_tests"].get("seconds", 0.0), command=res.test_command,
                  error="(figures of an earlier run, --no-monolith-tests)")
        res.steps.append(st)
    elif args.no_monolith_tests:
        skip(res, "monolith-tests", "--no-monolith-tests")
    else:
        clean_state(spec)
        env = _env(test_environment(spec))
        cmd = [str(venv_python(spec)) if c == "python" else c for c in spec.test_command]
        st = do_step(res, "monolith-tests", cmd, cwd=src, work=work, env=env, timeout=spec.test_timeout,
                     ok_codes=(0, 1))
        st.command = res.test_command
        counts = pytest_counts(st.detail.get("stdout", ""))
        if st.outcome == "ok" and not counts:
            st.outcome = "failed"
            st.error = st.error or "no pytest summary line"
        if st.exit_code == 1 and counts:
            st.error = counts.get("summary", "")
        bad = [ln.split(" - ")[0].strip() for ln in st.detail.get("stdout", "").splitlines()
               if ln.startswith(("FAILED ", "ERROR "))]
        res.monolith_tests = dict(counts, seconds=st.seconds, outcome=st.outcome,
                                  **({"error": st.error} if st.outcome != "ok" else {}),
                                  **({"not_passed": bad[:50]} if bad else {}))
    _progress(res.steps[-1])

    # decompose
    shutil.rmtree(src / ".decompose_cache", ignore_errors=True)   # cold: every file parsed
    plan = work / "decompose.yaml"
    out = work / "out"
    st = do_step(res, "analyze", [*dc, "analyze", str(src), "--format", "json", "-o", str(work / "analyze.json")],
                 cwd=work, work=work)
    if st.outcome == "ok":
        st.detail.update(_analyze_figures(work / "analyze.json"))
    _progress(st)
    st = do_step(res, "plan", [*dc, "plan", str(src), "-o", str(plan), "-q"], cwd=work, work=work)
    if st.outcome == "ok":
        st.detail.update(_plan_figures(plan))
        own_project_name(plan, PROJECT_PREFIX + spec.name)
    _progress(st)
    if st.outcome != "ok":
        skip(res, "generate", "no plan")
    else:
        st = do_step(res, "generate", [*dc, "generate", "--plan", str(plan), "-o", str(out), "--format", "json"],
                     cwd=work, work=work)
        if st.outcome == "ok":
            st.detail.update(_generate_figures(out))
        _progress(st)
    generated = res.steps[-1].outcome == "ok"

    for mode in MODES:
        if getattr(args, mode):
            _run_up_down(res, dc, out, work, generated, local=mode == "local", spec=spec, src=src,
                         verify=not args.no_verify)
    return res


def _run_up_down(res: Result, dc: list[str], out: Path, work: Path, generated: bool, *, local: bool,
                 spec: AppSpec, src: Path, verify: bool = True) -> None:
    sfx = "-local" if local else ""
    flag = ["--local"] if local else []
    mode = "local" if local else "docker"
    env = _env(test_environment(spec))
    names = ([] if local else ["build"]) + ["up" + sfx, "down" + sfx] + (["verify" + sfx] if verify else [])
    if not generated:
        for n in names:
            skip(res, n, "nothing generated")
        if verify:
            res.split_tests[mode] = {"outcome": "skipped", "error": "nothing generated"}
        return
    # the local services (and verify's suite) run with the app's own dependencies plus the units' requirements
    python = _split_python(res, spec, out, work)
    if python is None:
        for n in names:
            skip(res, n, "no Python for the split system")
        if verify:
            res.split_tests[mode] = {"outcome": "skipped", "error": "no Python for the split system"}
        return
    py = ["--python", str(python)] if local else []
    if not local:
        base = ["--base-image", spec.base_image] if spec.base_image else []  # why: at the corpus entry
        b = do_step(res, "build", [*dc, "build", str(out), *base], cwd=work, work=work, timeout=TIMEOUTS["build"])
        _progress(b)
        if b.outcome != "ok":
            for n in names[1:]:
                skip(res, n, "build failed")
            if verify:
                res.split_tests[mode] = {"outcome": "skipped", "error": "build failed"}
            return
    port = free_port()
    u = do_step(res, "up" + sfx, [*dc, "up", *flag, *py, str(out), "--port", str(port), "--timeout", "120",
                                  "--format", "json"],
                cwd=work, work=work, timeout=TIMEOUTS["up"], env=env)
    if u.outcome != "ok":
        units = unit_errors(u.detail.get("stdout", ""))
        if units:
            u.detail["units"] = "; ".join(
                f"{x['unit']}: {x['reason']}" + (f" -- {x['error']} [{x['where']}]" if x["error"] else "") for x in units)
    _progress(u)
    d = do_step(res, "down" + sfx, [*dc, "down", *flag, str(out)], cwd=work, work=work, timeout=TIMEOUTS["down"])
    _progress(d)
    if verify:
        v = _verify_step(res, dc, out, work, local=local, spec=spec, src=src, env=env, python=python)
        _progress(v)


def split_venv(spec: AppSpec, out: Path, log: Path) -> Path:
    """The Python that runs the local services and verify's suite: the app's virtualenv plus
    what the generated units require (``httpx``, ``gunicorn``...), as a user would install
    them (``pip install -r OUT/.../requirements.txt``).  A layer of its own
    (``venvs/<app>-<version>-split``, its site folder adding the app venv's with
    ``site.addsitedir``), so the app's venv, which the monolith's figures come from, stays as it was."""
    target = corpus_dir() / "venvs" / f"{spec.key}-split"
    if target.exists():
        shutil.rmtree(target)
    app_py = str(venv_python(spec))
    # made by the app's interpreter (its Python version), not by the one running this script
    subprocess.run([app_py, "-m", "venv", "--without-pip", "--symlinks", str(target)], check=True)
    py = target / "bin" / "python"
    paths = lambda python: subprocess.run(  # noqa: E731
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    app_site, own_site = paths(app_py), paths(str(py))
    Path(own_site, "_conformance_app_venv.pth").write_text(f"import site; site.addsitedir({app_site!r})\n")
    args: list[str] = []
    for req in sorted(out.glob("**/requirements.txt")):
        if ".decompose-run" in req.parts:
            continue
        args += ["-r", str(req)]
        if (req.parent / "constraints.txt").is_file():
            args += ["-c", str(req.parent / "constraints.txt")]
    if args:
        with open(log, "w") as f:
            subprocess.run([app_py, "-m", "pip", "--python", str(py), "install", "--quiet",
                            "--disable-pip-version-check", *args], check=True, stdout=f, stderr=subprocess.STDOUT)
    return py


def verify_arguments(spec: AppSpec, src: Path) -> tuple[str, list[str]]:
    """The app's test command as ``decompose verify`` takes it: (``--tests`` path, extra pytest arguments).

    The command's test paths (files or folders that exist in the monolith folder) are the
    suite: the first is ``--tests``, the others go with the pytest options after ``--``;
    without one the suite is ``tests``.  ``-p no:cacheprovider`` and ``-q`` verify sets itself."""
    argv = list(spec.test_command)
    if "pytest" in argv:
        argv = argv[argv.index("pytest") + 1:]
    paths, rest = [], []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-p" and i + 1 < len(argv) and argv[i + 1] == "no:cacheprovider" or a == "-q":
            i += 2 if a == "-p" else 1
            continue
        if not a.startswith("-") and (src / a.split("::", 1)[0]).exists() and (not rest or not _takes_value(rest[-1])):
            paths.append(a)
        else:
            rest.append(a)
        i += 1
    if not paths:
        paths = ["tests"]
    return paths[0], [*paths[1:], *rest]


def _takes_value(opt: str) -> bool:
    """pytest options of the corpus' test commands whose value is the next argument."""
    return opt in ("-n", "--numprocesses", "--dist", "-o", "--override-ini", "-p", "-k", "-m", "--rootdir",
                   "--maxfail", "--deselect", "--ignore")


def _split_python(res: Result, spec: AppSpec, out: Path, work: Path) -> Path | None:
    """The split layer's Python, made once per run (step ``split-venv``)."""
    done = [s for s in res.steps if s.name == "split-venv"]
    if done:
        return Path(done[0].detail["python"]) if done[0].outcome == "ok" else None
    step = Step(name="split-venv", command="venv over the app's + pip install -r OUT/**/requirements.txt -c constraints.txt",
                log="$WORK/logs/split-venv.log")
    t = time.perf_counter()
    try:
        py = split_venv(spec, out, work / "logs" / "split-venv.log")
        step.outcome = "ok"
        step.detail["python"] = str(py)
    except (subprocess.CalledProcessError, OSError) as e:
        step.outcome = "failed"
        step.error, step.where = first_error("", (work / "logs" / "split-venv.log").read_text(errors="replace")
                                             if (work / "logs" / "split-venv.log").exists() else str(e))
        py = None
    step.seconds = round(time.perf_counter() - t, 2)
    res.steps.append(step)
    _progress(step)
    return py


def _verify_step(res: Result, dc: list[str], out: Path, work: Path, *, local: bool, spec: AppSpec, src: Path,
                 env: dict[str, str], python: Path) -> Step:
    """``decompose verify`` (its own suite on the monolith, then on the split system it starts): per-mode figures."""
    mode = "local" if local else "docker"
    name = "verify-local" if local else "verify"
    tests, extra = verify_arguments(spec, src)
    clean_state(spec)
    cmd = [*dc, "verify", str(out), "--tests", tests, *(["--local"] if local else []),
           "--python", str(python), "--cwd", str(src), "--port", str(free_port()),
           "--timeout", "180", "--suite-timeout", str(spec.test_timeout), "--format", "json", "--", *extra]
    st = do_step(res, name, cmd, cwd=src, work=work, env=env, timeout=TIMEOUTS["verify"] + 2 * spec.test_timeout,
                 ok_codes=(0,))
    fig = verify_figures(st.detail.get("stdout", ""))
    if st.outcome == "failed" and fig:
        st.error = fig.get("error") or st.error
    st.detail.update({k: v for k, v in fig.items() if k in ("split", "classified", "regressions", "units")})
    res.split_tests[mode] = dict(fig, outcome=st.outcome, seconds=st.seconds,
                                 **({"error": st.error} if st.outcome != "ok" else {}))
    clean_state(spec)
    return st


def verify_figures(stdout: str) -> dict:
    """What ``decompose verify --format json`` found: the counts the conformance table shows.

    ``passed_both``/``monolith_passed``: tests passing on the split system of those passing on
    the monolith; ``classified``: tests listed with a reason (no statement about the split
    system); ``regressions``: passing on the monolith, not on the split system, no reason."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return {}
    if not isinstance(doc, dict):
        return {}
    rows = doc.get("tests") or []
    mono_passed = [r for r in rows if r.get("monolith") == "passed"]
    both = [r for r in mono_passed if r.get("split") == "passed"]
    regressions = [r for r in rows if r.get("verdict") == "regression"]
    fig = {
        "tests": len(rows),
        "monolith_passed": len(mono_passed),
        "passed_both": len(both),
        "classified": sum(1 for r in rows if r.get("verdict") == "classified"),
        "classified_failing": sum(1 for r in mono_passed if r.get("verdict") == "classified" and r.get("split") != "passed"),
        "regressions": len(regressions),
        "split_only": sum(1 for r in rows if r.get("verdict") == "split only"),
        "summary": doc.get("summary") or {},
        "monolith_counts": (doc.get("monolith") or {}).get("counts") or {},
        "split_counts": (doc.get("split") or {}).get("counts") or {},
        "monolith_seconds": (doc.get("monolith") or {}).get("seconds"),
        "split_seconds": (doc.get("split") or {}).get("seconds"),
        "first_regressions": [{"id": r["id"], "message": _first_line(r.get("message", ""))} for r in regressions[:15]],
        "reasons": _reason_counts(rows),
    }
    fig["split"] = f"{fig['passed_both']}/{fig['monolith_passed']}"
    up = doc.get("up_failure")
    split = doc.get("split") or {}
    mono = doc.get("monolith") or {}
    fig["measured"] = bool(mono.get("ran") and split.get("ran") and not up)
    if mono and not mono.get("ran"):
        fig["error"] = f"the suite did not run on the monolith: {mono.get('problem', '')}"
    elif up:
        fig["error"] = "the split system did not start: " + _first_line(up.get("error", ""))
        fig["units"] = "; ".join(
            f"{x['unit']}: {x['reason']}" + (f" -- {x['error']} [{x['where']}]" if x["error"] else "")
            for x in unit_errors(json.dumps(up)))
    elif split and not split.get("ran"):
        fig["error"] = f"the suite did not run on the split system: {split.get('problem', '')}"
    elif regressions:
        r = regressions[0]
        fig["error"] = f"{len(regressions)} regression(s), first {r['id']}: {_first_line(r.get('message', ''))}"
    return fig


def _reason_counts(rows: list[dict]) -> dict[str, int]:
    """How many tests each kind of reason lists (the reason's words before its details)."""
    out: dict[str, int] = {}
    for r in rows:
        if r.get("verdict") != "classified":
            continue
        for why in r.get("reasons") or []:
            kind = re.split(r"[:;(]", why, maxsplit=1)[0].strip()
            out[kind] = out.get(kind, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _first_line(text: str) -> str:
    for ln in (text or "").splitlines():
        if ln.strip():
            return ln.strip()[:300]
    return ""


def own_project_name(plan: Path, name: str) -> None:
    """Give the plan the project name ``name``: the Docker containers, networks and images of a
    conformance run never clash with those of another run of the same app on the engine."""
    text = plan.read_text(encoding="utf-8")
    new, n = re.subn(r"(?m)^project:.*$", f"project: {name}", text, count=1)
    if n:
        plan.write_text(new, encoding="utf-8")


def _analyze_figures(path: Path) -> dict:
    try:
        a = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {"modules": len(a.get("modules", [])), "cycles": len(a.get("cycles", [])),
            "skipped_files": len(a.get("skipped", [])), "unresolved": len(a.get("unresolved", []))}


def _plan_figures(path: Path) -> dict:
    try:
        import yaml

        p = yaml.safe_load(path.read_text())
        services = p.get("services") or {}
        shared = (p.get("shared") or {}).get("modules") or []
        tests = [n for n, sv in services.items()
                 if sv.get("modules") and all(_is_test_module(m) for m in sv["modules"])]
        mixed = [n for n, sv in services.items() if n not in tests and any(_is_test_module(m) for m in sv.get("modules") or [])]
        return {"services": len(services), "names": " ".join(services), "shared_modules": len(shared),
                "services_of_test_modules_only": len(tests), "services_mixing_tests_and_app": len(mixed)}
    except Exception:  # noqa: BLE001
        return {}


def _is_test_module(m: str) -> bool:
    parts = m.split(".")
    return any(x in ("tests", "test", "conftest") or x.startswith("test_") for x in parts)


def _generate_figures(out: Path) -> dict:
    try:
        o = json.loads((out / "decompose-output.json").read_text())
    except (OSError, ValueError):
        return {}
    svc = o.get("services")
    return {"services": len(svc) if isinstance(svc, (list, dict)) else None}


def _progress(step: Step) -> None:
    msg = f"   {step.name:<15} {step.outcome:<8} {step.seconds:8.1f}s"
    if step.error:
        msg += f"  {step.error[:160]}"
    if step.where:
        msg += f"  [{step.where}]"
    print(msg, flush=True)


# --------------------------------------------------------------------------- report


def _cell(s: str, limit: int = 400) -> str:
    s = s.replace("\n", " ")
    if len(s) > limit:
        s = s[:limit] + " …"
    return s.replace("|", "\\|")


def _tests_cell(m: dict) -> str:
    if not m or "total" not in m:
        return m.get("error", "not run") if m else "not run"
    extra = [f"{m[k]} {k}" for k in ("failed", "errors", "skipped", "xfailed") if m.get(k)]
    return f"{m['passed']}/{m['total']} passed" + (f" ({', '.join(extra)})" if extra else "")


def _split(r: dict, mode: str) -> dict:
    v = r.get("split_tests")
    return v.get(mode) or {} if isinstance(v, dict) else {}


def split_cell(r: dict, mode: str) -> str:
    """The summary table's cell of ``mode``: P/M passed, listed, regressions (or why there are none)."""
    v = _split(r, mode)
    if not v:
        return "-"
    earlier = f" (run of {v['reused_from'].split(',')[0]})" if v.get("reused_from") else ""
    if v.get("measured"):
        return (f"{v['passed_both']}/{v['monolith_passed']} passed, {v['classified']} listed, "
                f"{v['regressions']} regression{'s' if v['regressions'] != 1 else ''}{earlier}")
    return f"{v.get('outcome', '')}{earlier}: {v.get('error', '')}"


def split_text(r: dict, mode: str) -> str:
    v = _split(r, mode)
    if not v:
        return "not run"
    if v.get("reused_from"):
        return f"(not run this time: the run of {v['reused_from']}) " + split_text({"split_tests": {
            mode: {k: x for k, x in v.items() if k != "reused_from"}}}, mode)
    if not v.get("measured"):
        return f"{v.get('outcome', '')} ({v.get('seconds', 0):.0f} s): {v.get('error', '')}"
    mc = ", ".join(f"{n} {o}" for o, n in (v.get("monolith_counts") or {}).items())
    sc = ", ".join(f"{n} {o}" for o, n in (v.get("split_counts") or {}).items())
    reasons = "; ".join(f"{k} {n}" for k, n in (v.get("reasons") or {}).items())
    return (f"{v['passed_both']}/{v['monolith_passed']} of the tests passing on the monolith pass on the split system; "
            f"{v['classified']} listed with a reason ({v.get('classified_failing', 0)} of them not passing on the split "
            f"system){' - ' + reasons if reasons else ''}; {v['regressions']} regression(s); "
            f"{v.get('split_only', 0)} passing only on the split system (of {v['tests']}; monolith: {mc or 'nothing'}, "
            f"{v.get('monolith_seconds') or 0:.0f} s; split: {sc or 'nothing'}, {v.get('split_seconds') or 0:.0f} s)")


def _regression_lines(r: dict, mode: str) -> list[str]:
    v = _split(r, mode)
    regs = v.get("first_regressions") or []
    if not regs:
        return [] if not v.get("units") else ["", f"Units that did not start ({mode}): {_cell(v['units'], 1200)}"]
    more = v.get("regressions", 0) - len(regs)
    first = f", the first {len(regs)} of {v['regressions']}" if more > 0 else ""
    out = ["", f"Regressions ({mode}){first}:", "",
           "| test | failure on the split system |", "|---|---|"]
    out += [f"| `{_cell(x['id'], 200)}` | {_cell(x.get('message', ''), 300)} |" for x in regs]
    return out


def render(results: dict[str, dict]) -> str:
    lines = [
        "# Conformance: decompose on real monoliths",
        "",
        "Generated by `python benchmarks/conformance.py` (do not edit by hand). Each app is a pinned",
        "sdist from PyPI (`benchmarks/corpus.py`: version, sha256, folder, test command and",
        "environment), fetched into the corpus cache with its own virtualenv; none of its code is",
        "in this repository. Per app: its own test suite on the monolith, then the installed",
        "`decompose` command step by step with default options, each step bounded by a timeout.",
        "A step after a failed one it needs is skipped. The first error line is the `error:` line,",
        "or the exception of a traceback with the innermost frame (and the innermost frame inside",
        "`decompose/`). Full logs: `<corpus cache>/conformance/<app>/logs/`. The same figures as",
        "JSON: [conformance.json](conformance.json). The plan is the default one with its project",
        "name set to `conformance-<app>` (the Docker containers, networks and images of the run).",
        "",
        "`up --local` and `verify` run the services (locally) and the suite with `--python` of a",
        "layer over the app's virtualenv into which the generated units' requirements are installed",
        "(step `split-venv`: `pip install -r OUT/**/requirements.txt -c constraints.txt`, as a user",
        "would), so they have the app's own dependencies and decompose's runtime ones (`httpx`...);",
        "the app's virtualenv itself is left as it was. In Docker the images install the",
        "requirements generate wrote; `build` uses decompose's default base image (the app's declared",
        "Python) unless the app's corpus entry in benchmarks/corpus.py gives another, with its reason"
        + "".join(f" ({n}: `--base-image {a.base_image}`)" for n, a in APPS.items() if a.base_image) + ".",
        "",
        "Split-system tests: `decompose verify OUT --tests ... --python <app venv> -- <the suite's",
        "pytest options>` runs the app's own suite on the monolith and then on the split system it",
        "starts (one shared SQLite database for services and suite), once per mode. A cell reads",
        "*P/M passed*: of the M tests passing on the monolith in that run, P pass on the split",
        "system; *listed* counts the tests verify lists with a reason (they patch the app, make",
        "no request through a client of it, use its in-memory objects in the test process or read",
        "writes an earlier request left uncommitted in a session their requests share, so their",
        "split outcome says nothing about the split system; or they pass when run again on a",
        "freshly started split system without the tests before them that may have left state",
        "behind), *regressions* the tests that pass on the monolith, fail on the split system and",
        "have no reason. `-` means not run.",
        "",
    ]
    extra = [n for n in ("up-local", "build", "up") if any(n in {s["name"] for s in r["steps"]} for r in results.values())]
    lines += [
        "| app | framework | version | monolith tests | analyze | plan | generate | "
        + "".join(f"{n} | " for n in extra) + "split tests (local) | split tests (Docker) |",
        "|---|---|---|---|---|---|---|" + "---|" * len(extra) + "---|---|",
    ]
    for name in sorted(results, key=lambda n: list(APPS).index(n) if n in APPS else 99):
        r = results[name]
        st = {s["name"]: s for s in r["steps"]}

        def oc(n: str, st: dict = st) -> str:
            s = st.get(n)
            return f"{s['outcome']} ({s['seconds']:.1f} s)" if s and s["outcome"] != "skipped" else (s["outcome"] if s else "-")

        lines.append(f"| {name} | {r['framework']} | {r['version']} | {_tests_cell(r.get('monolith_tests', {}))} | "
                     f"{oc('analyze')} | {oc('plan')} | {oc('generate')} | "
                     + "".join(f"{oc(n)} | " for n in extra)
                     + " | ".join(_cell(split_cell(r, m), 160) for m in MODES) + " |")
    for name in sorted(results, key=lambda n: list(APPS).index(n) if n in APPS else 99):
        r = results[name]
        spec = APPS.get(name)
        lines += ["", f"## {name} ({r['dist']} {r['version']})", ""]
        if spec and spec.notes:
            lines += [spec.notes, ""]
        env = " ".join(f"{k}={v}" for k, v in r.get("test_env", {}).items())
        lines += [
            f"* source: {r['source']}",
            f"* own test suite: `{(env + ' ') if env else ''}{r['test_command']}` (run in that folder, in the app's venv"
            + (f", python{spec.python}" if spec else "") + ")",
            f"* monolith tests: {_tests_cell(r.get('monolith_tests', {}))}"
            + (f" in {r['monolith_tests'].get('seconds', 0):.0f} s" if r.get("monolith_tests", {}).get("total") is not None else ""),
            *(["* not passing on the monolith itself: " + ", ".join(f"`{t}`" for t in r["monolith_tests"]["not_passed"][:12])
               + (" …" if len(r["monolith_tests"]["not_passed"]) > 12 else "")]
              if r.get("monolith_tests", {}).get("not_passed") else []),
            *[f"* split-system tests ({m}): {split_text(r, m)}" for m in MODES],
            f"* run: {r.get('ran_at', '')}, decompose at {r.get('decompose_commit', '')}",
            "",
            "| step | outcome | time | first error line | where | figures |",
            "|---|---|---|---|---|---|",
        ]
        for s in r["steps"]:
            fig = ", ".join(f"{k} {v}" for k, v in s.get("detail", {}).items() if k not in ("stdout", "last_error_line"))
            name = s["name"] + (f" (run of {s['reused_from'].split(',')[0]})" if s.get("reused_from") else "")
            lines.append(f"| {name} | {s['outcome']} | {s['seconds']:.1f} s | {_cell(s.get('error', ''))} | "
                         f"{_cell(s.get('where', ''))} | {_cell(fig)} |")
        for m in MODES:
            lines += _regression_lines(r, m)
    if DJANGO_CANDIDATES:
        lines += ["", "## Django candidates (noted for the Django work, not run yet)", "",
                  "| project | version | sdist | tests in the sdist | database the suite needs | notes |",
                  "|---|---|---|---|---|---|"]
        for c in DJANGO_CANDIDATES:
            lines.append(f"| {c['dist']} | {c['version']} | {c['sdist_mb']} MB, {c['py_files']} .py files | "
                         f"{c['tests']} | {c['database']} | {_cell(c['notes'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run decompose on the conformance corpus; rewrites docs/conformance.md.")
    ap.add_argument("apps", nargs="*", help=f"apps to run (default: all of {', '.join(APPS)})")
    ap.add_argument("--local", action="store_true", help="also `decompose up --local` / `down --local` / `verify --local`")
    ap.add_argument("--docker", action="store_true", help="also `decompose build` / `up` / `down` / `verify` (Docker engine)")
    ap.add_argument("--no-verify", action="store_true", help="with --local/--docker: no `decompose verify`")
    ap.add_argument("--decompose-lib", metavar="DIR",
                    help="measure the decompose installed into DIR (pip install --no-deps --target DIR <checkout>) "
                         "instead of the console script; the commit recorded is this checkout's")
    ap.add_argument("--no-monolith-tests", action="store_true",
                    help="do not run the apps' own suites; keep the figures of the last report")
    ap.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    ap.add_argument("--render-only", action="store_true", help="rewrite docs/conformance.md from docs/conformance.json")
    a = ap.parse_args(argv)
    unknown = [n for n in a.apps if n not in APPS]
    if unknown:
        ap.error(f"unknown app(s): {', '.join(unknown)} (known: {', '.join(APPS)})")
    previous: dict[str, dict] = {}
    if DOCS_JSON.exists():
        try:
            previous = {r["app"]: r for r in json.loads(DOCS_JSON.read_text()).get("apps", [])}
        except (ValueError, KeyError):
            previous = {}
    results = {k: v for k, v in previous.items() if k in APPS}
    if a.render_only:
        _write(results)
        return 0
    for name in a.apps or list(APPS):
        r = asdict(run_app(APPS[name], a, previous.get(name)))
        for s in r["steps"]:
            s["detail"].pop("stdout", None)
        carry_modes(r, previous.get(name), {m for m in MODES if getattr(a, m)})
        results[name] = r
        if not a.no_docs:
            _write(results)
    if a.no_docs:
        print(render(results))
    return 0


def carry_modes(r: dict, previous: dict | None, ran: set[str]) -> None:
    """A mode this run did not run keeps its steps and split-system figures of the last
    report, each marked with the run they come from (``reused_from``)."""
    if not previous:
        return
    when = f"{previous.get('ran_at', 'an earlier run')}, decompose at {previous.get('decompose_commit', '?')}"
    for mode in MODES:
        if mode in ran:
            continue
        old = _split(previous, mode)
        if old:
            r.setdefault("split_tests", {})[mode] = dict(old, reused_from=old.get("reused_from", when))
        r["steps"] += [dict(s, reused_from=s.get("reused_from", when)) for s in previous.get("steps", [])
                       if s["name"] in MODE_STEPS[mode]]


def _write(results: dict[str, dict]) -> None:
    order = sorted(results, key=lambda n: list(APPS).index(n) if n in APPS else 99)
    DOCS_JSON.write_text(json.dumps({
        "schema": 2,
        "apps": [results[n] for n in order],
        "django_candidates": list(DJANGO_CANDIDATES),
    }, indent=2, sort_keys=False) + "\n")
    DOCS_MD.write_text(render(results))


if __name__ == "__main__":
    sys.exit(main())
