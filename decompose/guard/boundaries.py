"""The plan's service boundaries (pure): who owns a module, and DC101/DC102/DC202 findings.

This module owns everything the guard reads from ``decompose.yaml``: the
owner map (:func:`owner_map`, :func:`owner_of`), the ``shared-uses-service``
blockers the plan records (:func:`acknowledged_shared_uses`), the interface
test for a symbol (including re-exports, by name or star import: a name is
judged where it is defined, by that module's owner, as ``decompose plan``
names interface items), and :func:`boundary_findings`, which judges every
import of the checked modules.

Modules missing from the plan are placed by their package: the nearest
ancestor package whose planned modules all belong to one owner (a service, or
shared) gives the owner; otherwise the module is unplaced and its imports are
not judged.  Modules outside the planned top-level packages (tests, scripts)
are never judged, nor are the modules the plan excludes (``excluded``) or
that are tests or project tooling (``analysis.roles.excluded_role``), wherever
they sit: they belong to no service, as importers and as imported modules.
"""

from __future__ import annotations

from collections.abc import Callable

from decompose.analysis.facts import ModuleFacts, SymbolUse
from decompose.analysis.roles import excluded_role
from decompose.analysis.resolve import bare as _bare
from decompose.analysis.resolve import Without, bound_names, nearest_module, use_module
from decompose.guard.graphstate import GraphState, Imp
from decompose.guard.rules import Finding, import_statement
from decompose.planning.plan import Plan


def owner_map(plan: Plan) -> tuple[dict[str, str], dict[str, set[str]], frozenset[str]]:
    """(module -> owner, package prefix -> owners below it, planned top-level packages).

    The owner is a service name, or ``""`` for a shared module.
    """
    direct = plan.service_of()
    below: dict[str, set[str]] = {}
    for m, owner in direct.items():
        parts = m.split(".")
        for i in range(1, len(parts) + 1):
            below.setdefault(".".join(parts[:i]), set()).add(owner)
    tops = frozenset(m.partition(".")[0] for m in direct)
    return direct, below, tops


def owner_of(module: str, direct: dict[str, str], below: dict[str, set[str]]) -> str | None:
    """The module's owner: listed in the plan, or inferred from its nearest planned package."""
    if module in direct:
        return direct[module]
    prefix = module.rpartition(".")[0]
    while prefix:
        owners = below.get(prefix)
        if owners:
            return next(iter(owners)) if len(owners) == 1 else None
        prefix = prefix.rpartition(".")[0]
    return None


def acknowledged_shared_uses(plan: Plan) -> dict[str, set[str]]:
    """Shared module -> the service symbols it uses that the plan records as ``shared-uses-service`` blockers.

    Accepts fully qualified ``symbols`` or names relative to ``depends_on``.
    """
    out: dict[str, set[str]] = {}
    for b in plan.blockers:
        if not isinstance(b, dict) or b.get("kind") != "shared-uses-service":
            continue
        base = str(b.get("depends_on") or "")
        syms = out.setdefault(str(b.get("module", "")), set())
        for x in b.get("symbols") or ():
            x = str(x)
            syms.add(f"{base}.{x}" if base and not x.startswith(base + ".") else x)
    return out


