"""Conformance: how far decompose gets on real monoliths (the corpus of benchmarks/corpus.py).

    python benchmarks/conformance.py                    # every app: own suite, analyze, plan, generate
    python benchmarks/conformance.py flaskr flaskbb     # only these
    python benchmarks/conformance.py --local            # + up --local / down --local
    python benchmarks/conformance.py --docker           # + build / up / down (Docker engine)
    python benchmarks/conformance.py --no-monolith-tests   # reuse the suite's figures of the last report

For each app: fetch its pinned sdist and build its virtualenv (cached), run
its own test suite on the monolith, then the installed ``decompose`` command:
``analyze``, ``plan`` (default options), ``generate`` and, on request,
``build``/``up``/``down``.  Every step runs in its own process group with a
timeout (a hang is recorded as such and killed, not waited for) and is
recorded as ok / failed / timeout / skipped with its time and the first error
line (``error: ...`` line, else the exception line of a traceback with the
innermost frame's file:line, else the first line on stderr).  A step after a
failed one it needs is skipped.  Rewrites ``docs/conformance.md`` and
``docs/conformance.json`` (the apps not run this time keep their last result).
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
SPLIT_NOT_MEASURED = "not yet measured"

# seconds per step
TIMEOUTS = {
    "setup": 1800, "analyze": 600, "plan": 900, "generate": 900,
    "build": 1800, "up": 300, "down": 180,
}


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
    split_tests: str = SPLIT_NOT_MEASURED
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
    if arg == shutil.which("decompose"):
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


def decompose_cmd() -> list[str]:
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
    dc = decompose_cmd()
    print(f"== {spec.key}", flush=True)

    # setup: sdist + venv (cached)
    t = time.perf_counter()
    setup = Step(name="setup", command=f"corpus: sdist {spec.dist}=={spec.version} + venv (python{spec.python})")
    try:
        with open(work / "logs" / "setup.log", "w") as log:
            src = app_source(spec)
            if not args.no_monolith_tests:
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

    if args.local:
        _run_up_down(res, dc, out, work, generated, local=True)
    if args.docker:
        _run_up_down(res, dc, out, work, generated, local=False)
    return res


def _run_up_down(res: Result, dc: list[str], out: Path, work: Path, generated: bool, *, local: bool) -> None:
    sfx = "-local" if local else ""
    flag = ["--local"] if local else []
    if not generated:
        if not local:
            skip(res, "build", "nothing generated")
        skip(res, "up" + sfx, "nothing generated")
        skip(res, "down" + sfx, "nothing generated")
        return
    if not local:
        b = do_step(res, "build", [*dc, "build", str(out)], cwd=work, work=work, timeout=TIMEOUTS["build"])
        _progress(b)
        if b.outcome != "ok":
            skip(res, "up", "build failed")
            skip(res, "down", "build failed")
            return
    port = free_port()
    u = do_step(res, "up" + sfx, [*dc, "up", *flag, str(out), "--port", str(port), "--timeout", "120", "--format", "json"],
                cwd=work, work=work, timeout=TIMEOUTS["up"])
    if u.outcome != "ok":
        units = unit_errors(u.detail.get("stdout", ""))
        if units:
            u.detail["units"] = "; ".join(
                f"{x['unit']}: {x['reason']}" + (f" -- {x['error']} [{x['where']}]" if x["error"] else "") for x in units)
    _progress(u)
    d = do_step(res, "down" + sfx, [*dc, "down", *flag, str(out)], cwd=work, work=work, timeout=TIMEOUTS["down"])
    _progress(d)


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
        "JSON: [conformance.json](conformance.json).",
        "",
        "`up --local` starts the services as processes of the Python that runs decompose (not the",
        "app's virtualenv), so an app's own dependencies are there only if installed into it.",
        "",
        (f"Split-system tests (the monolith's own suite run against the generated services) are "
         f"**{SPLIT_NOT_MEASURED}**: they need `decompose verify`, which this script does not call yet "
         f"(it is not part of the decompose measured here)."),
        "",
    ]
    extra = [n for n in ("up-local", "build", "up") if any(n in {s["name"] for s in r["steps"]} for r in results.values())]
    lines += [
        "| app | framework | version | monolith tests | analyze | plan | generate | "
        + "".join(f"{n} | " for n in extra) + "split-system tests |",
        "|---|---|---|---|---|---|---|" + "---|" * len(extra) + "---|",
    ]
    for name in sorted(results, key=lambda n: list(APPS).index(n) if n in APPS else 99):
        r = results[name]
        st = {s["name"]: s for s in r["steps"]}

        def oc(n: str, st: dict = st) -> str:
            s = st.get(n)
            return f"{s['outcome']} ({s['seconds']:.1f} s)" if s and s["outcome"] != "skipped" else (s["outcome"] if s else "-")

        lines.append(f"| {name} | {r['framework']} | {r['version']} | {_tests_cell(r.get('monolith_tests', {}))} | "
                     f"{oc('analyze')} | {oc('plan')} | {oc('generate')} | "
                     + "".join(f"{oc(n)} | " for n in extra) + f"{r['split_tests']} |")
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
            f"* split-system tests: {r['split_tests']} (needs `decompose verify`)",
            f"* run: {r.get('ran_at', '')}, decompose at {r.get('decompose_commit', '')}",
            "",
            "| step | outcome | time | first error line | where | figures |",
            "|---|---|---|---|---|---|",
        ]
        for s in r["steps"]:
            fig = ", ".join(f"{k} {v}" for k, v in s.get("detail", {}).items() if k not in ("stdout", "last_error_line"))
            lines.append(f"| {s['name']} | {s['outcome']} | {s['seconds']:.1f} s | {_cell(s.get('error', ''))} | "
                         f"{_cell(s.get('where', ''))} | {_cell(fig)} |")
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
    ap.add_argument("--local", action="store_true", help="also `decompose up --local` / `down --local`")
    ap.add_argument("--docker", action="store_true", help="also `decompose build` / `up` / `down` (Docker engine)")
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
        results[name] = r
        if not a.no_docs:
            _write(results)
    if a.no_docs:
        print(render(results))
    return 0


def _write(results: dict[str, dict]) -> None:
    order = sorted(results, key=lambda n: list(APPS).index(n) if n in APPS else 99)
    DOCS_JSON.write_text(json.dumps({
        "schema": 1,
        "split_tests": SPLIT_NOT_MEASURED,
        "apps": [results[n] for n in order],
        "django_candidates": list(DJANGO_CANDIDATES),
    }, indent=2, sort_keys=False) + "\n")
    DOCS_MD.write_text(render(results))


if __name__ == "__main__":
    sys.exit(main())
