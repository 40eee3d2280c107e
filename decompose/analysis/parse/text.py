"""The file as text: decoding its bytes, explaining why it cannot be parsed, counting its lines.

Owns :class:`ParseFailure` (the one exception the parser raises on purpose),
PEP 263 / BOM decoding, the one-line reason for a syntax error and the line
count reported in ``ModuleFacts.lines``.  Nothing here knows LibCST nodes.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

_BOM = b"\xef\xbb\xbf"
#: ``\r\n``, ``\r`` and ``\n`` each end one line (what LibCST and the interpreter count).
NEWLINES = re.compile(r"\r\n|\r|\n")
_LIBCST_POS = re.compile(r"error at (\d+):(\d+): ")


class ParseFailure(Exception):
    """The file cannot be analysed; ``str(exc)`` is a one-line human reason."""


def decode(source: bytes) -> str:
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


def syntax_reason(text: str, path: str, exc: Exception) -> str:
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


def count_lines(text: str) -> int:
    """Number of lines, a last line without its newline included."""
    if not text:
        return 0
    n = len(NEWLINES.findall(text)) if "\r" in text else text.count("\n")
    if not text.endswith(("\n", "\r")):
        n += 1
    return n
