"""`decompose check` driven by the real pre-commit framework on temporary git repositories.

Two set-ups:

* a ``repo: local`` hook with ``language: system`` running this interpreter's
  ``decompose check`` (no network needed);
* the published hook: ``repo:`` a fresh clone of this repository at its HEAD
  commit, ``id: decompose-check`` from ``.pre-commit-hooks.yaml``.  pre-commit
  clones it and pip-installs decompose into its own virtualenv, which needs
  the package index (marked ``slow``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_check_cli import GIT, PLAN, append, make_shop

REPO = Path(__file__).resolve().parent.parent


def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    e["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    e["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return e


def run(cmd: list[str], cwd: Path, e: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, timeout=900)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def git(root: Path, e: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([*GIT, *args], root, e, check)


def commit_count(root: Path, e) -> int:
    return int(git(root, e, "rev-list", "--count", "HEAD").stdout.strip())


def repository(tmp_path: Path, hook_config: str) -> tuple[Path, dict[str, str]]:
    e = env(tmp_path)
    root = make_shop(tmp_path / "shop", plan=PLAN)
    (root / ".pre-commit-config.yaml").write_text(hook_config)
    git(root, e, "init", "-q")
    git(root, e, "add", "-A")
    git(root, e, "commit", "-q", "-m", "initial")
    run([sys.executable, "-m", "pre_commit", "install"], root, e)
    assert (root / ".git" / "hooks" / "pre-commit").is_file()
    return root, e


def exercise(root: Path, e: dict[str, str]) -> None:
    # 1. a change inside one service: the commit goes through
    append(root, "shop/orders/service.py", "from shop.orders.models import Order")
    git(root, e, "add", "shop/orders/service.py")
    p = git(root, e, "commit", "-m", "orders use their own models", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert commit_count(root, e) == 2

    # 2. an import across the boundary: the commit is blocked, naming file, line and rule
    line = append(root, "shop/orders/service.py", "from shop.catalog.models import Product")
    git(root, e, "add", "shop/orders/service.py")
    p = git(root, e, "commit", "-m", "reach into catalog", check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "Failed" in out
    assert f"shop/orders/service.py:{line}" in out and "DC101" in out
    assert "from shop.catalog.models import Product" in out
    assert commit_count(root, e) == 2

    # 3. the violation unstaged, a clean change staged: pre-commit checks what is committed
    (root / "shop/utils.py").write_text((root / "shop/utils.py").read_text() + "\n\ndef pct(x):\n    return x / 100\n")
    git(root, e, "reset", "-q")
    git(root, e, "add", "shop/utils.py")
    p = git(root, e, "commit", "-m", "utils", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert commit_count(root, e) == 3
    assert "from shop.catalog.models import Product" in (root / "shop/orders/service.py").read_text()

    # 4. interface calls are fine: orders may call catalog's interface function
    (root / "shop/orders/service.py").write_text(
        "from shop.catalog.service import get_price\nfrom shop import utils\n\n\n"
        "def total(product_id, qty):\n    return utils.fmt(get_price(product_id) * qty)\n"
    )
    git(root, e, "add", "shop/orders/service.py")
    p = git(root, e, "commit", "-m", "qty", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert commit_count(root, e) == 4


def test_local_system_hook_blocks_a_boundary_violation(tmp_path):
    config = f"""\
repos:
  - repo: local
    hooks:
      - id: decompose-check
        name: decompose check
        entry: {sys.executable} -m decompose check
        language: system
        types: [python]
        pass_filenames: true
        require_serial: true
"""
    root, e = repository(tmp_path, config)
    exercise(root, e)


@pytest.mark.slow
def test_published_hook_from_a_fresh_clone(tmp_path):
    e = env(tmp_path)
    clone = tmp_path / "decompose-clone"
    run(["git", "clone", "-q", str(REPO), str(clone)], tmp_path, e)
    assert (clone / ".pre-commit-hooks.yaml").is_file(), ".pre-commit-hooks.yaml is not committed"
    rev = run(["git", "rev-parse", "HEAD"], clone, e).stdout.strip()
    config = f"""\
repos:
  - repo: {clone}
    rev: {rev}
    hooks:
      - id: decompose-check
"""
    root, e = repository(tmp_path, config)
    # build the hook's environment once (pip-installs decompose from the clone)
    p = run([sys.executable, "-m", "pre_commit", "install-hooks"], root, e, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    exercise(root, e)
