"""The monolith's app module as one service runs it: what needs other services' route modules is removed.

Every service gets a copy of the module that builds the app (the factory
registering Blueprints or including routers).  The imports of modules the
service does not hold are removed, and so is what *uses the names they bound*,
decided with LibCST's scope analysis (a parameter or local variable that
happens to have the same name is not a use; ``app.config`` is an attribute,
not the name ``config``):

* an expression statement (``app.register_blueprint(orders_bp)``,
  ``orders.init_app(app)``),
* an assignment whose value or target uses it (its targets are then removed
  names too, and their uses are removed in turn),
* an element of a list/tuple/set/dict literal (``BLUEPRINTS = (catalog_bp, orders_bp)``),
* a definition decorated with it (``@orders_bp.before_app_request``).

Any other use (``return make(orders_bp)``, an ``if`` on it) cannot be removed
safely: :class:`PruneError` names each with its line in the original source.
Pure: source text in, source text out.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import libcst as cst
import libcst.helpers  # noqa: F401  (cst.helpers)
from libcst.metadata import (
    Assignment,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    ScopeProvider,
)


class PruneError(Exception):
    """The app module cannot be pruned for a service (names the module and why)."""


def resolve_from(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The module a ``from`` import in ``module`` names (relative levels resolved; "" if above the root)."""
    if not level:
        return name or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    if level - 1 > len(base):
        return ""
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([name] if name else [])])


def dotted(node: cst.BaseExpression | None) -> str:
    """Dotted name of a LibCST expression ("" when it is not a plain name/attribute chain)."""
    return cst.helpers.get_full_name_for_node(node) or "" if node is not None else ""


_ELEMENTS = (cst.Element, cst.StarredElement, cst.DictElement, cst.StarredDictElement)
_ASSIGNS = (cst.Assign, cst.AnnAssign, cst.AugAssign)


@functools.lru_cache(maxsize=2)
def _parsed(source: str) -> tuple[cst.Module, Mapping, Mapping, Mapping]:
    """The app module's tree with its scope, parent and position metadata.

    Every service prunes its own copy of the same app module: the tree and
    its metadata do not depend on what a service drops (and :class:`_Plan`
    only reads them), so they are computed once per source text, not once
    per service (the scope analysis of a large app module is seconds each).
    """
    tree = cst.parse_module(source)
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    return tree, wrapper.resolve(ScopeProvider), wrapper.resolve(ParentNodeProvider), wrapper.resolve(PositionProvider)


