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
* Dotted names passed as strings to an API that imports them by name
  (:data:`STRING_IMPORTERS`, :data:`STRING_IMPORT_METHODS`):
  ``werkzeug.utils.import_string("a.b:C")``, ``app.config.from_object("a.b.C")``,
  Celery's ``config_from_object("a.celeryconfig")``, ``Celery(include=["a.tasks"])``,
  ``autodiscover_tasks(["a"])``: ``kind="string"``, one fact per literal
  (also in a list, tuple or set literal) that is a dotted name.  Such an API
  imports the module the way ``from a.b import C`` does (``C`` a submodule or a
  name defined in ``a.b``; ``a.b:C`` names the module explicitly), so the fact is
  ``module="a.b", names=["C"]`` and resolves by the same rule as that statement.
  A name built at run time from a literal package start (``f"a.b.{name}"``,
  ``"a.b.{}".format(name)``, ``"a.b.%s" % name``, ``"a.b." + name``, also given to
  ``import_module``) is ``module="a.b", names=["*"]``: some module of ``a.b``.
* A configuration value naming a module of the project's own package, a string
  (or a list/tuple/set of them) whose first part is the module's own top-level
  package: an upper-case constant assigned in the body of a config class
  (``class TestingConfig``, ``DefaultSettings``) or at the top of a configuration module (``app.config``, ``app.configs.default``,
  ``proj.settings``; not a migration: elsewhere such a constant is data, a
  logger's or a Celery task's name)
  (``PI_AUDIT_MODULE = "privacyidea.lib.auditmodules.sqlaudit"``) or the default of
  a setting looked up by key (``config.get("PI_HSM_MODULE", "privacyidea.lib.security.default.DefaultSecurityModule")``):
  ``kind="string"``, ``context="function"``.  The application imports it by that name when it reads
  the setting (``import_module(config[KEY])``), so whoever holds the configuration
  needs the module; file names (``"app.log"``) are not module names.
* In a module that imports a name computed at run time (``import_module(mod_name)``),
  every string literal naming a module (or a name in one) of the module's own top-level
  package (``module_list.add("app.lib.resolvers.LDAPIdResolver")``): ``kind="string"``,
  ``context="function"``.  Such a module loads the modules of a list it builds.

