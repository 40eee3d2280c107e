"""Global writes: module state a function changes (``ModuleFacts.global_writes``).

Inside a function, a write is an assignment (``=``, augmented, ``del``,
``for`` target) to a name declared ``global`` there, or a mutation of a
module-level mutable global (one assigned a list/dict/set literal or factory,
see :meth:`~decompose.analysis.parse.scopes.Scanner.is_mutable`) that is not
shadowed locally: a subscript assignment (``CACHE[k] = v``) or a call of a
mutating method (``REGISTRY.append(x)``, :data:`MUTATORS`).  Recorded once
per (top-level scope, name), at the first line.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from decompose.analysis.facts import GlobalWrite, ModuleFacts
from decompose.analysis.parse.nodes import Attribute, Name
from decompose.analysis.parse.scopes import Scanner

#: Methods of list/dict/set/deque that change the receiver in place.
MUTATORS = frozenset(
    {
        "append", "update", "add", "pop", "clear", "setdefault", "extend", "remove",
        "insert", "discard", "popitem", "appendleft", "popleft", "extendleft",
    }
)


class GlobalWritesMixin:
    """Walker part: ``ModuleFacts.global_writes``.

    State: ``mutable_globals`` (module-level names bound to a mutable value)
    and ``global_writes`` ((scope, name) -> first line).
    """

    def _init_global_writes(self, scan: Scanner) -> None:
        self.mutable_globals = {name for name, value in scan.module_assigns if scan.is_mutable(value)}
        self.global_writes: dict[tuple[str, str], int] = {}

    def _finish_global_writes(self, facts: ModuleFacts) -> None:
        facts.global_writes = [
            GlobalWrite(scope=s, name=n, line=l)
            for (s, n), l in sorted(self.global_writes.items(), key=lambda kv: (kv[1], kv[0]))
        ]

    def _record_write(self, name: str) -> None:
        key = (self.scope, name)
        if key not in self.global_writes:
            self.global_writes[key] = self.line

    def _write_target(self, target: Any, declared: set[str]) -> None:
        cls = target.__class__
        if cls is Name:
            if target.value in declared:
                self._record_write(target.value)
        elif cls is cst.Tuple or cls is cst.List:
            for el in target.elements:
                self._write_target(el.value, declared)
        elif cls is cst.StarredElement:
            self._write_target(target.value, declared)
        elif cls is cst.Subscript:
            base = target.value
            while base.__class__ is cst.Subscript:
                base = base.value
            if base.__class__ is Name and base.value in self.mutable_globals:
                if self._is_module_global(base.value):
                    self._record_write(base.value)

    def _writes(self, target: Any) -> None:
        """An assignment target inside a function."""
        if not self.func_depth:
            return
        fr = self.frames[-1].frame
        self._write_target(target, fr.globals)

    def _mutator_call(self, node: cst.Call, func: Any, fname: str) -> None:
        """``<global>.append(...)`` and the other :data:`MUTATORS` inside a function."""
        if func.__class__ is Attribute and self.func_depth:
            recv = func.value
            if recv.__class__ is Name and recv.value in self.mutable_globals:
                if self._is_module_global(recv.value):
                    self._record_write(recv.value)
