"""SQL in string literals: a small tokeniser and the tables a statement names.

:func:`sql_tables` is pure text in, table names out; :data:`RAW_SQL_HEAD` and
:data:`SQL_HEAD` are the cheap prefilters the walker applies to string
literals (raw source and f-string text) before paying for the tokeniser.
Which literals are looked at at all (not docstrings, implicit concatenations
joined) is decided in :mod:`decompose.analysis.parse.tables`.
"""

from __future__ import annotations

import re

#: A string literal's *source* (prefix, quotes, escapes) that starts like a SQL statement.
RAW_SQL_HEAD = re.compile(
    r"[a-zA-Z]{0,3}(?:\"\"\"|'''|\"|')(?:\s|\\[ntr])*(?:select|insert|update|delete|with)\b",
    re.IGNORECASE,
)
#: Decoded text that starts like a SQL statement (group 1: the keyword).
SQL_HEAD = re.compile(r"\s*(select|insert|update|delete|with)\b", re.IGNORECASE)
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
#: Schemas of the engines' own catalogs: ``information_schema.tables``, ``pg_catalog.pg_class``.
CATALOG_SCHEMAS = frozenset({"information_schema", "pg_catalog", "sys", "mysql", "performance_schema"})
#: The engines' own tables read without a schema (SQLite's schema table, PostgreSQL's catalogs).
CATALOG_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema",
                            "sqlite_sequence", "sqlite_stat1", "pg_tables", "pg_class", "pg_namespace",
                            "pg_indexes", "pg_stat_activity", "pg_database"})


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
    Schema prefixes and identifier quotes are stripped, the engines' own catalogs
    (``sqlite_master``, ``information_schema.tables``) are no tables, sub-queries and
    function-style ``FROM`` (``EXTRACT(YEAR FROM d)``) are skipped, CTE names
    are not tables.  Order of first appearance, no duplicates.
    """
    m = SQL_HEAD.match(text)
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
        schema = ""
        i += 1
        while i + 1 < n and toks[i] == ("p", ".") and toks[i + 1][0] in ("w", "id"):
            schema, name = name, toks[i + 1][1]
            i += 2
        if schema.lower() in CATALOG_SCHEMAS or name.lower() in CATALOG_TABLES:
            name = ""  # the engine's own catalog, no table of the app
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
