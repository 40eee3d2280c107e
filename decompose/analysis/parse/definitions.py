"""Definitions: the module's top-level functions, classes and variables, with signatures.

A top-level ``def``/``class`` becomes a :class:`~decompose.analysis.facts.Definition`
(parameters with annotations and defaults as source text, return annotation,
decorators, bases, method names) and sets ``scope``, the name uses and global
writes inside it are filed under.  Module-level assignments become
``variable`` definitions, ``mutable`` when the value is a list/dict/set
literal or factory.  Line numbers are filled in by the walker's line hooks
(``def``/``class`` line) and end hooks (last line of the body).
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from decompose.analysis.facts import Definition, ModuleFacts, Param
from decompose.analysis.parse.nodes import IndentedBlock, bound_values, param_nodes


class DefinitionsMixin:
    """Walker part: ``ModuleFacts.definitions`` and the current top-level ``scope``.

    State: ``scope`` (``"<module>"`` or the top-level def's name) and
    ``scope_node``, ``definitions`` (every binding, deduplicated at the end),
    ``end_hooks`` (def node id -> definitions whose ``end_line`` it sets) and
    ``assign_defs`` (variables of the assignment being walked).
    """

    def _init_definitions(self) -> None:
        self.scope = "<module>"
        self.scope_node: Any = None
        self.definitions: list[Definition] = []
        self.end_hooks: dict[int, list[Definition]] = {}
        self.assign_defs: list[Definition] = []

    def _finish_definitions(self, facts: ModuleFacts) -> None:
        # one per name, first binding wins, mutable if any binding is
        first: dict[str, Definition] = {}
        for d in sorted(self.definitions, key=lambda d: d.line):
            if d.name not in first:
                first[d.name] = d
            elif d.mutable and first[d.name].kind == "variable":
                first[d.name].mutable = True
        facts.definitions = list(first.values())

    def _define_function(self, node: cst.FunctionDef) -> None:
        """A top-level function: its Definition; the walk is now in its scope."""
        self.scope = node.name.value
        self.scope_node = node
        code = self.code
        params = []
        for p, kind in param_nodes(node.params):
            params.append(
                Param(
                    name=p.name.value,
                    annotation=code(p.annotation.annotation) if p.annotation is not None else None,
                    default=code(p.default) if p.default is not None else None,
                    kind=kind,
                )
            )
        name = node.name.value
        d = Definition(
            name=name,
            kind="async_function" if node.asynchronous is not None else "function",
            line=0,
            end_line=0,
            params=params,
            returns=code(node.returns.annotation) if node.returns is not None else None,
            decorators=[code(dec.decorator) for dec in node.decorators],
            private=name.startswith("_"),
        )
        self.definitions.append(d)
        self._hook_line(node.name, d)
        self.end_hooks.setdefault(id(node), []).append(d)

    def _define_class(self, node: cst.ClassDef) -> None:
        """A top-level class: its Definition; the walk is now in its scope."""
        name = node.name.value
        self.scope = name
        self.scope_node = node
        code = self.code
        d = Definition(
            name=name,
            kind="class",
            line=0,
            end_line=0,
            bases=[arg.star + code(arg.value) for arg in node.bases],
            decorators=[code(dec.decorator) for dec in node.decorators],
            methods=methods(node.body),
            method_decorators=[code(dec.decorator) for fn in method_nodes(node.body) for dec in fn.decorators]
            + [code(e) for e in view_decorator_lists(node.body)],
            private=name.startswith("_"),
        )
        self.definitions.append(d)
        self._hook_line(node.name, d)
        self.end_hooks.setdefault(id(node), []).append(d)

    def leave_def(self, node: Any) -> None:
        defs = self.end_hooks.pop(id(node), None)
        if defs:
            for d in defs:
                d.end_line = self.last_stmt_line
        if node is self.scope_node:
            self.scope = "<module>"
            self.scope_node = None

    def _module_variables(self, target: Any, value: Any) -> None:
        """Module-level ``target = value``: one variable Definition per bound name."""
        pairs: list[tuple[str, Any]] = []
        bound_values(target, value, pairs)
        for name, val in pairs:
            d = Definition(
                name=name, kind="variable", line=self.line, end_line=self.line,
                mutable=self.scan.is_mutable(val), private=name.startswith("_"),
            )
            self.definitions.append(d)
            self.assign_defs.append(d)

    def leave_assign(self, node: Any) -> None:
        if self.assign_defs:
            for d in self.assign_defs:
                d.end_line = self.line
            self.assign_defs.clear()


def methods(suite: cst.BaseSuite) -> list[str]:
    """Names of the functions defined in a class body (also under if/try/with)."""
    out: list[str] = []
    for fn in method_nodes(suite):
        if fn.name.value not in out:
            out.append(fn.name.value)
    return out


#: Class attributes a web framework applies as decorators to the class's view functions:
#: Flask's ``View.decorators`` (``class ForgotPassword(MethodView): decorators = [requires_unactivated]``),
#: Flask-RESTful's and flask-restx's ``Resource.method_decorators``.
VIEW_DECORATOR_ATTRS = frozenset({"decorators", "method_decorators"})


def view_decorator_lists(suite: cst.BaseSuite) -> list[cst.BaseExpression]:
    """The elements of ``decorators = [...]`` / ``method_decorators = [...]`` (list or tuple) in a class body."""
    out: list[cst.BaseExpression] = []
    if suite.__class__ is not IndentedBlock:
        return out
    for st in suite.body:
        if st.__class__ is not cst.SimpleStatementLine:
            continue
        for small in st.body:
            if small.__class__ is cst.Assign:
                targets, value = [t.target for t in small.targets], small.value
            elif small.__class__ is cst.AnnAssign and small.value is not None:
                targets, value = [small.target], small.value
            else:
                continue
            if any(t.__class__ is cst.Name and t.value in VIEW_DECORATOR_ATTRS for t in targets) \
                    and value.__class__ in (cst.List, cst.Tuple):
                out += [e.value for e in value.elements if isinstance(e, cst.Element)]
    return out


def method_nodes(suite: cst.BaseSuite) -> list[cst.FunctionDef]:
    """The functions defined in a class body (also under if/try/with), in order."""
    out: list[cst.FunctionDef] = []
    if suite.__class__ is not IndentedBlock:
        return out
    stack = list(reversed(suite.body))
    while stack:
        st = stack.pop()
        cls = st.__class__
        if cls is cst.FunctionDef:
            out.append(st)
            continue
        blocks: list[Any] = []
        if cls is cst.If:
            blocks.append(st.body)
            orelse = st.orelse
            while orelse is not None:
                blocks.append(orelse.body)
                orelse = orelse.orelse if orelse.__class__ is cst.If else None
        elif cls in (cst.Try, cst.TryStar):
            blocks.append(st.body)
            blocks.extend(h.body for h in st.handlers)
            if st.orelse is not None:
                blocks.append(st.orelse.body)
            if st.finalbody is not None:
                blocks.append(st.finalbody.body)
        elif cls is cst.With:
            blocks.append(st.body)
        children: list[Any] = []
        for b in blocks:
            if b.__class__ is IndentedBlock:
                children.extend(b.body)
        stack.extend(reversed(children))
    return out
