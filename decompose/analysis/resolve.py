"""Which internal modules an import statement depends on (pure, no third-party imports).

One rule shared by the analyzer's graph (``decompose.analysis.graph``) and the
incremental check (``decompose.guard.check``, which must not pay for importing
NetworkX), so the two can never disagree:

* ``import a.b.c`` depends on ``a.b.c``;
* ``from a.b import c`` depends on ``a.b.c`` when that is a module (a
  submodule import), otherwise on ``a.b`` (``c`` is a name defined there);
  also on ``a.b`` alone when ``a.b``'s ``__init__`` binds ``c`` itself
  (``from .c import c``, ``c = ...``): Python's ``from a.b import c`` takes
  the package's attribute ``c``, which that binding overwrote (the submodule
  is what ``a.b`` imports);
* the module named in the statement must exist, except that it may be a
  PEP 420 namespace package (a folder of modules without ``__init__.py``):
  then only its submodules named by the statement are dependencies;
* anything else is *unresolved* (``None``): no edge is invented.

Shadowed submodules
-------------------
A package binding a name equal to one of its submodules (LNbits'
``lnbits/core/__init__.py`` doing ``from .db import db``, a ``Database``
object) *shadows* that submodule as an attribute: ``from lnbits.core import
db`` then ``db.connect()`` calls the object's method, not a function
``connect`` of module ``lnbits.core.db``.  :func:`shadowed_submodules` lists
them; :func:`use_module` is the module a dotted use lands in under that rule.
``import a.b`` and ``from a.b import x`` still load the submodule (they go
through ``sys.modules``); the attribute path ``a.b`` after them is the
package's binding, as Python has it.

Package roots and loose modules
-------------------------------
A *package root* is a folder where the dotted names of packaged modules
start: the analysed root, a source root (``src/``, ``[tool.decompose]
source_roots``) and any folder holding a top-level package (its parent is on
``sys.path`` when the code runs).  A *loose* module is a top-level single-file
module in a folder that is none of these (``dockerfiles/settings/celery.py``
gives module ``celery``, ``tests/helpers.py`` without ``tests/__init__.py``
gives ``helpers``): it runs as a script, or from a test collected in its
folder, with that folder on ``sys.path``.  It is importable only by the
modules in its own folder and below it; from anywhere else its name means
whatever is installed under that name (the real Celery), so an import of it
resolves as if the loose module were not there (:func:`hidden_from`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decompose.analysis.facts import ModuleFacts


def bare(name: str) -> str:
    """``"y as z"`` -> ``"y"`` (tolerates either way of recording aliases)."""
    return name.split(" as ", 1)[0].strip()


def is_namespace(module: str, modules: Collection[str]) -> bool:
    """``module`` is not analysed itself but has analysed submodules."""
    prefix = module + "."
    return any(m.startswith(prefix) for m in modules)


def resolve(module: str, names: Iterable[str], modules: Collection[str],
            shadowed: Collection[str] = ()) -> list[str] | None:
    """Internal modules the statement depends on; ``None`` when it names no analysed module.
    ``shadowed``: submodules their package rebinds (:func:`shadowed_submodules`)."""
    if not module:
        return None
    names = list(names)
    plain = not names or names == ["*"]
    if module not in modules:
        if not is_namespace(module, modules):
            return None
        # a namespace package has no code of its own: only named submodules count
        return [f"{module}.{bare(n)}" for n in (() if plain else names) if f"{module}.{bare(n)}" in modules]
    targets: list[str] = []
    for name in () if plain else names:
        sub = f"{module}.{bare(name)}"
        if sub in modules and sub not in shadowed:
            targets.append(sub)
        else:
            plain = True
    if plain:
        targets.append(module)
    return targets


def nearest_module(name: str, modules: Collection[str]) -> str | None:
    """The longest dotted prefix of ``name`` that is an analysed module (symbol -> its module)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def use_module(target: str, modules: Collection[str], shadowed: Collection[str] = (),
               start: str = "") -> str | None:
    """The module a dotted use lands in (the symbol is the next part of ``target``).

    :func:`nearest_module`, except that the walk stops at a package that binds the next name
    itself (``shadowed``): ``lnbits.core.db.connect`` reached by ``from lnbits.core import db``
    is attribute ``db`` of ``lnbits.core``.  ``start`` is the module the binding import names
    (``SymbolUse.start``); the part of ``target`` up to it is a module as named."""
    found = nearest_module(target, modules)
    if found is None or not shadowed:
        return found
    parts = found.split(".")
    first = start.count(".") + 2 if start and target.startswith(start + ".") else 2
    for i in range(first, len(parts) + 1):
        prefix = ".".join(parts[:i])
        if prefix in shadowed:
            return ".".join(parts[: i - 1])
    return found