def boundary_findings(after: GraphState, checked: list[str], checked_facts: dict[str, ModuleFacts], plan: Plan,
                      facts_of: Callable[[str], ModuleFacts | None] | None = None) -> list[Finding]:
    """DC101, DC102 and DC202 for every import of the checked modules (new or not).

    ``facts_of``: any module's facts, for the definitions of the modules star imports name
    (default: the checked modules' only)."""
    direct, below, planned_tops = owner_map(plan)
    interface: dict[str, set[str]] = {name: {i.name for i in s.interface} for name, s in plan.services.items()}
    # shared -> service dependencies the plan itself records as blockers: known, not new
    acknowledged = acknowledged_shared_uses(plan)
    hidden = after.hidden()
    defined = _Definitions(facts_of or checked_facts.get)
    excluded: dict[str, bool] = {}

    def target_owner(module: str) -> str | None:
        """The owner of an imported module; None for one the plan excludes or that is a test or
        tooling (it belongs to no service, as when it is the importer)."""
        if module not in excluded:
            info = after.info.get(module)
            excluded[module] = module in plan.excluded or (
                info is not None and excluded_role(module, info.relpath) is not None)
        return None if excluded[module] else owner_of(module, direct, below)
    facts_lookup = facts_of or checked_facts.get
    bound: dict[str, frozenset[str]] = {}

    def binds(package: str) -> frozenset[str]:
        """Names a package's __init__ binds itself (analysis.resolve.bound_names), memoised."""
        if package not in bound:
            pf = facts_lookup(package)
            bound[package] = frozenset() if pf is None or not pf.is_package else frozenset(bound_names(
                pf, lambda mod: [d.name for d in (getattr(facts_lookup(mod), "definitions", None) or ()) if not d.private]))
        return bound[package]

    def shadow_aware(u: SymbolUse, modules) -> str | None:
        """The module a use lands in, as analysis.resolve.use_module says: a package binding a
        name equal to its submodule (``from .db import db``) stops the walk there."""
        t = nearest_module(u.target, modules)
        if t is None or "." not in t:
            return t
        parts = t.split(".")
        shadowed = {".".join(parts[:i]) for i in range(2, len(parts) + 1)
                    if parts[i - 1] in binds(".".join(parts[: i - 1]))}
        return use_module(u.target, modules, shadowed, u.start) if shadowed else t

    out: list[Finding] = []
    for m in sorted(checked):
        f = checked_facts.get(m)
        if f is None:
            continue
        path = after.info[m].relpath
        if m in plan.excluded or excluded_role(m, path):
            continue  # tests and tooling belong to no service and ship in no image: nothing to judge
        h = hidden(m)  # loose modules outside m's folder: the names mean installed packages there
        modules = Without(after.info, h) if h else after.info
        src = owner_of(m, direct, below)
        crossing = _Crossing(target_owner, interface, after.imports, modules, defined)
        if src is None:
            if m.partition(".")[0] in planned_tops:
                out.append(Finding("DC202", path, 1, m, "", m,
                                   f"{m} is in no service of the plan and its package does not tell which; "
                                   "its imports are not checked"))
            continue
        uses_by_module: dict[str, list[SymbolUse]] = {}
        for u in f.uses:
            t = shadow_aware(u, modules)
            if t is not None and t != m:
                uses_by_module.setdefault(t, []).append(u)

        # `import pkg` reaches pkg's submodules as attributes (pkg.sub.mod.X): a use landing in a
        # submodule that no import of m names is judged at the longest module import above it,
        # by the owner of the submodule it lands in
        module_targets = {imp.module for imp in f.imports if imp.module in modules and not imp.names}
        module_targets |= {f"{imp.module}.{_bare(n)}" for imp in f.imports if imp.module and imp.names != ["*"]
                           for n in imp.names if f"{imp.module}.{_bare(n)}" in modules}
        reached: dict[str, list[str]] = {}
        for sub in uses_by_module:
            if sub in module_targets:
                continue
            above = max((t for t in module_targets if sub.startswith(t + ".")), key=len, default=None)
            if above is not None:
                reached.setdefault(above, []).append(sub)

        for imp in f.imports:
            if not imp.module or imp.module not in modules:
                continue
            stmt = import_statement(m, f.is_package, imp)
            # (target module, symbol or None for a module import)
            items: list[tuple[str, str | None]] = []
            if not imp.names:
                items.append((imp.module, None))
            elif imp.names == ["*"]:
                items.append((imp.module, "*"))
            else:
                for n in imp.names:
                    bare = _bare(n)
                    sub = f"{imp.module}.{bare}"
                    items.append((sub, None) if sub in modules else (imp.module, bare))
            for target, symbol in items:
                if target == m:
                    continue
                deeper = sorted({(sub, _symbol_of(u.target, sub)) for sub in reached.get(target, ()) if symbol is None
                                 for u in uses_by_module[sub]})
                for sub, sym in deeper:
                    owner = crossing.owner(sub)
                    if owner is None or owner in ("", src):
                        continue
                    if src == "":
                        f_ = _shared_use(m, path, imp.line, stmt, sym, f"uses {sym} of service {owner!r} through `{stmt}`",
                                         acknowledged.get(m, ()), crossing)
                        if f_ is not None:
                            out.append(f_)
                    elif not _use_allowed(sym, sub, crossing, src):
                        out.append(Finding("DC101", path, imp.line, m, stmt, sym,
                                           f"{src} -> {owner}: {sym} (used through `{stmt}`) is not in the "
                                           f"interface of {owner!r}"))
                dst = crossing.owner(target)
                if dst is None or dst == "" or dst == src:
                    continue
                what = target if symbol is None else f"{target}.{symbol}"
                if src == "":
                    if symbol is None:
                        syms = sorted({_symbol_of(u.target, target) for u in uses_by_module.get(target, [])}) or [target]
                    elif symbol == "*":
                        # the star binds every public definition of `target`: known when each is recorded
                        names = defined(target)
                        public = None if names is None else sorted(n for n in names if not n.startswith("_"))
                        ack = acknowledged.get(m, set())
                        known = public is not None and all(f"{target}.{n}" in ack for n in public)
                        out.append(Finding("DC102", path, imp.line, m, stmt, what,
                                           f"shared module {m} star-imports {target} of service {dst!r}"
                                           + (" (a blocker recorded in the plan)" if known else ""),
                                           level="warning" if known else ""))
                        continue
                    else:
                        syms = [what]
                    for sym in syms:
                        f_ = _shared_use(m, path, imp.line, stmt, sym, f"imports {sym} of service {dst!r}",
                                         acknowledged.get(m, ()), crossing)
                        if f_ is not None:
                            out.append(f_)
                    continue
                iface = interface.get(dst, set())
                if symbol == "*":
                    # the star binds every public name `target` defines: each must be an interface item
                    names = defined(target)
                    missing = None if names is None else sorted(
                        n for n in names if not n.startswith("_") and not _in_interface(f"{target}.{n}", iface))
                    if missing is None or missing:
                        which = "its definitions are not known" if missing is None else (
                            ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                            + " not in the interface")
                        out.append(Finding("DC101", path, imp.line, m, stmt, target,
                                           f"{src} -> {dst}: star import from {target} ({which}; only the interface "
                                           f"symbols of {dst!r} may cross)"))
                elif symbol is not None:
                    if not crossing.survives(target, symbol, src):
                        out.append(Finding("DC101", path, imp.line, m, stmt, what,
                                           f"{src} -> {dst}: {what} is not in the interface of {dst!r}"))
                else:
                    if target in iface:  # the module itself is listed as an interface item
                        continue
                    used = uses_by_module.get(target, [])
                    bad = sorted({
                        _symbol_of(u.target, target) for u in used
                        if not _use_allowed(u.target, target, crossing, src)
                    })
                    if not used and not deeper:  # uses reaching submodules were judged above
                        out.append(Finding("DC101", path, imp.line, m, stmt, target,
                                           f"{src} -> {dst}: imports module {target} without using any of its "
                                           f"interface symbols (a module import cannot cross a service boundary)"))
                    for sym in bad:
                        out.append(Finding("DC101", path, imp.line, m, stmt, sym,
                                           f"{src} -> {dst}: {sym} (used through `{stmt}`) is not in the interface of {dst!r}"))
    return out


