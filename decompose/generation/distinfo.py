"""The monolith's own distribution metadata, carried into every service (pure + reading the root).

A monolith installed in its virtualenv (``pip install -e .``) finds its own
distribution: ``importlib.metadata.version("lnbits")`` at import of
``lnbits.settings``.  A service carries copies of the monolith's modules, not an
installed distribution, so that call raised ``PackageNotFoundError`` in the
image and the service never booted.  Each service's source folder (on
``sys.path``: the image's working directory, ``PYTHONPATH`` locally) gets a
minimal ``<name>-<version>.dist-info/METADATA`` naming the monolith's
distribution and version, so those calls answer as they did in the monolith.
Its ``RECORD`` lists the monolith's files the service holds, so
``importlib.metadata.files(name)`` is a list as in an installed monolith
(privacyIDEA's ``create_app`` looks for ``migrations/env.py`` in it; with no
``RECORD`` it is ``None`` and the app factory raised ``TypeError``).

Name and version come from, in order: ``pyproject.toml [project]`` (a static
version), ``setup.cfg [metadata]`` (a literal version), ``PKG-INFO`` (an
sdist).  A monolith declaring neither gets nothing.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from email.parser import HeaderParser
from collections.abc import Iterable
from pathlib import Path


def own_distribution(root: Path) -> tuple[str, str] | None:
    """(name, version) of the distribution the monolith in ``root`` declares, or None."""
    name = version = ""
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project") or {}
    except (OSError, ValueError):
        project = {}
    if isinstance(project, dict):
        name = str(project.get("name") or "")
        if isinstance(project.get("version"), str):
            version = project["version"]
    cfg = configparser.ConfigParser(interpolation=None)
    try:
        cfg.read(root / "setup.cfg", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        pass
    if cfg.has_section("metadata"):
        name = name or cfg.get("metadata", "name", fallback="").strip()
        v = cfg.get("metadata", "version", fallback="").strip()
        if not version and v and not v.startswith(("attr:", "file:")):
            version = v
    try:
        pkg = HeaderParser().parsestr((root / "PKG-INFO").read_text(encoding="utf-8", errors="replace"))
        name = name or (pkg.get("Name") or "").strip()
        if not version and (pkg.get("Name") or "").strip().lower() == name.lower():
            version = (pkg.get("Version") or "").strip()
    except OSError:
        pass
    if not name or not version or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) \
            or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+!_-]*", version):
        return None
    return name, version


def dist_info_files(name: str, version: str, record: Iterable[str] = ()) -> dict[str, bytes]:
    """``{relative path: bytes}`` of the minimal ``.dist-info`` folder of ``name`` ``version``;
    ``record``: the paths (relative to the folder holding it) its ``RECORD`` lists besides its own."""
    folder = f"{re.sub(r'[-_.]+', '_', name)}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    own = [f"{folder}/METADATA", f"{folder}/INSTALLER", f"{folder}/RECORD"]
    lines = [_record_line(p) for p in sorted({*record, *own})]
    return {
        f"{folder}/METADATA": metadata.encode("utf-8"),
        f"{folder}/INSTALLER": b"decompose\n",
        f"{folder}/RECORD": "".join(lines).encode("utf-8"),
    }


def _record_line(path: str) -> str:
    """One CSV row of RECORD (no hash, no size: the files are not checked)."""
    quoted = f'"{path.replace(chr(34), chr(34) * 2)}"' if any(c in path for c in ',"\r\n') else path
    return f"{quoted},,\n"


def service_dist_info(root: Path | None, record: Iterable[str] = ()) -> dict[str, bytes]:
    """What a service's source folder gets (nothing when the monolith declares no distribution);
    ``record``: the monolith's files it holds (paths relative to the source folder)."""
    found = own_distribution(root) if root is not None else None
    return dist_info_files(*found, record=record) if found else {}