def bound_names(f: "ModuleFacts", star_names: Callable[[str], Iterable[str]] = lambda module: ()) -> set[str]:
    """Names the module ``f`` binds at its top level to something other than its own submodule
    of that name: its definitions and its module-level imports (``from .db import db``, ``import
    x as db``; not ``from . import db``).  ``star_names(module)``: the names ``from module import
    *`` binds."""
    package = f.module
    out = {d.name for d in f.definitions}
    for imp in f.imports:
        if imp.context not in ("module", "conditional") or imp.kind not in ("absolute", "relative") or not imp.module:
            continue
        if not imp.names:  # import a.b as c binds c to a.b; import a.b binds a
            local = imp.alias or imp.module.split(".", 1)[0]
            if (imp.module if imp.alias else local) != f"{package}.{local}":
                out.add(local)
            continue
        for n in imp.names:
            if n == "*":
                out.update(star_names(imp.module))
                continue
            name, _, asname = n.partition(" as ")
            name, local = name.strip(), (asname or name).strip()
            if f"{imp.module}.{name}" != f"{package}.{local}":
                out.add(local)
    return out


def shadowed_submodules(facts: Iterable["ModuleFacts"], modules: Collection[str] | None = None) -> frozenset[str]:
    """``pkg.n`` for each analysed submodule ``n`` whose package's ``__init__`` binds ``n`` itself
    (:func:`bound_names`): as an attribute of ``pkg``, ``n`` is that binding, not the module."""
    facts = list(facts)
    modules = {f.module for f in facts} if modules is None else modules
    public = {f.module: [d.name for d in f.definitions if not d.private] for f in facts}
    out: set[str] = set()
    for f in facts:
        if not f.is_package:
            continue
        prefix = f.module + "."
        out.update(f"{prefix}{n}" for n in bound_names(f, lambda m: public.get(m, ())) if f"{prefix}{n}" in modules)
    return frozenset(out)


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


def package_roots(entries: Iterable[tuple[str, str, bool]]) -> list[str]:
    """Folders (POSIX, relative to the analysed root; ``""`` is the root) where the names of
    packaged modules start, from ``(module, path, is_package)`` entries."""
    roots = {""}
    for module, path, is_package in entries:
        if "." not in module and not is_package:
            continue
        folders = path.split("/")[:-1]
        depth = module.count(".") + (1 if is_package else 0)
        roots.add("/".join(folders[: max(0, len(folders) - depth)]))
    return sorted(roots)


def loose_modules(entries: Iterable[tuple[str, str, bool]]) -> dict[str, str]:
    """Top-level single-file modules outside every package root: module -> its folder."""
    entries = list(entries)
    roots = set(package_roots(entries))
    return {
        m: _folder(path) for m, path, is_package in sorted(entries)
        if "." not in m and not is_package and _folder(path) not in roots
    }


def hidden_from(path: str, loose: dict[str, str]) -> frozenset[str]:
    """The loose modules the module at ``path`` cannot import (those outside its folder's tree)."""
    folder = _folder(path)
    return frozenset(m for m, f in loose.items() if folder != f and not folder.startswith(f + "/"))


class Without:
    """``modules`` minus ``hidden``, as a read-only collection (cheap: no copy of ``modules``)."""

    __slots__ = ("base", "hidden")

    def __init__(self, base: Collection[str], hidden: Collection[str]):
        self.base = base
        self.hidden = hidden

    def __contains__(self, name: object) -> bool:
        return name not in self.hidden and name in self.base

    def __iter__(self):
        return (m for m in self.base if m not in self.hidden)

    def __len__(self) -> int:
        return sum(1 for _ in self)
