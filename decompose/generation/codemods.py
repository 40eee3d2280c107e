"""LibCST codemods applied to the copied source of a service (pure: text in, text out).

``rewrite_remote_imports``
    Every run-time import of a module that lives in another service becomes an
    import of the generated HTTP client standing in for it, binding the same
    local name, so every call through it (``catalog_service.get_product(7)``,
    ``get_product_price(7)`` after ``from ... import``) is a call on the
    client, whose functions have the original signatures.  Handled forms:
    ``from pkg import module [as x]``, ``from module import name [as x]``
    (also relative), ``import a.b.c as x``, ``import a.b.c`` (its dotted uses
    ``a.b.c.f()`` are rewritten too) and literal ``importlib.import_module``.
    Imports under ``if TYPE_CHECKING:`` never run and are left alone.
    ``shadowed`` lists submodules their package rebinds (``from .db import db``
    in ``pkg/__init__.py``): ``from pkg import db`` and ``import pkg.db as x``
    bind the package's object, so they import it from the package's client,
    never the submodule's; a plain ``import pkg.db`` of one is left alone
    (``pkg.db`` after it is that object too).

Pruning the monolith's app module for one service is framework knowledge:
:meth:`decompose.frameworks.base.WebFramework.prune_app_module`.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from decompose.frameworks.base import dotted as _dotted
from decompose.frameworks.base import resolve_from as _resolve


class CodemodError(Exception):
    """The source cannot be rewritten safely; the message names the module and line."""


@dataclass(frozen=True)
class Change:
    module: str
    line: int
    before: str
    after: str


def _attr_expr(dotted: str) -> cst.BaseExpression:
    parts = dotted.split(".")
    node: cst.BaseExpression = cst.Name(parts[0])
    for p in parts[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(p))
    return node


def _is_type_checking(test: cst.BaseExpression) -> bool:
    return _dotted(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING", "t.TYPE_CHECKING")


class _Rewriter(cst.CSTTransformer):
    def __init__(self, module: str, is_package: bool, remote: dict[str, str], code: cst.Module,
                 shadowed: frozenset[str] = frozenset()):
        self.module = module
        self.is_package = is_package
        self.remote = remote
        self.shadowed = shadowed
        self.code = code
        self.type_checking = 0
        self.in_import = 0
        self.chains: dict[str, str] = {}  # dotted module -> local alias for ``import a.b.c``
        self.changes: list[Change] = []

    def _note(self, before: cst.CSTNode, after: cst.CSTNode | str) -> None:
        b = self.code.code_for_node(before).strip()
        a = after if isinstance(after, str) else self.code.code_for_node(after).strip()
        self.changes.append(Change(self.module, 0, b, a))

    def visit_If(self, node: cst.If) -> None:
        if _is_type_checking(node.test):
            self.type_checking += 1

    def leave_If(self, original: cst.If, updated: cst.If) -> cst.If:
        if _is_type_checking(original.test):
            self.type_checking -= 1
        return updated

    def visit_Import(self, node: cst.Import) -> None:
        self.in_import += 1

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.in_import += 1

    def leave_Import(self, original: cst.Import, updated: cst.Import):
        self.in_import -= 1
        if self.type_checking:
            return updated
        names = []
        changed = False
        extra: list[cst.BaseSmallStatement] = []
        for alias in updated.names:
            target = _dotted(alias.name)
            if target in self.shadowed:
                # `import pkg.db as x` binds pkg's attribute db: the object pkg/__init__ binds
                parent, _, leaf = target.rpartition(".")
                if alias.asname is not None and parent in self.remote:
                    changed = True
                    extra.append(cst.ImportFrom(module=_attr_expr(self.remote[parent]), names=[
                        cst.ImportAlias(name=cst.Name(leaf), asname=alias.asname.with_changes(
                            whitespace_before_as=cst.SimpleWhitespace(" "), whitespace_after_as=cst.SimpleWhitespace(" ")))]))
                else:
                    names.append(alias)
                continue
            client = self.remote.get(target)
            if client is None:
                names.append(alias)
                continue
            changed = True
            if alias.asname is not None:
                names.append(alias.with_changes(name=_attr_expr(client)))
            else:
                local = "_decompose_" + target.replace(".", "_")
                self.chains[target] = local
                names.append(cst.ImportAlias(name=_attr_expr(client), asname=cst.AsName(name=cst.Name(local))))
                top = target.split(".", 1)[0]
                if top != target:
                    extra.append(cst.Import(names=[cst.ImportAlias(name=cst.Name(top))]))
        if not changed:
            return updated
        for i, a in enumerate(names):
            names[i] = a.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        if not names:
            self._note(original, " ; ".join(cst.Module([]).code_for_node(s) for s in extra))
            return cst.FlattenSentinel(extra) if len(extra) > 1 else extra[0]
        new = updated.with_changes(names=names)
        self._note(original, new)
        return cst.FlattenSentinel([*extra, new]) if extra else new

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom):
        self.in_import -= 1
        if self.type_checking:
            return updated
        level = len(updated.relative)
        base = _resolve(self.module, self.is_package, level, _dotted(updated.module) or None)
        if not base:
            return updated
        if isinstance(updated.names, cst.ImportStar):
            if base in self.remote:
                new = cst.ImportFrom(module=_attr_expr(self.remote[base]), names=cst.ImportStar())
                self._note(original, new)
                return new
            return updated
        keep: list[cst.ImportAlias] = []
        out: list[cst.BaseSmallStatement] = []
        for alias in updated.names:
            name = _dotted(alias.name)
            sub = f"{base}.{name}"
            local = alias.asname.name.value if alias.asname is not None else name
            if sub in self.remote and sub not in self.shadowed:
                client = self.remote[sub]
                parent, _, leaf = client.rpartition(".")
                out.append(cst.ImportFrom(
                    module=_attr_expr(parent),
                    names=[cst.ImportAlias(name=cst.Name(leaf), asname=cst.AsName(name=cst.Name(local)))],
                ))
            elif base in self.remote:
                out.append(cst.ImportFrom(
                    module=_attr_expr(self.remote[base]),
                    names=[alias.with_changes(comma=cst.MaybeSentinel.DEFAULT)],
                ))
            else:
                keep.append(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        if not out:
            return updated
        if keep:
            out.insert(0, updated.with_changes(names=keep, lpar=None, rpar=None))
        self._note(original, " ; ".join(cst.Module([]).code_for_node(s) for s in out))
        return cst.FlattenSentinel(out) if len(out) > 1 else out[0]

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
        if self.in_import or not self.chains:
            return updated
        dotted = _dotted(updated)
        local = self.chains.get(dotted)
        if local is not None:
            return cst.Name(local)
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        if self.type_checking or _dotted(updated.func) not in ("importlib.import_module", "import_module"):
            return updated
        if not updated.args or not isinstance(updated.args[0].value, cst.SimpleString):
            return updated
        value = updated.args[0].value.evaluated_value
        if isinstance(value, str) and value in self.remote:
            new = updated.with_changes(
                args=[updated.args[0].with_changes(value=cst.SimpleString(repr(self.remote[value]))), *updated.args[1:]]
            )
            self._note(original, new)
            return new
        return updated


def rewrite_remote_imports(
    source: str, module: str, is_package: bool, remote: dict[str, str], shadowed: frozenset[str] = frozenset()
) -> tuple[str, list[Change]]:
    """Rewrite imports of the modules in ``remote`` (module -> client module) in ``source``."""
    if not remote:
        return source, []
    out = rewrite_remote_imports_each(source, module, is_package, [remote], shadowed)[0]
    if isinstance(out, CodemodError):
        raise out
    return out


#: Below this many modules to rewrite, one process does it (starting workers costs more).
PARALLEL_REWRITES = 24


def _rewrite_job(job: tuple[str, str, bool, list[dict[str, str]], frozenset[str]]):
    return rewrite_remote_imports_each(*job)


def rewrite_remote_imports_many(
    jobs: list[tuple[str, str, bool, list[dict[str, str]]]], shadowed: frozenset[str] = frozenset(),
    workers: int = 1,
) -> list[list[tuple[str, list[Change]] | CodemodError]]:
    """:func:`rewrite_remote_imports_each` of each ``(source, module, is_package, remotes)``
    job, in ``workers`` processes when there are many (a large monolith's services rewrite
    hundreds of modules, each a full LibCST transform per map); results in job order, so
    the output does not depend on the workers."""
    if workers <= 1 or len(jobs) < PARALLEL_REWRITES:
        return [rewrite_remote_imports_each(*job, shadowed) for job in jobs]
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork") if sys.platform == "linux" else multiprocessing.get_context()
    # largest first, so that one long module does not finish last on its own
    order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0]))
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        done = pool.map(_rewrite_job, [(*jobs[i], shadowed) for i in order], chunksize=4)
        results: list = [None] * len(jobs)
        for i, r in zip(order, done):
            results[i] = r
    return results


def rewrite_remote_imports_each(
    source: str, module: str, is_package: bool, remotes: list[dict[str, str]], shadowed: frozenset[str] = frozenset()
) -> list[tuple[str, list[Change]] | CodemodError]:
    """:func:`rewrite_remote_imports` of one source for each map in ``remotes``, from ONE parse.

    A module copied into several services is rewritten once per distinct map
    (each service imports a different set of remote modules), but LibCST trees
    are immutable, so the one tree parsed here serves every map.  A source
    that cannot be parsed gives the same :class:`CodemodError` for each map.
    """
    if not any(remotes):
        return [(source, []) for _ in remotes]
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        err = CodemodError(f"{module}: cannot parse: {exc.message}")
        return [err if remote else (source, []) for remote in remotes]
    lines = source.splitlines()
    results: list[tuple[str, list[Change]] | CodemodError] = []
    for remote in remotes:
        if not remote:
            results.append((source, []))
            continue
        rw = _Rewriter(module, is_package, remote, tree, shadowed)
        new = tree.visit(rw)
        # Line numbers of the changes, from the original text (stable and cheap).
        changes = []
        for c in rw.changes:
            first = c.before.splitlines()[0] if c.before else ""
            line = next((i + 1 for i, text in enumerate(lines) if first and first in text), 0)
            changes.append(Change(c.module, line, c.before, c.after))
        results.append((new.code, changes))
    return results
