"""Extract :class:`~decompose.analysis.facts.ModuleFacts` from one Python file with LibCST.

Public API
----------
``parse_module(source, module, path, is_package) -> ModuleFacts``
    Pure function of the file's bytes (no disk access).  Raises
    :class:`ParseFailure` (a one-line human reason) for undecodable bytes or
    syntax errors.

How it works (and why it is fast)
---------------------------------
LibCST's own machinery is the expensive part: on Django 5.2 a no-op
``CSTVisitor`` pass costs about as much as code generation x3, and
``MetadataWrapper`` + ``PositionProvider`` roughly doubles the parse time
again.  So the extractor does two cheap passes over the tree:

1. a *statement-only* scan (``_Scanner``) that records, per function/class
   body, which names are bound locally (parameters, assignments, ``for``/
   ``with``/``except`` targets, nested defs) and which are bound by imports,
   plus the module-level import bindings and mutable globals.  It never looks
   inside expressions, so it is cheap, and it lets a use that comes *before*
   the import that binds it (a function body above a module-level import) be
   resolved correctly.
2. one *code-generation* pass (``_Walker``): LibCST regenerates the source
   token by token and calls ``before_codegen``/``after_codegen`` on every
   node in source order.  The walker counts newlines in the emitted tokens, so
   the current line number is always known (this is how ``PositionProvider``
   works, minus its per-node bookkeeping), and dispatches enter/leave events
   by node type to the handlers that collect imports, definitions, uses,
   routes, data access and global writes.

Measured on Django 5.2 (CPU time, one process): the extraction walk costs
about a third of ``libcst.parse_module`` itself, while ``MetadataWrapper`` +
``PositionProvider`` + a visitor would cost about three times the parse.

Robustness: a file that LibCST's native parser cannot handle raises
:class:`ParseFailure`; very deep nesting in the walk is retried once with a
higher recursion limit.  Pathologically deep expressions (thousands of chained
operators) can crash LibCST's *native* parser itself (LibCST issues #619,
#1000), which no Python code can catch: callers that analyse untrusted trees
should parse in worker processes.

Ordering of the output lists
----------------------------
* ``imports``: by (line, module), statement order kept for ties.
* ``definitions``: by line; a name bound several times at module level (if/else
  branches, ``try: import x / except: x = None``...) is reported once, at its
  first binding, with ``mutable`` true if *any* of its bindings is mutable.
* ``uses``: by (scope, target).
* ``routes``: by (line, function).
* ``data``: by (line, table, how); one entry per (table, how, symbol), first line.
* ``global_writes``: by (line, scope, name); one entry per (scope, name).

Conventions worth knowing
-------------------------
* Line of a function/class definition is the line of ``def``/``class`` (not of
  its first decorator); ``end_line`` the last line of its body.
* Route ``line`` is the line of the decorator call.
* SQL found in a multi-line string is reported at the string's first line.
* ``import_module(".x", __package__)`` resolves like ``from . import x``;
  with ``__name__`` as anchor the module itself is the package (that is what
  ``importlib`` does for a plain module).
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from typing import Any, Callable

import libcst as cst
from libcst._nodes.internal import CodegenState

from decompose.analysis.facts import (
    DataAccess,
    Definition,
    GlobalWrite,
    ImportFact,
    ModuleFacts,
    Param,
    Route,
    SymbolUse,
)

__all__ = ["ParseFailure", "parse_module"]


class ParseFailure(Exception):
    """The file cannot be analysed; ``str(exc)`` is a one-line human reason."""


# --------------------------------------------------------------------------- #
# entry point
# --------------------------------------------------------------------------- #


def parse_module(source: bytes, module: str, path: str, is_package: bool) -> ModuleFacts:
    """Parse one file's bytes and extract its facts.

    ``module`` is the file's dotted module name, ``is_package`` is true for an
    ``__init__.py`` (it changes what relative imports resolve to).
    """
    text = _decode(source)
    try:
        tree = cst.parse_module(text)
    except RecursionError:
        raise ParseFailure("code nested too deeply to parse") from None
    except Exception as exc:  # ParserSyntaxError, or a native parser error/panic
        raise ParseFailure(_syntax_reason(text, path, exc)) from None

    lines = _count_lines(text)
    facts = ModuleFacts(module=module, path=path, is_package=is_package, lines=lines)
    try:
        _Walker(tree, module, is_package, facts).run()
    except RecursionError:
        # Very long implicit string concatenations / operator chains (e.g. the
        # stdlib's pydoc_data/topics.py) nest deeper than the default limit.
        # The walk recurses through Python frames only, which do not use the C
        # stack since 3.11, so a higher limit is safe; it is restored at once.
        facts = ModuleFacts(module=module, path=path, is_package=is_package, lines=lines)
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, _DEEP_RECURSION_LIMIT))
        try:
            _Walker(tree, module, is_package, facts).run()
        except RecursionError:
            raise ParseFailure("code nested too deeply to analyse") from None
        finally:
            sys.setrecursionlimit(old)
    return facts


# --------------------------------------------------------------------------- #
# decoding / errors
# --------------------------------------------------------------------------- #

_BOM = b"\xef\xbb\xbf"
_DEEP_RECURSION_LIMIT = 50_000
_NEWLINES = re.compile(r"\r\n|\r|\n")
_LIBCST_POS = re.compile(r"error at (\d+):(\d+): ")


def _decode(source: bytes) -> str:
    """Decode honouring a BOM and PEP 263 coding cookies (like the interpreter)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError as exc:
        msg = str(exc)
        if not msg.startswith("invalid or missing encoding declaration"):
            raise ParseFailure(f"bad encoding declaration: {msg}") from None
        encoding = "utf-8"  # undecodable first lines without cookie: report the bad byte below
    offset = 0
    if encoding == "utf-8-sig" or source.startswith(_BOM):
        if source.startswith(_BOM):
            source, offset = source[3:], 3
        encoding = "utf-8"
    try:
        return source.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding == "utf-8" else encoding
        bad = exc.object[exc.start]
        raise ParseFailure(f"not valid {name} (byte 0x{bad:02x} at offset {exc.start + offset})") from None
    except LookupError:  # pragma: no cover - detect_encoding already checks the codec
        raise ParseFailure(f"unknown encoding: {encoding}") from None


