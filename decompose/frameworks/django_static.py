"""Module-level values of a Django project's settings and urlconf modules, read without running them.

Django decides its settings and URL patterns by *executing* Python modules
(``settings.py`` with ``from .base import *``, ``urls.py`` building lists of
``path()`` calls); decompose never imports the monolith, so this module is a
small, bounded interpreter of module-level statements over LibCST trees:

* values: strings (incl. implicit concatenation), numbers, booleans, None,
  lists/tuples/dicts (``*spread``), ``+`` on lists, tuples and strings;
* names: module-level assignments in order (``=``, ``+=``, annotated), the
  ``append``/``extend``/``insert``/``remove`` methods of lists, imports of
  other modules of the monolith (``from .base import *`` and
  ``from .base import NAME``, ``import pkg.mod``: followed, cycles stopped),
  imports of anything else as :class:`Ext` (its dotted name, so callers can
  recognise ``django.urls.path``), top-level functions and classes as
  :class:`Ref`;
* blocks: the bodies of ``if``/``elif``/``else``, ``try``/``except``/``else``/
  ``finally`` and ``with`` are all executed in order (a static reader cannot
  know the condition: a list gets what any branch adds), except that an
  ``elif``/``else``/``except`` branch never rebinds a name bound before it
  (the first branch's value stands); ``for``/``while`` bodies once, their loop
  variables :class:`Unknown`;
* everything else (a call the caller does not interpret, a comprehension, an
  f-string, a name bound nowhere) is :class:`Unknown`, carrying the file and
  line, so the caller can name what it could not read.

Calls are interpreted by the caller (``call`` hook: the settings reader needs
none; the urlconf reader turns ``path()``/``include()``/``as_view()``/router
calls into its own objects), so this module knows nothing about URLs.
Pure: sources in, values out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from decompose.frameworks.prune import dotted, resolve_from


@dataclass(frozen=True)
class Unknown:
    """A value that cannot be read statically: why, where (file, line)."""

    why: str
    file: str = ""
    line: int = 0

    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "?"


@dataclass(frozen=True)
class Ext:
    """Something imported from outside the monolith (``django.urls.path``), by dotted name."""

    name: str


@dataclass(frozen=True)
class Ref:
    """A top-level function or class of a module of the monolith."""

    module: str
    name: str
    kind: str  # "function" | "class"
    line: int = 0


@dataclass(frozen=True)
class ModuleRef:
    """A module of the monolith bound to a name (``from . import views``)."""

    module: str


@dataclass
class Obj:
    """An object a ``call`` hook made (a router, a pattern...): ``kind`` + attributes."""

    kind: str
    attrs: dict[str, Any] = field(default_factory=dict)
    file: str = ""
    line: int = 0


Value = Any
#: ``call(reader, callee, args, kwargs, file, line) -> value`` (``NotImplemented`` = not interpreted)
CallHook = Callable[["Reader", Value, list[Value], dict[str, Value], str, int], Value]
#: ``method(reader, receiver, name, args, kwargs, file, line) -> value`` for methods on hook objects
MethodHook = Callable[["Reader", Value, str, list[Value], dict[str, Value], str, int], Value]

_LIST_METHODS = ("append", "extend", "insert", "remove")
MAX_DEPTH = 40  # modules followed through imports before giving up (cycles are stopped anyway)


class Reader:
    """Reads the module-level namespace of modules of one monolith (cached per module)."""

    def __init__(self, sources: dict[str, str], packages: set[str], paths: dict[str, str], *,
                 call: CallHook | None = None, method: MethodHook | None = None,
                 attribute: Callable[["Reader", Value, str], Value] | None = None,
                 definitions: dict[str, dict[str, tuple[str, int]]] | None = None):
        self.sources = sources
        #: module -> {name: (kind, line)} of top-level functions and classes bound nowhere else (from the
        #: analysis facts): a view looked up in a module of views needs no parse of that module
        self.definitions = definitions or {}
        self.packages = packages
        self.paths = paths
        self.call_hook = call
        self.method_hook = method
        self.attribute_hook = attribute
        self.tops = {m.split(".", 1)[0] for m in sources}
        self._namespaces: dict[str, dict[str, Value]] = {}
        self._loading: set[str] = set()
        self._resolving: set[tuple[str, str]] = set()
        self.parse_errors: dict[str, str] = {}

    # ------------------------------------------------------------------ modules

    def namespace(self, module: str) -> dict[str, Value]:
        """``module``'s names after executing its top level (``{}`` if not in the source)."""
        if module in self._namespaces:
            return self._namespaces[module]
        if module in self._loading or module not in self.sources or len(self._loading) > MAX_DEPTH:
            return {}
        self._loading.add(module)
        try:
            ns: dict[str, Value] = {}
            try:
                tree = cst.parse_module(self.sources[module])
            except (cst.ParserSyntaxError, RecursionError, ValueError) as exc:
                self.parse_errors[module] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self._namespaces[module] = ns
                return ns
            _Exec(self, module, ns, tree).block(tree.body)
            self._namespaces[module] = ns
            return ns
        finally:
            self._loading.discard(module)

    def lookup(self, module: str, name: str) -> Value:
        if module not in self._namespaces:
            known = self.definitions.get(module, {}).get(name)
            if known is not None:
                return Ref(module, name, known[0], known[1])
        ns = self.namespace(module)
        if name in ns:
            v = ns[name]
            if isinstance(v, _Lazy):
                v = ns[name] = self.resolve(v)
            return v
        sub = f"{module}.{name}"
        if sub in self.sources:
            return ModuleRef(sub)
        return Unknown(f"{name} is not defined in {module}", self.paths.get(module, module), 0)

    def resolve(self, lazy: "_Lazy") -> Value:
        key = (lazy.module, lazy.name)
        if key in self._resolving:
            return Unknown(f"{lazy.name} is imported in a cycle", self.path(lazy.module), 0)
        self._resolving.add(key)
        try:
            return self.lookup(lazy.module, lazy.name)
        finally:
            self._resolving.discard(key)

    def path(self, module: str) -> str:
        return self.paths.get(module, module.replace(".", "/") + ".py")


