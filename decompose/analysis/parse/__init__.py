"""Extract :class:`~decompose.analysis.facts.ModuleFacts` from one Python file with LibCST.

Public API
----------
``parse_module(source, module, path, is_package) -> ModuleFacts``
    Pure function of the file's bytes (no disk access).  Raises
    :class:`ParseFailure` (a one-line human reason) for undecodable bytes or
    syntax errors.
``parse_safely(...) -> (facts, None) | (None, reason)``
    The same, never raising (what the analysis and the check call).
``resolve_relative(module, is_package, level, name)``, ``sql_tables(text)``
    The relative-import and SQL-table rules, for callers that need them alone.

How it works (and why it is fast)
---------------------------------
LibCST's own machinery is the expensive part: on Django 5.2 a no-op
``CSTVisitor`` pass costs about as much as code generation x3, and
``MetadataWrapper`` + ``PositionProvider`` roughly doubles the parse time
again.  So the extractor does two cheap passes over the tree:

1. a *statement-only* scan (:class:`~.scopes.Scanner`) that records, per
   function/class body, which names are bound locally (parameters,
   assignments, ``for``/``with``/``except`` targets, nested defs) and which
   are bound by imports, plus the module-level import bindings and mutable
   globals.  It never looks inside expressions, so it is cheap, and it lets a
   use that comes *before* the import that binds it (a function body above a
   module-level import) be resolved correctly.
2. one *code-generation* pass (:class:`~.walker.Walker`): LibCST regenerates
   the source token by token and calls ``before_codegen``/``after_codegen`` on
   every node in source order.  The walker counts newlines in the emitted
   tokens, so the current line number is always known (this is how
   ``PositionProvider`` works, minus its per-node bookkeeping), and dispatches
   enter/leave events by node type to the handlers that collect imports,
   definitions, uses, routes, data access and global writes.

Modules
-------
``text``           decoding, syntax-error reasons, line count, :class:`ParseFailure`
``nodes``          pure helpers on LibCST nodes (dotted names, strings, targets)
``scopes``         pass 1 (``Scanner``) and the walk's scope stack / name resolution
``walker``         pass 2: line tracking, hooks, dispatch; composes the concerns:
``imports``        static and dynamic imports
``uses``           symbol uses with call counts
``definitions``    top-level functions, classes and variables
``routes``         route decorators (the framework-specific vocabulary)
``tables``         models, ``Table``, SQL strings (with ``sql``: SQL tokenising)
``global_writes``  writes to module state from functions

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

import sys

import libcst as cst

from decompose.analysis.facts import ModuleFacts
from decompose.analysis.parse.nodes import resolve_relative
from decompose.analysis.parse.sql import sql_tables
from decompose.analysis.parse.text import ParseFailure, count_lines, decode, syntax_reason
from decompose.analysis.parse.walker import Walker

__all__ = ["ParseFailure", "parse_module", "parse_safely", "resolve_relative", "sql_tables"]

_DEEP_RECURSION_LIMIT = 50_000


def parse_module(source: bytes, module: str, path: str, is_package: bool) -> ModuleFacts:
    """Parse one file's bytes and extract its facts.

    ``module`` is the file's dotted module name, ``is_package`` is true for an
    ``__init__.py`` (it changes what relative imports resolve to).
    """
    text = decode(source)
    try:
        tree = cst.parse_module(text)
    except RecursionError:
        raise ParseFailure("code nested too deeply to parse") from None
    except Exception as exc:  # ParserSyntaxError, or a native parser error/panic
        raise ParseFailure(syntax_reason(text, path, exc)) from None

    lines = count_lines(text)
    facts = ModuleFacts(module=module, path=path, is_package=is_package, lines=lines)
    try:
        Walker(tree, module, is_package, facts).run()
    except RecursionError:
        # Very long implicit string concatenations / operator chains (e.g. the
        # stdlib's pydoc_data/topics.py) nest deeper than the default limit.
        # The walk recurses through Python frames only, which do not use the C
        # stack since 3.11, so a higher limit is safe; it is restored at once.
        facts = ModuleFacts(module=module, path=path, is_package=is_package, lines=lines)
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, _DEEP_RECURSION_LIMIT))
        try:
            Walker(tree, module, is_package, facts).run()
        except RecursionError:
            raise ParseFailure("code nested too deeply to analyse") from None
        finally:
            sys.setrecursionlimit(old)
    return facts


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
