"""Reading a unit's readiness while ``up`` waits (pure helpers of :mod:`decompose.runtime.runner`).

* :func:`readiness_verdict`: what a failed readiness answer of a generated
  service says (``problems``; ``missing_routes`` are final: its app's rules
  do not change, waiting cannot help);
* :func:`crash_loop`: a unit whose server stays up but keeps restarting a
  worker that dies while loading the app (gunicorn's master, uvicorn's
  supervisor with ``--workers N``: the unit never exits);
* :func:`first_error`: the line of a failed unit's log that says what went
  wrong (the exception of its first traceback, else its first error line);
* :func:`idle_services`: services nothing can reach (no route, no interface).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from decompose.runtime.docker_build import OutputManifest


#: A server restarting a worker that died: gunicorn's ``Worker (pid:12) exited with code 1`` /
#: ``Worker (pid:12) was sent SIGKILL!``, uvicorn's supervisor's ``Child process [12] died``.
_WORKER_EXIT = re.compile(r"Worker \(pid:\d+\) (?:exited with code -?\d+|was sent [A-Z0-9]+)"
                          r"|Child process \[\d+\] died")
CRASH_LOOP_EXITS = 2
_TRACEBACK = "Traceback (most recent call last):"
#: A log line reporting an error: ``[ERROR] ...``, ``ERROR:    ...``, ``fatal: ...``, ``CRITICAL ...``.
_ERROR_LINE = re.compile(r"\b(?:ERROR|CRITICAL|FATAL)\b|^(?:error|fatal|critical)\b|\b(?:error|fatal):\s", re.I)
#: Server lines that announce a failure without saying which (the traceback or next line does).
_GENERIC = re.compile(r"Exception in (?:worker process|ASGI application|'lifespan' protocol)"
                      r"|Application startup failed|Worker failed to boot|Traceback \(most recent call last\)", re.I)
MAX_ERROR = 300


def crash_loop(lines: list[str]) -> str:
    """"crash loop: ..." when a unit's log shows its server restarting dead workers over and over
    (gunicorn's master, uvicorn's supervisor: the unit never exits), else ""."""
    exits = [m.group(0) for ln in lines for m in [_WORKER_EXIT.search(ln)] if m]
    if len(exits) < CRASH_LOOP_EXITS:
        return ""
    return f"crash loop: its worker died {len(exits)} times while starting ({exits[-1].rstrip('!')})"


def first_error(lines: list[str]) -> str:
    """What went wrong, from a failed unit's log: the exception line of its first
    traceback (``ModuleNotFoundError: No module named 'celery'``; a chained one's
    root cause comes first), else its first line reporting an error, else ""."""
    in_traceback = False
    for line in lines:
        if _TRACEBACK in line:
            in_traceback = True
            continue
        if in_traceback:
            if not line.strip() or line[:1].isspace():  # frames, source lines, carets
                continue
            return " ".join(line.split())[:MAX_ERROR]
    for line in lines:
        if _ERROR_LINE.search(line) and not _GENERIC.search(line) and not _WORKER_EXIT.search(line):
            return " ".join(line.split())[:MAX_ERROR]
    return ""


def readiness_verdict(status: str, body: str) -> tuple[str, bool]:
    """(reason, final) of a readiness answer that is not 2xx: ``status`` ("HTTP 503") and its body.

    The generated services name what is wrong (``problems``); routes their app
    does not serve (``missing_routes``) are final: the app's rules do not change."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return status, False
    missing = data.get("missing_routes")
    if isinstance(missing, list) and missing:
        total = data.get("missing_routes_total") if isinstance(data.get("missing_routes_total"), int) else len(missing)
        listed = [str(x) for x in missing[:MISSING_LISTED]]
        more = total - len(listed)
        return (f"its app does not serve {total} route(s) this service owns: {', '.join(listed)}"
                + (f" (+{more} more)" if more > 0 else "")), True
    problems = data.get("problems")
    if isinstance(problems, list) and problems:
        return f"{status}: {'; '.join(str(p) for p in problems)}"[:300], False
    return status, False


MISSING_LISTED = 10


def http_probe(url: str, timeout: float = 2.0) -> tuple[bool, str, bool]:
    """(ready, why not, final) of a readiness URL (see :func:`readiness_verdict`)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - local URL we built
            return 200 <= r.status < 300, f"HTTP {r.status}", False
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(8192).decode("utf-8", "replace")
        except OSError:
            body = ""
        why, final = readiness_verdict(f"HTTP {exc.code}", body)
        return False, why, final
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, " ".join(str(reason).split()), False


def idle_services(m: OutputManifest) -> list[str]:
    """Services that own no public route and offer no interface function: nothing reaches them."""
    return [u.name for u in m.services if not u.routes and u.interface == ()]


def log_lines(path: Path, limit: int = 65536) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
            return f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def probe_script(port: int, path: str) -> str:
    """Python one-liner exiting 0 when ``GET http://127.0.0.1:port/path`` answers 2xx.

    Prints the status (``HTTP Error 503: ...`` when not 2xx) and the answer's
    body on one line (see :func:`readiness_verdict`)."""
    return (
        "import sys,urllib.request as u,urllib.error as e\n"
        "try:\n"
        f" r=u.urlopen('http://127.0.0.1:{port}{path}',timeout=3);c=r.status;m='HTTP %d'%c;b=r.read(8192)\n"
        "except e.HTTPError as x:\n"
        " c=x.code;m=str(x);b=x.read(8192)\n"
        "print(m);print(' '.join(b.decode('utf-8','replace').split()))\n"
        "sys.exit(0 if 200<=c<300 else 1)"
    )


def probe_container(container, port: int, path: str) -> tuple[bool, str, bool]:
    """(ready, why not, final) of ``GET http://127.0.0.1:port/path`` from inside a container (ports of services are not published)."""
    from docker.errors import APIError

    try:
        code, output = container.exec_run(["python", "-c", probe_script(port, path)], stdout=True, stderr=True)
    except APIError as exc:  # e.g. the container stopped between reload() and exec
        return False, " ".join(str(exc.explanation or exc).split())[-300:], False
    text = output.decode("utf-8", "replace").strip().splitlines() if output else []
    if code == 0:
        return True, "", False
    if text and len(text) <= 2 and text[0].startswith("HTTP "):  # an answer: status line, body
        why, final = readiness_verdict(text[0], text[1] if len(text) == 2 else "")
        return False, why, final
    return False, (text[-1] if text else f"probe exited {code}")[-300:], False
