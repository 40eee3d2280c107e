"""Runtime call recorder injected into a traced process (standard library only).

``decompose trace -- <command>`` copies this file next to a generated
``sitecustomize.py`` and puts that folder first on ``PYTHONPATH``, so every
Python process the command starts (pytest, its subprocesses) installs the
recorder at start-up, before any application module is imported.  It needs
nothing from ``decompose``, so the traced command may use another
interpreter or virtualenv.

What is recorded: for every Python function call whose caller and callee
both live in the analysed packages (``DECOMPOSE_TRACE_PACKAGES``, comma
separated) and in *different* modules, the pair
``(caller module, caller top-level scope) -> (callee module, callee top-level scope)``
is counted.  The scope is the top-level function or class the code belongs
to (``Cart.add`` -> ``Cart``, a nested function -> its outer function,
module-level code -> ``<module>``).  Resuming a generator or coroutine is not
a new call and is not counted.  The module of a frame is the ``__spec__``
name of its globals (so ``python -m shop`` counts as ``shop.__main__``).

Hook: ``sys.setprofile`` and ``threading.setprofile`` (all threads started
after start-up), which only sees Python-level calls; calls made from C code
(e.g. ``map(f, ...)``) are seen with the C function's Python caller.
At exit each process writes ``trace-<pid>-<n>.json`` into
``DECOMPOSE_TRACE_DIR``; ``decompose trace`` merges them.  A forked child
starts with empty counts and writes its own file if it exits normally
(``os._exit`` skips exit handlers, so such children are not recorded).
"""

from __future__ import annotations

import atexit
import dis
import json
import os
import sys
import threading

ENV_DIR = "DECOMPOSE_TRACE_DIR"
ENV_PACKAGES = "DECOMPOSE_TRACE_PACKAGES"
_GENERATOR_FLAGS = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR


class Recorder:
    def __init__(self, packages: list[str]):
        self.packages = tuple(sorted(set(p for p in packages if p)))
        self.prefixes = tuple(p + "." for p in self.packages)
        self.counts: dict[tuple[str, str, str, str], int] = {}
        self._info: dict[object, tuple[str, str] | None] = {}
        self._start: dict[object, int] = {}

    def _module(self, frame) -> str | None:
        g = frame.f_globals
        spec = g.get("__spec__")
        name = getattr(spec, "name", None) or g.get("__name__")
        if not isinstance(name, str):
            return None
        if name in self.packages or name.startswith(self.prefixes):
            return name
        return None

    def info(self, frame) -> tuple[str, str] | None:
        code = frame.f_code
        try:
            return self._info[code]
        except KeyError:
            pass
        mod = self._module(frame)
        result = None
        if mod is not None:
            qual = getattr(code, "co_qualname", code.co_name)
            scope = qual.split(".", 1)[0]
            result = (mod, scope)
        self._info[code] = result
        return result

    def _first_entry(self, frame) -> bool:
        code = frame.f_code
        if not code.co_flags & _GENERATOR_FLAGS:
            return True
        start = self._start.get(code)
        if start is None:
            start = -1
            for ins in dis.get_instructions(code):
                if ins.opname == "RESUME":
                    start = ins.offset
                    break
            self._start[code] = start
        return frame.f_lasti <= start

    def profile(self, frame, event, arg):
        if event != "call":
            return
        callee = self.info(frame)
        if callee is None:
            return
        back = frame.f_back
        if back is None:
            return
        caller = self.info(back)
        if caller is None or caller[0] == callee[0]:
            return
        if not self._first_entry(frame):
            return
        key = (caller[0], caller[1], callee[0], callee[1])
        self.counts[key] = self.counts.get(key, 0) + 1

    def document(self) -> dict:
        return {
            "packages": list(self.packages),
            "calls": [[*k, n] for k, n in sorted(self.counts.items())],
        }


_seq = 0


def install(out_dir: str, packages: list[str]) -> Recorder:
    rec = Recorder(packages)

    def dump() -> None:
        global _seq
        sys.setprofile(None)
        _seq += 1
        path = os.path.join(out_dir, f"trace-{os.getpid()}-{_seq}.json")
        tmp = path + ".tmp"
        try:  # atomic: the collector never reads half a file (it ignores *.tmp)
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(rec.document(), fh)
            os.replace(tmp, path)
        except OSError:
            pass  # an unwritable trace folder must not change the traced program's exit

    def after_fork() -> None:
        rec.counts.clear()

    atexit.register(dump)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_fork)
    threading.setprofile(rec.profile)
    sys.setprofile(rec.profile)
    return rec


def install_from_env() -> Recorder | None:
    out_dir = os.environ.get(ENV_DIR)
    packages = [p.strip() for p in os.environ.get(ENV_PACKAGES, "").split(",") if p.strip()]
    if not out_dir or not packages or not os.path.isdir(out_dir):
        return None
    return install(out_dir, packages)