Names inside an import statement are not uses (``suppress``).
"""

from __future__ import annotations

import re
from typing import Any

import libcst as cst

from decompose.analysis.facts import ImportFact, ModuleFacts
from decompose.analysis.parse.nodes import Name, dotted, resolve_relative, string_value


#: Functions (by qualified name) that import the object a string names:
#: {name: (position of the argument, its keyword names, related submodule)}.
STRING_IMPORTERS: dict[str, tuple[int | None, tuple[str, ...], str]] = {
    "werkzeug.utils.import_string": (0, ("import_name",), ""),
    "werkzeug.import_string": (0, ("import_name",), ""),
    "django.utils.module_loading.import_string": (0, ("dotted_path",), ""),
    "kombu.utils.imports.symbol_by_name": (0, ("name",), ""),
    "kombu.utils.symbol_by_name": (0, ("name",), ""),
    "celery.utils.imports.symbol_by_name": (0, ("name",), ""),
    "celery.utils.imports.instantiate": (0, ("name",), ""),
    "pkgutil.resolve_name": (0, ("name",), ""),
    "celery.Celery": (None, ("include",), ""),
}
#: Methods (by name, whatever the receiver) that import what a string names:
#: Flask/Quart ``Config.from_object``, Celery's ``config_from_object`` and
#: ``autodiscover_tasks`` (each package's ``tasks`` submodule, or ``related_name``).
STRING_IMPORT_METHODS: dict[str, tuple[int | None, tuple[str, ...], str]] = {
    "from_object": (0, ("obj",), ""),
    "config_from_object": (0, ("obj",), ""),
    "autodiscover_tasks": (0, ("packages",), "tasks"),
}
#: Last names of the callees above (the walker's call dispatch).
STRING_IMPORT_CALLS = frozenset(
    {q.rpartition(".")[2] for q in STRING_IMPORTERS} | set(STRING_IMPORT_METHODS)
)

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?")


def string_reference(text: str, related: str = "") -> tuple[str, list[str]] | None:
    """``(module, names)`` a dotted name in a string stands for, or None if it is not one.

    ``"a.b:C.d"`` -> ``("a.b", ["C"])``; ``"a.b.C"`` -> ``("a.b", ["C"])`` (like
    ``from a.b import C``); ``"a"`` -> ``("a", [])``.  With ``related`` (a package
    whose submodule of that name is imported) ``"a.b"`` -> ``("a.b", [related])``.
    """
    if not _DOTTED.fullmatch(text):
        return None
    if related:
        return (text, [related]) if ":" not in text else None
    if ":" in text:
        module, _, obj = text.partition(":")
        return module, [obj.split(".", 1)[0]]
    module, _, last = text.rpartition(".")
    return (module, [last]) if module else (text, [])


_PACKAGE_PREFIX = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\.")


def template_package(node: cst.BaseExpression) -> str | None:
    """The package a string built at run time names a submodule of, or None.

    ``f"a.b.{name}"``, ``"a.b.{}".format(name)``, ``"a.b.%s" % name`` and
    ``"a.b." + name`` -> ``"a.b"``: its literal start is a dotted name ending in a
    dot, so whatever is filled in is a module in ``a.b`` (or below).  A start
    that is only a top-level package (``f"shop.{name}"``) is no narrower than the
    whole project: None."""
    text = None
    if node.__class__ is cst.FormattedString:
        first = node.parts[0] if node.parts else None
        if first.__class__ is cst.FormattedStringText and len(node.parts) > 1:
            text = first.value
    elif node.__class__ is cst.Call and node.func.__class__ is cst.Attribute and node.func.attr.value == "format":
        value = string_value(node.func.value)
        if value is not None and "{" in value:
            text = value.split("{", 1)[0]
    elif node.__class__ is cst.BinaryOperation:
        value = string_value(node.left)
        if value is not None and node.operator.__class__ is cst.Modulo and "%" in value:
            text = value.split("%", 1)[0]
        elif value is not None and node.operator.__class__ is cst.Add:
            text = value
    if text is None or not _PACKAGE_PREFIX.fullmatch(text):
        return None
    return text[:-1]


#: An upper-case constant's name (``PI_AUDIT_MODULE``).
_CONSTANT = re.compile(r"_*[A-Z][A-Z0-9_]*")
#: A dotted name of two parts or more (``"app.lib.resolvers.LDAPIdResolver"``).
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
#: Last parts of a dotted string that make it a file name, not a module (``"app.log"``).
FILE_SUFFIXES = frozenset({
    "log", "txt", "json", "cfg", "ini", "conf", "yaml", "yml", "toml", "py", "html", "htm", "db", "sqlite",
    "sqlite3", "pem", "key", "crt", "csv", "xml", "md", "rst", "js", "css", "png", "svg", "gz", "zip", "pid",
})


#: A class holding configuration (``Config``, ``TestingConfig``, ``DefaultSettings``).
_CONFIG_CLASS = re.compile(r"Config|Settings|Conf$")
#: Last parts of a module (or of a package holding it) that make it configuration.
CONFIG_PARTS = frozenset({"config", "configs", "settings", "conf", "configuration", "default_settings", "defaults"})


def is_config_module(module: str) -> bool:
    """``app.config``, ``app.configs.default``, ``proj.settings.production``; never a migration."""
    parts = module.split(".")
    if "migrations" in parts or "alembic" in parts:
        return False
    return any(p in CONFIG_PARTS for p in parts[1:])


def _string_literals(node: cst.BaseExpression) -> list[str]:
    """A string literal's value, or those of a list/tuple/set literal of them."""
    value = string_value(node)
    if value is not None:
        return [value]
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return [v for e in node.elements if isinstance(e, cst.Element)
                for v in [string_value(e.value)] if v is not None]
    return []


