"""Persistence for the check: the graph snapshot and the validated-plan cache (both marshal).

This module owns two files in the cache folder:

* ``check-snapshot.marshal``: a :class:`~decompose.guard.graphstate.GraphState`
  (per module its path, content key, stat signature, compact imports and
  uses, resolved out-edges; the skipped files) with the time it was written,
  valid only under the same :func:`fingerprint` (decompose, snapshot, facts,
  Python and marshal versions, ``exclude`` and ``source_roots``);
* ``check-plan.marshal``: ``decompose.yaml`` in validated form, keyed by the
  file's SHA-256 (:func:`load_plan_cached`).

Both are only a speed-up: an unreadable, stale or foreign file reads as a
miss, and a failed write is ignored by the callers.
"""

from __future__ import annotations

import hashlib
import marshal
import sys
import time
from pathlib import Path

from decompose.analysis.facts import FACTS_VERSION
from decompose.config import Config
from decompose.guard.graphstate import Edge, GraphState, ModuleInfo
from decompose.planning.plan import Plan

SNAPSHOT_VERSION = 2
SNAPSHOT_NAME = "check-snapshot.marshal"


def fingerprint(config: Config) -> str:
    """What a snapshot is valid for: the versions and settings that change its content."""
    from decompose import __version__

    return "|".join([
        f"decompose={__version__}", f"snapshot={SNAPSHOT_VERSION}", f"facts={FACTS_VERSION}", f"py={sys.version_info[0]}.{sys.version_info[1]}",
        f"marshal={marshal.version}", "exclude=" + "\0".join(sorted(config.exclude)),
        "roots=" + "\0".join(sorted(config.source_roots)),
    ])


def save_snapshot(path: Path, state: GraphState, fingerprint: str) -> None:
    from decompose.fsio import atomic_write

    data = {
        "fingerprint": fingerprint,
        "written_ns": time.time_ns(),
        "info": {m: (i.relpath, i.is_package, i.key, i.lines, i.mtime_ns, i.size) for m, i in state.info.items()},
        "imports": state.imports,
        "uses": state.uses,
        "skipped": state.skipped,
        # resolved edges, so that a warm load does not resolve every import again
        "out": {
            m: [(t, e.imports, tuple(e.lines), tuple(sorted(e.contexts)), e.uses, e.calls) for t, e in es.items()]
            for m, es in state.out.items()
        },
        "unresolved": state.unresolved,
    }
    atomic_write(path, marshal.dumps(data))


def load_snapshot(path: Path, fingerprint: str) -> tuple[GraphState, int] | None:
    """The snapshot at ``path`` if it exists, is readable and was made with the same settings."""
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        return None
    try:
        info = {m: ModuleInfo(*t) for m, t in data["info"].items()}
        st = GraphState(info=info, imports=data["imports"], uses=data["uses"], skipped=data["skipped"])
        st.out = {
            m: {t: Edge(n, list(lines), set(ctx), uses, calls) for t, n, lines, ctx, uses, calls in es}
            for m, es in data["out"].items()
        }
        st.unresolved = data["unresolved"]
    except (KeyError, TypeError, ValueError):
        return None
    if st.out.keys() != info.keys():
        return None
    return st, int(data["written_ns"])


PLAN_CACHE_NAME = "check-plan.marshal"


def load_plan_cached(path: Path, cache_dir: Path | None = None) -> Plan:
    """``decompose.yaml`` through a cache of its validated form.

    PyYAML's pure-Python loader (needed to reject duplicate keys) takes about
    half a second on a Django-size plan; the plan is re-read only when its
    bytes change (SHA-256), otherwise rebuilt from a marshal file in the cache
    folder of the plan's directory.  Errors are raised as ``PlanError`` exactly
    as ``planfile.load_plan`` raises them.
    """
    from decompose import __version__
    from decompose.analysis.cache import default_cache_dir
    from decompose.fsio import atomic_write
    from decompose.planning.plan import PlanError
    from decompose.planning.planfile import loads_plan

    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PlanError([f"{path}: no such plan file (run `decompose plan` first)"]) from None
    except OSError as exc:
        raise PlanError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    digest = hashlib.sha256(f"{__version__}\0{SNAPSHOT_VERSION}\0".encode() + raw).hexdigest()
    cfile = (Path(cache_dir) if cache_dir else default_cache_dir(path.resolve().parent)) / PLAN_CACHE_NAME
    try:
        data = marshal.loads(cfile.read_bytes())
        if isinstance(data, dict) and data.get("digest") == digest:
            return Plan.from_dict(data["plan"], str(path))
    except (OSError, EOFError, ValueError, TypeError, KeyError, PlanError):
        pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError([f"{path}: cannot read: not UTF-8 ({exc.reason} at byte {exc.start})"]) from None
    plan = loads_plan(text, str(path))
    try:
        atomic_write(cfile, marshal.dumps({"digest": digest, "plan": plan.to_dict()}))
    except (OSError, ValueError):
        pass  # an unwritable cache or an unmarshalable value only costs speed
    return plan
