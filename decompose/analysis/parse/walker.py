"""Pass 2: one source-order walk piggy-backing on LibCST's code generation.

:class:`Walker` is a :class:`~libcst._nodes.internal.CodegenState` that emits
nothing: LibCST regenerates the source token by token and calls
``before_codegen``/``after_codegen`` on every node in source order; the walker
counts the newlines in the emitted tokens (so the current line is always
known, like ``PositionProvider`` minus its per-node bookkeeping) and
dispatches enter/leave events by node type (:data:`_ENTER`, :data:`_LEAVE`).

The handlers live in one mixin per concern, composed here into the single
pass (the way a codemod composes visitors):

========================  =============================================
:mod:`.scopes`            frames, import contexts, name resolution
:mod:`.imports`           static and dynamic imports
:mod:`.uses`              symbol uses (and names that are not uses)
:mod:`.definitions`       top-level functions, classes, variables
:mod:`.returns`           what unannotated top-level functions return
:mod:`.routes`            route decorators
:mod:`.tables`            models, ``Table``, SQL in strings
:mod:`.global_writes`     writes to module state
========================  =============================================

A node several concerns care about (a ``def``, an assignment, a call) has one
handler below that calls each concern in turn, so the order is explicit.
This module owns the line tracking and the line/end hooks: a fact created
before its line is known (a definition's ``def`` line, a route's decorator)
is hooked to the node whose visit sets it.
"""

from __future__ import annotations

from typing import Any, Callable

import libcst as cst
from libcst._nodes.internal import CodegenState

from decompose.analysis.facts import ModuleFacts
from decompose.analysis.parse.definitions import DefinitionsMixin
from decompose.analysis.parse.global_writes import MUTATORS, GlobalWritesMixin
from decompose.analysis.parse.imports import STRING_IMPORT_CALLS, ImportsMixin
from decompose.analysis.parse.nodes import Attribute, Name
from decompose.analysis.parse.returns import ReturnsMixin
from decompose.analysis.parse.routes import RoutesMixin
from decompose.analysis.parse.scopes import Scanner, ScopesMixin
from decompose.analysis.parse.tables import ALEMBIC_TABLE_ARGS, TablesMixin
from decompose.analysis.parse.text import NEWLINES
from decompose.analysis.parse.uses import UsesMixin, call_slots


class _NullContext:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


_NULL_CONTEXT = _NullContext()


