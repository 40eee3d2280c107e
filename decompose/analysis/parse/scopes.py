"""Where names are bound: the statement-only pre-pass and the scope stack of the walk.

Pass 1, :class:`Scanner`, walks statements only (never expressions) and
records per function/class body (:class:`Frame`) the names bound locally
(parameters, assignments, ``for``/``with``/``except`` targets, nested defs),
the names bound by imports, ``global``/``nonlocal`` declarations, plus the
module-level import bindings and assignments.  It lets a use that comes
*before* the import that binds it (a function body above a module-level
import) resolve correctly.

During pass 2, :class:`ScopesMixin` keeps the stack of frames the walk is in
(entered at a def's body, so decorators and defaults resolve outside it), the
function / conditional / ``TYPE_CHECKING`` depths that give an import its
``context``, and answers "what import does this name refer to here?".
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from decompose.analysis.parse.nodes import (
    IndentedBlock,
    Name,
    bound_values,
    dotted,
    is_type_checking,
    param_nodes,
    resolve_relative,
    target_names,
)

_MUTABLE_LITERALS = (cst.List, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp)
_MUTABLE_FACTORIES = frozenset(
    {"list", "dict", "set", "defaultdict", "OrderedDict", "deque", "Counter"}
)
_COLLECTIONS_FACTORIES = frozenset(
    {"collections.defaultdict", "collections.OrderedDict", "collections.deque", "collections.Counter"}
)


class Frame:
    """Names bound in one function / class / lambda body."""

    __slots__ = ("is_class", "bound", "imports", "globals", "nonlocals")

    def __init__(self, is_class: bool = False) -> None:
        self.is_class = is_class
        self.bound: set[str] = set()
        self.imports: dict[str, str] = {}
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()


class Scanner:
    """Walks statements only (never expressions) to find where names are bound."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.module_imports: dict[str, str] = {}
        self.import_names: set[str] = set()
        self.frames: dict[int, Frame] = {}  # id(FunctionDef|ClassDef) -> frame
        self.module_assigns: list[tuple[str, cst.BaseExpression | None]] = []
        #: targets bound by ``from X import n`` (``X.n``): X comes from sys.modules, n is its attribute
        self.from_bound: set[str] = set()

    # -- imports ---------------------------------------------------------------
    def import_module_name(self, node: cst.ImportFrom) -> str:
        name = dotted(node.module) if node.module is not None else None
        level = len(node.relative)
        if level:
            return resolve_relative(self.module, self.is_package, level, name)
        return name or ""

    def import_bindings(self, node: cst.Import | cst.ImportFrom) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if node.__class__ is cst.Import:
            for alias in node.names:
                full = dotted(alias.name) or ""
                if alias.asname is not None and alias.asname.name.__class__ is Name:
                    out.append((alias.asname.name.value, full))
                else:
                    top = full.split(".", 1)[0]
                    out.append((top, top))
            return out
        if isinstance(node.names, cst.ImportStar):
            return out
        base = self.import_module_name(node)
        if not base:
            return out
        for alias in node.names:
            imported = dotted(alias.name) or ""
            local = imported
            if alias.asname is not None and alias.asname.name.__class__ is Name:
                local = alias.asname.name.value
            out.append((local, f"{base}.{imported}"))
            self.from_bound.add(f"{base}.{imported}")
        return out

    # -- statements ------------------------------------------------------------
    def scan_module(self, tree: cst.Module) -> None:
        self._block(tree.body, None)

    def _suite(self, suite: cst.BaseSuite, frame: Frame | None) -> None:
        if suite.__class__ is IndentedBlock:
            self._block(suite.body, frame)
        else:
            for small in suite.body:
                self._small(small, frame)

    def _bind(self, frame: Frame | None, names: list[cst.Name]) -> None:
        if frame is not None:
            for n in names:
                frame.bound.add(n.value)

    def _block(self, body: Any, frame: Frame | None) -> None:
        for st in body:
            cls = st.__class__
            if cls is cst.SimpleStatementLine:
                for small in st.body:
                    self._small(small, frame)
            elif cls is cst.FunctionDef:
                if frame is not None:
                    frame.bound.add(st.name.value)
                inner = Frame()
                for p, _kind in param_nodes(st.params):
                    inner.bound.add(p.name.value)
                self.frames[id(st)] = inner
                self._suite(st.body, inner)
                inner.bound -= inner.globals | inner.nonlocals
            elif cls is cst.ClassDef:
                if frame is not None:
                    frame.bound.add(st.name.value)
                inner = Frame(is_class=True)
                self.frames[id(st)] = inner
                self._suite(st.body, inner)
                inner.bound -= inner.globals | inner.nonlocals
            elif cls is cst.If:
                self._suite(st.body, frame)
                orelse = st.orelse
                while orelse is not None:
                    if orelse.__class__ is cst.If:
                        self._suite(orelse.body, frame)
                        orelse = orelse.orelse
                    else:
                        self._suite(orelse.body, frame)
                        orelse = None
            elif cls is cst.For:
                names: list[cst.Name] = []
                target_names(st.target, names)
                self._bind(frame, names)
                self._suite(st.body, frame)
                if st.orelse is not None:
                    self._suite(st.orelse.body, frame)
            elif cls is cst.While:
                self._suite(st.body, frame)
                if st.orelse is not None:
                    self._suite(st.orelse.body, frame)
            elif cls is cst.Try or cls is cst.TryStar:
                self._suite(st.body, frame)
                for h in st.handlers:
                    if h.name is not None and h.name.name.__class__ is Name:
                        self._bind(frame, [h.name.name])
                    self._suite(h.body, frame)
                if st.orelse is not None:
                    self._suite(st.orelse.body, frame)
                if st.finalbody is not None:
                    self._suite(st.finalbody.body, frame)
            elif cls is cst.With:
                for item in st.items:
                    if item.asname is not None:
                        names = []
                        target_names(item.asname.name, names)
                        self._bind(frame, names)
                self._suite(st.body, frame)
            elif cls is cst.Match:
                for case in st.cases:
                    self._suite(case.body, frame)

    def _small(self, small: Any, frame: Frame | None) -> None:
        cls = small.__class__
        if cls is cst.Import or cls is cst.ImportFrom:
            for local, target in self.import_bindings(small):
                self.import_names.add(local)
                if frame is None:
                    self.module_imports.setdefault(local, target)
                else:
                    frame.imports.setdefault(local, target)
        elif cls is cst.Assign:
            names: list[cst.Name] = []
            for t in small.targets:
                target_names(t.target, names)
            if frame is None:
                self._module_assign(small.targets, small.value)
            else:
                self._bind(frame, names)
        elif cls is cst.AnnAssign:
            if frame is None:
                if small.value is not None:
                    bound_values(small.target, small.value, self.module_assigns)
            elif small.target.__class__ is Name:
                frame.bound.add(small.target.value)
        elif cls is cst.AugAssign or cls is cst.Del:
            if frame is not None:
                names = []
                target_names(small.target, names)
                self._bind(frame, names)
        elif cls is cst.Global:
            if frame is not None:
                frame.globals.update(n.name.value for n in small.names)
        elif cls is cst.Nonlocal:
            if frame is not None:
                frame.nonlocals.update(n.name.value for n in small.names)

    def _module_assign(self, targets: Any, value: cst.BaseExpression) -> None:
        for t in targets:
            bound_values(t.target, value, self.module_assigns)

    def is_mutable(self, value: cst.BaseExpression | None) -> bool:
        if value is None:
            return False
        if isinstance(value, _MUTABLE_LITERALS):
            return True
        if value.__class__ is not cst.Call:
            return False
        func = value.func
        if func.__class__ is Name:
            target = self.module_imports.get(func.value)
            if target is None:
                return func.value in _MUTABLE_FACTORIES
            return target in _COLLECTIONS_FACTORIES
        name = dotted(func)
        if name is None:
            return False
        head, _, rest = name.partition(".")
        base = self.module_imports.get(head, head)
        return f"{base}.{rest}" in _COLLECTIONS_FACTORIES


