"""``[tool.decompose]`` settings read from the analysed project's ``pyproject.toml``.

Recognised keys (all optional)::

    [tool.decompose]
    exclude = ["tests", "docs/**", "*/migrations"]   # extra paths to skip
    source_roots = ["src", "lib"]                    # folders holding top-level packages
    max_instability = 0.9        # used by `decompose check`
    max_efferent = 25            # used by `decompose check`
    max_afferent = 60            # used by `decompose check`
    plan = "decompose.yaml"      # the plan file (or use the table form below)
    max_file_bytes = 2000000     # larger .py files are skipped, not parsed (0: no limit)
    parse_timeout = 20           # seconds one file may take to parse (0: no limit)

    [tool.decompose.plan]        # `decompose plan` settings and constraints
    file = "decompose.yaml"
    services = 7                 # target number of services
    seed = 42
    method = "louvain"           # or "greedy"
    weights = { static = 1, data = 1, evolution = 0.5, dynamic = 1 }
    shared = ["shop.utils*"]     # module globs left in the shared library
    auto_shared = true           # also propose utilities / composition roots as shared
    min_shared_users = 3
    together = [["shop.a", "shop.b"]]          # globs kept in one service
    pin = { "shop.legacy*" = "orders" }        # module glob -> service name
    max_commits = 5000           # newest git commits read for co-change (0: the whole history)

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
    "plan": (str, dict),
    "max_file_bytes": int,
    "parse_timeout": (int, float),
}

PLAN_KEYS = {
    "file": str,
    "services": int,
    "seed": int,
    "method": str,
    "weights": dict,
    "shared": list,
    "auto_shared": bool,
    "min_shared_users": int,
    "together": list,
    "pin": dict,
    "max_commits": int,
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
    plan: str | None = None  # the plan file
    max_file_bytes: int | None = None  # None: the default of decompose.analysis.extract.Limits
    parse_timeout: float | None = None
    path: str | None = None  # the pyproject.toml it came from, if any
    plan_options: PlanOptions = field(default_factory=lambda: PlanOptions())


@dataclass
class PlanOptions:
    """``[tool.decompose.plan]`` as a table: settings and constraints of ``decompose plan``."""

    services: int | None = None
    seed: int | None = None
    method: str | None = None
    weights: dict[str, float] = field(default_factory=dict)
    shared: list[str] = field(default_factory=list)
    auto_shared: bool = True
    min_shared_users: int = 3
    together: list[list[str]] = field(default_factory=list)
    pin: dict[str, str] = field(default_factory=dict)
    max_commits: int | None = None  # None: decompose.planning.history.MAX_COMMITS


def plan_options_from_mapping(table: dict[str, Any], origin: str) -> tuple[str | None, PlanOptions]:
    """Validate the ``[tool.decompose.plan]`` table (pure); returns (plan file, options)."""
    where = f"{origin}: tool.decompose.plan"
    for key, value in table.items():
        if key not in PLAN_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(PLAN_KEYS))})")
        expected = PLAN_KEYS[key]
        if (isinstance(value, bool) and expected is not bool) or not isinstance(value, expected):
            kind = {int: "an integer", str: "a string", bool: "true or false", list: "a list", dict: "a table"}[expected]
            raise ConfigError(f"{where}.{key} must be {kind}, got {value!r}")
    if "services" in table and table["services"] < 1:
        raise ConfigError(f"{where}.services must be >= 1")
    if "max_commits" in table and table["max_commits"] < 0:
        raise ConfigError(f"{where}.max_commits must be >= 0 (0: the whole history), got {table['max_commits']}")
    if "min_shared_users" in table and table["min_shared_users"] < 1:
        raise ConfigError(f"{where}.min_shared_users must be >= 1")
    if table.get("method", "louvain") not in ("louvain", "greedy"):
        raise ConfigError(f"{where}.method must be 'louvain' or 'greedy', got {table['method']!r}")
    weights = table.get("weights", {})
    for k, v in weights.items():
        if k not in ("static", "data", "evolution", "dynamic"):
            raise ConfigError(f"{where}.weights: unknown signal {k!r} (signals: static, data, evolution, dynamic)")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ConfigError(f"{where}.weights.{k} must be a number >= 0, got {v!r}")
    if not all(isinstance(v, str) for v in table.get("shared", [])):
        raise ConfigError(f"{where}.shared must be a list of module globs (strings)")
    together = table.get("together", [])
    if not all(isinstance(g, list) and g and all(isinstance(x, str) for x in g) for g in together):
        raise ConfigError(f"{where}.together must be a list of non-empty lists of module globs")
    pin = table.get("pin", {})
    if not all(isinstance(v, str) for v in pin.values()):
        raise ConfigError(f"{where}.pin must map module globs to service names (strings)")
    return table.get("file"), PlanOptions(
        services=table.get("services"),
        seed=table.get("seed"),
        method=table.get("method"),
        weights={k: float(v) for k, v in weights.items()},
        shared=list(table.get("shared", [])),
        auto_shared=table.get("auto_shared", True),
        min_shared_users=table.get("min_shared_users", 3),
        together=[list(g) for g in together],
        pin=dict(pin),
        max_commits=table.get("max_commits"),
    )


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
            name = {int: "an integer", list: "a list"}.get(expected) or (
                "a number" if expected == (int, float) else "a string or table")
            raise ConfigError(f"{origin}: tool.decompose.{key} must be {name}, got {value!r}")
        if expected is list and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{origin}: tool.decompose.{key} must be a list of strings")
    if "max_instability" in table and not 0 <= table["max_instability"] <= 1:
        raise ConfigError(f"{origin}: tool.decompose.max_instability must be between 0 and 1")
    for key in ("max_efferent", "max_afferent", "max_file_bytes", "parse_timeout"):
        if key in table and table[key] < 0:
            raise ConfigError(f"{origin}: tool.decompose.{key} must be >= 0")
    plan_file, plan_options = table.get("plan"), PlanOptions()
    if isinstance(plan_file, dict):
        plan_file, plan_options = plan_options_from_mapping(plan_file, origin)
    return Config(
        exclude=list(table.get("exclude", [])),
        source_roots=list(table.get("source_roots", [])),
        max_instability=table.get("max_instability"),
        max_efferent=table.get("max_efferent"),
        max_afferent=table.get("max_afferent"),
        plan=plan_file,
        max_file_bytes=table.get("max_file_bytes"),
        parse_timeout=table.get("parse_timeout"),
        path=origin,
        plan_options=plan_options,
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