class ImportsMixin:
    """Walker part: ``ModuleFacts.imports`` (appended directly, sorted at the end).

    State: ``suppress`` (> 0 inside an import statement).
    """

    def _init_imports(self) -> None:
        self.suppress = 0
        self.runtime_import = False  # import_module(<a name computed at run time>) somewhere here
        self.module_name_strings: list[tuple[str, int]] = []
        self.own_package_dot = self.module.split(".", 1)[0] + "."
        self.class_names: list[str] = []  # the classes the walk is in, innermost last

    def _finish_imports(self, facts: ModuleFacts) -> None:
        if self.runtime_import:
            seen = {(i.module, tuple(i.names), i.line) for i in facts.imports if i.kind == "string"}
            for text, line in self.module_name_strings:
                ref = string_reference(text)
                if ref is not None and (ref[0], tuple(ref[1]), line) not in seen:
                    seen.add((ref[0], tuple(ref[1]), line))
                    facts.imports.append(
                        ImportFact(module=ref[0], names=ref[1], line=line, kind="string", context="function"))
        facts.imports.sort(key=lambda i: (i.line, i.module))

    def _names_own_module(self, text: str) -> bool:
        """``text`` is a dotted name (``"a.b.C"``, ``"a.b:C"``) inside the module's own top-level
        package, not a file name (``"app.log"``)."""
        path = text.split(":", 1)[0]
        return path.startswith(self.own_package_dot) and path.rpartition(".")[2].lower() not in FILE_SUFFIXES

    def _module_name_string(self, node: cst.SimpleString) -> None:
        """A string literal naming a module of the module's own top-level package, kept in
        case the module imports names computed at run time (see the module docstring)."""
        if self.own_package_dot not in node.value or self.suppress:
            return
        text = string_value(node)
        if text and _DOTTED_NAME.fullmatch(text) and self._names_own_module(text):
            self.module_name_strings.append((text, self.line))

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
            package = template_package(args[0].value) if fname != "__import__" else None
            if package is not None:
                self._some_submodule(package, self._context())
            else:
                self.runtime_import = True
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

    def _string_import(self, node: cst.Call, func: Any, fname: str) -> None:
        """A call of an API that imports what a string argument names (``kind="string"``)."""
        spec = None
        name = dotted(func)
        if name is not None:
            head, _, rest = name.partition(".")
            base = self._resolve(head) if head in self.names else None
            if base is not None:
                spec = STRING_IMPORTERS.get(f"{base}.{rest}" if rest else base)
        if spec is None and func.__class__ is not Name:
            spec = STRING_IMPORT_METHODS.get(fname)
        if spec is None:
            return
        position, keywords, related = spec
        values: list[cst.BaseExpression] = []
        positional = [a for a in node.args if a.keyword is None and not a.star]
        if position is not None and len(positional) > position and not any(
                a.star for a in node.args[: node.args.index(positional[position])]):
            values.append(positional[position].value)
        for a in node.args:
            if a.keyword is not None and a.keyword.value in keywords:
                values.append(a.value)
            elif a.keyword is not None and a.keyword.value == "related_name" and related:
                r = string_value(a.value)
                related = r if r and r.isidentifier() else ""
        if not related and spec[2]:
            return  # related_name is not a literal: which submodule is unknown
        context = self._context()
        for value in values:
            package = template_package(value)
            if package is not None and not related:
                self._some_submodule(package, context)
            for text in _string_literals(value):
                ref = string_reference(text, related)
                if ref is None:
                    continue
                self.facts.imports.append(
                    ImportFact(module=ref[0], names=ref[1], line=self.line, kind="string", context=context)
                )

    def _config_module_names(self, target: Any, value: Any) -> None:
        """A configuration constant naming a module of the project (see the module docstring)."""
        if self.func_depth or target.__class__ is not Name or not _CONSTANT.fullmatch(target.value):
            return
        in_config_class = (self.frames and self.frames[-1].frame.is_class and self.class_names
                           and _CONFIG_CLASS.search(self.class_names[-1]))
        if not (in_config_class or is_config_module(self.module)):
            return  # elsewhere constants are data (a logger's name, a log action, Celery task names)
        self._project_module_strings(value)

    def _config_default(self, node: cst.Call, func: Any, fname: str) -> None:
        """``config.get("PI_HSM_MODULE", "app.lib.security.default.Module")``: the default of a
        setting looked up by key names a module of the project (see the module docstring)."""
        if func.__class__ is Name:
            return
        positional = [a for a in node.args if a.keyword is None and not a.star]
        for a in node.args:
            if (a.keyword is None and len(positional) > 1 and a is positional[1]) or (
                    a.keyword is not None and a.keyword.value in ("default", "fallback")):
                self._project_module_strings(a.value)

    def _project_module_strings(self, value: Any) -> None:
        """String literals in ``value`` naming a module (or a name in it) of the module's own
        top-level package, as lazy ``kind="string"`` imports."""
        for text in _string_literals(value):
            if not self._names_own_module(text):
                continue
            ref = string_reference(text)
            if ref is not None:
                self.facts.imports.append(
                    ImportFact(module=ref[0], names=ref[1], line=self.line, kind="string", context="function")
                )

    def _some_submodule(self, package: str, context: str) -> None:
        """A name built at run time inside ``package``: ``names=["*"]``, any of its modules."""
        self.facts.imports.append(
            ImportFact(module=package, names=["*"], line=self.line, kind="string", context=context)
        )
