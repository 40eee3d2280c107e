"""The sample monolith under its own plan (`decompose plan`), guarded by `decompose check` through pre-commit."""

from __future__ import annotations

import json
import shutil
import sys

from decompose.analysis.pipeline import analyze
from decompose.guard.boundaries import acknowledged_shared_uses, owner_map, owner_of
from decompose.planning.planfile import load_plan
from tests.test_check_precommit import commit_count, env, git, run


def test_sample_monolith_own_plan_and_pre_commit(tmp_path, sample_monolith):
    root = tmp_path / "shop"
    shutil.copytree(sample_monolith, root, ignore=shutil.ignore_patterns(".decompose_cache", "__pycache__", "*.pyc"))
    e = env(tmp_path)
    git(root, e, "init", "-q")
    git(root, e, "add", "-A")
    git(root, e, "commit", "-q", "-m", "monolith")

    # its own plan, as a user makes it
    run([sys.executable, "-m", "decompose", "plan", "-q"], root, e)
    plan = load_plan(root / "decompose.yaml")

    # a full check finds no error: only existing cycles and the shared->service imports the plan records
    p = run([sys.executable, "-m", "decompose", "check", "--format", "json"], root, e, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    data = json.loads(p.stdout)
    assert data["summary"]["errors"] == 0
    acknowledged = {(m, s) for m, syms in acknowledged_shared_uses(plan).items() for s in syms}
    for f in data["findings"]:
        assert f["rule"] in ("DC102", "DC203") and f["level"] == "warning", f
        if f["rule"] == "DC102":
            assert (f["module"], f["target"]) in acknowledged

    # a module of one service, and a definition of another service that is not in its interface
    an = analyze(root, use_cache=False)
    direct, below, _ = owner_map(plan)
    iface = {name: {i.name for i in s.interface} for name, s in plan.services.items()}
    facts = {f.module: f for f in an.facts}
    importer = next(m for m in sorted(facts) if not facts[m].is_package and owner_of(m, direct, below) not in (None, ""))
    src = owner_of(importer, direct, below)
    target_mod, name = next(
        (m, d.name)
        for m in sorted(facts)
        for d in facts[m].definitions
        if owner_of(m, direct, below) not in (None, "", src)
        and d.kind in ("function", "class")
        and f"{m}.{d.name}" not in iface[owner_of(m, direct, below)]
    )

    (root / ".pre-commit-config.yaml").write_text(
        "repos:\n  - repo: local\n    hooks:\n      - id: decompose-check\n        name: decompose check\n"
        f"        entry: {sys.executable} -m decompose check\n        language: system\n"
        "        types: [python]\n        pass_filenames: true\n        require_serial: true\n"
    )
    git(root, e, "add", "decompose.yaml", ".pre-commit-config.yaml")
    git(root, e, "commit", "-q", "-m", "plan and hook")
    run([sys.executable, "-m", "pre_commit", "install"], root, e)
    n = commit_count(root, e)

    path = root / facts[importer].path
    original = path.read_text()
    path.write_text(original + "\n\ndef _touched():\n    return 1\n")
    git(root, e, "add", facts[importer].path)
    p = git(root, e, "commit", "-m", "clean change", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert commit_count(root, e) == n + 1

    body = path.read_text()
    line = body.count("\n") + 1
    path.write_text(body + f"from {target_mod} import {name}\n")
    git(root, e, "add", facts[importer].path)
    p = git(root, e, "commit", "-m", "reach across", check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert f"{facts[importer].path}:{line}" in out and "DC101" in out and f"{target_mod}.{name}" in out
    assert commit_count(root, e) == n + 1
