"""Imports: static import statements and literal dynamic imports (``ModuleFacts.imports``).

* ``import a.b [as c]`` and ``from [.]a import b`` statements, with their
  ``kind`` (absolute/relative) and ``context`` (module, function,
  conditional, type_checking: see :mod:`decompose.analysis.facts`); relative
  modules are resolved against the importing module.
* ``importlib.import_module("a.b")`` (through whatever name binds
  ``importlib.import_module`` here) and ``__import__("a.b")`` with a literal
  name: ``kind="dynamic"``.  ``import_module(".x", __package__)`` resolves
  like ``from . import x``; with ``__name__`` as anchor the module itself is
  the package (what ``importlib`` does for a plain module).

Names inside an import statement are not uses (``suppress``).
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from decompose.analysis.facts import ImportFact, ModuleFacts
from decompose.analysis.parse.nodes import Name, dotted, resolve_relative, string_value


class ImportsMixin:
    """Walker part: ``ModuleFacts.imports`` (appended directly, sorted at the end).

    State: ``suppress`` (> 0 inside an import statement).
    """

    def _init_imports(self) -> None:
        self.suppress = 0

    def _finish_imports(self, facts: ModuleFacts) -> None:
        facts.imports.sort(key=lambda i: (i.line, i.module))

    def enter_import(self, node: cst.Import) -> None:
        self.suppress += 1
        ctx = self._context()
        for alias in node.names:
            name = dotted(alias.name) or ""
            asname = None
            if alias.asname is not None and alias.asname.name.__class__ is Name:
                asname = alias.asname.name.value
            self.facts.imports.append(
                ImportFact(module=name, names=[], line=self.line, context=ctx, alias=asname)
            )

    def enter_import_from(self, node: cst.ImportFrom) -> None:
        self.suppress += 1
        level = len(node.relative)
        module = self.scan.import_module_name(node)
        if isinstance(node.names, cst.ImportStar):
            names = ["*"]
        else:
            names = [dotted(a.name) or "" for a in node.names]
        self.facts.imports.append(
            ImportFact(
                module=module, names=names, line=self.line,
                kind="relative" if level else "absolute", context=self._context(), level=level,
            )
        )

    def leave_import(self, node: Any) -> None:
        self.suppress -= 1

    def _dynamic_import(self, node: cst.Call, func: Any, fname: str) -> None:
        """A call of something named ``import_module`` or ``__import__``."""
        if fname == "__import__":
            if func.__class__ is not Name:
                return
        else:
            name = dotted(func)
            if name is None:
                return
            head, _, rest = name.partition(".")
            base = self._resolve(head) if head in self.names else None
            if base is None:
                return
            if (f"{base}.{rest}" if rest else base) != "importlib.import_module":
                return
        args = node.args
        if not args or args[0].keyword is not None or args[0].star:
            return
        name = string_value(args[0].value)
        if not name:
            return
        level = len(name) - len(name.lstrip("."))
        if level:
            if fname == "__import__":
                return
            anchor = None
            for a in args[1:]:
                if a.keyword is None or a.keyword.value == "package":
                    anchor = a.value
                    break
            if anchor is None or anchor.__class__ is not Name:
                return
            if anchor.value == "__package__":
                target = resolve_relative(self.module, self.is_package, level, name[level:])
            elif anchor.value == "__name__":
                target = resolve_relative(self.module, True, level, name[level:])
            else:
                return
            kind_level = level
        else:
            target, kind_level = name, 0
        self.facts.imports.append(
            ImportFact(
                module=target, names=[], line=self.line, kind="dynamic",
                context=self._context(), level=kind_level,
            )
        )
