"""Data access: the tables a module defines or queries (``ModuleFacts.data``).

* ``model``: a class with ``__tablename__ = "t"`` (SQLAlchemy declarative), or
  a Django model (a base resolving to ``django.db.models.Model``, or spelled
  ``models.Model``/``Model``) that is neither abstract nor a proxy; its table
  is ``Meta.db_table`` or ``<app_label>_<classname lowercased>`` like Django's.
  Its relation fields (``ForeignKey``/``ManyToManyField``/``OneToOneField``,
  target as a string or the dotted name it resolves to) are
  ``ModuleFacts.relations``.
* ``table``: ``Table("t", metadata, ...)`` (SQLAlchemy Core) unless ``Table``
  is imported from a module that is not SQLAlchemy.
* ``migration``: an Alembic operation on ``op`` (``op.add_column("t", ...)``,
  ``op.create_table``, ``op.create_foreign_key(name, "src", "ref", ...)``... see
  :data:`ALEMBIC_TABLE_ARGS`): the tables a migration changes.
* ``sql``: a string literal (implicit concatenations and f-strings joined)
  whose text is a SQL statement, see :mod:`decompose.analysis.parse.sql`;
  a bare string statement (a docstring) is never SQL.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from decompose.analysis.facts import DataAccess, ModelRelation, ModuleFacts
from decompose.analysis.parse.nodes import (
    IndentedBlock,
    SimpleString,
    dotted,
    fstring_text,
    is_true,
    simple_assigns,
    string_value,
)
from decompose.analysis.parse.sql import RAW_SQL_HEAD, SQL_HEAD, sql_tables

_DJANGO_MODEL = ("django.db.models.Model", "django.db.models.base.Model")
#: Alembic operations naming tables: (positional indices, keywords) of the table names
ALEMBIC_TABLE_ARGS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "create_table": ((0,), ("table_name",)), "drop_table": ((0,), ("table_name",)),
    "rename_table": ((0, 1), ("old_table_name", "new_table_name")),
    "add_column": ((0,), ("table_name",)), "drop_column": ((0,), ("table_name",)),
    "alter_column": ((0,), ("table_name",)), "batch_alter_table": ((0,), ("table_name",)),
    "create_index": ((1,), ("table_name",)), "drop_index": ((1,), ("table_name",)),
    "create_foreign_key": ((1, 2), ("source_table", "referent_table")),
    "create_unique_constraint": ((1,), ("table_name",)), "create_primary_key": ((1,), ("table_name",)),
    "create_check_constraint": ((1,), ("table_name",)), "drop_constraint": ((1,), ("table_name",)),
    "create_table_comment": ((0,), ("table_name",)), "drop_table_comment": ((0,), ("table_name",)),
}
_RELATION_FIELDS = frozenset({"ForeignKey", "ManyToManyField", "OneToOneField"})


class TablesMixin:
    """Walker part: ``ModuleFacts.data``.

    State: ``data`` (every access, deduplicated at the end) and
    ``strings_done`` (ids of string nodes already handled: docstrings and the
    parts of an implicit concatenation).
    """

    def _init_tables(self) -> None:
        self.data: list[DataAccess] = []
        self.relations: list[ModelRelation] = []
        self.strings_done: set[int] = set()

    def _finish_tables(self, facts: ModuleFacts) -> None:
        # one entry per (table, how, symbol), first line
        seen: set[tuple[str, str, str | None]] = set()
        data = []
        for d in sorted(self.data, key=lambda d: d.line):
            key = (d.table, d.how, d.symbol)
            if key not in seen:
                seen.add(key)
                data.append(d)
        facts.data = sorted(data, key=lambda d: (d.line, d.table, d.how))
        facts.relations = sorted(self.relations, key=lambda r: (r.line, r.model, r.field))

    # -- models ----------------------------------------------------------------
    def _class_data(self, node: cst.ClassDef) -> None:
        """A class (at any depth) that maps a table."""
        tablename = None
        meta: dict[str, Any] = {}
        for st in simple_assigns(node.body):
            target, value = st
            if target == "__tablename__":
                tablename = string_value(value)
        for st in node.body.body if node.body.__class__ is IndentedBlock else ():
            if st.__class__ is cst.ClassDef and st.name.value == "Meta":
                for target, value in simple_assigns(st.body):
                    meta[target] = value
        name = node.name.value
        if tablename:
            da = DataAccess(table=tablename, how="model", line=0, symbol=name)
        elif self._is_django_model(node):
            if is_true(meta.get("abstract")) or is_true(meta.get("proxy")):
                return
            table = string_value(meta["db_table"]) if "db_table" in meta else None
            app = string_value(meta["app_label"]) if "app_label" in meta else None
            self._relations(node, name, app or self._app_label())
            if not table:
                table = f"{app or self._app_label()}_{name.lower()}"
            da = DataAccess(table=table, how="model", line=0, symbol=name)
        else:
            return
        self.data.append(da)
        self._hook_line(node.name, da)

    def _relations(self, node: cst.ClassDef, model: str, app_label: str) -> None:
        """``field = models.ForeignKey(<target>, ...)`` (and ManyToManyField, OneToOneField) in a model."""
        for field, value in simple_assigns(node.body):
            if value.__class__ is not cst.Call:
                continue
            kind = (dotted(value.func) or "").rpartition(".")[2]
            if kind not in _RELATION_FIELDS:
                continue
            arg = next((a.value for a in value.args if a.keyword is not None and a.keyword.value == "to"), None)
            if arg is None:
                arg = next((a.value for a in value.args if a.keyword is None and not a.star), None)
            if arg is None:
                continue
            target = string_value(arg)
            if target is None:
                name = dotted(arg)
                if name is None:
                    continue
                head, _, rest = name.partition(".")
                base = self._resolve(head) if head in self.names else None
                target = (f"{base}.{rest}" if rest else base) if base else f"{self.module}.{name}"
            rel = ModelRelation(model=model, field=field, kind=kind, target=target, app_label=app_label, line=0)
            self.relations.append(rel)
            self._hook_line(value, rel)

    def _is_django_model(self, node: cst.ClassDef) -> bool:
        for arg in node.bases:
            name = dotted(arg.value)
            if name is None:
                continue
            head, _, rest = name.partition(".")
            base = self._resolve(head) if head in self.names else None
            if base is not None:
                full = f"{base}.{rest}" if rest else base
                if full in _DJANGO_MODEL:
                    return True
            elif name in ("models.Model", "Model"):
                return True
        return False

    def _app_label(self) -> str:
        """The app label of a model here when Meta has none: its package (above a ``models`` package)."""
        parts = self.module.split(".")
        parent = parts[:-1] or parts
        if len(parent) > 1 and parent[-1] == "models":
            parent = parent[:-1]
        return parent[-1] if parent else ""

    # -- SQLAlchemy Core -------------------------------------------------------
    def _table_call(self, node: cst.Call, func: Any, fname: str) -> None:
        """``Table("name", metadata, ...)``."""
        positional = [a for a in node.args if a.keyword is None and not a.star]
        if len(positional) < 2:
            return
        table = string_value(positional[0].value)
        if not table or string_value(positional[1].value) is not None:
            return
        name = dotted(func)
        if name is not None:
            head, _, rest = name.partition(".")
            base = self._resolve(head) if head in self.names else None
            if base is not None and "sqlalchemy" not in base and not rest:
                return  # Table imported from something that is not SQLAlchemy
        self.data.append(DataAccess(table=table, how="table", line=self.line))

    # -- Alembic migrations ----------------------------------------------------
    def _alembic_op(self, node: cst.Call, func: Any, fname: str) -> None:
        """``op.add_column("t", ...)`` and the other Alembic operations naming tables, on
        ``op`` imported from alembic: the tables a migration changes (``how="migration"``)."""
        if func.__class__ is not cst.Attribute or func.value.__class__ is not cst.Name:
            return
        target = self._resolve(func.value.value)
        if target is None or target.split(".", 1)[0] != "alembic":
            return
        positional = [a.value for a in node.args if a.keyword is None and not a.star]
        keyword = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        places, words = ALEMBIC_TABLE_ARGS[fname]
        values = [positional[i] for i in places if i < len(positional)] + [keyword[w] for w in words if w in keyword]
        for value in values:
            table = string_value(value)
            if table:
                self.data.append(DataAccess(table=table, how="migration", line=self.line))

    # -- SQL in strings --------------------------------------------------------
    def enter_expr(self, node: cst.Expr) -> None:
        value = node.value  # a bare string statement is a docstring/comment, not SQL
        if value.__class__ is SimpleString or value.__class__ is cst.FormattedString:
            self.strings_done.add(id(value))
        elif value.__class__ is cst.ConcatenatedString:
            self._string_leaves(value)

    def _sql_string(self, node: cst.SimpleString) -> None:
        if RAW_SQL_HEAD.match(node.value) is None or id(node) in self.strings_done:
            return
        text = string_value(node)
        if text:
            self._sql(text)

    def enter_formatted_string(self, node: cst.FormattedString) -> None:
        if id(node) in self.strings_done:
            return
        text = fstring_text(node)
        if SQL_HEAD.match(text):
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
            if RAW_SQL_HEAD.match(first.value) is None:
                return
        elif first.__class__ is cst.FormattedString:
            if not SQL_HEAD.match(fstring_text(first)):
                return
        else:
            return
        pieces = []
        for leaf in leaves:
            if leaf.__class__ is SimpleString:
                s = string_value(leaf)
                if s is None:
                    return
                pieces.append(s)
            else:
                pieces.append(fstring_text(leaf))
        self._sql("".join(pieces))

    def _sql(self, text: str) -> None:
        for table in sql_tables(text):
            self.data.append(DataAccess(table=table, how="sql", line=self.line))