def _shared_use(m: str, path: str, line: int, stmt: str, sym: str, what: str, ack, crossing: "_Crossing") -> Finding | None:
    """DC102: shared module ``m`` depends on a service; None when the name is defined in shared code (a
    service's module only re-exports it), a warning when the plan records it as a blocker (by the symbol
    or by its definition, the plan's naming), an error when it is new."""
    module, _, name = sym.rpartition(".")
    if module in crossing.modules and sym not in crossing.modules and name != "*" and crossing.reaches(
            module, name, lambda owner_module, _fq: crossing.owner(owner_module) in (None, "")):
        return None
    known = sym in ack or (module in crossing.modules and name != "*" and crossing.reaches(
        module, name, lambda _owner_module, fq: fq in ack))
    return Finding("DC102", path, line, m, stmt, sym,
                   f"shared module {m} {what}" + (" (a blocker recorded in the plan)" if known else ""),
                   level="warning" if known else "")


def _symbol_of(use_target: str, module: str) -> str:
    """``pkg.mod.Symbol.attr`` used through module ``pkg.mod`` -> ``pkg.mod.Symbol``."""
    rest = use_target[len(module) + 1 :]
    return f"{module}.{rest.split('.', 1)[0]}" if rest else module


def _use_allowed(use_target: str, module: str, crossing: "_Crossing", src: str) -> bool:
    """A use ``pkg.mod.Symbol...`` through a module import of ``pkg.mod`` survives the split."""
    rest = use_target[len(module) + 1 :]
    if not rest:  # the module object itself (``include(app.urls)``): the module must be an interface item
        return crossing.allowed(module, module, src)
    symbol = rest.split(".", 1)[0]
    owner = crossing.owner(module)
    return _in_interface(use_target, crossing.interface.get(owner, ())) or crossing.survives(module, symbol, src)


