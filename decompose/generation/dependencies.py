"""Reads what the monolith declares about its dependencies (adapter of
:mod:`decompose.generation.declarations` and :mod:`decompose.generation.requirements`,
which decide everything from the text).

Files read from the monolith's root: ``pyproject.toml``, ``setup.cfg``,
``setup.py`` (as text, never executed), ``Pipfile``, ``Pipfile.lock``,
``poetry.lock``, ``uv.lock``, ``requirements*.txt``/``.in`` and
``constraints*.txt`` there and in ``requirements/``, and every file these
include with ``-r``/``-c`` (inside the root only).

A monolith analysed in its source folder (the ``src`` layout: ``src/`` holds the
packages, ``pyproject.toml`` or ``setup.py`` the folder above, naming ``src``
as its package folder) is described by that folder above: :func:`project_root`.

Import names of distributions come from installed metadata (``top_level.txt``,
else the ``RECORD`` file list): first the monolith's own virtualenv when its root
holds one (``.venv``, ``venv``, ``env``), then the environment decompose runs in.
"""

from __future__ import annotations

import importlib.metadata as md
import posixpath
import re
from collections.abc import Iterable
from pathlib import Path

from decompose.generation import pyversion
from decompose.generation.declarations import (
    LOCK_FILES,
    MANIFEST_FILES,
    Declarations,
    collect,
    is_requirements_file,
    normalise,
    requirements_includes,
    target_environment,
)
from decompose.generation.pyversion import PYTHON_FILES, PythonTarget

MAX_FILES = 64
MAX_BYTES = 4_000_000
VENV_DIRS = (".venv", "venv", "env", ".env")


def _read(path: Path, notes: list[str], rel: str) -> str | None:
    try:
        if path.stat().st_size > MAX_BYTES:
            notes.append(f"{rel}: larger than {MAX_BYTES} bytes, not read")
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        notes.append(f"{rel}: not readable ({exc.__class__.__name__}), not read")
        return None


def dependency_files(root: Path) -> tuple[dict[str, str], list[str]]:
    """The dependency files of the monolith (path relative to ``root`` -> text) and notes."""
    root = Path(root).resolve()
    notes: list[str] = []
    files: dict[str, str] = {}
    queue: list[str] = [n for n in (*MANIFEST_FILES, *LOCK_FILES) if (root / n).is_file()]
    for folder in (root, root / "requirements"):
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                rel = p.relative_to(root).as_posix()
                if p.is_file() and is_requirements_file(rel):
                    queue.append(rel)
    while queue and len(files) < MAX_FILES:
        rel = queue.pop(0)
        if rel in files:
            continue
        path = (root / rel).resolve()
        try:
            path.relative_to(root)
        except ValueError:
            notes.append(f"{rel}: outside the monolith's folder, not read")
            continue
        if not path.is_file():
            continue
        text = _read(path, notes, rel)
        if text is None:
            continue
        files[rel] = text
        if rel not in MANIFEST_FILES and rel not in LOCK_FILES:
            queue.extend(i for i in requirements_includes(rel, text) if not i.startswith("../") and i != "..")
    if queue:
        notes.append(f"more than {MAX_FILES} dependency files: {', '.join(sorted(set(queue))[:5])}... not read")
    return files, notes


#: Files that make a folder a project of its own (a setup.cfg holding only tool settings does not).
PROJECT_FILES = ("pyproject.toml", "setup.py", "Pipfile", *LOCK_FILES)


def _declares(folder: Path) -> bool:
    """Whether ``folder`` holds a project's own dependency declarations."""
    if any((folder / n).is_file() for n in PROJECT_FILES):
        return True
    if any(p.is_file() and is_requirements_file(p.name) for p in folder.iterdir()):
        return True
    cfg = folder / "setup.cfg"
    return cfg.is_file() and "[options" in (_read(cfg, [], "setup.cfg") or "")


def _names_package_folder(parent: Path, name: str) -> bool:
    """Whether ``parent``'s build files name the folder ``name`` as where its packages are
    (``where = ["src"]``, ``package_dir={"": "src"}``, ``packages = ["src/pkg"]``, ``package_dir = =src``)."""
    quoted = re.compile(r"[\"']" + re.escape(name) + r"(/[^\"']*)?[\"']")
    cfg = re.compile(r"^\s*=\s*" + re.escape(name) + r"\s*$", re.MULTILINE)
    for n in ("pyproject.toml", "setup.py", "setup.cfg"):
        path = parent / n
        text = _read(path, [], n) if path.is_file() else None
        if text and (quoted.search(text) or (n == "setup.cfg" and cfg.search(text))):
            return True
    return False


