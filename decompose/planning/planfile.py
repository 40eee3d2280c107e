"""Read and write ``decompose.yaml`` (YAML adapter around :mod:`decompose.planning.plan`).

Loading uses PyYAML's safe loader, extended to reject duplicate keys (plain
PyYAML silently keeps the last one, which would drop half of an edited
service) and bounded against hostile input before anything is built from it:
at most :data:`MAX_PLAN_BYTES` bytes, :data:`MAX_DEPTH` levels of nesting,
:data:`MAX_ALIASES` aliases and :data:`MAX_NODES` nodes once aliases are
expanded (an alias bomb is refused while it is composed, not after it has
filled memory).  Every YAML file decompose reads as input (plans, references)
goes through :func:`load_yaml`.  Dumping is canonical: sorted, block style, no
aliases, so the same plan always gives the same bytes and an edited plan
round-trips unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from decompose.fsio import atomic_write
from decompose.planning.plan import Plan, PlanError

HEADER = (
    "# decompose plan: edit services, modules and shared freely, then run `decompose plan --check`.\n"
    "# interface, tables, routes, reasons, quality and blockers are recomputed by `decompose plan`.\n"
)


#: A plan of Django (2,800 modules) is 0.4 MB, 11,000 nodes, 6 levels deep.
MAX_PLAN_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32
MAX_ALIASES = 1000
MAX_NODES = 500_000


class LimitExceeded(yaml.YAMLError):
    """The document is over one of the loader's limits (refused before it is built)."""

    def __init__(self, problem: str, mark=None):
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts depth, aliases and expanded nodes as it goes."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._nodes = 0  # nodes composed so far, an alias counting as the whole node it names
        self._sizes: dict[int, int] = {}  # id(node) -> its expanded size, once complete

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise LimitExceeded(f"more than {MAX_ALIASES} YAML aliases", event.start_mark)
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:  # the anchored node is still being composed: it contains itself
                raise LimitExceeded(f"recursive YAML alias *{event.anchor}", event.start_mark)
            self._grow(size, event.start_mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise LimitExceeded(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        before = self._nodes
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._grow(1, event.start_mark)
        self._sizes[id(node)] = self._nodes - before
        return node

    def _grow(self, n: int, mark) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            raise LimitExceeded(
                f"more than {MAX_NODES:,} values once its aliases are expanded (an alias bomb?)", mark
            )


class _StrictLoader(_BoundedLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"found an unhashable key ({type(key).__name__})", key_node.start_mark
            ) from None
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


def load_yaml(text: str, origin: str, *, strict: bool = True) -> Any:
    """One YAML document, within the limits above; PlanError (one line naming
    ``origin``) for invalid YAML or a document over a limit.  ``strict``:
    duplicate keys are errors."""
    if len(text) > MAX_PLAN_BYTES:
        raise PlanError([f"{origin}: larger than {MAX_PLAN_BYTES:,} bytes; refusing to load it"])
    try:
        return yaml.load(text, Loader=_StrictLoader if strict else _BoundedLoader)  # noqa: S506 - SafeLoader subclasses
    except LimitExceeded as exc:
        mark = exc.problem_mark
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
        raise PlanError([f"{where}: {exc.problem}; refusing to load it"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PlanError([f"{where}: invalid YAML: {problem}"]) from None
    except RecursionError:  # not expected within MAX_DEPTH; never a traceback
        raise PlanError([f"{origin}: nested too deeply; refusing to load it"]) from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors of explicit tags fail this way on bad values
        # (``!!timestamp x``, ``!!int 0xZ``): still just invalid YAML
        detail = " ".join(str(exc).split())[:120]
        raise PlanError([f"{origin}: invalid YAML: a value cannot be built ({type(exc).__name__}: {detail})"]) from None


def read_yaml_text(path: Path, what: str = "plan") -> str:
    """The text of a YAML input file, checked for size *before* it is read."""
    path = Path(path)
    missing = "no such plan file (run `decompose plan` first)" if what == "plan" else f"no such {what} file"
    try:
        size = path.stat().st_size
        if size > MAX_PLAN_BYTES:
            raise PlanError([f"{path}: {size:,} bytes, larger than the {MAX_PLAN_BYTES:,} a {what} may have; refusing to load it"])
        with open(path, "rb") as fh:
            raw = fh.read(MAX_PLAN_BYTES + 1)
    except FileNotFoundError:
        raise PlanError([f"{path}: {missing}"]) from None
    except OSError as exc:
        raise PlanError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError([f"{path}: cannot read: not UTF-8 ({exc.reason} at byte {exc.start})"]) from None


def loads_plan(text: str, origin: str = "decompose.yaml") -> Plan:
    return Plan.from_dict(load_yaml(text, origin), origin)


def load_plan(path: Path) -> Plan:
    return loads_plan(read_yaml_text(path, "plan"), str(path))


def save_plan(plan: Plan, path: Path, force: bool = True) -> None:
    atomic_write(Path(path), dumps_plan(plan), force=force)
