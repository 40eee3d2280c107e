"""A package folder that cannot be listed is reported as skipped with its reason
(and ``analyze`` exits 1), never silently left out with exit 0.

We run as root in CI, where chmod 000 stops nothing, so the permission error is
made real by scanning in a forked child that dropped to user ``nobody``, and
also simulated by making ``os.scandir`` refuse the folder.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decompose.analysis.scan import scan
from decompose.cli import app


def make_tree(root: Path) -> Path:
    for rel, text in {
        "shop/__init__.py": "",
        "shop/orders.py": "from shop import secret\n",
        "shop/secret/__init__.py": "",
        "shop/secret/keys.py": "KEY = 1\n",
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root / "shop" / "secret"


def refuse(monkeypatch, folder: Path) -> None:
    real = os.scandir

    def scandir(path="."):
        if os.path.abspath(os.fspath(path)) == str(folder):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_unlistable_folder_is_reported(tmp_path, monkeypatch):
    secret = make_tree(tmp_path)
    refuse(monkeypatch, secret)
    result = scan(tmp_path)
    assert sorted(f.module for f in result.files) == ["shop", "shop.orders"]
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("shop/secret/", "cannot read this folder: Permission denied; its modules are left out")
    ]


def test_analyze_exits_1_naming_the_unreadable_folder(tmp_path, monkeypatch):
    secret = make_tree(tmp_path)
    refuse(monkeypatch, secret)
    r = CliRunner().invoke(app, ["analyze", str(tmp_path), "-q", "--no-cache"])
    assert r.exit_code == 1, (r.exit_code, r.stderr)
    assert "skipped shop/secret/: cannot read this folder: Permission denied" in r.stderr


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0, reason="needs root to drop to nobody")
def test_a_real_permission_error_as_a_non_root_user():
    """chmod 000 on a real folder, scanned by a process running as nobody."""
    base = Path(tempfile.mkdtemp(prefix="decompose-perm-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        secret = make_tree(base)
        for p in base.rglob("*"):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(secret, 0o000)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: become nobody, scan, send the result back
            code = 0
            try:
                os.close(r)
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
                res = scan(base)
                data = pickle.dumps(([f.module for f in res.files], [(s.path, s.reason) for s in res.skipped]))
                with os.fdopen(w, "wb") as fh:
                    fh.write(data)
            except BaseException:  # noqa: BLE001 - the parent sees the empty pipe
                code = 1
            os._exit(code)
        os.close(w)
        with os.fdopen(r, "rb") as fh:
            data = fh.read()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0 and data, "the scan as nobody failed"
        files, skipped = pickle.loads(data)
        assert sorted(files) == ["shop", "shop.orders"]
        assert skipped == [("shop/secret/", "cannot read this folder: Permission denied; its modules are left out")]
    finally:
        os.chmod(base / "shop" / "secret", 0o755)
        shutil.rmtree(base)
