"""What generated clients are made of, read from the monolith's definitions and source (pure).

* :func:`client_function`: a client stub with the original signature (every
  parameter kind Python accepts, in Python's order);
* :class:`ModuleLiterals`: a module's module-level literals, parsed once (a
  client copies the constants it uses);
* :func:`module_instances`: names bound at module level to an instance of a
  class (live objects: never HTTP proxies).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from decompose.analysis.facts import Definition, Param


@dataclass
class ClientFunction:
    name: str
    is_async: bool
    params: str  # parameter list source, without parentheses
    returns: str | None
    args: str  # tuple source of the positional arguments
    kwargs: str  # dict source of the keyword arguments



def _literal_source(source: str, name: str) -> str | None:
    """Source of a module-level literal assigned to ``name`` (deterministic), or None."""
    return ModuleLiterals(source).get(name)


class ModuleLiterals:
    """The module-level literals of one source, parsed once (a client copies every
    constant it uses; parsing the module again for each made generate slow)."""

    def __init__(self, source: str):
        self._values: dict[str, ast.expr | None] = {}  # None: bound more than once
        self._done: dict[str, str | None] = {}
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return
        for node in tree.body:
            targets: list[ast.expr] = []
            value = None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            for n in {t.id for t in targets if isinstance(t, ast.Name)}:
                self._values[n] = None if n in self._values else value  # bound twice: not a constant

    def get(self, name: str) -> str | None:
        if name not in self._done:
            found = self._values.get(name)
            text = None
            if found is not None:
                try:
                    ast.literal_eval(found)
                    text = ast.unparse(found)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    text = None
            self._done[name] = text
        return self._done[name]


def module_instances(source: str) -> frozenset[str]:
    """Names bound at module level to a call of a CamelCase callable (an instance of a class)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    out: set[str] = set()
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if not isinstance(value, ast.Call):
            continue
        func = value.func
        callee = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if not (callee[:1].isupper() and any(c.islower() for c in callee)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        out.update(t.id for t in targets if isinstance(t, ast.Name))
    return frozenset(out)


def module_type_aliases(source: str) -> frozenset[str]:
    """Names bound at module level to a type (``PaymentCountField = Literal["status", "tag"]``,
    ``Id = int | str``, ``Rows = list[dict]``, ``X: TypeAlias = ...``): annotations that FastAPI
    and pydantic evaluate where they are used, so they are the module's own objects, never remote
    state."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()

    def is_type(node: ast.AST) -> bool:
        if isinstance(node, ast.Subscript):  # Literal[...], Union[...], list[int], typing.Optional[...]
            base = node.value.id if isinstance(node.value, ast.Name) else \
                node.value.attr if isinstance(node.value, ast.Attribute) else ""
            return base in _GENERICS
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # int | None
            return all(is_type(s) or isinstance(s, (ast.Name, ast.Attribute)) or
                       isinstance(s, ast.Constant) and s.value is None for s in (node.left, node.right)) \
                and (is_type(node.left) or is_type(node.right) or _is_known_type_name(node.left))
        return False

    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            alias = isinstance(node.annotation, (ast.Name, ast.Attribute)) and \
                (node.annotation.id if isinstance(node.annotation, ast.Name) else node.annotation.attr) == "TypeAlias"
            if alias or is_type(node.value):
                out.add(node.target.id)
        elif isinstance(node, ast.Assign) and is_type(node.value):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif getattr(ast, "TypeAlias", None) is not None and isinstance(node, ast.TypeAlias):  # 3.12: type X = ...
            out.add(node.name.id)
    return frozenset(out)


#: Subscripted, these make a type (``typing``, ``collections.abc`` and builtin generics).
_GENERICS = frozenset({
    "Literal", "Union", "Optional", "Annotated", "List", "Dict", "Tuple", "Set", "FrozenSet", "Type", "Callable",
    "Sequence", "Mapping", "MutableMapping", "MutableSequence", "Iterable", "Iterator", "Collection", "Awaitable",
    "Coroutine", "Generator", "AsyncIterator", "AsyncGenerator", "DefaultDict", "OrderedDict", "Deque", "ClassVar",
    "Final", "Required", "NotRequired", "TypeGuard", "list", "dict", "tuple", "set", "frozenset", "type",
})


def _is_known_type_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id in {"int", "str", "float", "bool", "bytes", "dict", "list",
                                                      "tuple", "set", "frozenset", "type", "object"}


def module_code_values(source: str) -> frozenset[str]:
    """Names bound at module level to a value that holds code: a structure referring to a
    function or class of the module itself, or holding a lambda (FlaskBB's settings
    fixture, ``{"extra": {"choices": available_avatar_types}}``), or another name of one of
    its classes (pretix's ``EventPluginRegistry = PluginAwareRegistry``, which other modules
    subclass: a class is never a remote proxy).
    Such a value cannot be sent between services as JSON, and what it holds is pickled by
    module name."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    code = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    out: set[str] = set()
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        targets = {t.id for t in (node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)])
                   if isinstance(t, ast.Name)}
        if isinstance(value, ast.Name) and value.id in classes:
            out |= targets      # the module's class under another name (aliases of aliases too)
            classes |= targets
            continue
        if value is None or isinstance(value, (ast.Name, ast.Call)):
            continue  # an alias of something else or a call's result: not a structure of the module's own
        if any(isinstance(n, ast.Lambda) or isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in code
               for n in ast.walk(value)):
            out |= targets
    return frozenset(out)