class Walker(
    ScopesMixin,
    ImportsMixin,
    UsesMixin,
    DefinitionsMixin,
    ReturnsMixin,
    RoutesMixin,
    TablesMixin,
    GlobalWritesMixin,
    CodegenState,
):
    """Code generation that emits nothing but tracks the line and dispatches events."""

    def __init__(self, tree: cst.Module, module: str, is_package: bool, facts: ModuleFacts) -> None:
        super().__init__(default_indent=tree.default_indent, default_newline=tree.default_newline)
        self.tree = tree
        self.module = module
        self.is_package = is_package
        self.facts = facts
        self.code = tree.code_for_node
        self.line = 1
        self.last_stmt_line = 1  # line of the latest end-of-statement newline
        self.line_hooks: dict[int, list[Any]] = {}

        scan = Scanner(module, is_package)
        scan.scan_module(tree)
        self._init_scopes(scan)
        self._init_imports()
        self._init_uses()
        self._init_definitions()
        self._init_returns()
        self._init_tables()
        self._init_global_writes(scan)

    # -- CodegenState overrides ------------------------------------------------
    def add_token(self, value: str) -> None:
        if "\n" in value:
            self.line += len(NEWLINES.findall(value)) if "\r" in value else value.count("\n")
        elif "\r" in value:
            self.line += value.count("\r")

    def add_indent_tokens(self) -> None:
        pass

    def pop_trailing_newline(self) -> None:
        pass

    def record_syntactic_position(self, node: Any, *, start_node: Any = None, end_node: Any = None) -> Any:
        return _NULL_CONTEXT

    def before_codegen(self, node: Any) -> None:
        handler = _ENTER.get(node.__class__)
        if handler is not None:
            handler(self, node)

    def after_codegen(self, node: Any) -> None:
        handler = _LEAVE.get(node.__class__)
        if handler is not None:
            handler(self, node)

    # -- driver ------------------------------------------------------------------
    def run(self) -> None:
        tree = self.tree
        for node in tree.header:
            node._codegen(self)
        for node in tree.body:
            node._codegen(self)
        for node in tree.footer:
            node._codegen(self)
        f = self.facts
        self._finish_imports(f)
        self._finish_definitions(f)
        self._finish_uses(f)
        self._finish_routes(f)
        self._finish_tables(f)
        self._finish_global_writes(f)

    # -- line hooks --------------------------------------------------------------
    def _hook_line(self, node: Any, obj: Any) -> None:
        """``obj.line`` becomes the current line when ``node`` is reached."""
        self.line_hooks.setdefault(id(node), []).append(obj)

    def _fire_hooks(self, node: Any) -> None:
        objs = self.line_hooks.pop(id(node), None)
        if objs:
            for obj in objs:
                obj.line = self.line

    def enter_trailing_whitespace(self, node: Any) -> None:
        self.last_stmt_line = self.line

    # ======================================================================= #
    # nodes several concerns handle
    # ======================================================================= #

    def enter_function(self, node: cst.FunctionDef) -> None:
        top = not self.frames
        if not top:
            self._inner_def(node)
        self._open_def_frame(node, is_func=True)
        self._ignore_name(node.name)
        if top:
            self._define_function(node)
            self._start_returns(node, self.definitions[-1])
            self._routes(node)

    def leave_function(self, node: cst.FunctionDef) -> None:
        self.leave_def(node)
        self._finish_function_returns(node)

    def enter_class(self, node: cst.ClassDef) -> None:
        self.class_names.append(node.name.value)
        top = not self.frames
        self._open_def_frame(node, is_func=False)
        self._ignore_name(node.name)
        self._class_data(node)
        if top:
            self._define_class(node)

    def leave_class(self, node: cst.ClassDef) -> None:
        self.class_names.pop()
        self.leave_def(node)

    def enter_for(self, node: cst.For) -> None:
        self.cond_depth += 1
        self._ignore_targets(node.target)
        self._writes(node.target)

    def enter_assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._ignore_targets(t.target)
            self._config_module_names(t.target, node.value)
            if not self.frames:
                self._module_variables(t.target, node.value)
            else:
                self._writes(t.target)
        if self.ret_def is not None:
            self._assigned([t.target for t in node.targets], node.value)

    def enter_ann_assign(self, node: cst.AnnAssign) -> None:
        self._ignore_targets(node.target)
        if node.value is None:
            return  # a bare annotation binds nothing
        self._config_module_names(node.target, node.value)
        if not self.frames:
            self._module_variables(node.target, node.value)
        else:
            self._writes(node.target)
            if self.ret_def is not None:
                self._assigned([node.target], node.value)

    def enter_aug_assign(self, node: cst.AugAssign) -> None:
        self._ignore_targets(node.target)
        if self.frames:
            self._writes(node.target)

    def enter_del(self, node: cst.Del) -> None:
        self._ignore_targets(node.target)
        if self.frames:
            self._writes(node.target)

    def enter_simple_string(self, node: cst.SimpleString) -> None:
        self._sql_string(node)
        self._module_name_string(node)

    def enter_call(self, node: cst.Call) -> None:
        if self.line_hooks:
            self._fire_hooks(node)
        func = node.func
        fcls = func.__class__
        if fcls is Name:
            self.callees[id(func)] = call_slots(node)
            fname = func.value
        elif fcls is Attribute:
            self.callees[id(func)] = call_slots(node)
            fname = func.attr.value
        else:
            return
        handler = _CALLS.get(fname)
        if handler is None and fcls is Name and fname in self.names:
            # an imported function under another name (``import_string as load``): its own name
            target = self._resolve(fname)
            handler = _ALIASED.get(target.rpartition(".")[2]) if target else None
        if handler is not None:
            handler(self, node, func, fname)


