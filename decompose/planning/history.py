"""Commit history of the analysed tree from ``git log`` (filesystem/process adapter).

Feeds the evolutionary coupling signal (:func:`decompose.planning.signals.evolution_signal`).
Paths come back relative to the analysed folder (``git log --relative`` run
inside it), so they match :attr:`decompose.analysis.facts.ModuleFacts.path`.  When
the folder is not inside a git work tree, or git is not installed, there is
no history: :func:`commits` returns ``None`` and the signal is left out.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

#: Default number of most recent commits read (``git log --max-count``): older history says
#: little about today's coupling, and reading it costs time on long-lived repositories.
#: Set per project with ``[tool.decompose.plan] max_commits`` or ``decompose plan
#: --max-commits N``; 0 reads the whole history.
MAX_COMMITS = 5000


def commits(root: Path, max_commits: int = MAX_COMMITS, timeout: float = 60.0) -> list[list[str]] | None:
    """Files changed by each of the newest ``max_commits`` commits (newest first; 0: every
    commit), or None without git history.

    Only *modified* files are listed (``--diff-filter=M``): files created or
    deleted together (an initial import, a vendored folder) say nothing about
    how the code evolves together.  Merge commits are skipped (their changes
    are already in the merged commits).  Huge commits are kept here and
    dropped by the signal, which counts them.
    """
    root = Path(root)
    folder = root if root.is_dir() else root.parent
    git = shutil.which("git")
    if git is None:
        return None
    try:
        inside = subprocess.run(
            [git, "-C", str(folder), "rev-parse", "--is-inside-work-tree"],
            capture_output=True, text=True, timeout=timeout,
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return None
        log = subprocess.run(
            [
                git, "-C", str(folder), "log", "--no-merges", "--relative", "--name-only",
                "--no-renames", "--diff-filter=M", *([f"--max-count={max_commits}"] if max_commits > 0 else []),
                "--format=%x00%H", "--", ".",
            ],
            capture_output=True, text=True, timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if log.returncode != 0:
        return None  # e.g. a repository without commits yet
    return parse_log(log.stdout)


def parse_log(text: str) -> list[list[str]]:
    """Parse ``git log --name-only --format=%x00%H`` output into lists of paths."""
    out: list[list[str]] = []
    for chunk in text.split("\x00")[1:]:
        lines = [ln.strip() for ln in chunk.splitlines()]
        files = sorted({ln for ln in lines[1:] if ln})
        if files:
            out.append(files)
    return out
