"""The scanner on real folders built in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from decompose.analysis.scan import scan


def touch(root: Path, rel: str, text: str = "") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def modules(result) -> dict[str, str]:
    return {f.module: f.relpath for f in result.files}


def test_flat_layout_with_packages_and_loose_scripts(tmp_path):
    touch(tmp_path, "shop/__init__.py", "x = 1\n")
    touch(tmp_path, "shop/orders/__init__.py", "y = 1\n")
    touch(tmp_path, "shop/orders/service.py")
    touch(tmp_path, "manage.py")
    touch(tmp_path, "README.md")
    assert modules(scan(tmp_path)) == {
        "shop": "shop/__init__.py",
        "shop.orders": "shop/orders/__init__.py",
        "shop.orders.service": "shop/orders/service.py",
        "manage": "manage.py",
    }


def test_src_layout_and_namespace_packages(tmp_path):
    touch(tmp_path, "src/acme/billing/__init__.py", "a = 1\n")
    touch(tmp_path, "src/acme/billing/api.py")
    touch(tmp_path, "src/acme/plain.py")  # acme has no __init__: PEP 420 namespace package
    found = modules(scan(tmp_path))
    assert found == {
        "acme.billing": "src/acme/billing/__init__.py",
        "acme.billing.api": "src/acme/billing/api.py",
        "acme.plain": "src/acme/plain.py",
    }


def test_configured_source_roots(tmp_path):
    touch(tmp_path, "lib/ns/core/__init__.py", "c = 1\n")
    touch(tmp_path, "lib/ns/tool.py")
    found = modules(scan(tmp_path, source_roots=["lib"]))
    assert found == {"ns.core": "lib/ns/core/__init__.py", "ns.tool": "lib/ns/tool.py"}


def test_skips_virtualenvs_vcs_build_and_caches(tmp_path):
    touch(tmp_path, "app/__init__.py", "z = 1\n")
    touch(tmp_path, "app/core.py")
    touch(tmp_path, ".git/hooks/x.py")
    touch(tmp_path, "build/lib/app/core.py")
    touch(tmp_path, "node_modules/pkg/x.py")
    touch(tmp_path, "myenv/pyvenv.cfg", "home = /usr\n")  # a virtualenv with an unusual name
    touch(tmp_path, "myenv/lib/python3.11/site-packages/requests/__init__.py")
    touch(tmp_path, "app/__pycache__/core.py")
    assert set(modules(scan(tmp_path))) == {"app", "app.core"}


def test_exclude_patterns_gitignore_style(tmp_path):
    touch(tmp_path, "app/__init__.py", "z = 1\n")
    touch(tmp_path, "app/core.py")
    touch(tmp_path, "app/migrations/__init__.py", "m = 1\n")
    touch(tmp_path, "app/migrations/0001_initial.py")
    touch(tmp_path, "app/api_pb2.py")
    touch(tmp_path, "tests/test_core.py")
    touch(tmp_path, "docs/conf.py")
    found = set(modules(scan(tmp_path, exclude=["migrations", "*_pb2.py", "tests", "docs/**"])))
    assert found == {"app", "app.core"}


def test_path_inside_a_package_keeps_full_dotted_names(tmp_path):
    touch(tmp_path, "shop/__init__.py", "s = 1\n")
    touch(tmp_path, "shop/orders/__init__.py", "o = 1\n")
    touch(tmp_path, "shop/orders/service.py")
    touch(tmp_path, "shop/catalog.py")
    assert modules(scan(tmp_path / "shop" / "orders")) == {
        "shop.orders": "__init__.py",
        "shop.orders.service": "service.py",
    }


def test_broken_symlink_and_bad_names_are_reported_not_fatal(tmp_path):
    touch(tmp_path, "app/__init__.py", "z = 1\n")
    touch(tmp_path, "app/ok.py")
    os.symlink(tmp_path / "nowhere.py", tmp_path / "app" / "dangling.py")
    touch(tmp_path, "app/my.script.py")
    touch(tmp_path, "app/0001_initial.py")  # not an identifier, but importlib imports it
    result = scan(tmp_path)
    assert set(modules(result)) == {"app", "app.ok", "app.0001_initial"}
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["app/dangling.py"].startswith("broken symlink")
    assert "not an importable module name" in reasons["app/my.script.py"]


def test_duplicate_module_names_are_reported(tmp_path):
    touch(tmp_path, "a/conftest.py")
    touch(tmp_path, "b/conftest.py")
    result = scan(tmp_path)
    assert [f.relpath for f in result.files] == ["a/conftest.py"]
    assert result.skipped[0].path == "b/conftest.py"
    assert "already taken by a/conftest.py" in result.skipped[0].reason


def test_empty_package_is_noted(tmp_path):
    touch(tmp_path, "app/__init__.py", "z = 1\n")
    touch(tmp_path, "app/empty/__init__.py", "")
    result = scan(tmp_path)
    assert "app.empty" in modules(result)
    assert [n.path for n in result.notes] == ["app/empty/__init__.py"]
    assert "empty package" in result.notes[0].reason


def test_symlinked_folders_are_not_followed(tmp_path):
    touch(tmp_path, "app/__init__.py", "z = 1\n")
    os.symlink(tmp_path / "app", tmp_path / "app" / "loop")
    assert set(modules(scan(tmp_path))) == {"app"}


def test_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        scan(tmp_path / "nope")


def test_namespace_subpackage_inside_a_regular_package(tmp_path):
    touch(tmp_path, "pkg/__init__.py", "p = 1\n")
    touch(tmp_path, "pkg/sub1/util.py")  # no __init__.py: importable as pkg.sub1.util
    touch(tmp_path, "pkg/sub2/util.py")
    touch(tmp_path, "scripts/tool.py")  # not inside a package: a loose script
    assert modules(scan(tmp_path)) == {
        "pkg": "pkg/__init__.py",
        "pkg.sub1.util": "pkg/sub1/util.py",
        "pkg.sub2.util": "pkg/sub2/util.py",
        "tool": "scripts/tool.py",
    }


def test_generate_output_inside_the_tree_is_not_source(tmp_path):
    touch(tmp_path, "app/__init__.py", "a = 1\n")
    touch(tmp_path, "out/decompose-output.json", "{}")
    touch(tmp_path, "out/services/app/app/app/__init__.py", "a = 1\n")
    assert set(modules(scan(tmp_path))) == {"app"}
