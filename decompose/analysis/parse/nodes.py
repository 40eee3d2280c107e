"""Small pure helpers over LibCST nodes and the dotted names they spell.

Dotted names of ``Name``/``Attribute`` chains, the names an assignment target
binds (and the values bound to them), literal string values, parameter lists,
simple ``name = value`` statements of a body, and relative-import resolution.
No state, no knowledge of what the walker collects; used by every concern.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

# Bound once: ``node.__class__ is Name`` is the hot test of the walk.
Name = cst.Name
Attribute = cst.Attribute
SimpleString = cst.SimpleString
IndentedBlock = cst.IndentedBlock


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while node.__class__ is Attribute:
        parts.append(node.attr.value)
        node = node.value
    if node.__class__ is not Name:
        return None
    parts.append(node.value)
    parts.reverse()
    return ".".join(parts)


def target_names(node: cst.BaseExpression, out: list[cst.Name]) -> None:
    """Bare names bound by an assignment target (tuples/lists/starred unpacked)."""
    cls = node.__class__
    if cls is Name:
        out.append(node)
    elif cls is cst.Tuple or cls is cst.List:
        for el in node.elements:
            target_names(el.value, out)
    elif cls is cst.StarredElement:
        target_names(node.value, out)


def bound_values(target: Any, value: Any, out: list[tuple[str, Any]]) -> None:
    """``(name, value)`` pairs bound by ``target = value``.

    Tuple/list targets are matched element-wise against a tuple/list value of
    the same length (``a, b = [], {}``); otherwise the value is unknown (None).
    """
    cls = target.__class__
    if cls is Name:
        out.append((target.value, value))
    elif cls is cst.Tuple or cls is cst.List:
        values = None
        if value is not None and value.__class__ in (cst.Tuple, cst.List):
            values = value.elements
            if len(values) != len(target.elements) or any(
                v.__class__ is cst.StarredElement for v in values
            ):
                values = None
        for i, el in enumerate(target.elements):
            bound_values(el.value, values[i].value if values is not None else None, out)
    elif cls is cst.StarredElement:
        bound_values(target.value, None, out)


def string_value(node: cst.BaseExpression) -> str | None:
    """Value of a plain (non f-) string literal, implicit concatenations included."""
    if node.__class__ is SimpleString:
        try:
            v = node.evaluated_value
        except Exception:
            return None
        return v.decode("latin-1") if isinstance(v, bytes) else v
    if node.__class__ is cst.ConcatenatedString:
        left, right = string_value(node.left), string_value(node.right)
        if left is None or right is None:
            return None
        return left + right
    return None


def fstring_text(node: cst.FormattedString) -> str:
    """An f-string's literal text with every ``{...}`` replaced by ``{}``."""
    return "".join(
        p.value if p.__class__ is cst.FormattedStringText else "{}" for p in node.parts
    )


def is_true(node: Any) -> bool:
    """The expression is the literal ``True``."""
    return node is not None and node.__class__ is Name and node.value == "True"


def is_type_checking(test: cst.BaseExpression) -> bool:
    """An ``if`` test that is ``TYPE_CHECKING`` or ``<x>.TYPE_CHECKING``."""
    if test.__class__ is Name:
        return test.value == "TYPE_CHECKING"
    return test.__class__ is Attribute and test.attr.value == "TYPE_CHECKING"


def param_nodes(params: cst.Parameters) -> list[tuple[cst.Param, str]]:
    """Every parameter in signature order with its kind (``Param.kind`` values)."""
    out = [(p, "positional_only") for p in params.posonly_params]
    out += [(p, "positional") for p in params.params]
    if isinstance(params.star_arg, cst.Param):
        out.append((params.star_arg, "var_positional"))
    out += [(p, "keyword_only") for p in params.kwonly_params]
    if params.star_kwarg is not None:
        out.append((params.star_kwarg, "var_keyword"))
    return out


def simple_assigns(suite: cst.BaseSuite) -> list[tuple[str, Any]]:
    """``(name, value)`` for ``name = value`` / ``name: T = value`` directly in a body."""
    out: list[tuple[str, Any]] = []
    smalls: list[Any] = []
    if suite.__class__ is IndentedBlock:
        for st in suite.body:
            if st.__class__ is cst.SimpleStatementLine:
                smalls.extend(st.body)
    else:
        smalls.extend(suite.body)
    for small in smalls:
        if small.__class__ is cst.Assign:
            for t in small.targets:
                if t.target.__class__ is Name:
                    out.append((t.target.value, small.value))
        elif small.__class__ is cst.AnnAssign and small.value is not None:
            if small.target.__class__ is Name:
                out.append((small.target.value, small.value))
    return out


def resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """Absolute module for ``from <level dots><name> import ...`` in ``module``.

    Returns ``""`` when the import climbs above the top-level package.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level > len(package) or not module:
        return ""
    base = package[: len(package) - (level - 1)]
    if name:
        base.append(name)
    return ".".join(base)
