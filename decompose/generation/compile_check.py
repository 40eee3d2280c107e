"""Compiling the generated Python with the Python the images run (adapter).

``decompose generate`` compiles every file it wrote or rewrote.  The images run
the monolith's Python (:mod:`decompose.generation.pyversion`), which may be
newer or older than the one running decompose, so the check runs in an
interpreter of that version when one is found (``python3.X`` on PATH, pyenv's
and uv's installed versions, /usr/bin, /usr/local/bin); otherwise in this one,
and the result says so.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: Runs in the target interpreter: {path: source} on stdin -> [[path, line, message], ...] on stdout.
_SCRIPT = (
    "import json, sys\n"
    "out = []\n"
    "for path, text in json.load(sys.stdin).items():\n"
    "    try:\n"
    "        compile(text, path, 'exec', dont_inherit=True)\n"
    "    except SyntaxError as exc:\n"
    "        out.append([path, exc.lineno, exc.msg])\n"
    "json.dump(out, sys.stdout)\n"
)


@dataclass
class CompileResult:
    python: str  # the version compiled for ("3.12")
    interpreter: str | None  # the interpreter that compiled (None: this one, of another version)
    problems: list[str] = field(default_factory=list)
    note: str | None = None  # set when the target's own interpreter was not available


def running_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def _candidates(version: str) -> list[str]:
    out = [shutil.which(f"python{version}") or ""]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    out += sorted(glob.glob(str(pyenv / "versions" / f"{version}.*" / "bin" / f"python{version}")), reverse=True)
    uv = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or Path.home() / ".local" / "share" / "uv" / "python")
    out += sorted(glob.glob(str(uv / f"cpython-{version}.*" / "bin" / f"python{version}")), reverse=True)
    out += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    return [c for c in dict.fromkeys(out) if c]


@functools.lru_cache(maxsize=None)
def find_python(version: str) -> str | None:
    """An interpreter of Python ``version`` ("3.12") that runs, or None."""
    if running_version() == version:
        return sys.executable
    for c in _candidates(version):
        if not Path(c).is_file():
            continue
        try:
            r = subprocess.run([c, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if r.returncode == 0 and r.stdout.strip() == version:
            return c
    return None


def _in_process(sources: dict[str, str]) -> list[list]:
    out = []
    for path, text in sources.items():
        try:
            compile(text, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            out.append([path, exc.lineno, exc.msg])
    return out


def compile_sources(sources: dict[str, str], version: str) -> CompileResult:
    """Compile every ``{path: source}`` as Python ``version`` would (see the module's docstring)."""
    py = find_python(version)
    result = CompileResult(python=version, interpreter=py)
    found: list[list] | None = None
    if py and py != sys.executable:
        try:
            r = subprocess.run([py, "-I", "-c", _SCRIPT], input=json.dumps(sources), capture_output=True,
                               text=True, timeout=600, check=False)
            if r.returncode == 0:
                found = json.loads(r.stdout)
        except (OSError, subprocess.SubprocessError, ValueError):
            found = None
        if found is None:
            result.interpreter = None
    if found is None:
        found = _in_process(sources)
        if result.interpreter is None:
            result.note = (f"generated code compiled with Python {running_version()}, not {version} (the images' "
                           f"Python): no working python{version} found on PATH or in pyenv/uv; syntax that only "
                           f"one of them accepts is not checked (install python{version} to check it)")
    result.problems = [f"{path}:{line}: generated code does not compile (Python {version if result.interpreter else running_version()}): {msg}"
                       for path, line, msg in sorted(found, key=lambda p: (p[0], p[1] or 0))]
    return result
