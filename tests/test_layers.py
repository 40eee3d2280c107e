"""The package layout keeps its promises (docs/architecture.md).

* imports flow one way down the stages (import-linter contracts in pyproject.toml);
* no module is over ~800 lines unless its docstring says why (a line starting ``Size:``);
* every subpackage is listed for the wheel (pyproject's ``[tool.setuptools] packages``).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "decompose"
MAX_LINES = 800


def test_imports_flow_one_way_down_the_stages():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    r = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_no_module_is_over_800_lines_without_a_stated_reason():
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if not any(line.startswith("Size:") for line in doc.splitlines()):
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not too_long, too_long


def test_every_subpackage_ships_in_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.relative_to(ROOT).parts[:-1]) for p in PACKAGE.rglob("__init__.py")}
    assert on_disk - listed == set(), f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