# --------------------------------------------------------------------------- #
# pass 2: the scope stack of the walk
# --------------------------------------------------------------------------- #


class ActiveFrame:
    """A frame the walk is inside, with the node whose end closes it."""

    __slots__ = ("frame", "block", "is_func")

    def __init__(self, frame: Frame, block: Any, is_func: bool) -> None:
        self.frame = frame
        self.block = block
        self.is_func = is_func


class ScopesMixin:
    """Walker part: frames entered and left, import contexts, name resolution.

    State: ``scan`` (the pass-1 :class:`Scanner`), ``module_imports``,
    ``names`` (every name some import binds: anything else is never a use),
    ``frame_info``, the active ``frames``, ``pending_frames`` (a def's frame
    waiting for its body), and the ``func_depth``/``cond_depth``/``tc_depth``
    counters.
    """

    def _init_scopes(self, scan: Scanner) -> None:
        self.scan = scan
        self.module_imports = scan.module_imports
        self.names = scan.import_names
        self.frame_info = scan.frames
        self.frames: list[ActiveFrame] = []
        self.pending_frames: dict[int, tuple[Frame, bool]] = {}
        self.func_depth = 0
        self.cond_depth = 0
        self.tc_depth = 0
        self.tc_bodies: set[int] = set()

    # -- name resolution -------------------------------------------------------
    def _resolve(self, name: str) -> str | None:
        """Import target bound to ``name`` here, or None (not an import / shadowed)."""
        frames = self.frames
        i = len(frames) - 1
        innermost = True
        while i >= 0:
            fr = frames[i].frame
            i -= 1
            if fr.is_class and not innermost:
                continue
            innermost = False
            target = fr.imports.get(name)
            if target is not None:
                return target
            if name in fr.bound:
                return None
        return self.module_imports.get(name)

    def _is_module_global(self, name: str) -> bool:
        """``name`` refers to the module-level binding (not shadowed locally)."""
        frames = self.frames
        i = len(frames) - 1
        innermost = True
        while i >= 0:
            fr = frames[i].frame
            i -= 1
            if fr.is_class and not innermost:
                continue
            innermost = False
            if name in fr.globals:
                return True
            if name in fr.bound or name in fr.imports:
                return False
        return True

    def _context(self) -> str:
        """``ImportFact.context`` of a statement here."""
        if self.func_depth:
            return "function"
        if self.tc_depth:
            return "type_checking"
        if self.cond_depth:
            return "conditional"
        return "module"

    # -- frames ----------------------------------------------------------------
    def _open_def_frame(self, node: cst.FunctionDef | cst.ClassDef, is_func: bool) -> None:
        """The def's scanned frame becomes active when its body starts."""
        frame = self.frame_info.get(id(node))
        if frame is None:  # pragma: no cover - every def is scanned
            frame = Frame(is_class=not is_func)
        self.pending_frames[id(node.body)] = (frame, is_func)

    def enter_block(self, node: Any) -> None:
        pending = self.pending_frames.pop(id(node), None)
        if pending is not None:
            frame, is_func = pending
            self.frames.append(ActiveFrame(frame, node, is_func))
            if is_func:
                self.func_depth += 1
        if id(node) in self.tc_bodies:
            self.tc_depth += 1

    def leave_block(self, node: Any) -> None:
        frames = self.frames
        if frames and frames[-1].block is node:
            if frames.pop().is_func:
                self.func_depth -= 1
        if id(node) in self.tc_bodies:
            self.tc_depth -= 1

    def enter_lambda(self, node: cst.Lambda) -> None:
        frame = Frame()
        for p, _kind in param_nodes(node.params):
            frame.bound.add(p.name.value)
        self.frames.append(ActiveFrame(frame, node, True))
        self.func_depth += 1

    def leave_lambda(self, node: cst.Lambda) -> None:
        self.frames.pop()
        self.func_depth -= 1

    # -- contexts --------------------------------------------------------------
    def enter_if(self, node: cst.If) -> None:
        self.cond_depth += 1
        if is_type_checking(node.test):
            self.tc_bodies.add(id(node.body))

    def enter_conditional(self, node: Any) -> None:
        self.cond_depth += 1

    def leave_conditional(self, node: Any) -> None:
        self.cond_depth -= 1