class _Plan:
    """Which nodes go: dropped import aliases and the statements/elements using them."""

    def __init__(self, source: str, module: str, is_package: bool, drop: set[str]):
        self.module = module
        self.is_package = is_package
        self.tree, self.scopes, self.parents, self.positions = _parsed(source)
        self.drop = drop
        self.aliases: set[int] = set()  # id() of ImportAlias nodes to remove
        self.star_imports: set[int] = set()  # id() of ``from dropped import *`` statements
        self.dotted: set[str] = set()  # ``import a.b.c`` of a dropped module (uses: ``a.b.c.x``)
        self.gone: set[int] = set()  # id() of statements/elements/definitions to remove
        self.removed: set[Assignment] = set()
        self.leftover: list[tuple[int, str]] = []
        self._stuck: list[cst.CSTNode] = []  # uses no removable node encloses (yet)
        self._find_imports()
        self._propagate()

    # --- dropped imports and the bindings they made
    def _find_imports(self) -> None:
        dropped_names: dict[int, set[str]] = {}  # id(import statement) -> local names it no longer binds
        for node in _walk(self.tree):
            if isinstance(node, cst.ImportFrom):
                base = resolve_from(self.module, self.is_package, len(node.relative), dotted(node.module) or None)
                if isinstance(node.names, cst.ImportStar):
                    if base in self.drop:
                        self.star_imports.add(id(node))
                    continue
                for alias in node.names:
                    name = dotted(alias.name)
                    if base in self.drop or f"{base}.{name}" in self.drop:
                        self.aliases.add(id(alias))
                        local = alias.asname.name.value if alias.asname is not None else name
                        dropped_names.setdefault(id(node), set()).add(local)
            elif isinstance(node, cst.Import):
                for alias in node.names:
                    target = dotted(alias.name)
                    if target not in self.drop:
                        continue
                    self.aliases.add(id(alias))
                    if alias.asname is not None:
                        dropped_names.setdefault(id(node), set()).add(alias.asname.name.value)
                    elif "." in target:
                        self.dotted.add(target)  # the package it binds stays bound by the kept imports
                    else:
                        dropped_names.setdefault(id(node), set()).add(target)
            if isinstance(node, (cst.Import, cst.ImportFrom)) and not isinstance(node.names, cst.ImportStar) \
                    and all(id(a) in self.aliases for a in node.names):
                self.gone.add(id(node))  # nothing of it stays
        for scope in {s for s in self.scopes.values() if s is not None}:
            for assignment in scope.assignments:
                if not isinstance(assignment, Assignment):
                    continue
                names = dropped_names.get(id(assignment.node))
                if names and assignment.name in names:
                    self.removed.add(assignment)

    # --- what uses them
    def _uses(self) -> list[cst.CSTNode]:
        out: list[cst.CSTNode] = []
        for scope in {s for s in self.scopes.values() if s is not None}:
            for access in scope.accesses:
                if access.referents & self.removed:
                    out.append(access.node)
        if self.dotted:
            for node in _walk(self.tree):
                if isinstance(node, cst.Attribute):
                    name = dotted(node)
                    if name and any(name == d or name.startswith(d + ".") for d in self.dotted):
                        parent = self.parents.get(node)
                        if not (isinstance(parent, cst.Attribute) and parent.value is node):
                            if not isinstance(parent, (cst.Import, cst.ImportAlias)) and not self._in_import(node):
                                out.append(node)
        return out

    def _in_import(self, node: cst.CSTNode) -> bool:
        p = self.parents.get(node)
        while p is not None:
            if isinstance(p, (cst.Import, cst.ImportFrom)):
                return True
            if isinstance(p, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
                return False
            p = self.parents.get(p)
        return False

    def _removed_ancestor(self, node: cst.CSTNode) -> bool:
        p = node
        while p is not None:
            if id(p) in self.gone:
                return True
            p = self.parents.get(p)
        return False

    def _propagate(self) -> None:
        handled: set[int] = set()
        while True:
            progress = False
            for use in self._uses():
                if id(use) in handled or self._removed_ancestor(use):
                    continue
                handled.add(id(use))
                unit = self._unit(use)
                if unit is None:
                    self._stuck.append(use)
                    continue
                self.gone.add(id(unit))
                progress = True
                self._unbind(unit)
            if not progress:
                break
        # A use inside a definition removed later (a decorated view) went with it.
        for use in self._stuck:
            if not self._removed_ancestor(use):
                pos = self.positions.get(use)
                self.leftover.append((pos.start.line if pos else 0, dotted(use) or "?"))

    def _unit(self, use: cst.CSTNode) -> cst.CSTNode | None:
        """The smallest removable node around a use, or None when none is safe."""
        node = self.parents.get(use)
        while node is not None:
            if isinstance(node, _ELEMENTS) and isinstance(self.parents.get(node), (cst.List, cst.Tuple, cst.Set, cst.Dict)):
                container = self.parents.get(node)
                if isinstance(container, cst.Set) and len(container.elements) == 1:
                    node = container  # ``{x}`` cannot become ``{}`` (a dict): go on up
                    continue
                return node
            if isinstance(node, cst.Decorator):
                return self.parents.get(node)
            if isinstance(node, cst.Expr):
                return node
            if isinstance(node, _ASSIGNS):
                return node
            if isinstance(node, (cst.BaseSmallStatement, cst.BaseCompoundStatement, cst.Param, cst.Parameters)):
                return None
            node = self.parents.get(node)
        return None

    def _unbind(self, unit: cst.CSTNode) -> None:
        """Names bound by a removed assignment or definition are removed names too."""
        for scope in {s for s in self.scopes.values() if s is not None}:
            for assignment in scope.assignments:
                if isinstance(assignment, Assignment) and assignment.node is unit:
                    self.removed.add(assignment)
                elif isinstance(assignment, Assignment) and isinstance(unit, _ASSIGNS) and \
                        self._inside(assignment.node, unit):
                    self.removed.add(assignment)

    def _inside(self, node: cst.CSTNode, ancestor: cst.CSTNode) -> bool:
        p = node
        while p is not None:
            if p is ancestor:
                return True
            p = self.parents.get(p)
        return False


def _walk(node: cst.CSTNode):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


class _Remover(cst.CSTTransformer):
    def __init__(self, plan: _Plan):
        self.p = plan

    def on_visit(self, node) -> bool:
        if id(node) in self.p.gone:
            return False  # removed whole: its children need no visit
        return super().on_visit(node)

    def on_leave(self, original, updated):
        if id(original) in self.p.gone:
            return cst.RemoveFromParent()
        return super().on_leave(original, updated)

    def leave_ImportAlias(self, original, updated):
        return cst.RemoveFromParent() if id(original) in self.p.aliases else updated

    def leave_ImportFrom(self, original, updated):
        if id(original) in self.p.star_imports:
            return cst.RemoveFromParent()
        if isinstance(updated.names, cst.ImportStar) or len(updated.names) == len(original.names):
            return updated
        if not updated.names:
            return cst.RemoveFromParent()
        names = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in updated.names]
        return updated.with_changes(names=names, lpar=updated.lpar if len(names) > 1 else None,
                                    rpar=updated.rpar if len(names) > 1 else None)

    def leave_Import(self, original, updated):
        if len(updated.names) == len(original.names):
            return updated
        if not updated.names:
            return cst.RemoveFromParent()
        return updated.with_changes(names=[a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in updated.names])

    def _fix(self, original, updated, single_tuple: bool = False):
        if len(updated.elements) == len(original.elements):
            return updated
        kept = list(updated.elements)
        fixed = []
        for i, e in enumerate(kept):
            last = i == len(kept) - 1
            if last and single_tuple and len(kept) == 1:
                fixed.append(e.with_changes(comma=cst.Comma()))
            elif last:
                fixed.append(e.with_changes(comma=cst.MaybeSentinel.DEFAULT))
            elif not isinstance(e.comma, cst.Comma):
                fixed.append(e.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))))
            else:
                fixed.append(e)
        new = updated.with_changes(elements=fixed)
        if isinstance(new, cst.Tuple) and not new.lpar:
            new = new.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return new

    def leave_Tuple(self, original, updated):
        if id(original) in self.p.gone:
            return cst.RemoveFromParent()
        return self._fix(original, updated, single_tuple=True)

    def leave_List(self, original, updated):
        if id(original) in self.p.gone:
            return cst.RemoveFromParent()
        return self._fix(original, updated)

    def leave_Set(self, original, updated):
        if id(original) in self.p.gone:
            return cst.RemoveFromParent()
        return self._fix(original, updated)

    def leave_Dict(self, original, updated):
        if id(original) in self.p.gone:
            return cst.RemoveFromParent()
        return self._fix(original, updated)

    def leave_SimpleStatementLine(self, original, updated):
        if id(original) in self.p.gone:
            return cst.RemoveFromParent()
        if not updated.body:
            return cst.RemoveFromParent()
        if len(updated.body) != len(original.body):
            body = list(updated.body)
            body[-1] = body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            return updated.with_changes(body=body)
        return updated


def prune_imports(source: str, module: str, is_package: bool, drop: set[str]) -> str:
    """Remove from the app module every import of a ``drop`` module and what uses
    the names it bound (see the module docstring); refuse with :class:`PruneError`,
    naming each remaining use and its original line, when a use cannot go."""
    try:
        plan = _Plan(source, module, is_package, set(drop))
    except cst.ParserSyntaxError as exc:
        raise PruneError(f"{module}: cannot parse: {exc.message}") from None
    if plan.leftover:
        shown = [f"{name} (line {line})" for line, name in sorted(set(plan.leftover))]
        more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
        raise PruneError(
            f"{module}: cannot prune the app module for this service: still uses {', '.join(shown[:8])}{more}"
            " (move these uses into the module that defines them, or keep that module in this service)"
        )
    if not (plan.aliases or plan.star_imports or plan.gone):
        return source
    new = plan.tree.visit(_Remover(plan))
    return new.code