def _in_interface(symbol: str, interface) -> bool:
    if symbol in interface:
        return True
    prefix = symbol + "."
    return any(i.startswith(prefix) for i in interface)


class _Definitions:
    """Module -> the names its top level defines (None: its facts are not known), memoised."""

    __slots__ = ("facts_of", "memo")

    def __init__(self, facts_of: Callable[[str], ModuleFacts | None]):
        self.facts_of, self.memo = facts_of, {}

    def __call__(self, module: str) -> frozenset[str] | None:
        if module not in self.memo:
            f = self.facts_of(module)
            self.memo[module] = None if f is None else frozenset(d.name for d in f.definitions)
        return self.memo[module]


def _origins(module: str, name: str, imports: dict[str, list[Imp]], modules, defined: _Definitions) -> list[str]:
    """Where ``module`` gets ``name`` when it binds it by importing: the fully qualified origin of an
    explicit ``from x import name``, else, for a public name ``module`` does not define, ``x.name`` for
    the ``from x import *`` of ``module`` that binds it (the last first, as the last binding wins): one
    that defines it or imports it in turn (or whose definitions are not known)."""
    own = defined(module)
    if own is not None and name in own:
        return []
    stars: list[str] = []
    for imp_module, names, _line, _ctx, _kind, _level in imports.get(module, ()):
        if not imp_module:
            continue
        for n in names:
            if n == "*":
                stars.append(imp_module)
                continue
            bare = _bare(n)
            alias = n.split(" as ", 1)[1].strip() if " as " in n else bare
            if alias == name:
                return [f"{imp_module}.{bare}"]
    if name.startswith("_"):
        return []
    out = []
    for s in reversed(stars):
        if s not in modules or s == module:
            continue
        names = defined(s)
        if names is None or name in names or any(
                n == "*" or _bare(n) == name for _m, ns, *_rest in imports.get(s, ()) for n in ns):
            out.append(f"{s}.{name}")
            if names is not None and name in names:
                break  # defined there: an earlier star is overridden
    return out


class _Crossing:
    """Whether a name another service's module gives survives the split, judged where it is
    defined: through re-exports (a package ``__init__`` importing it from a submodule, by name or
    by a star import) to its definition, whose owner decides (the importing service itself or
    shared: it is there; another service: its interface)."""

    __slots__ = ("owner", "interface", "imports", "modules", "defined")

    def __init__(self, owner: Callable[[str], str | None], interface: dict[str, set[str]], imports, modules,
                 defined: _Definitions):
        self.owner, self.interface, self.imports, self.modules, self.defined = owner, interface, imports, modules, defined

    def allowed(self, owner_module: str, fq: str, src: str) -> bool:
        """``fq`` (a name of ``owner_module``, or that module itself) is local to ``src``, shared, in no
        service of the plan, or in its owner's interface."""
        owner = self.owner(owner_module)
        return owner in (None, "", src) or _in_interface(fq, self.interface.get(owner, ()))

    def survives(self, module: str, name: str, src: str) -> bool:
        """``from module import name`` in a module of ``src`` (``""``: shared) survives the split."""
        return self.reaches(module, name, lambda owner_module, fq: self.allowed(owner_module, fq, src))

    def reaches(self, module: str, name: str, ok, depth: int = 0) -> bool:
        """``ok(owner module, fq)`` holds for ``module.name`` or for a step of a re-export chain from it."""
        fq = f"{module}.{name}"
        if ok(module, fq):
            return True
        if depth >= 5:
            return False
        for origin in _origins(module, name, self.imports, self.modules, self.defined):
            if origin == fq:
                continue
            if origin in self.modules:  # a re-exported module: judged as the module itself
                if ok(origin, origin):
                    return True
                continue
            mod, _, sym = origin.rpartition(".")
            if mod in self.modules and self.reaches(mod, sym, ok, depth + 1):
                return True
        return False