_W = Walker

#: Calls by the callee's last name: the concern that looks closer.
_CALLS: dict[str, Callable[[Any, cst.Call, Any, str], None]] = {
    "import_module": _W._dynamic_import,
    "__import__": _W._dynamic_import,
    "Table": _W._table_call,
    "get": _W._config_default,
    **dict.fromkeys(sorted(ALEMBIC_TABLE_ARGS), _W._alembic_op),
    **dict.fromkeys(sorted(MUTATORS), _W._mutator_call),
    **dict.fromkeys(sorted(STRING_IMPORT_CALLS), _W._string_import),
}
#: Of those, the ones that also count when imported under another name.
_ALIASED = {"import_module": _W._dynamic_import, **dict.fromkeys(sorted(STRING_IMPORT_CALLS), _W._string_import)}

_ENTER: dict[type, Callable[[Any, Any], None]] = {
    cst.Name: _W.enter_name,
    cst.Attribute: _W.enter_attribute,
    cst.Call: _W.enter_call,
    cst.Import: _W.enter_import,
    cst.ImportFrom: _W.enter_import_from,
    cst.IndentedBlock: _W.enter_block,
    cst.SimpleStatementSuite: _W.enter_block,
    cst.Lambda: _W.enter_lambda,
    cst.If: _W.enter_if,
    cst.Try: _W.enter_conditional,
    cst.TryStar: _W.enter_conditional,
    cst.With: _W.enter_conditional,
    cst.While: _W.enter_conditional,
    cst.Match: _W.enter_conditional,
    cst.For: _W.enter_for,
    cst.FunctionDef: _W.enter_function,
    cst.ClassDef: _W.enter_class,
    cst.Assign: _W.enter_assign,
    cst.AnnAssign: _W.enter_ann_assign,
    cst.AugAssign: _W.enter_aug_assign,
    cst.Del: _W.enter_del,
    cst.Global: _W.enter_global,
    cst.Nonlocal: _W.enter_global,
    cst.Param: _W.enter_param,
    cst.Arg: _W.enter_arg,
    cst.AsName: _W.enter_as_name,
    cst.CompFor: _W.enter_comp_for,
    cst.NamedExpr: _W.enter_named_expr,
    cst.MatchAs: _W.enter_named_child,
    cst.MatchStar: _W.enter_named_child,
    cst.MatchKeywordElement: _W.enter_match_keyword,
    cst.MatchMapping: _W.enter_match_mapping,
    cst.TrailingWhitespace: _W.enter_trailing_whitespace,
    cst.Expr: _W.enter_expr,
    cst.Return: _W._return,
    cst.Yield: _W._yield,
    cst.SimpleString: _W.enter_simple_string,
    cst.FormattedString: _W.enter_formatted_string,
    cst.ConcatenatedString: _W.enter_concatenated_string,
}
for _name in ("TypeVar", "TypeVarTuple", "ParamSpec", "TypeAlias"):
    if hasattr(cst, _name):
        _ENTER[getattr(cst, _name)] = _W.enter_named_child

_LEAVE: dict[type, Callable[[Any, Any], None]] = {
    cst.Import: _W.leave_import,
    cst.ImportFrom: _W.leave_import,
    cst.IndentedBlock: _W.leave_block,
    cst.SimpleStatementSuite: _W.leave_block,
    cst.Lambda: _W.leave_lambda,
    cst.If: _W.leave_conditional,
    cst.Try: _W.leave_conditional,
    cst.TryStar: _W.leave_conditional,
    cst.With: _W.leave_conditional,
    cst.While: _W.leave_conditional,
    cst.Match: _W.leave_conditional,
    cst.For: _W.leave_conditional,
    cst.FunctionDef: _W.leave_function,
    cst.ClassDef: _W.leave_class,
    cst.Assign: _W.leave_assign,
    cst.AnnAssign: _W.leave_assign,
}