def _is_main_guard(node: ast.AST) -> bool:
    """``if __name__ == "__main__":`` (runs as a script, never at import)."""
    t = node.test if isinstance(node, ast.If) else None
    return isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "__name__" \
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in t.comparators)


def import_time_calls(source: str) -> frozenset[str]:
    """Names a module calls while it is imported (module level and class bodies; not in a
    function's body, nor under ``if __name__ == "__main__"``), as ``decorators_of`` names them
    (the last part of ``a.b.f``).  pretix/base/settings.py calls
    ``pycountry_add(pycountry.subdivisions, ...)`` at import to patch pycountry's tables in
    its own process: such a call changes the calling process and runs before any other
    service may answer, so it is never an HTTP call.  Also the names held in the module's
    tables of code (:func:`module_code_values`: pretix's REPORTING_DATE_TIMEFRAMES holds
    ``daterange`` and lambdas calling it), which the module calls in its own process, at
    import when a class body builds a form field from them."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    out: set[str] = set()
    kept = module_code_values(source)   # tables of code: what they hold is called in this process
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and any(
                isinstance(t, ast.Name) and t.id in kept
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])):
            out.update(n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node.value)
                       if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                       or isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load))
    todo: list[ast.AST] = [n for n in tree.body if not _is_main_guard(n)]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue    # runs when called (its decorators and defaults: decorators_of, not here)
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name:
                out.add(name)
        todo.extend(ast.iter_child_nodes(node))
    return frozenset(out)


def _is_literal(text: str | None) -> bool:
    if text is None:
        return False
    try:
        ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def client_function(d: Definition) -> ClientFunction:
    """A client stub with the same parameters (names, kinds, annotations, defaults) as ``d``.

    The parameter list is rebuilt in Python's order (positional-only, ``/``,
    positional-or-keyword, ``*args`` or a bare ``*``, keyword-only,
    ``**kwargs``), so every signature Python accepts gives a stub that compiles.
    """
    params: list[Param] = d.params
    order = {"positional_only": 0, "positional": 1, "var_positional": 2, "keyword_only": 3, "var_keyword": 4}
    ordered = sorted(params, key=lambda p: order.get(p.kind, 1))  # stable: source order within a kind

    def text_of(p: Param) -> str:
        text = {"var_positional": "*", "var_keyword": "**"}.get(p.kind, "") + p.name
        if p.annotation:
            text += f": {p.annotation}"
        if p.default is not None and p.kind not in ("var_positional", "var_keyword"):
            default = p.default if _is_literal(p.default) else "_rpc.DEFAULT"
            text += f" = {default}" if p.annotation else f"={default}"
        return text

    parts: list[str] = []
    has_star = any(p.kind == "var_positional" for p in ordered)
    for i, p in enumerate(ordered):
        if p.kind == "keyword_only" and not has_star and (i == 0 or ordered[i - 1].kind != "keyword_only"):
            parts.append("*")
        parts.append(text_of(p))
        nxt = ordered[i + 1].kind if i + 1 < len(ordered) else None
        if p.kind == "positional_only" and nxt != "positional_only":
            parts.append("/")
    args: list[str] = []
    kwargs: list[str] = []
    for i, p in enumerate(ordered):
        if p.kind == "positional_only":
            args.append(p.name)
        elif p.kind == "positional":
            # Positional-or-keyword: by position when a *args follows, else by name.
            (args if has_star else kwargs).append(p.name if has_star else f"{p.name!r}: {p.name}")
        elif p.kind == "var_positional":
            args.append(f"*{p.name}")
        elif p.kind == "keyword_only":
            kwargs.append(f"{p.name!r}: {p.name}")
        elif p.kind == "var_keyword":
            kwargs.append(f"**{p.name}")
    args_src = "(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")"
    kwargs_src = "{" + ", ".join(kwargs) + "}"
    return ClientFunction(
        name=d.name,
        is_async=d.kind == "async_function",
        params=", ".join(parts),
        returns=d.returns,
        args=args_src,
        kwargs=kwargs_src,
    )