def project_root(root: Path) -> Path:
    """The folder whose files declare the monolith's dependencies and Python: ``root`` itself,
    or, when ``root`` declares none and is the package folder its parent's ``pyproject.toml``/
    ``setup.py`` names (the ``src`` layout), that parent."""
    root = Path(root).resolve()
    parent = root.parent
    if _declares(root) or parent == root or not any((parent / n).is_file() for n in ("pyproject.toml", "setup.py")):
        return root
    return parent if _names_package_folder(parent, root.name) else root


def _top_names(dist: md.Distribution) -> set[str]:
    """Import names a distribution provides: ``top_level.txt``, else its RECORD (``pkg``, and
    ``ns.pkg`` for a namespace package such as ``google.protobuf``)."""
    names: set[str] = set()
    try:
        top = dist.read_text("top_level.txt")
    except OSError:
        top = None
    files = []
    try:
        files = list(dist.files or [])
    except OSError:
        files = []
    parts = [f.parts for f in files if f.parts and not f.parts[0].endswith((".dist-info", ".egg-info", ".data"))
             and f.parts[0] not in ("..", "__pycache__", "bin")]
    inits = {p[0] for p in parts if len(p) == 2 and p[1] == "__init__.py"}
    if top:
        names |= {x.strip().replace("/", ".") for x in top.splitlines() if x.strip()}
    else:
        for p in parts:
            first = p[0]
            if len(p) == 1:
                if first.endswith(".py"):
                    names.add(first[:-3])
                elif first.endswith((".so", ".pyd")):
                    names.add(first.split(".", 1)[0])
            else:
                names.add(first)
    for p in parts:  # namespace packages: google/protobuf/... without google/__init__.py
        if len(p) >= 3 and p[0] not in inits and p[0].isidentifier() and p[1].isidentifier():
            names.add(f"{p[0]}.{p[1]}")
    return {n for n in names if n and all(x.isidentifier() for x in n.split("."))}


def _site_packages(root: Path) -> list[Path]:
    out: list[Path] = []
    for v in VENV_DIRS:
        base = root / v
        if not (base / "pyvenv.cfg").is_file():
            continue
        out += sorted(base.glob("lib/python*/site-packages")) + sorted(base.glob("Lib/site-packages"))
    return out


def import_index(root: Path | None = None, *, environment: bool = True) -> dict[str, tuple[str, ...]]:
    """Import name -> distributions providing it: the monolith's virtualenv first, then this environment."""
    index: dict[str, list[str]] = {}

    def add(dists: Iterable[md.Distribution]) -> None:
        for dist in sorted(dists, key=lambda d: normalise(d.metadata.get("Name") or "")):
            name = dist.metadata.get("Name")
            if not name:
                continue
            for top in sorted(_top_names(dist)):
                lst = index.setdefault(top, [])
                if normalise(name) not in lst:
                    lst.append(normalise(name))

    if root is not None:
        for sp in _site_packages(Path(root)):
            add(md.distributions(path=[str(sp)]))
    if environment:
        add(md.distributions())
    return {k: tuple(v) for k, v in sorted(index.items())}


def read_declarations(root: Path, *, base_image: str = "python:3.11-slim", environment: bool = True,
                      python: str | None = None) -> Declarations:
    """Everything the monolith at ``root`` declares, with the import index (markers evaluated
    for ``python``, else the Python of ``base_image``)."""
    files, notes = dependency_files(root)
    decl = collect(files, provides=import_index(root, environment=environment),
                   env=target_environment(base_image, python=python))
    decl.notes = sorted(set(decl.notes) | set(notes))
    decl.sources = sorted(files, key=lambda p: (posixpath.dirname(p), p))
    return decl


def python_target(root: Path, base_image: str | None = None,
                  code: dict[str, str] | None = None) -> tuple[PythonTarget, str]:
    """The Python the generated images run and their base image: ``base_image`` when given, else
    the lowest supported ``python:3.X-slim`` meeting what the monolith at ``root`` declares and
    what its shipped ``code`` (``{path: source}``) needs (:mod:`decompose.generation.pyversion`).
    Raises ``PythonVersionError``."""
    files: dict[str, str] = {}
    for name in PYTHON_FILES:
        path = Path(root) / name
        if path.is_file():
            text = _read(path, [], name)
            if text is not None:
                files[name] = text
    return pyversion.target(pyversion.declarations(files) + pyversion.code_declarations(code or {}), base_image)
