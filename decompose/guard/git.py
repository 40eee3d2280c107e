"""The git adapter: the work tree's top folder and file contents at a ref (``git`` on PATH).

This module owns every call to git the check makes: :func:`git_toplevel`
(None outside a work tree or without git) and :func:`git_blobs` (one
``git cat-file --batch`` for all the checked files at the base ref).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from decompose.guard.errors import CheckError


def run_git(cwd: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess | None:
    """``git ARGS`` in ``cwd``, output captured; None when git is not installed."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=False)
    except OSError:  # git not installed
        return None


def git_toplevel(root: Path) -> Path | None:
    """The top folder of the git work tree holding ``root``, or None."""
    p = run_git(root, "rev-parse", "--show-toplevel")
    if p is None or p.returncode != 0:
        return None
    return Path(os.fsdecode(p.stdout.strip())).resolve()


def git_commit(top: Path, ref: str) -> str | None:
    """The full hash of the commit ``ref`` names, or None when it names none (or git is missing)."""
    p = run_git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if p is None or p.returncode != 0:
        return None
    return p.stdout.decode().strip()


def git_blobs(top: Path, ref: str, relpaths: list[str]) -> dict[str, bytes | None]:
    """Contents of ``relpaths`` (relative to the repository top) at ``ref``; None where absent."""
    if not relpaths:
        return {}
    req = b"".join(f"{ref}:{p}\n".encode() for p in relpaths)
    p = run_git(top, "cat-file", "--batch", input=req)
    if p is None or p.returncode != 0:
        raise CheckError(f"{top}: git cat-file failed: {(p.stderr.decode(errors='replace').strip() if p else 'git not found')}")
    out: dict[str, bytes | None] = {}
    buf = p.stdout
    pos = 0
    for rel in relpaths:
        nl = buf.index(b"\n", pos)
        header = buf[pos:nl].split()
        pos = nl + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            out[rel] = buf[pos : pos + size]
            pos += size + 1
        elif len(header) == 3:  # a tree or a submodule at that path: not a file there
            pos += int(header[2]) + 1
            out[rel] = None
        else:  # "<object> missing" / "ambiguous"
            out[rel] = None
    return out
