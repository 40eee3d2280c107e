"""``[tool.decompose]`` settings read from the analysed project's ``pyproject.toml``.

Recognised keys (all optional)::

    [tool.decompose]
    exclude = ["tests", "docs/**", "*/migrations"]   # extra paths to skip
    source_roots = ["src", "lib"]                    # folders holding top-level packages
    max_instability = 0.9        # used by `decompose check`
    max_efferent = 25            # used by `decompose check`
    max_afferent = 60            # used by `decompose check`

Unknown keys are rejected with a message naming the key, so that a typo never
silently disables a rule.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KNOWN_KEYS = {
    "exclude": list,
    "source_roots": list,
    "max_instability": (int, float),
    "max_efferent": int,
    "max_afferent": int,
    "plan": str,
}


class ConfigError(Exception):
    """The project's configuration is invalid; the message is one line naming the file."""


@dataclass
class Config:
    exclude: list[str] = field(default_factory=list)
    source_roots: list[str] = field(default_factory=list)
    max_instability: float | None = None
    max_efferent: int | None = None
    max_afferent: int | None = None
    plan: str | None = None
    path: str | None = None  # the pyproject.toml it came from, if any


def config_from_mapping(table: dict[str, Any], origin: str = "<config>") -> Config:
    """Validate a ``[tool.decompose]`` mapping (pure)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: [tool.decompose] must be a table")
    for key, value in table.items():
        if key not in KNOWN_KEYS:
            known = ", ".join(sorted(KNOWN_KEYS))
            raise ConfigError(f"{origin}: unknown key tool.decompose.{key} (known: {known})")
        expected = KNOWN_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            name = expected.__name__ if isinstance(expected, type) else "number"
            raise ConfigError(f"{origin}: tool.decompose.{key} must be a {name}, got {value!r}")
        if expected is list and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{origin}: tool.decompose.{key} must be a list of strings")
    if "max_instability" in table and not 0 <= table["max_instability"] <= 1:
        raise ConfigError(f"{origin}: tool.decompose.max_instability must be between 0 and 1")
    for key in ("max_efferent", "max_afferent"):
        if key in table and table[key] < 0:
            raise ConfigError(f"{origin}: tool.decompose.{key} must be >= 0")
    return Config(
        exclude=list(table.get("exclude", [])),
        source_roots=list(table.get("source_roots", [])),
        max_instability=table.get("max_instability"),
        max_efferent=table.get("max_efferent"),
        max_afferent=table.get("max_afferent"),
        plan=table.get("plan"),
        path=origin,
    )


def load_config(root: Path) -> Config:
    """Read ``root/pyproject.toml`` (if any) and return its decompose settings."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return Config()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{pyproject}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("decompose")
    if table is None:
        return Config(path=str(pyproject))
    return config_from_mapping(table, str(pyproject))


def project_dependencies(root: Path) -> dict[str, str]:
    """The ``[project] dependencies`` of ``root/pyproject.toml`` as {normalised name: requirement}."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    out: dict[str, str] = {}
    for req in data.get("project", {}).get("dependencies", []) or []:
        name = req
        for sep in ("[", "=", "<", ">", "!", "~", ";", " "):
            name = name.split(sep, 1)[0]
        out[normalise_dist_name(name)] = req.strip()
    return out


def normalise_dist_name(name: str) -> str:
    """PEP 503 normalisation: ``Flask_SQLAlchemy`` -> ``flask-sqlalchemy``."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower().strip()
