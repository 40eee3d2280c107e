"""Symbol uses: every reference to an imported name, with its count and calls.

A use is a ``Name`` (or the ``Name`` at the head of an ``Attribute`` chain)
bound by an import where it appears; it is recorded as the import target plus
the attribute path (``from django.conf import settings`` then
``settings.DEBUG`` -> ``django.conf.settings.DEBUG``), per top-level scope.
Names that are *bindings* rather than references (assignment targets,
parameters, keyword-argument names, ``as`` names, match captures, type
parameters...) are put in ``ignore`` before the walk reaches them; only names
some import binds are tracked at all, which keeps the walk cheap.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

def call_slots(node: cst.Call) -> frozenset[str]:
    """The argument slots a call passes: ``#i`` for the i-th positional argument, the
    keyword names, ``*`` / ``**`` for unpacked ones (they may fill any slot)."""
    out, i = set(), 0
    for a in node.args:
        if a.star:
            out.add(a.star)
        elif a.keyword is not None:
            out.add(a.keyword.value)
        else:
            out.add(f"#{i}")
            i += 1
    return frozenset(out)


from decompose.analysis.facts import ModuleFacts, SymbolUse
from decompose.analysis.parse.nodes import Attribute, Name, target_names


class UsesMixin:
    """Walker part: ``ModuleFacts.uses``.

    State: ``ignore`` (ids of Name/Attribute nodes that are not references),
    ``callees`` (ids of the ``func`` of every call: a use there is a call) and
    ``uses`` ((scope, target, start) -> [count, calls, first line, argument slots]; ``start``: the
    module the binding import statement names, see ``SymbolUse.start``).  ``callees`` maps
    each call's ``func`` to the argument slots the call passes (``SymbolUse.args``).
    """

    def _init_uses(self) -> None:
        self.ignore: set[int] = set()
        self.callees: dict[int, frozenset[str]] = {}
        self.uses: dict[tuple[str, str, str], list[Any]] = {}

    def _finish_uses(self, facts: ModuleFacts) -> None:
        facts.uses = [
            SymbolUse(scope=s, target=t, count=c, calls=k, line=l, start=m, args=sorted(a) if k else None)
            for (s, t, m), (c, k, l, a) in sorted(self.uses.items())
        ]

    def _use(self, target: str, node: Any, binding: str) -> None:
        # ``binding``: what the import bound the name to; ``from X import n`` starts at module X,
        # ``import a.b [as c]`` at the top (``a.b`` is attribute access from ``a``, as Python does it)
        key = (self.scope, target, binding.rpartition(".")[0] if binding in self.scan.from_bound else "")
        slots = self.callees.get(id(node))
        call = 0 if slots is None else 1
        rec = self.uses.get(key)
        if rec is None:
            self.uses[key] = [1, call, self.line, set(slots or ())]
        else:
            rec[0] += 1
            rec[1] += call
            if slots:
                rec[3] |= slots

    def _ignore_targets(self, target: Any) -> list[cst.Name]:
        """The names an assignment target binds are not uses."""
        names: list[cst.Name] = []
        target_names(target, names)
        for n in names:
            if n.value in self.names:
                self.ignore.add(id(n))
        return names

    def _ignore_name(self, name: cst.Name) -> None:
        if name.value in self.names:
            self.ignore.add(id(name))

    # -- references ------------------------------------------------------------
    def enter_name(self, node: cst.Name) -> None:
        if self.line_hooks:
            self._fire_hooks(node)
        value = node.value
        if value not in self.names or self.suppress or id(node) in self.ignore:
            return
        target = self._resolve(value)
        if target is not None:
            self._use(target, node, target)

    def enter_attribute(self, node: cst.Attribute) -> None:
        names = self.names
        attr = node.attr
        if attr.value in names:
            self.ignore.add(id(attr))
        if self.suppress or id(node) in self.ignore:
            return
        parts = [attr.value]
        inner = []
        base = node.value
        while base.__class__ is Attribute:
            parts.append(base.attr.value)
            inner.append(base)
            base = base.value
        if base.__class__ is not Name or base.value not in names or id(base) in self.ignore:
            return
        ignore = self.ignore
        ignore.add(id(base))
        for a in inner:
            ignore.add(id(a))
        target = self._resolve(base.value)
        if target is None:
            return
        parts.reverse()
        self._use(target + "." + ".".join(parts), node, target)

    # -- bindings that are not references --------------------------------------
    def enter_global(self, node: Any) -> None:
        for item in node.names:
            if item.name.value in self.names:
                self.ignore.add(id(item.name))

    def enter_param(self, node: cst.Param) -> None:
        if node.name.value in self.names:
            self.ignore.add(id(node.name))

    def enter_arg(self, node: cst.Arg) -> None:
        kw = node.keyword
        if kw is not None and kw.value in self.names:
            self.ignore.add(id(kw))

    def enter_as_name(self, node: cst.AsName) -> None:
        self._ignore_targets(node.name)

    def enter_comp_for(self, node: cst.CompFor) -> None:
        self._ignore_targets(node.target)

    def enter_named_expr(self, node: cst.NamedExpr) -> None:
        self._ignore_targets(node.target)

    def enter_named_child(self, node: Any) -> None:
        """Match patterns / type parameters: their ``name`` is a binding."""
        name = getattr(node, "name", None)
        if name is not None and name.__class__ is Name and name.value in self.names:
            self.ignore.add(id(name))

    def enter_match_keyword(self, node: Any) -> None:
        if node.key.value in self.names:
            self.ignore.add(id(node.key))

    def enter_match_mapping(self, node: Any) -> None:
        rest = node.rest
        if rest is not None and rest.value in self.names:
            self.ignore.add(id(rest))
