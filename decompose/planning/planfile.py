"""Read and write ``decompose.yaml`` (YAML adapter around :mod:`decompose.planning.plan`).

Loading uses PyYAML's safe loader, extended to reject duplicate keys (plain
PyYAML silently keeps the last one, which would drop half of an edited
service).  Dumping is canonical: sorted, block style, no aliases, so the same
plan always gives the same bytes and an edited plan round-trips unchanged.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from decompose.fsio import atomic_write
from decompose.planning.plan import Plan, PlanError

HEADER = (
    "# decompose plan: edit services, modules and shared freely, then run `decompose plan --check`.\n"
    "# interface, tables, routes, reasons, quality and blockers are recomputed by `decompose plan`.\n"
)


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):  # noqa: D401 - PyYAML hook
        return True


def _str_presenter(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def dumps_plan(plan: Plan) -> str:
    body = yaml.dump(
        plan.to_dict(), Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )
    return HEADER + body


def loads_plan(text: str, origin: str = "decompose.yaml") -> Plan:
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PlanError([f"{where}: invalid YAML: {problem}"]) from None
    return Plan.from_dict(data, origin)


def load_plan(path: Path) -> Plan:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError([f"{path}: no such plan file (run `decompose plan` first)"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError([f"{path}: cannot read: {exc}"]) from None
    return loads_plan(text, str(path))


def save_plan(plan: Plan, path: Path, force: bool = True) -> None:
    atomic_write(Path(path), dumps_plan(plan), force=force)
