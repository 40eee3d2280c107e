"""The git-history limit of the evolutionary signal: MAX_COMMITS, [tool.decompose.plan] max_commits, --max-commits."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decompose.cli import app
from decompose.config import ConfigError, plan_options_from_mapping
from decompose.planning import history
from decompose.planning.planfile import load_plan

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def _repo(root: Path, changes: int, pyproject: str = "") -> Path:
    """A two-module project whose modules change together in ``changes`` commits."""
    def git(*a: str) -> None:
        subprocess.run(["git", "-C", str(root), *a], check=True, capture_output=True)

    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "a.py").write_text("X = 0\n")
    (root / "pkg" / "b.py").write_text("Y = 0\n")
    if pyproject:
        (root / "pyproject.toml").write_text(pyproject)
    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    git("add", ".")
    git("commit", "-qm", "create")
    for i in range(changes):
        (root / "pkg" / "a.py").write_text(f"X = {i + 1}\n")
        (root / "pkg" / "b.py").write_text(f"Y = {i + 1}\n")
        git("commit", "-qam", f"change {i}")
    return root


def test_commits_reads_the_newest_max_commits_and_zero_reads_all(tmp_path):
    repo = _repo(tmp_path / "r", changes=4)
    assert len(history.commits(repo)) == 4  # default MAX_COMMITS is far above
    assert len(history.commits(repo, max_commits=2)) == 2
    assert len(history.commits(repo, max_commits=0)) == 4


def test_max_commits_in_pyproject_is_validated():
    assert plan_options_from_mapping({"max_commits": 10}, "p")[1].max_commits == 10
    assert plan_options_from_mapping({}, "p")[1].max_commits is None
    with pytest.raises(ConfigError, match=r"max_commits must be >= 0"):
        plan_options_from_mapping({"max_commits": -1}, "pyproject.toml")
    with pytest.raises(ConfigError, match=r"max_commits must be an integer"):
        plan_options_from_mapping({"max_commits": "5"}, "pyproject.toml")


def _evolution(tmp_path: Path, project: Path, *args: str) -> str:
    out = tmp_path / f"plan{len(list(tmp_path.glob('plan*.yaml')))}.yaml"
    r = CliRunner().invoke(app, ["plan", str(project), "-o", str(out), "-q", "--no-cache", *args])
    assert r.exit_code == 0, r.output
    return load_plan(out).quality["settings"]["evolution"]


def test_plan_reads_as_many_commits_as_configured(tmp_path):
    plain = _repo(tmp_path / "plain", changes=3)
    assert " of 3 commits" in _evolution(tmp_path, plain)
    assert " of 1 commits" in _evolution(tmp_path, plain, "--max-commits", "1")
    configured = _repo(tmp_path / "conf", changes=3, pyproject="[tool.decompose.plan]\nmax_commits = 2\n")
    assert " of 2 commits" in _evolution(tmp_path, configured)
    assert " of 3 commits" in _evolution(tmp_path, configured, "--max-commits", "0")  # the CLI wins