class _Exec:
    """Executes one module's top-level statements into ``ns``."""

    def __init__(self, reader: Reader, module: str, ns: dict[str, Value], tree: cst.Module):
        self.r = reader
        self.module = module
        self.ns = ns
        self.tree = tree
        self.positions = None  # computed on the first line asked for (LibCST's positions cost a codegen)
        self.alt = 0  # inside an alternative branch (see alternative)
        self.file = reader.path(module)
        self.is_package = module in reader.packages

    def line(self, node: cst.CSTNode) -> int:
        if self.positions is None:
            self.positions = MetadataWrapper(self.tree, unsafe_skip_copy=True).resolve(PositionProvider)
        pos = self.positions.get(node)
        return pos.start.line if pos is not None else 0

    def unknown(self, why: str, node: cst.CSTNode) -> Unknown:
        return Unknown(why, self.file, self.line(node))

    # ------------------------------------------------------------------ statements

    def block(self, body) -> None:
        for stmt in body:
            self.statement(stmt)

    def alternative(self, body) -> None:
        """An ``elif``/``else``/``except`` branch: what it adds counts, but it never rebinds a
        name already bound (``if not PREFIX: urlpatterns = real else: urlpatterns = [path(PREFIX, ...)]``
        keeps the first branch's value)."""
        self.alt += 1
        try:
            self.block(body)
        finally:
            self.alt -= 1

    def statement(self, stmt: cst.CSTNode) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                try:
                    self.small(small)
                except RecursionError:
                    pass
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            kind = "class" if isinstance(stmt, cst.ClassDef) else "function"
            self.ns[stmt.name.value] = Ref(self.module, stmt.name.value, kind, 0)
        elif isinstance(stmt, cst.If):
            self.block(stmt.body.body)
            other = stmt.orelse
            while other is not None:
                if isinstance(other, cst.If):
                    self.alternative(other.body.body)
                    other = other.orelse
                else:
                    self.alternative(other.body.body)
                    other = None
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            self.block(stmt.body.body)
            for h in stmt.handlers:
                self.alternative(h.body.body)
            if stmt.orelse is not None:
                self.block(stmt.orelse.body.body)
            if stmt.finalbody is not None:
                self.block(stmt.finalbody.body.body)
        elif isinstance(stmt, cst.With):
            self.block(stmt.body.body)
        elif isinstance(stmt, (cst.For, cst.While)):
            if isinstance(stmt, cst.For):
                self.bind(stmt.target, self.unknown("a loop variable", stmt))
            self.block(stmt.body.body)
            if stmt.orelse is not None:
                self.block(stmt.orelse.body.body)

    def small(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.Assign):
            value = self.eval(node.value)
            for t in node.targets:
                self.bind(t.target, value)
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            self.bind(node.target, self.eval(node.value))
        elif isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
            name = node.target.value
            old = self.ns.get(name, self.unknown(f"{name} is not defined before +=", node))
            if isinstance(node.operator, cst.AddAssign):
                self.ns[name] = add(old, self.eval(node.value), self.unknown(f"{name} += ...", node))
            else:
                self.ns[name] = self.unknown(f"{name} changed by an operator other than +=", node)
        elif isinstance(node, cst.Expr) and isinstance(node.value, cst.Call):
            self.eval(node.value)  # list.append(...), router.register(...)
        elif isinstance(node, cst.ImportFrom):
            self.import_from(node)
        elif isinstance(node, cst.Import):
            for alias in node.names:
                name = dotted(alias.name)
                if alias.asname is not None:
                    bound = dotted(alias.asname.name)
                    self.ns[bound] = ModuleRef(name) if name in self.r.sources else Ext(name)
                else:
                    top = name.split(".", 1)[0]
                    self.ns[top] = ModuleRef(top) if top in self.r.tops else Ext(top)

    def import_from(self, node: cst.ImportFrom) -> None:
        level = len(node.relative)
        base = resolve_from(self.module, self.is_package, level, dotted(node.module) if node.module else None)
        if isinstance(node.names, cst.ImportStar):
            if base in self.r.sources:
                for k, v in self.r.namespace(base).items():
                    if not k.startswith("_"):
                        self.ns[k] = v
            return
        for alias in node.names:
            name = dotted(alias.name)
            bound = dotted(alias.asname.name) if alias.asname is not None else name
            full = f"{base}.{name}" if base else name
            if full in self.r.sources:
                self.ns[bound] = ModuleRef(full)
            elif base in self.r.sources:
                self.ns[bound] = _Lazy(base, name)
            else:
                self.ns[bound] = Ext(full)

    def bind(self, target: cst.CSTNode, value: Value) -> None:
        if isinstance(target, cst.Name):
            if self.alt and target.value in self.ns:
                return
            self.ns[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            items = value if isinstance(value, (list, tuple)) and len(value) == len(target.elements) else None
            for i, el in enumerate(target.elements):
                self.bind(el.value, items[i] if items is not None else self.unknown("unpacked value", target))

    # ------------------------------------------------------------------ expressions

    def name(self, name: str, node: cst.CSTNode) -> Value:
        if name in self.ns:
            v = self.ns[name]
            if isinstance(v, _Lazy):
                v = self.ns[name] = self.r.resolve(v)
            return v
        if name in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[name]
        return self.unknown(f"name {name} is not bound at module level", node)

    def eval(self, node: cst.CSTNode) -> Value:
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            v = node.evaluated_value
            return v.decode("latin-1") if isinstance(v, bytes) else (v if v is not None else
                                                                       self.unknown("an f-string", node))
        if isinstance(node, cst.Integer):
            return int(node.value.replace("_", ""), 0) if not node.value.startswith("0") or node.value == "0" \
                else self.unknown("an integer literal", node)
        if isinstance(node, cst.Name):
            return self.name(node.value, node)
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            out: list = []
            for el in node.elements:
                v = self.eval(el.value)
                if isinstance(el, cst.StarredElement):
                    out.extend(v) if isinstance(v, (list, tuple)) else out.append(v)
                else:
                    out.append(v)
            return tuple(out) if isinstance(node, cst.Tuple) else out
        if isinstance(node, cst.Dict):
            d: dict = {}
            for el in node.elements:
                if isinstance(el, cst.DictElement):
                    k = self.eval(el.key)
                    if isinstance(k, (str, int, bool)) or k is None:
                        d[k] = self.eval(el.value)
            return d
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            return add(self.eval(node.left), self.eval(node.right), self.unknown("a sum", node))
        if isinstance(node, cst.Attribute):
            return self.attribute(self.eval(node.value), node.attr.value, node)
        if isinstance(node, cst.Call):
            return self.call(node)
        if isinstance(node, cst.FormattedString):
            return self.fstring(node)
        return self.unknown(f"a {type(node).__name__} expression", node)

    def fstring(self, node: cst.FormattedString) -> Value:
        """An f-string whose expressions are all readable strings or numbers (no format spec)."""
        out = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                out.append(part.value.replace("{{", "{").replace("}}", "}"))
                continue
            v = self.eval(part.expression) if part.conversion is None and part.format_spec is None else None
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                return self.unknown("an f-string", node)
            out.append(str(v))
        return "".join(out)

    def attribute(self, obj: Value, attr: str, node: cst.CSTNode) -> Value:
        if isinstance(obj, ModuleRef):
            return self.r.lookup(obj.module, attr)
        if isinstance(obj, Ext):
            return Ext(f"{obj.name}.{attr}")
        if isinstance(obj, Ref):
            return Ref(obj.module, f"{obj.name}.{attr}", "attribute", obj.line)
        if self.r.attribute_hook is not None:
            v = self.r.attribute_hook(self.r, obj, attr)
            if v is not NotImplemented:
                return v
        if isinstance(obj, Unknown):
            return obj
        return self.unknown(f"attribute {attr}", node)

    def call(self, node: cst.Call) -> Value:
        args = [self.eval(a.value) for a in node.args if a.keyword is None and not a.star]
        kwargs = {a.keyword.value: self.eval(a.value) for a in node.args if a.keyword is not None}
        line = self.line(node)
        func = node.func
        if isinstance(func, cst.Attribute):
            receiver = self.eval(func.value)
            meth = func.attr.value
            if isinstance(receiver, list) and meth in _LIST_METHODS:
                try:
                    if meth == "append" and len(args) == 1:
                        receiver.append(args[0])
                    elif meth == "extend" and len(args) == 1 and isinstance(args[0], (list, tuple)):
                        receiver.extend(args[0])
                    elif meth == "insert" and len(args) == 2 and isinstance(args[0], int):
                        receiver.insert(args[0], args[1])
                    elif meth == "remove" and len(args) == 1 and args[0] in receiver:
                        receiver.remove(args[0])
                    else:
                        receiver.append(self.unknown(f"list.{meth}(...)", node))
                except TypeError:
                    receiver.append(self.unknown(f"list.{meth}(...)", node))
                return None
            if self.r.method_hook is not None and not isinstance(receiver, (Ext, ModuleRef)):
                v = self.r.method_hook(self.r, receiver, meth, args, kwargs, self.file, line)
                if v is not NotImplemented:
                    return v
            callee = self.attribute(receiver, meth, func)
        else:
            callee = self.eval(func)
        if self.r.call_hook is not None:
            v = self.r.call_hook(self.r, callee, args, kwargs, self.file, line)
            if v is not NotImplemented:
                return v
        what = callee.name if isinstance(callee, Ext) else (
            f"{callee.module}.{callee.name}" if isinstance(callee, Ref) else (dotted(func) or "a call"))
        return self.unknown(f"a call of {what}", node)


@dataclass(frozen=True)
class _Lazy:
    """``from module import name``: looked up on first use (the module may import this one back)."""

    module: str
    name: str


def add(a: Value, b: Value, unknown: Unknown) -> Value:
    """``a + b`` for the values a static reader handles (lists, tuples, strings)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a)([*a, *b]) if isinstance(a, tuple) and isinstance(b, tuple) else [*a, *b]
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, (list, tuple)):
        return [*a, b if isinstance(b, Unknown) else unknown]
    if isinstance(b, (list, tuple)):
        return [a if isinstance(a, Unknown) else unknown, *b]
    return a if isinstance(a, Unknown) else (b if isinstance(b, Unknown) else unknown)
