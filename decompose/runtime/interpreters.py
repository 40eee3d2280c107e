"""Which Python runs each unit of ``up --local``, and what it lacks (adapter: asks interpreters).

Services run with ``--python`` (the monolith's virtualenv, holding the app's own
dependencies) or, without it, the interpreter running decompose.  The gateway is
decompose's generated code, not the monolith's: when ``--python`` lacks its
requirements (``httpx``...) and this interpreter has them, it runs with this one.
Only presence of a distribution is checked: a different installed version still runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from decompose.runtime.docker_build import OutputManifest


def _requirement_lines(req_file: Path) -> list[tuple[str, str]]:
    """(distribution name, line) of every requirement in ``req_file``."""
    import re

    try:
        lines = req_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if m and not line.startswith("-"):
            found.append((m.group(1), line))
    return found


def missing_requirements(req_file: Path) -> list[str]:
    """Requirements in ``req_file`` with no installed distribution in this interpreter.

    Only presence is checked: a different installed version still runs.
    """
    import importlib.metadata as md

    missing = []
    for name, line in _requirement_lines(req_file):
        try:
            md.distribution(name)
        except md.PackageNotFoundError:
            missing.append(line)
    return missing


_INSTALLED_SCRIPT = (
    "import importlib.metadata as md, json, sys\n"
    "names = json.load(sys.stdin)\n"
    "def has(n):\n"
    "    try:\n"
    "        md.distribution(n)\n"
    "        return True\n"
    "    except md.PackageNotFoundError:\n"
    "        return False\n"
    "print(json.dumps([n for n in names if not has(n)]))\n"
)


def missing_requirements_in(python: str, req_files: Mapping[str, Path]) -> dict[str, list[str]] | None:
    """Per unit, the requirements of its ``requirements.txt`` with no distribution installed in the
    interpreter ``python`` (asked in one subprocess); None when ``python`` cannot be asked."""
    wanted = {unit: _requirement_lines(path) for unit, path in req_files.items()}
    names = sorted({n for reqs in wanted.values() for n, _ in reqs})
    try:
        done = subprocess.run([python, "-I", "-c", _INSTALLED_SCRIPT], input=json.dumps(names), capture_output=True,
                              text=True, timeout=60, check=False)
        absent = set(json.loads(done.stdout)) if done.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        absent = None
    if absent is None:
        return None
    return {unit: [line for n, line in reqs if n in absent] for unit, reqs in wanted.items()}


def unit_pythons(m: OutputManifest, python: str | None) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The interpreter each unit runs with locally, and the requirements each lacks in it.

    Services run with ``python`` (``--python``: the monolith's virtualenv, with the app's own
    dependencies), else this interpreter.  The gateway is decompose's code, not the monolith's:
    when ``python`` lacks its requirements and this interpreter has them, it runs with this one.
    """
    here = sys.executable
    reqs = {u.name: u.context / "requirements.txt" for u in m.units}
    chosen = {u.name: python or here for u in m.units}
    if python is None:
        return chosen, {n: v for n, path in reqs.items() if (v := missing_requirements(path))}
    there = missing_requirements_in(python, reqs) or {}
    lacking = {n: v for n, v in there.items() if v}
    for u in m.units:
        if u.role == "gateway" and u.name in lacking and not missing_requirements(reqs[u.name]):
            chosen[u.name] = here
            del lacking[u.name]
    return chosen, lacking
