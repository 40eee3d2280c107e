"""What a top-level function returns, when its signature does not say: the kinds of value
in its ``return`` statements, read from the body.

An unannotated function called across services becomes an HTTP call whose result is
encoded as JSON; whether that can work depends on what it returns.  This concern
records, per top-level function without a return annotation, a sorted list of
*value sources* (``Definition.returns_inferred``), written in the module's own names
(planning resolves them against the imports):

* ``call:<dotted>``: the result of a call of ``<dotted>`` (``call:sqlite3.connect``);
* ``name:<dotted>``: a name or attribute chain (``name:g.db``); a local name or
  attribute the function assigned from a call is followed to that call
  (``g.db = sqlite3.connect(...)`` ... ``return g.db`` gives ``call:sqlite3.connect``
  as well);
* ``literal``: a literal, a container display, an operator expression, or no value;
* ``item:<source>``: an item taken out of a container (``return store[key]``), the
  container given as its own value source (``item:call:get_request_local_store`` when
  ``store = get_request_local_store()``; ``item:name:g.cache``); calls the function
  stored into that container (``store[key] = make(...)``) are sources as well;
* ``lambda``: a lambda; ``function:<name>``: a function defined in the body;
* no ``return`` with a value at all: ``literal`` (the call returns ``None``);
* ``generator``: the body yields (the call returns a generator or, decorated, a
  context manager);
* ``other``: anything else (a conditional expression, a subscript of a call...).

Only the function's own body counts: nested functions, lambdas and classes are
skipped.  Pure over the walk's events; no resolution here.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from decompose.analysis.facts import Definition
from decompose.analysis.parse.nodes import Attribute, Name, dotted

#: Expressions whose value is plain data whatever they hold.
_LITERALS = (
    cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
    cst.Dict, cst.List, cst.Tuple, cst.Set, cst.ListComp, cst.SetComp, cst.DictComp, cst.BinaryOperation,
    cst.Comparison, cst.BooleanOperation, cst.UnaryOperation,
)
_CONSTANT_NAMES = frozenset({"None", "True", "False"})
#: At most this many sources per function (the rest say nothing new).
MAX_SOURCES = 12


def value_source(node: Any) -> str:
    """The value-source string of one returned expression (see the module docstring)."""
    if node is None:
        return "literal"
    cls = node.__class__
    if cls is Name and node.value in _CONSTANT_NAMES:
        return "literal"
    if cls in _LITERALS:
        return "literal"
    if cls is cst.Call:
        name = dotted(node.func)
        return f"call:{name}" if name else "other"
    if cls is Name or cls is Attribute:
        name = dotted(node)
        return f"name:{name}" if name else "other"
    if cls is cst.Subscript:
        name = dotted(node.value)
        return f"item:name:{name}" if name else "other"
    if cls is cst.Lambda:
        return "lambda"
    if cls is cst.Await:
        return value_source(node.expression)
    return "other"


class ReturnsMixin:
    """Walker part: ``Definition.returns_inferred`` of top-level functions.

    State: ``ret_def`` (the top-level function being walked, when it has no return
    annotation), its ``ret_node``, the returned sources, the local assignments from
    calls (target -> sources) and the names of functions defined in its body.
    """

    def _init_returns(self) -> None:
        self.ret_def: Definition | None = None
        self.ret_node: Any = None
        self.ret_sources: list[str] = []
        self.ret_assigned: dict[str, list[str]] = {}
        self.ret_inner: set[str] = set()

    def _start_returns(self, node: cst.FunctionDef, d: Definition) -> None:
        if d.returns is not None:
            return
        self.ret_def, self.ret_node = d, node
        self.ret_sources, self.ret_assigned, self.ret_inner = [], {}, set()

    def _in_own_body(self) -> bool:
        """In the top-level function's own body (not a nested def, lambda or class)."""
        return self.ret_def is not None and len(self.frames) == 1

    def _return(self, node: cst.Return) -> None:
        if self._in_own_body():
            self.ret_sources.append(value_source(node.value))

    def _yield(self, node: Any) -> None:
        if self._in_own_body():
            self.ret_sources.append("generator")

    def _assigned(self, targets: list[Any], value: Any) -> None:
        """``x = f(...)`` / ``g.db = f(...)`` / ``store[key] = f(...)`` in the function's
        own body (an item store is kept under ``<container>[]``)."""
        if not self._in_own_body() or value is None or value.__class__ is not cst.Call:
            return
        src = value_source(value)
        for t in targets:
            if t.__class__ is cst.Subscript:
                base = dotted(t.value)
                name = f"{base}[]" if base else None
            else:
                name = dotted(t) if t.__class__ in (Name, Attribute) else None
            if name:
                self.ret_assigned.setdefault(name, []).append(src)

    def _inner_def(self, node: Any) -> None:
        if self._in_own_body():
            self.ret_inner.add(node.name.value)

    def _finish_function_returns(self, node: Any) -> None:
        if node is not self.ret_node or self.ret_def is None:
            return
        out: set[str] = set()
        for s in self.ret_sources:
            if s.startswith("name:"):
                name = s[5:]
                if name in self.ret_inner:
                    out.add(f"function:{name}")
                    continue
                out.update(self.ret_assigned.get(name, ()))
            elif s.startswith("item:name:"):
                # the container as its own source (a local assigned from a call is
                # followed to that call), and what the function stored into it
                base = s[10:]
                out.update(f"item:{c}" for c in self.ret_assigned.get(base, ()))
                out.update(self.ret_assigned.get(f"{base}[]", ()))
            out.add(s)
        self.ret_def.returns_inferred = sorted(out or {"literal"})[:MAX_SOURCES]
        self.ret_def, self.ret_node = None, None
