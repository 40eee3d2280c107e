"""`decompose analyze` end to end: real files on disk, the real CLI, the real cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decompose.analysis.pipeline import analyze
from decompose.cli import app
from tests.cli_command import decompose_cli

runner = CliRunner()


def write(root: Path, rel: str, text: str | bytes) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write(root, "app/__init__.py", "from .core import run\n")
    write(root, "app/core.py", "import os\nimport requests\nfrom app import util\n\ndef run():\n    return util.helper(os.sep)\n")
    write(root, "app/util.py", "def helper(x):\n    from app import core  # function-level: cycle not at import time\n    return x\n")
    return root


def test_clean_project_exit_0_and_tables(project):
    result = runner.invoke(app, ["analyze", str(project), "--quiet", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "app.core" in result.output
    assert "Import cycles" in result.output


def test_json_output_schema_and_values(project):
    result = runner.invoke(app, ["analyze", str(project), "--format", "json", "--quiet", "--no-cache"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == "decompose.analysis/1"
    assert data["summary"]["modules"] == 3
    edges = {(e["source"], e["target"]): e for e in data["edges"]}
    assert set(edges) == {("app", "app.core"), ("app.core", "app.util"), ("app.util", "app.core")}
    assert edges[("app.util", "app.core")]["contexts"] == ["function"]
    assert data["summary"]["external_packages"] == {"stdlib": ["os"], "thirdparty": ["requests"]}
    (cycle,) = data["cycles"]
    assert cycle["modules"] == ["app.core", "app.util"] and cycle["runtime"] is False


def test_bad_files_are_reported_and_analysis_goes_on(project):
    write(project, "app/broken.py", "def f(:\n    pass\n")
    write(project, "app/binary.py", b"x = '\xff\xfe'\n")
    os.symlink(project / "gone.py", project / "app" / "dangling.py")
    write(project, "app/empty/__init__.py", "")
    result = runner.invoke(app, ["analyze", str(project), "--format", "json", "--quiet", "--no-cache"])
    assert result.exit_code == 1  # files were skipped
    data = json.loads(result.stdout)
    reasons = {s["path"]: s["reason"] for s in data["skipped"]}
    assert set(reasons) == {"app/broken.py", "app/binary.py", "app/dangling.py"}
    assert "line 1" in reasons["app/broken.py"]
    assert "UTF-8" in reasons["app/binary.py"] or "decode" in reasons["app/binary.py"]
    assert "broken symlink" in reasons["app/dangling.py"]
    assert [n["path"] for n in data["notes"]] == ["app/empty/__init__.py"]
    assert data["summary"]["modules"] == 4  # app, app.core, app.util, app.empty; none of the bad ones
    # each skipped file is also named on stderr, one line each
    for path in reasons:
        assert path in result.stderr


def test_missing_path_and_bad_config_exit_2(tmp_path):
    result = runner.invoke(app, ["analyze", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such file or directory" in result.stderr
    write(tmp_path, "pyproject.toml", "[tool.decompose]\nexclud = ['x']\n")
    write(tmp_path, "a.py", "x = 1\n")
    result = runner.invoke(app, ["analyze", str(tmp_path)])
    assert result.exit_code == 2
    assert "pyproject.toml: unknown key tool.decompose.exclud" in result.stderr


def test_no_python_files_is_an_error(tmp_path):
    write(tmp_path, "README.md", "hi\n")
    result = runner.invoke(app, ["analyze", str(tmp_path)])
    assert result.exit_code == 2 and "no Python files" in result.stderr


def test_exclude_from_pyproject(project):
    write(project, "pyproject.toml", "[tool.decompose]\nexclude = ['util.py']\n")
    an = analyze(project, use_cache=False)
    assert [f.module for f in an.facts] == ["app", "app.core"]
    # `from app import util` now names something that is not an analysed module: it depends on `app`
    assert ("app.core", "app") in an.graph.internal.edges
    assert an.graph.unresolved == []


def test_cache_cold_then_warm_then_one_change(project, tmp_path):
    cache = tmp_path / "cache"
    cold = analyze(project, cache_dir=cache)
    assert (cold.stats.parsed, cold.stats.cached) == (3, 0)
    warm = analyze(project, cache_dir=cache)
    assert (warm.stats.parsed, warm.stats.cached) == (0, 3)
    assert [f.to_dict() for f in warm.facts] == [f.to_dict() for f in cold.facts]
    write(project, "app/util.py", "import json\n")
    changed = analyze(project, cache_dir=cache)
    assert (changed.stats.parsed, changed.stats.cached) == (1, 2)
    assert ("app.util", "app.core") not in changed.graph.internal.edges


def test_default_cache_lives_in_project_and_is_ignored_by_git(project):
    analyze(project)
    cache = project / ".decompose_cache"
    assert (cache / "CACHEDIR.TAG").is_file()
    assert (cache / ".gitignore").read_text().strip().endswith("*")
    assert analyze(project).stats.cached == 3


def test_parallel_and_serial_give_identical_json(tmp_path):
    from decompose.cli import render

    root = tmp_path / "big"
    for i in range(120):
        write(root, f"pkg/m{i:03d}.py", f"from pkg import m{(i + 1) % 120:03d}\nimport os\n\ndef f{i}():\n    return m{(i + 1) % 120:03d}.f{(i + 1) % 120}()\n")
    write(root, "pkg/__init__.py", "")
    par = analyze(root, use_cache=False, jobs=2)
    ser = analyze(root, use_cache=False, jobs=1)
    assert par.stats.workers == 2 and ser.stats.workers == 1
    assert render.to_json(par) == render.to_json(ser)
    assert len(par.metrics.cycles) == 1 and len(par.metrics.cycles[0].modules) == 120


def test_dot_and_mermaid(project, tmp_path):
    out = tmp_path / "g.dot"
    result = runner.invoke(app, ["analyze", str(project), "-f", "dot", "-o", str(out), "-q", "--no-cache"])
    assert result.exit_code == 0
    dot = out.read_text()
    assert dot.startswith("digraph decompose {") and '"app.core" -> "app.util"' in dot
    # never overwrite without --force
    result = runner.invoke(app, ["analyze", str(project), "-f", "dot", "-o", str(out), "-q", "--no-cache"])
    assert result.exit_code == 2 and "already exists" in result.stderr
    result = runner.invoke(app, ["analyze", str(project), "-f", "mermaid", "-q", "--no-cache"])
    assert result.stdout.startswith("graph LR") and "m_app_core -->|" in result.stdout


def test_console_script_runs(project):
    proc = subprocess.run(
        [*decompose_cli(), "analyze", str(project), "--format", "json", "-q", "--no-cache"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["modules"] == 3


def test_a_parser_crash_in_a_worker_loses_only_that_file(tmp_path, monkeypatch):
    """A native crash (segfault) kills a pool worker; the other files are still analysed."""
    import decompose.analysis.extract as extract

    real = extract._parse_one

    def crashing(job):
        if job[1] == "pkg.m007":
            os._exit(139)  # what a segfault in LibCST's native parser looks like to the pool
        return real(job)

    monkeypatch.setattr(extract, "_parse_one", crashing)  # workers are forked: they inherit it
    root = tmp_path / "crashy"
    write(root, "pkg/__init__.py", "")
    for i in range(80):
        write(root, f"pkg/m{i:03d}.py", f"import os\nX{i} = {i}\n")
    an = analyze(root, use_cache=False, jobs=2)
    assert an.stats.workers == 2
    assert [s.path for s in an.skipped] == ["pkg/m007.py"]
    assert "parser crashed" in an.skipped[0].reason
    assert len(an.facts) == 80  # 79 modules + the package


def test_namespace_packages_resolve(tmp_path):
    """PEP 420: folders without __init__.py are packages; importing through them gives real edges."""
    root = tmp_path / "ns"
    write(root, "src/acme/core/__init__.py", "")
    write(root, "src/acme/core/base.py", "VALUE = 1\n")
    write(root, "src/acme/plugins/loader.py", "from acme.plugins import extra\nimport acme.plugins\n")
    write(root, "src/acme/plugins/extra.py", "from acme.core import base\n")
    write(root, "src/app.py", "from acme import plugins\nfrom acme.missing import thing\n")
    an = analyze(root, use_cache=False)
    edges = set(an.graph.internal.edges)
    assert ("acme.plugins.loader", "acme.plugins.extra") in edges
    assert ("acme.plugins.extra", "acme.core.base") in edges
    # `import acme.plugins` / `from acme import plugins` name namespace packages: no edge, not unresolved
    assert not any(a == "app" for a, _ in edges)
    assert [(u.module, u.target) for u in an.graph.unresolved] == [("app", "acme.missing")]