def _syntax_reason(text: str, path: str, exc: Exception) -> str:
    """One-line reason for a file LibCST rejected.

    LibCST's native parser reports unreliable positions (often the line after
    the error), so the reason comes from CPython's own parser when it agrees
    that the code is invalid; this costs nothing on the happy path.
    """
    try:
        compile(text, path or "<unknown>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as err:
        msg = " ".join(str(err.msg).split())
        return f"syntax error at line {err.lineno}: {msg}" if err.lineno else f"syntax error: {msg}"
    except (ValueError, RecursionError, MemoryError) as err:
        return f"syntax error: {' '.join(str(err).split()) or type(err).__name__}"
    message = " ".join(str(getattr(exc, "message", exc)).split()) or type(exc).__name__
    if message.startswith("parser error: "):
        message = message[len("parser error: ") :]
    m = _LIBCST_POS.match(message)
    if m:
        return f"LibCST cannot parse line {m.group(1)}: {message[m.end():]}"
    line = getattr(exc, "raw_line", None)
    return f"LibCST cannot parse line {line}: {message}" if line else f"LibCST cannot parse: {message}"


def _count_lines(text: str) -> int:
    if not text:
        return 0
    n = len(_NEWLINES.findall(text)) if "\r" in text else text.count("\n")
    if not text.endswith(("\n", "\r")):
        n += 1
    return n


# --------------------------------------------------------------------------- #
# small helpers over nodes
# --------------------------------------------------------------------------- #

Name = cst.Name
Attribute = cst.Attribute
SimpleString = cst.SimpleString
IndentedBlock = cst.IndentedBlock

_MUTABLE_LITERALS = (cst.List, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp)
_MUTABLE_FACTORIES = frozenset(
    {"list", "dict", "set", "defaultdict", "OrderedDict", "deque", "Counter"}
)
_COLLECTIONS_FACTORIES = frozenset(
    {"collections.defaultdict", "collections.OrderedDict", "collections.deque", "collections.Counter"}
)
_MUTATORS = frozenset(
    {
        "append", "update", "add", "pop", "clear", "setdefault", "extend", "remove",
        "insert", "discard", "popitem", "appendleft", "popleft", "extendleft",
    }
)
_ROUTE_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
_ROUTE_GENERIC = frozenset({"route", "api_route"})
_CONDITIONAL = (cst.If, cst.Try, cst.TryStar, cst.With, cst.For, cst.While, cst.Match)


def _dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while node.__class__ is Attribute:
        parts.append(node.attr.value)
        node = node.value
    if node.__class__ is not Name:
        return None
    parts.append(node.value)
    parts.reverse()
    return ".".join(parts)


def _target_names(node: cst.BaseExpression, out: list[cst.Name]) -> None:
    """Bare names bound by an assignment target (tuples/lists/starred unpacked)."""
    cls = node.__class__
    if cls is Name:
        out.append(node)
    elif cls is cst.Tuple or cls is cst.List:
        for el in node.elements:
            _target_names(el.value, out)
    elif cls is cst.StarredElement:
        _target_names(node.value, out)


def _bound_values(target: Any, value: Any, out: list[tuple[str, Any]]) -> None:
    """``(name, value)`` pairs bound by ``target = value``.

    Tuple/list targets are matched element-wise against a tuple/list value of
    the same length (``a, b = [], {}``); otherwise the value is unknown (None).
    """
    cls = target.__class__
    if cls is Name:
        out.append((target.value, value))
    elif cls is cst.Tuple or cls is cst.List:
        values = None
        if value is not None and value.__class__ in (cst.Tuple, cst.List):
            values = value.elements
            if len(values) != len(target.elements) or any(
                v.__class__ is cst.StarredElement for v in values
            ):
                values = None
        for i, el in enumerate(target.elements):
            _bound_values(el.value, values[i].value if values is not None else None, out)
    elif cls is cst.StarredElement:
        _bound_values(target.value, None, out)


def _string_value(node: cst.BaseExpression) -> str | None:
    """Value of a plain (non f-) string literal, implicit concatenations included."""
    if node.__class__ is SimpleString:
        try:
            v = node.evaluated_value
        except Exception:
            return None
        return v.decode("latin-1") if isinstance(v, bytes) else v
    if node.__class__ is cst.ConcatenatedString:
        left, right = _string_value(node.left), _string_value(node.right)
        if left is None or right is None:
            return None
        return left + right
    return None


def _is_type_checking(test: cst.BaseExpression) -> bool:
    if test.__class__ is Name:
        return test.value == "TYPE_CHECKING"
    return test.__class__ is Attribute and test.attr.value == "TYPE_CHECKING"


def _param_nodes(params: cst.Parameters) -> list[tuple[cst.Param, str]]:
    out = [(p, "positional_only") for p in params.posonly_params]
    out += [(p, "positional") for p in params.params]
    if isinstance(params.star_arg, cst.Param):
        out.append((params.star_arg, "var_positional"))
    out += [(p, "keyword_only") for p in params.kwonly_params]
    if params.star_kwarg is not None:
        out.append((params.star_kwarg, "var_keyword"))
    return out


def resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """Absolute module for ``from <level dots><name> import ...`` in ``module``.

    Returns ``""`` when the import climbs above the top-level package.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level > len(package) or not module:
        return ""
    base = package[: len(package) - (level - 1)]
    if name:
        base.append(name)
    return ".".join(base)


# --------------------------------------------------------------------------- #
# pass 1: statement-level scan of bindings
# --------------------------------------------------------------------------- #


class _Frame:
    """Names bound in one function / class / lambda body."""

    __slots__ = ("is_class", "bound", "imports", "globals", "nonlocals")

    def __init__(self, is_class: bool = False) -> None:
        self.is_class = is_class
        self.bound: set[str] = set()
        self.imports: dict[str, str] = {}
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()


class _Scanner:
    """Walks statements only (never expressions) to find where names are bound."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.module_imports: dict[str, str] = {}
        self.import_names: set[str] = set()
        self.frames: dict[int, _Frame] = {}  # id(FunctionDef|ClassDef) -> frame
        self.module_assigns: list[tuple[str, cst.BaseExpression | None]] = []

    # -- imports ---------------------------------------------------------------
    def import_module_name(self, node: cst.ImportFrom) -> str:
        name = _dotted(node.module) if node.module is not None else None
        level = len(node.relative)
        if level:
            return resolve_relative(self.module, self.is_package, level, name)
        return name or ""

    def import_bindings(self, node: cst.Import | cst.ImportFrom) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if node.__class__ is cst.Import:
            for alias in node.names:
                dotted = _dotted(alias.name) or ""
                if alias.asname is not None and alias.asname.name.__class__ is Name:
                    out.append((alias.asname.name.value, dotted))
                else:
                    top = dotted.split(".", 1)[0]
                    out.append((top, top))
            return out
        if isinstance(node.names, cst.ImportStar):
            return out
        base = self.import_module_name(node)
        if not base:
            return out
        for alias in node.names:
            imported = _dotted(alias.name) or ""
            local = imported
            if alias.asname is not None and alias.asname.name.__class__ is Name:
                local = alias.asname.name.value
            out.append((local, f"{base}.{imported}"))
        return out

    # -- statements ------------------------------------------------------------
    def scan_module(self, tree: cst.Module) -> None:
        self._block(tree.body, None)

    def _suite(self, suite: cst.BaseSuite, frame: _Frame | None) -> None:
        if suite.__class__ is IndentedBlock:
            self._block(suite.body, frame)
        else:
            for small in suite.body:
                self._small(small, frame)

    def _bind(self, frame: _Frame | None, names: list[cst.Name]) -> None:
        if frame is not None:
            for n in names:
                frame.bound.add(n.value)

    def _block(self, body: Any, frame: _Frame | None) -> None:
        for st in body:
            cls = st.__class__
            if cls is cst.SimpleStatementLine:
                for small in st.body:
                    self._small(small, frame)
            elif cls is cst.FunctionDef:
                if frame is not None:
                    frame.bound.add(st.name.value)
                inner = _Frame()
                for p, _kind in _param_nodes(st.params):
                    inner.bound.add(p.name.value)
                self.frames[id(st)] = inner
                self._suite(st.body, inner)
                inner.bound -= inner.globals | inner.nonlocals
            elif cls is cst.ClassDef:
                if frame is not None:
                    frame.bound.add(st.name.value)
                inner = _Frame(is_class=True)
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
                _target_names(st.target, names)
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
                        _target_names(item.asname.name, names)
                        self._bind(frame, names)
                self._suite(st.body, frame)
            elif cls is cst.Match:
                for case in st.cases:
                    self._suite(case.body, frame)

    def _small(self, small: Any, frame: _Frame | None) -> None:
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
                _target_names(t.target, names)
            if frame is None:
                self._module_assign(small.targets, small.value)
            else:
                self._bind(frame, names)
        elif cls is cst.AnnAssign:
            if frame is None:
                if small.value is not None:
                    _bound_values(small.target, small.value, self.module_assigns)
            elif small.target.__class__ is Name:
                frame.bound.add(small.target.value)
        elif cls is cst.AugAssign or cls is cst.Del:
            if frame is not None:
                names = []
                _target_names(small.target, names)
                self._bind(frame, names)
        elif cls is cst.Global:
            if frame is not None:
                frame.globals.update(n.name.value for n in small.names)
        elif cls is cst.Nonlocal:
            if frame is not None:
                frame.nonlocals.update(n.name.value for n in small.names)

    def _module_assign(self, targets: Any, value: cst.BaseExpression) -> None:
        for t in targets:
            _bound_values(t.target, value, self.module_assigns)

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
        dotted = _dotted(func)
        if dotted is None:
            return False
        head, _, rest = dotted.partition(".")
        base = self.module_imports.get(head, head)
        return f"{base}.{rest}" in _COLLECTIONS_FACTORIES


# --------------------------------------------------------------------------- #
# SQL in string literals
# --------------------------------------------------------------------------- #

_RAW_SQL_HEAD = re.compile(
    r"[a-zA-Z]{0,3}(?:\"\"\"|'''|\"|')(?:\s|\\[ntr])*(?:select|insert|update|delete|with)\b",
    re.IGNORECASE,
)
_SQL_HEAD = re.compile(r"\s*(select|insert|update|delete|with)\b", re.IGNORECASE)
_SQL_TOKEN = re.compile(
    r"\"((?:[^\"]|\"\")*)\"|`([^`]*)`|\[([^\]]*)\]|'(?:[^']|'')*'|([^\W\d][\w$]*)|(\S)"
)
_SQL_QUERY = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"})
_SQL_RESERVED = frozenset(
    {
        "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "FROM", "INTO", "JOIN", "WHERE",
        "SET", "VALUES", "ON", "USING", "GROUP", "ORDER", "LIMIT", "OFFSET", "AS", "AND",
        "OR", "NOT", "LEFT", "RIGHT", "INNER", "OUTER", "CROSS", "FULL", "NATURAL",
        "UNION", "EXCEPT", "INTERSECT", "HAVING", "WINDOW", "RETURNING", "DEFAULT",
        "LATERAL", "ONLY", "NULL", "TRUE", "FALSE", "FOR", "WHEN", "THEN", "ELSE",
        "END", "CASE", "IN", "IS", "EXISTS", "SELECT", "DISTINCT", "ALL", "BY",
    }
)
_NOT_A_TABLE_CHARS = re.compile(r"[%{}:?\s]")


def _sql_tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for m in _SQL_TOKEN.finditer(text):
        dq, bq, br, word, other = m.groups()
        if word is not None:
            out.append(("w", word))
        elif dq is not None:
            out.append(("id", dq.replace('""', '"')))
        elif bq is not None:
            out.append(("id", bq))
        elif br is not None:
            out.append(("id", br))
        elif other is not None:
            out.append(("p", other))
        else:
            out.append(("s", m.group(0)))
    return out


def sql_tables(text: str) -> list[str]:
    """Tables a SQL statement reads or writes (after FROM/JOIN/INTO/UPDATE).

    Returns [] unless ``text`` looks like SQL: it must start with
    SELECT/INSERT/UPDATE/DELETE/WITH written all upper- or all lower-case (so
    prose such as "Update the cache" is not SQL) and have the statement's
    shape (INSERT INTO, DELETE FROM, UPDATE t ... SET, WITH x AS (...)).
    Schema prefixes and identifier quotes are stripped, sub-queries and
    function-style ``FROM`` (``EXTRACT(YEAR FROM d)``) are skipped, CTE names
    are not tables.  Order of first appearance, no duplicates.
    """
    m = _SQL_HEAD.match(text)
    if m is None:
        return []
    head = m.group(1)
    if not (head.isupper() or head.islower()) or text.rstrip().endswith("."):
        return []
    toks = _sql_tokens(text)
    words = [v.upper() if k == "w" else None for k, v in toks]
    n = len(toks)
    kw = head.upper()
    if kw == "INSERT" and (n < 2 or words[1] != "INTO"):
        return []
    if kw == "DELETE" and (n < 2 or words[1] != "FROM"):
        return []
    if kw == "UPDATE" and "SET" not in words:
        return []
    ctes: set[str] = set()
    for i in range(n - 2):
        if toks[i][0] in ("w", "id") and words[i] not in _SQL_RESERVED:
            j = i + 1
            if toks[j] == ("p", "("):  # name (col, ...) AS (
                depth = 0
                while j < n:
                    if toks[j] == ("p", "("):
                        depth += 1
                    elif toks[j] == ("p", ")"):
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                j += 1
            if j + 1 < n and words[j] == "AS" and toks[j + 1] == ("p", "("):
                ctes.add(toks[i][1].lower())
    if kw == "WITH" and not ctes:
        return []

    tables: list[str] = []
    stack = [True]  # per parenthesis depth: has a query keyword been seen at this level?
    prev: str | None = None
    i = 0
    while i < n:
        kind, val = toks[i]
        if kind == "p":
            if val == "(":
                stack.append(False)
            elif val == ")" and len(stack) > 1:
                stack.pop()
            prev = None
            i += 1
            continue
        word = words[i]
        if word is None:
            prev = None
            i += 1
            continue
        if word in _SQL_QUERY:
            stack[-1] = True
        is_ref = word in ("FROM", "JOIN", "INTO") or (
            word == "UPDATE" and prev not in ("FOR", "DO", "KEY")
        )
        if is_ref and stack[-1] and not (word == "FROM" and prev == "DISTINCT"):
            i = _read_table_refs(toks, words, i + 1, tables, ctes, from_clause=word in ("FROM", "JOIN"))
            prev = None
            continue
        prev = word
        i += 1
    seen: set[str] = set()
    return [t for t in tables if not (t in seen or seen.add(t))]


def _read_table_refs(
    toks: list[tuple[str, str]],
    words: list[str | None],
    i: int,
    tables: list[str],
    ctes: set[str],
    from_clause: bool,
) -> int:
    n = len(toks)
    while True:
        while i < n and words[i] in ("ONLY", "LATERAL"):
            i += 1
        if i >= n or toks[i][0] not in ("w", "id") or words[i] in _SQL_RESERVED:
            return i
        name = toks[i][1]
        i += 1
        while i + 1 < n and toks[i] == ("p", ".") and toks[i + 1][0] in ("w", "id"):
            name = toks[i + 1][1]
            i += 2
        if from_clause and i < n and toks[i] == ("p", "("):  # FROM generate_series(...)
            return i
        if name and not _NOT_A_TABLE_CHARS.search(name) and name.lower() not in ctes:
            tables.append(name)
        if not from_clause:
            return i
        if i < n and words[i] == "AS":
            i += 1
        if i < n and toks[i][0] in ("w", "id") and words[i] not in _SQL_RESERVED:
            i += 1  # alias
        if i < n and toks[i] == ("p", ","):
            i += 1
            continue
        return i


# --------------------------------------------------------------------------- #
# pass 2: source-order walk piggy-backing on code generation
# --------------------------------------------------------------------------- #


class _NullContext:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


_NULL_CONTEXT = _NullContext()


class _ActiveFrame:
    __slots__ = ("frame", "block", "is_func")

    def __init__(self, frame: _Frame, block: Any, is_func: bool) -> None:
        self.frame = frame
        self.block = block
        self.is_func = is_func


class _Walker(CodegenState):
    """Code generation that emits nothing but tracks the line and dispatches events."""

    def __init__(self, tree: cst.Module, module: str, is_package: bool, facts: ModuleFacts) -> None:
        super().__init__(default_indent=tree.default_indent, default_newline=tree.default_newline)
        self.tree = tree
        self.module = module
        self.is_package = is_package
        self.facts = facts
        self.line = 1
        self.last_stmt_line = 1  # line of the latest end-of-statement newline

        scan = _Scanner(module, is_package)
        scan.scan_module(tree)
        self.scan = scan
        self.module_imports = scan.module_imports
        self.names = scan.import_names
        self.frame_info = scan.frames
        self.mutable_globals = {name for name, value in scan.module_assigns if scan.is_mutable(value)}

        self.frames: list[_ActiveFrame] = []
        self.pending_frames: dict[int, tuple[_Frame, bool]] = {}
        self.func_depth = 0
        self.cond_depth = 0
        self.tc_depth = 0
        self.tc_bodies: set[int] = set()
        self.suppress = 0  # inside an import statement
        self.ignore: set[int] = set()  # Name/Attribute nodes that are not references
        self.callees: set[int] = set()
        self.strings_done: set[int] = set()
        self.line_hooks: dict[int, list[Any]] = {}
        self.end_hooks: dict[int, list[Definition]] = {}
        self.assign_defs: list[Definition] = []

        self.scope = "<module>"
        self.scope_node: Any = None
        self.uses: dict[tuple[str, str], list[int]] = {}
        self.definitions: list[Definition] = []
        self.global_writes: dict[tuple[str, str], int] = {}
        self.data: list[DataAccess] = []
        self.code = tree.code_for_node

    # -- CodegenState overrides ------------------------------------------------
    def add_token(self, value: str) -> None:
        if "\n" in value:
            self.line += len(_NEWLINES.findall(value)) if "\r" in value else value.count("\n")
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
        self._finish()

    def _finish(self) -> None:
        f = self.facts
        f.imports.sort(key=lambda i: (i.line, i.module))
        # definitions: one per name, first binding wins, mutable if any binding is
        first: dict[str, Definition] = {}
        for d in sorted(self.definitions, key=lambda d: d.line):
            if d.name not in first:
                first[d.name] = d
            elif d.mutable and first[d.name].kind == "variable":
                first[d.name].mutable = True
        f.definitions = list(first.values())
        f.uses = [
            SymbolUse(scope=s, target=t, count=c, calls=k, line=l)
            for (s, t), (c, k, l) in sorted(self.uses.items())
        ]
        f.routes.sort(key=lambda r: (r.line, r.function))
        seen: set[tuple[str, str, str | None]] = set()
        data = []
        for d in sorted(self.data, key=lambda d: d.line):
            key = (d.table, d.how, d.symbol)
            if key not in seen:
                seen.add(key)
                data.append(d)
        f.data = sorted(data, key=lambda d: (d.line, d.table, d.how))
        f.global_writes = [
            GlobalWrite(scope=s, name=n, line=l)
            for (s, n), l in sorted(self.global_writes.items(), key=lambda kv: (kv[1], kv[0]))
        ]

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

    def _use(self, target: str, node: Any) -> None:
        key = (self.scope, target)
        call = 1 if id(node) in self.callees else 0
        rec = self.uses.get(key)
        if rec is None:
            self.uses[key] = [1, call, self.line]
        else:
            rec[0] += 1
            rec[1] += call

    def _ignore_targets(self, target: Any) -> list[cst.Name]:
        names: list[cst.Name] = []
        _target_names(target, names)
        for n in names:
            if n.value in self.names:
                self.ignore.add(id(n))
        return names

    def _hook_line(self, node: Any, obj: Any) -> None:
        self.line_hooks.setdefault(id(node), []).append(obj)

    def _fire_hooks(self, node: Any) -> None:
        objs = self.line_hooks.pop(id(node), None)
        if objs:
            for obj in objs:
                obj.line = self.line

    def _context(self) -> str:
        if self.func_depth:
            return "function"
        if self.tc_depth:
            return "type_checking"
        if self.cond_depth:
            return "conditional"
        return "module"

    # -- global writes ---------------------------------------------------------
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
        if not self.func_depth:
            return
        fr = self.frames[-1].frame
        self._write_target(target, fr.globals)

    # ======================================================================= #
    # event handlers
    # ======================================================================= #

    def enter_name(self, node: cst.Name) -> None:
        if self.line_hooks:
            self._fire_hooks(node)
        value = node.value
        if value not in self.names or self.suppress or id(node) in self.ignore:
            return
        target = self._resolve(value)
        if target is not None:
            self._use(target, node)

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
        self._use(target + "." + ".".join(parts), node)

    def enter_call(self, node: cst.Call) -> None:
        if self.line_hooks:
            self._fire_hooks(node)
        func = node.func
        fcls = func.__class__
        if fcls is Name:
            self.callees.add(id(func))
            fname = func.value
        elif fcls is Attribute:
            self.callees.add(id(func))
            fname = func.attr.value
        else:
            return
        if fname == "import_module" or fname == "__import__":
            self._dynamic_import(node, func, fname)
        elif fname == "Table":
            self._table_call(node, func)
        elif fname in _MUTATORS and fcls is Attribute and self.func_depth:
            recv = func.value
            if recv.__class__ is Name and recv.value in self.mutable_globals:
                if self._is_module_global(recv.value):
                    self._record_write(recv.value)

    def _dynamic_import(self, node: cst.Call, func: Any, fname: str) -> None:
        if fname == "__import__":
            if func.__class__ is not Name:
                return
        else:
            dotted = _dotted(func)
            if dotted is None:
                return
            head, _, rest = dotted.partition(".")
            base = self._resolve(head) if head in self.names else None
            if base is None:
                return
            if (f"{base}.{rest}" if rest else base) != "importlib.import_module":
                return
        args = node.args
        if not args or args[0].keyword is not None or args[0].star:
            return
        name = _string_value(args[0].value)
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

    def _table_call(self, node: cst.Call, func: Any) -> None:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        if len(positional) < 2:
            return
        table = _string_value(positional[0].value)
        if not table or _string_value(positional[1].value) is not None:
            return
        dotted = _dotted(func)
        if dotted is not None:
            head, _, rest = dotted.partition(".")
            base = self._resolve(head) if head in self.names else None
            if base is not None and "sqlalchemy" not in base and not rest:
                return  # Table imported from something that is not SQLAlchemy
        self.data.append(DataAccess(table=table, how="table", line=self.line))

    # -- imports -------------------------------------------------------------------
    def enter_import(self, node: cst.Import) -> None:
        self.suppress += 1
        ctx = self._context()
        for alias in node.names:
            dotted = _dotted(alias.name) or ""
            asname = None
            if alias.asname is not None and alias.asname.name.__class__ is Name:
                asname = alias.asname.name.value
            self.facts.imports.append(
                ImportFact(module=dotted, names=[], line=self.line, context=ctx, alias=asname)
            )

    def enter_import_from(self, node: cst.ImportFrom) -> None:
        self.suppress += 1
        level = len(node.relative)
        module = self.scan.import_module_name(node)
        if isinstance(node.names, cst.ImportStar):
            names = ["*"]
        else:
            names = [_dotted(a.name) or "" for a in node.names]
        self.facts.imports.append(
            ImportFact(
                module=module, names=names, line=self.line,
                kind="relative" if level else "absolute", context=self._context(), level=level,
            )
        )

    def leave_import(self, node: Any) -> None:
        self.suppress -= 1

    # -- blocks, frames, contexts ----------------------------------------------------
    def enter_block(self, node: Any) -> None:
        pending = self.pending_frames.pop(id(node), None)
        if pending is not None:
            frame, is_func = pending
            self.frames.append(_ActiveFrame(frame, node, is_func))
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
        frame = _Frame()
        for p, _kind in _param_nodes(node.params):
            frame.bound.add(p.name.value)
            if p.name.value in self.names:
                self.ignore.add(id(p.name))
        self.frames.append(_ActiveFrame(frame, node, True))
        self.func_depth += 1

    def leave_lambda(self, node: cst.Lambda) -> None:
        self.frames.pop()
        self.func_depth -= 1

    def enter_if(self, node: cst.If) -> None:
        self.cond_depth += 1
        if _is_type_checking(node.test):
            self.tc_bodies.add(id(node.body))

    def enter_conditional(self, node: Any) -> None:
        self.cond_depth += 1

    def leave_conditional(self, node: Any) -> None:
        self.cond_depth -= 1

    def enter_for(self, node: cst.For) -> None:
        self.cond_depth += 1
        self._ignore_targets(node.target)
        self._writes(node.target)

    # -- definitions -------------------------------------------------------------------
    def enter_function(self, node: cst.FunctionDef) -> None:
        top = not self.frames
        frame = self.frame_info.get(id(node))
        if frame is None:  # pragma: no cover - every def is scanned
            frame = _Frame()
        self.pending_frames[id(node.body)] = (frame, True)
        if node.name.value in self.names:
            self.ignore.add(id(node.name))
        if not top:
            return
        self.scope = node.name.value
        self.scope_node = node
        code = self.code
        params = []
        for p, kind in _param_nodes(node.params):
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
        for dec in node.decorators:
            self._route(node, dec.decorator)

    def _route(self, fn: cst.FunctionDef, dec: Any) -> None:
        if dec.__class__ is not cst.Call or dec.func.__class__ is not Attribute:
            return
        attr = dec.func.attr.value
        if attr not in _ROUTE_METHODS and attr not in _ROUTE_GENERIC:
            return
        path = None
        methods: list[str] | None = None
        for i, arg in enumerate(dec.args):
            kw = arg.keyword.value if arg.keyword is not None else None
            if (kw is None and i == 0 and not arg.star) or kw in ("path", "rule"):
                if path is None:
                    path = _string_value(arg.value)
            elif kw == "methods":
                methods = []
                value = arg.value
                if value.__class__ in (cst.List, cst.Tuple, cst.Set):
                    for el in value.elements:
                        s = _string_value(el.value)
                        if s is not None:
                            methods.append(s.upper())
        if path is None:
            return
        if methods is None:
            methods = [attr.upper()] if attr in _ROUTE_METHODS else ["GET"]
        route = Route(function=fn.name.value, path=path, methods=methods, decorator=self.code(dec.func), line=0)
        self.facts.routes.append(route)
        self._hook_line(dec, route)

    def enter_class(self, node: cst.ClassDef) -> None:
        top = not self.frames
        frame = self.frame_info.get(id(node)) or _Frame(is_class=True)
        self.pending_frames[id(node.body)] = (frame, False)
        if node.name.value in self.names:
            self.ignore.add(id(node.name))
        name = node.name.value
        self._class_data(node)
        if not top:
            return
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
            methods=_methods(node.body),
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

    def _class_data(self, node: cst.ClassDef) -> None:
        tablename = None
        meta: dict[str, Any] = {}
        for st in _simple_assigns(node.body):
            target, value = st
            if target == "__tablename__":
                tablename = _string_value(value)
        for st in node.body.body if node.body.__class__ is IndentedBlock else ():
            if st.__class__ is cst.ClassDef and st.name.value == "Meta":
                for target, value in _simple_assigns(st.body):
                    meta[target] = value
        name = node.name.value
        if tablename:
            da = DataAccess(table=tablename, how="model", line=0, symbol=name)
        elif self._is_django_model(node):
            if _is_true(meta.get("abstract")) or _is_true(meta.get("proxy")):
                return
            table = _string_value(meta["db_table"]) if "db_table" in meta else None
            if not table:
                app = _string_value(meta["app_label"]) if "app_label" in meta else None
                table = f"{app or self._app_label()}_{name.lower()}"
            da = DataAccess(table=table, how="model", line=0, symbol=name)
        else:
            return
        self.data.append(da)
        self._hook_line(node.name, da)

    def _is_django_model(self, node: cst.ClassDef) -> bool:
        for arg in node.bases:
            dotted = _dotted(arg.value)
            if dotted is None:
                continue
            head, _, rest = dotted.partition(".")
            base = self._resolve(head) if head in self.names else None
            if base is not None:
                full = f"{base}.{rest}" if rest else base
                if full in ("django.db.models.Model", "django.db.models.base.Model"):
                    return True
            elif dotted in ("models.Model", "Model"):
                return True
        return False

    def _app_label(self) -> str:
        parts = self.module.split(".")
        parent = parts[:-1] or parts
        if len(parent) > 1 and parent[-1] == "models":
            parent = parent[:-1]
        return parent[-1] if parent else ""

    # -- statements with targets ---------------------------------------------------------
    def enter_assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._ignore_targets(t.target)
            if not self.frames:
                self._module_variables(t.target, node.value)
            else:
                self._writes(t.target)

    def enter_ann_assign(self, node: cst.AnnAssign) -> None:
        self._ignore_targets(node.target)
        if node.value is None:
            return  # a bare annotation binds nothing
        if not self.frames:
            self._module_variables(node.target, node.value)
        else:
            self._writes(node.target)

    def enter_aug_assign(self, node: cst.AugAssign) -> None:
        self._ignore_targets(node.target)
        if self.frames:
            self._writes(node.target)

    def enter_del(self, node: cst.Del) -> None:
        self._ignore_targets(node.target)
        if self.frames:
            self._writes(node.target)

    def _module_variables(self, target: Any, value: Any) -> None:
        """Module-level ``target = value``: one variable Definition per bound name."""
        pairs: list[tuple[str, Any]] = []
        _bound_values(target, value, pairs)
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

    def enter_trailing_whitespace(self, node: Any) -> None:
        self.last_stmt_line = self.line

    # -- strings -----------------------------------------------------------------------
    def enter_expr(self, node: cst.Expr) -> None:
        value = node.value  # a bare string statement is a docstring/comment, not SQL
        if value.__class__ is SimpleString or value.__class__ is cst.FormattedString:
            self.strings_done.add(id(value))
        elif value.__class__ is cst.ConcatenatedString:
            self._string_leaves(value)

    def enter_simple_string(self, node: cst.SimpleString) -> None:
        if _RAW_SQL_HEAD.match(node.value) is None or id(node) in self.strings_done:
            return
        text = _string_value(node)
        if text:
            self._sql(text)

    def enter_formatted_string(self, node: cst.FormattedString) -> None:
        if id(node) in self.strings_done:
            return
        text = _fstring_text(node)
        if _SQL_HEAD.match(text):
            self._sql(text)

    def _string_leaves(self, node: cst.ConcatenatedString) -> list[Any]:
        """Parts of an implicit concatenation, all marked as handled."""
        done = self.strings_done
        leaves: list[Any] = []
        stack: list[Any] = [node]
        while stack:
            cur = stack.pop()
            done.add(id(cur))
            if cur.__class__ is cst.ConcatenatedString:
                stack.append(cur.right)
                stack.append(cur.left)
            else:
                leaves.append(cur)
        return leaves

    def enter_concatenated_string(self, node: cst.ConcatenatedString) -> None:
        if id(node) in self.strings_done:  # docstring, or inside an outer concatenation
            return
        leaves = self._string_leaves(node)
        first = leaves[0]
        if first.__class__ is SimpleString:
            if _RAW_SQL_HEAD.match(first.value) is None:
                return
        elif first.__class__ is cst.FormattedString:
            if not _SQL_HEAD.match(_fstring_text(first)):
                return
        else:
            return
        pieces = []
        for leaf in leaves:
            if leaf.__class__ is SimpleString:
                s = _string_value(leaf)
                if s is None:
                    return
                pieces.append(s)
            else:
                pieces.append(_fstring_text(leaf))
        self._sql("".join(pieces))

    def _sql(self, text: str) -> None:
        for table in sql_tables(text):
            self.data.append(DataAccess(table=table, how="sql", line=self.line))


def _fstring_text(node: cst.FormattedString) -> str:
    return "".join(
        p.value if p.__class__ is cst.FormattedStringText else "{}" for p in node.parts
    )


def _is_true(node: Any) -> bool:
    return node is not None and node.__class__ is Name and node.value == "True"


def _simple_assigns(suite: cst.BaseSuite) -> list[tuple[str, Any]]:
    """``(name, value)`` for ``name = value`` / ``name: T = value`` directly in a body."""
    out: list[tuple[str, Any]] = []
    smalls: list[Any] = []
    if suite.__class__ is IndentedBlock:
        for st in suite.body:
            if st.__class__ is cst.SimpleStatementLine:
                smalls.extend(st.body)
    else:
        smalls.extend(suite.body)
    for small in smalls:
        if small.__class__ is cst.Assign:
            for t in small.targets:
                if t.target.__class__ is Name:
                    out.append((t.target.value, small.value))
        elif small.__class__ is cst.AnnAssign and small.value is not None:
            if small.target.__class__ is Name:
                out.append((small.target.value, small.value))
    return out


def _methods(suite: cst.BaseSuite) -> list[str]:
    """Names of the functions defined in a class body (also under if/try/with)."""
    out: list[str] = []
    if suite.__class__ is not IndentedBlock:
        return out
    stack = list(reversed(suite.body))
    while stack:
        st = stack.pop()
        cls = st.__class__
        if cls is cst.FunctionDef:
            if st.name.value not in out:
                out.append(st.name.value)
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


_W = _Walker
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
    cst.FunctionDef: _W.leave_def,
    cst.ClassDef: _W.leave_def,
    cst.Assign: _W.leave_assign,
    cst.AnnAssign: _W.leave_assign,
}


def parse_safely(source: bytes, module: str, path: str, is_package: bool) -> tuple[ModuleFacts | None, str | None]:
    """``parse_module`` that never raises: (facts, None) or (None, one-line reason).

    A parser bug or a pathological file must not lose the rest of an analysis
    or a check, so every exception becomes the file's skip reason.
    """
    try:
        return parse_module(source, module, path, is_package), None
    except ParseFailure as exc:
        return None, str(exc)
    except RecursionError:
        return None, "too deeply nested to parse"
    except Exception as exc:  # noqa: BLE001 - reported per file, see above
        return None, f"internal parser error: {type(exc).__name__}: {exc}"
