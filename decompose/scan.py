"""Find the Python modules of a project on disk (filesystem adapter).

Rules, in order:

* Folders that are never source are pruned: VCS folders, caches, build
  output, ``node_modules`` and any virtualenv (a folder holding
  ``pyvenv.cfg``, whatever its name); symlinked folders are not followed.
* ``exclude`` patterns from ``[tool.decompose]`` (and ``--exclude``) are
  matched like ``.gitignore`` entries: a pattern without ``/`` matches a file
  or folder name at any depth (``tests``, ``*_pb2.py``); a pattern with ``/``
  matches the path relative to the analysed root (``docs/**``,
  ``src/legacy/*``).
* A file's module name comes from its regular packages: walk up while the
  folder has an ``__init__.py``; the first folder without one is where the
  dotted name starts.  If that folder lies below a *source root* (``src/``
  when it exists, or any folder named in ``source_roots``), the folders in
  between are PEP 420 namespace packages and join the name.
* If the analysed path is itself inside a package (``decompose analyze
  shop/`` where ``shop/__init__.py`` exists), names still start at the
  top-level package, so imports resolve.
* Two files mapping to the same module name (two ``conftest.py``
  in different test folders, say) cannot both be analysed: the first by path
  order wins and the other is reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from .facts import SkippedFile

PRUNED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", ".tox", ".nox", ".venv", "venv", ".env",
        "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".decompose_cache",
        ".eggs", "build", "dist", "node_modules", "site-packages", ".idea", ".vscode",
    }
)


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path  # absolute path on disk
    relpath: str  # path relative to the analysed root, POSIX separators
    module: str  # dotted module name
    is_package: bool  # an __init__.py


@dataclass(slots=True)
class ScanResult:
    root: Path
    files: list[SourceFile]
    skipped: list[SkippedFile]
    notes: list[SkippedFile]  # analysed, but worth telling (e.g. empty packages)


def _excluded(rel: str, name: str, patterns: list[str]) -> bool:
    for pat in patterns:
        pat = pat.strip().rstrip("/")
        if not pat:
            continue
        if "/" in pat:
            pat = pat.lstrip("/")
            if fnmatchcase(rel, pat) or (pat.endswith("/**") and (rel + "/").startswith(pat[:-2])):
                return True
        elif fnmatchcase(name, pat):
            return True
    return False


def _package_top(root: Path) -> Path:
    """The folder where dotted names start for files under ``root``."""
    top = root
    while (top / "__init__.py").is_file() and top.parent != top:
        top = top.parent
    return top


def scan(root: Path, exclude: list[str] | None = None, source_roots: list[str] | None = None) -> ScanResult:
    root = root.resolve()
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or directory")
    patterns = list(exclude or [])
    if root.is_file():
        if root.suffix != ".py":
            raise ValueError(f"{root}: not a Python file")
        base = _package_top(root.parent)
        ns_roots: list[Path] = []
        walk_root = root.parent
        only = {root}
    else:
        base = _package_top(root)
        walk_root = root
        only = None
        ns_roots = [(root / r).resolve() for r in (source_roots or [])]
        if not source_roots and (root / "src").is_dir() and not (root / "src" / "__init__.py").exists():
            ns_roots.append((root / "src").resolve())

    files: list[SourceFile] = []
    skipped: list[SkippedFile] = []
    notes: list[SkippedFile] = []
    seen: dict[str, str] = {}
    init_cache: dict[Path, bool] = {}

    def has_init(folder: Path) -> bool:
        v = init_cache.get(folder)
        if v is None:
            v = init_cache[folder] = (folder / "__init__.py").is_file()
        return v

    def module_name(path: Path) -> str:
        parts = [path.stem] if path.name != "__init__.py" else []
        folder = path.parent
        while has_init(folder) and folder != base.parent and folder.parent != folder:
            parts.append(folder.name)
            folder = folder.parent
        # PEP 420 namespace packages below a source root
        for ns in ns_roots:
            if folder != ns and ns in folder.parents:
                parts.extend(reversed(folder.relative_to(ns).parts))
                break
        return ".".join(reversed(parts))

    for dirpath, dirnames, filenames in os.walk(walk_root, followlinks=False):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix() if here != root and not root.is_file() else ""
        keep = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if d in PRUNED_DIRS or d.endswith(".egg-info") or (here / d / "pyvenv.cfg").exists():
                continue
            if _excluded(rel, d, patterns):
                continue
            if (here / d).is_symlink():
                continue
            keep.append(d)
        dirnames[:] = keep
        for fname in sorted(filenames):
            if not fname.endswith(".py"):
                continue
            path = here / fname
            if only is not None and path not in only:
                continue
            rel = path.relative_to(root.parent if root.is_file() else root).as_posix()
            if _excluded(rel, fname, patterns):
                continue
            if not path.exists():
                skipped.append(SkippedFile(rel, "broken symlink (target does not exist)"))
                continue
            if not path.is_file():
                skipped.append(SkippedFile(rel, "not a regular file"))
                continue
            stem = fname[:-3]
            # Names like ``0001_initial`` are not identifiers but importlib loads them
            # (Django migrations); only a dot makes the dotted name ambiguous.
            if not stem or "." in stem:
                skipped.append(SkippedFile(rel, f"{fname!r} is not an importable module name"))
                continue
            mod = module_name(path)
            if not mod:
                skipped.append(SkippedFile(rel, "cannot derive a module name"))
                continue
            if mod in seen:
                skipped.append(SkippedFile(rel, f"module name {mod!r} is already taken by {seen[mod]}"))
                continue
            seen[mod] = rel
            is_pkg = fname == "__init__.py"
            files.append(SourceFile(path=path, relpath=rel, module=mod, is_package=is_pkg))

    # An empty package: an __init__.py with no content and nothing else inside.
    modules = {f.module for f in files}
    for f in files:
        if f.is_package:
            prefix = f.module + "."
            has_children = any(m.startswith(prefix) for m in modules)
            if not has_children and f.path.stat().st_size == 0:
                notes.append(SkippedFile(f.relpath, f"empty package {f.module!r}: no modules and an empty __init__.py"))
    files.sort(key=lambda f: f.module)
    return ScanResult(root=root, files=files, skipped=skipped, notes=notes)
