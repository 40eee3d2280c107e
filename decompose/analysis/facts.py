"""Facts extracted from one Python module: plain, serialisable data.

This is the contract between the parser (LibCST, see ``decompose.analysis.parse``) and
everything downstream (graph, metrics, plan, generate, check).  Everything here
is a frozen-ish dataclass that round-trips through ``to_dict``/``from_dict``
so facts can be cached on disk as JSON and shipped between processes.

Import kinds
------------
Every :class:`ImportFact` carries ``kind`` (how it is written) and ``context``
(where it sits):

* ``kind``: ``"absolute"`` (``import a.b`` / ``from a import b``),
  ``"relative"`` (``from .x import y``), ``"dynamic"`` (a literal
  ``importlib.import_module("a.b")`` or ``__import__("a.b")``), ``"string"`` (a
  dotted name in a string passed to an API that imports it by name:
  ``import_string("a.b:C")``, ``app.config.from_object("a.b.C")``, Celery's
  ``include=["a.tasks"]``; recorded like ``from a.b import C``; a name built at
  run time from a literal package start, ``f"a.b.{name}"``, is ``names=["*"]``:
  any module of ``a.b``; see ``decompose.analysis.parse.imports``).  Only a ``string`` reference to an
  analysed module counts: one naming anything else is no third-party import.
* ``context``: ``"module"`` (top level, executed at import time),
  ``"function"`` (inside a function or method body),
  ``"conditional"`` (under ``if``/``try``/``with`` at module or class level),
  ``"type_checking"`` (under ``if TYPE_CHECKING:``; never executed at runtime).

``module`` is always the absolute dotted name of the module named in the
statement (relative imports are resolved against the importing module), and
``names`` the names imported from it (empty for ``import a.b``).  Whether
``from pkg import mod`` refers to a submodule can only be decided once all
modules are known; ``decompose.analysis.graph`` does that.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Bump when the parser's output changes so stale cache entries are ignored.
FACTS_VERSION = 16

IMPORT_KINDS = ("absolute", "relative", "dynamic", "string")
IMPORT_CONTEXTS = ("module", "function", "conditional", "type_checking")


@dataclass(slots=True)
class ImportFact:
    module: str  # absolute dotted module named by the statement ("" if unresolvable)
    names: list[str]  # names imported from it; [] for ``import a.b``; ["*"] for star
    line: int
    kind: str = "absolute"  # see IMPORT_KINDS
    context: str = "module"  # see IMPORT_CONTEXTS
    level: int = 0  # number of leading dots for relative imports
    alias: str | None = None  # ``import a.b as c`` -> "c"


@dataclass(slots=True)
class Param:
    name: str
    annotation: str | None = None  # source text of the annotation
    default: str | None = None  # source text of the default value
    kind: str = "positional"  # positional | positional_only | keyword_only | var_positional | var_keyword


@dataclass(slots=True)
class Definition:
    """A top-level definition of a module (function, class or assigned name)."""

    name: str
    kind: str  # "function" | "async_function" | "class" | "variable"
    line: int
    end_line: int
    params: list[Param] = field(default_factory=list)  # functions only
    returns: str | None = None  # return annotation source, functions only
    # functions without a return annotation: what their return statements return
    # (value sources, see decompose.analysis.parse.returns); [] when annotated
    returns_inferred: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)  # classes: base expressions as written
    decorators: list[str] = field(default_factory=list)  # decorator expressions as written
    methods: list[str] = field(default_factory=list)  # classes: method names
    #: classes: the decorator expressions of its methods, as written (they run with the class body)
    method_decorators: list[str] = field(default_factory=list)
    mutable: bool = False  # variables: bound to a mutable container (list/dict/set/...)
    private: bool = False  # name starts with "_"


@dataclass(slots=True)
class SymbolUse:
    """How often a top-level scope uses a name it imported.

    ``scope`` is the top-level definition the use sits in (a function or
    class name) or ``"<module>"`` for module-level code.  ``target`` is the
    fully qualified dotted name the expression resolves to through the
    module's imports, e.g. ``shop.catalog.models.Product`` for
    ``models.Product`` after ``from shop.catalog import models``; the longest
    attribute chain is kept.  ``calls`` counts the uses that are calls.

    ``start`` is the module the import statement that bound the name names
    by a ``from`` import (``shop.catalog`` for ``from shop.catalog import
    models``; ``""`` for ``import shop.catalog [as c]``, whose dotted path is
    attribute access from ``shop``): the part of ``target`` up
    to it is found in ``sys.modules``, the rest is attribute access, where a
    package's own binding wins over its submodule of the same name
    (``decompose.analysis.resolve.use_module``).
    """

    scope: str
    target: str
    count: int
    calls: int = 0
    line: int = 0  # first line where the use occurs
    start: str = ""
    #: the calls' argument slots, over every call of the use: ``#0``, ``#1`` ... positional,
    #: keyword names, ``*`` / ``**`` for unpacked arguments; None when not a call
    args: list[str] | None = None


@dataclass(slots=True)
class Route:
    """An HTTP route declared with a decorator (Flask, FastAPI, Starlette...)."""

    function: str  # top-level function the route decorates
    path: str
    methods: list[str]
    decorator: str  # decorator callee as written, e.g. "bp.route" or "router.get"
    line: int


@dataclass(slots=True)
class DataAccess:
    """A table the module defines (ORM model / Table) or touches via raw SQL."""

    table: str
    how: str  # "model" (defines an ORM model), "table" (sqlalchemy Table()), "sql" (raw SQL string)
    line: int
    symbol: str | None = None  # the model class for how == "model"


@dataclass(slots=True)
class ModelRelation:
    """A relation field of an ORM model class (Django ``ForeignKey``/``ManyToManyField``/``OneToOneField``)."""

    model: str  # the model class defining the field
    field: str  # the field's name
    kind: str  # "ForeignKey" | "ManyToManyField" | "OneToOneField"
    target: str  # as written if a string ("app.Model", "Model", "self"), else the dotted name it resolves to
    app_label: str  # the defining model's app label (Meta.app_label or its package)
    line: int


@dataclass(slots=True)
class GlobalWrite:
    """A function that rebinds or mutates a module-level name (``global x`` etc.)."""

    scope: str
    name: str
    line: int


@dataclass(slots=True)
class ModuleFacts:
    module: str  # dotted module name, e.g. "shop.orders.service"
    path: str  # path relative to the analysed root, POSIX separators
    is_package: bool  # True for ``__init__.py``
    imports: list[ImportFact] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    uses: list[SymbolUse] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    data: list[DataAccess] = field(default_factory=list)
    global_writes: list[GlobalWrite] = field(default_factory=list)
    lines: int = 0  # physical lines of source
    relations: list[ModelRelation] = field(default_factory=list)  # ORM relation fields of its models

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModuleFacts":
        return cls(
            module=d["module"],
            path=d["path"],
            is_package=d["is_package"],
            imports=[ImportFact(**i) for i in d.get("imports", [])],
            definitions=[
                Definition(**{**x, "params": [Param(**p) for p in x.get("params", [])]})
                for x in d.get("definitions", [])
            ],
            uses=[SymbolUse(**u) for u in d.get("uses", [])],
            routes=[Route(**r) for r in d.get("routes", [])],
            data=[DataAccess(**a) for a in d.get("data", [])],
            global_writes=[GlobalWrite(**g) for g in d.get("global_writes", [])],
            lines=d.get("lines", 0),
            relations=[ModelRelation(**r) for r in d.get("relations", [])],
        )


@dataclass(slots=True)
class SkippedFile:
    """A file that could not be analysed, with a one-line reason."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
