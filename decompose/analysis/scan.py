"""Find the Python modules of a project on disk (filesystem adapter).

Rules, in order:

* Folders that are never source are pruned: VCS folders, caches, build
  output, ``node_modules``, any virtualenv (a folder holding
  ``pyvenv.cfg``, whatever its name) and any output of ``decompose generate``
  (a folder holding ``decompose-output.json``); symlinked folders are not followed.
* ``exclude`` patterns from ``[tool.decompose]`` (and ``--exclude``) are
  matched like ``.gitignore`` entries: a pattern without ``/`` matches a file
  or folder name at any depth (``tests``, ``*_pb2.py``); a pattern with ``/``
  matches the path relative to the analysed root (``docs/**``,
  ``src/legacy/*``).
* A file's module name comes from its regular packages: walk up while the
  folder has an ``__init__.py``; the first folder without one is where the
  dotted name starts.  If that folder lies below a *source root* (``src/``
  when it exists, or any folder named in ``source_roots``), the folders in
  between are PEP 420 namespace packages and join the name; so does a folder
  without ``__init__.py`` inside a regular package (a namespace sub-package).
* If the analysed path is itself inside a package (``decompose analyze
  shop/`` where ``shop/__init__.py`` exists), names still start at the
  top-level package, so imports resolve.
* Two files mapping to the same module name (two ``conftest.py``
  in different test folders, say) cannot both be analysed: the first by path
  order wins and the other is reported.
* A folder that cannot be listed (no permission) is reported as skipped
  (``pkg/secret/: cannot read this folder: Permission denied``), never
  silently left out.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from decompose.analysis.facts import SkippedFile

PRUNED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", ".tox", ".nox", ".venv", "venv", ".env",
        "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".decompose_cache",
        ".eggs", "build", "dist", "node_modules", "site-packages", ".idea", ".vscode",
    }
)


#: A folder holding one of these is never source: a virtualenv, or what
#: ``decompose generate`` wrote (copies of the monolith's own modules).
PRUNE_MARKERS = ("pyvenv.cfg", "decompose-output.json")


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


def scan(root: Path, exclude: list[str] | None = None, source_roots: list[str] | None = None) -> ScanResult:
    root = root.resolve()
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or directory")
    patterns = list(exclude or [])
    single = root.is_file()
    if single:
        if root.suffix != ".py":
            raise ValueError(f"{root}: not a Python file")
        ns_roots: list[str] = []
        rel_base = str(root.parent)
    else:
        rel_base = str(root)
        ns_paths = [(root / r).resolve() for r in (source_roots or [])]
        if not source_roots and (root / "src").is_dir() and not (root / "src" / "__init__.py").exists():
            ns_paths.append((root / "src").resolve())
        ns_roots = [str(p) for p in ns_paths]

    files: list[SourceFile] = []
    skipped: list[SkippedFile] = []
    notes: list[SkippedFile] = []
    seen: dict[str, str] = {}
    sizes: dict[str, int] = {}
    prefixes: dict[str, str] = {}

    def folder_prefix(folder: str) -> str:
        """Dotted package name of ``folder`` ("" where names start)."""
        got = prefixes.get(folder)
        if got is not None:
            return got
        parent = os.path.dirname(folder)
        name = os.path.basename(folder)
        if parent != folder and os.path.isfile(os.path.join(folder, "__init__.py")):
            above = folder_prefix(parent)  # a regular package: its parent's name + its own
            value = f"{above}.{name}" if above else name
        else:  # not a regular package: a PEP 420 namespace below a source root, or where names start
            value = ""
            for ns in ns_roots:
                if folder.startswith(ns + os.sep):
                    value = folder[len(ns) + 1 :].replace(os.sep, ".")
                    break
            else:
                # a folder without __init__.py inside a regular package is a namespace
                # sub-package: ``import pkg.plugins.x`` works without pkg/plugins/__init__.py
                above = folder_prefix(parent) if parent != folder else ""
                if above and name.isidentifier():
                    value = f"{above}.{name}"
        prefixes[folder] = value
        return value

    def unreadable(exc: OSError) -> None:
        """os.walk skips a folder it cannot list: report it instead of losing its modules silently."""
        folder = str(exc.filename or rel_base)
        rel = os.path.relpath(folder, rel_base).replace(os.sep, "/")
        skipped.append(SkippedFile(f"{rel}/", f"cannot read this folder: {exc.strerror or exc}; its modules are left out"))

    def walk():
        if single:
            yield str(root.parent), [root.name]
            return
        for dirpath, dirnames, filenames in os.walk(rel_base, onerror=unreadable, followlinks=False):
            rel_dir = dirpath[len(rel_base) + 1 :].replace(os.sep, "/")
            keep = []
            for d in sorted(dirnames):
                rel = f"{rel_dir}/{d}" if rel_dir else d
                full = os.path.join(dirpath, d)
                if d in PRUNED_DIRS or d.endswith(".egg-info") or any(
                    os.path.exists(os.path.join(full, marker)) for marker in PRUNE_MARKERS
                ):
                    continue
                if _excluded(rel, d, patterns) or os.path.islink(full):
                    continue
                keep.append(d)
            dirnames[:] = keep
            yield dirpath, filenames

    for dirpath, filenames in walk():
        rel_dir = dirpath[len(rel_base) + 1 :].replace(os.sep, "/")
        for fname in sorted(filenames):
            if not fname.endswith(".py"):
                continue
            full = os.path.join(dirpath, fname)
            rel = f"{rel_dir}/{fname}" if rel_dir else fname
            if _excluded(rel, fname, patterns):
                continue
            try:
                st = os.stat(full)
            except FileNotFoundError:
                skipped.append(SkippedFile(rel, "broken symlink (target does not exist)"))
                continue
            except OSError as exc:
                skipped.append(SkippedFile(rel, f"cannot stat: {exc.strerror or exc}"))
                continue
            if not stat.S_ISREG(st.st_mode):
                skipped.append(SkippedFile(rel, "not a regular file"))
                continue
            stem = fname[:-3]
            # Names like ``0001_initial`` are not identifiers but importlib loads them
            # (Django migrations); only a dot makes the dotted name ambiguous.
            if not stem or "." in stem:
                skipped.append(SkippedFile(rel, f"{fname!r} is not an importable module name"))
                continue
            is_pkg = fname == "__init__.py"
            prefix = folder_prefix(dirpath)
            mod = prefix if is_pkg else (f"{prefix}.{stem}" if prefix else stem)
            if not mod:
                skipped.append(SkippedFile(rel, "cannot derive a module name"))
                continue
            if mod in seen:
                skipped.append(SkippedFile(rel, f"module name {mod!r} is already taken by {seen[mod]}"))
                continue
            seen[mod] = rel
            sizes[mod] = st.st_size
            files.append(SourceFile(path=Path(full), relpath=rel, module=mod, is_package=is_pkg))

    # An empty package: an __init__.py with no content and nothing else inside.
    parents = {m.rpartition(".")[0] for m in seen}
    for f in files:
        if f.is_package and f.module not in parents and sizes[f.module] == 0:
            notes.append(SkippedFile(f.relpath, f"empty package {f.module!r}: no modules and an empty __init__.py"))
    files.sort(key=lambda f: f.module)
    return ScanResult(root=root, files=files, skipped=skipped, notes=notes)
