"""``decompose trace``: run a command with the call recorder injected; read/write trace files (adapter).

The recorder itself is :mod:`decompose.planning.tracer` (standard library only).  This
module starts the command with a temporary ``sitecustomize.py`` first on
``PYTHONPATH`` that installs it (and then runs any ``sitecustomize`` it
shadows), collects the per-process files and merges them into one
deterministic JSON document::

    {
      "version": 1,
      "packages": ["shop"],
      "processes": 1,
      "calls": [
        {"caller": "shop.orders.service:place_order", "callee": "shop.catalog.service:get_product", "count": 12},
        ...
      ]
    }

sorted by caller then callee, keys sorted, so the same run gives the same
bytes.  ``decompose plan --trace FILE`` reads it with :func:`load_trace`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from decompose.planning import tracer

TRACE_VERSION = 1

SITECUSTOMIZE = '''\
"""Installed by `decompose trace`: records cross-module calls, then chains to any shadowed sitecustomize."""
import os as _os
import sys as _sys

_here = _os.path.dirname(_os.path.abspath(__file__))
try:
    import _decompose_tracer

    _decompose_tracer.install_from_env()
finally:
    import importlib.machinery as _machinery
    import importlib.util as _util

    _rest = [p for p in _sys.path if _os.path.abspath(p or ".") != _here]
    _spec = _machinery.PathFinder.find_spec("sitecustomize", _rest)
    if _spec is not None and _spec.loader is not None:
        _mod = _util.module_from_spec(_spec)
        _spec.loader.exec_module(_mod)
'''


class TraceError(Exception):
    """A trace file is missing or malformed; one line naming the file."""


@dataclass
class TraceRun:
    returncode: int
    document: dict
    processes: int
    lost: int = 0  # processes whose calls could not be read (killed while writing)


def merge(parts: list[dict], packages: list[str]) -> dict:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for part in parts:
        for caller_mod, caller_scope, callee_mod, callee_scope, n in part.get("calls", []):
            counts[(f"{caller_mod}:{caller_scope}", f"{callee_mod}:{callee_scope}")] += int(n)
    return {
        "version": TRACE_VERSION,
        "packages": sorted(set(packages)),
        "processes": len(parts),
        "calls": [{"caller": a, "callee": b, "count": n} for (a, b), n in sorted(counts.items())],
    }


def run_traced(command: list[str], packages: list[str], *, cwd: Path | None = None, env: dict | None = None) -> TraceRun:
    """Run ``command`` with the recorder injected; return its exit status and the merged trace."""
    if not command:
        raise TraceError("trace: no command given (usage: decompose trace -- pytest tests/)")
    if not packages:
        raise TraceError("trace: no package to record (give --package or a source folder with packages)")
    exe = shutil.which(command[0]) if os.sep not in command[0] else command[0]
    if exe is None:
        raise TraceError(f"trace: command not found: {command[0]}")
    with tempfile.TemporaryDirectory(prefix="decompose-trace-") as tmp:
        hook = Path(tmp) / "hook"
        out = Path(tmp) / "out"
        hook.mkdir()
        out.mkdir()
        shutil.copyfile(tracer.__file__, hook / "_decompose_tracer.py")
        (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        child_env = dict(os.environ if env is None else env)
        old = child_env.get("PYTHONPATH")
        child_env["PYTHONPATH"] = str(hook) + (os.pathsep + old if old else "")
        child_env[tracer.ENV_DIR] = str(out)
        child_env[tracer.ENV_PACKAGES] = ",".join(sorted(set(packages)))
        proc = subprocess.run(command, cwd=cwd, env=child_env)
        parts = []
        unreadable = 0
        for f in sorted(out.glob("trace-*.json")):
            try:
                parts.append(json.loads(f.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                unreadable += 1  # its calls are lost, the others still count; reported
        unfinished = len(list(out.glob("trace-*.json.tmp")))  # killed while writing
        return TraceRun(
            returncode=proc.returncode,
            document=merge(parts, packages),
            processes=len(parts),
            lost=unreadable + unfinished,
        )


def dumps_trace(document: dict) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def load_trace(path: Path) -> list[tuple[str, str, int]]:
    """(caller, callee, count) triples of a trace file; TraceError with one line on any problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TraceError(f"{path}: no such trace file (record one with `decompose trace -- <command>`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read: {exc}") from None
    except ValueError as exc:
        raise TraceError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != TRACE_VERSION or not isinstance(data.get("calls"), list):
        raise TraceError(f"{path}: not a decompose trace (expected version {TRACE_VERSION} and a 'calls' list)")
    out = []
    for i, c in enumerate(data["calls"]):
        if (
            not isinstance(c, dict)
            or not isinstance(c.get("caller"), str)
            or not isinstance(c.get("callee"), str)
            or not isinstance(c.get("count"), int)
            or isinstance(c.get("count"), bool)
            or c["count"] < 0
        ):
            raise TraceError(f"{path}: calls[{i}] must have caller, callee (strings) and count (integer >= 0)")
        out.append((c["caller"], c["callee"], c["count"]))
    return out
