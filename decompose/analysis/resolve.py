"""Which internal modules an import statement depends on (pure, no third-party imports).

One rule shared by the analyzer's graph (``decompose.analysis.graph``) and the
incremental check (``decompose.guard.check``, which must not pay for importing
NetworkX), so the two can never disagree:

* ``import a.b.c`` depends on ``a.b.c``;
* ``from a.b import c`` depends on ``a.b.c`` when that is a module (a
  submodule import), otherwise on ``a.b`` (``c`` is a name defined there);
* the module named in the statement must exist, except that it may be a
  PEP 420 namespace package (a folder of modules without ``__init__.py``):
  then only its submodules named by the statement are dependencies;
* anything else is *unresolved* (``None``): no edge is invented.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable


def bare(name: str) -> str:
    """``"y as z"`` -> ``"y"`` (tolerates either way of recording aliases)."""
    return name.split(" as ", 1)[0].strip()


def is_namespace(module: str, modules: Collection[str]) -> bool:
    """``module`` is not analysed itself but has analysed submodules."""
    prefix = module + "."
    return any(m.startswith(prefix) for m in modules)


def resolve(module: str, names: Iterable[str], modules: Collection[str]) -> list[str] | None:
    """Internal modules the statement depends on; ``None`` when it names no analysed module."""
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
        if sub in modules:
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
