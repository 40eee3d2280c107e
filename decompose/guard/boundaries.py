"""The plan's service boundaries (pure): who owns a module, and DC101/DC102/DC202 findings.

This module owns everything the guard reads from ``decompose.yaml``: the
owner map (:func:`owner_map`, :func:`owner_of`), the ``shared-uses-service``
blockers the plan records (:func:`acknowledged_shared_uses`), the interface
test for a symbol (including re-exports), and :func:`boundary_findings`,
which judges every import of the checked modules.

Modules missing from the plan are placed by their package: the nearest
ancestor package whose planned modules all belong to one owner (a service, or
shared) gives the owner; otherwise the module is unplaced and its imports are
not judged.  Modules outside the planned top-level packages (tests, scripts)
are never judged, nor are the modules the plan excludes (``excluded``) or
that are tests or project tooling (``analysis.roles.excluded_role``), wherever
they sit: they belong to no service.
"""

from __future__ import annotations

from decompose.analysis.facts import ModuleFacts, SymbolUse
from decompose.analysis.roles import excluded_role
from decompose.analysis.resolve import bare as _bare
from decompose.analysis.resolve import Without, nearest_module
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


def boundary_findings(after: GraphState, checked: list[str], checked_facts: dict[str, ModuleFacts], plan: Plan) -> list[Finding]:
    """DC101, DC102 and DC202 for every import of the checked modules (new or not)."""
    direct, below, planned_tops = owner_map(plan)
    interface: dict[str, set[str]] = {name: {i.name for i in s.interface} for name, s in plan.services.items()}
    # shared -> service dependencies the plan itself records as blockers: known, not new
    acknowledged = acknowledged_shared_uses(plan)
    hidden = after.hidden()
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
        if src is None:
            if m.partition(".")[0] in planned_tops:
                out.append(Finding("DC202", path, 1, m, "", m,
                                   f"{m} is in no service of the plan and its package does not tell which; "
                                   "its imports are not checked"))
            continue
        uses_by_module: dict[str, list[SymbolUse]] = {}
        for u in f.uses:
            t = nearest_module(u.target, modules)
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
                    owner = owner_of(sub, direct, below)
                    if owner is None or owner in ("", src):
                        continue
                    if src == "":
                        out.append(_shared_use(m, path, imp.line, stmt, sym, f"uses {sym} of service {owner!r} through `{stmt}`",
                                               acknowledged.get(m, ()), after.imports, modules))
                    elif not _use_allowed(sym, sub, interface.get(owner, set()), after.imports, modules):
                        out.append(Finding("DC101", path, imp.line, m, stmt, sym,
                                           f"{src} -> {owner}: {sym} (used through `{stmt}`) is not in the "
                                           f"interface of {owner!r}"))
                dst = owner_of(target, direct, below)
                if dst is None or dst == "" or dst == src:
                    continue
                what = target if symbol is None else f"{target}.{symbol}"
                if src == "":
                    if symbol is None:
                        syms = sorted({_symbol_of(u.target, target) for u in uses_by_module.get(target, [])}) or [target]
                    else:
                        syms = [what]
                    for sym in syms:
                        out.append(_shared_use(m, path, imp.line, stmt, sym, f"imports {sym} of service {dst!r}",
                                               acknowledged.get(m, ()), after.imports, modules))
                    continue
                iface = interface.get(dst, set())
                if symbol == "*":
                    out.append(Finding("DC101", path, imp.line, m, stmt, target,
                                       f"{src} -> {dst}: star import from {target} (only named interface symbols may cross)"))
                elif symbol is not None:
                    if not _symbol_allowed(target, symbol, iface, after.imports, modules):
                        out.append(Finding("DC101", path, imp.line, m, stmt, what,
                                           f"{src} -> {dst}: {what} is not in the interface of {dst!r}"))
                else:
                    if target in iface:  # the module itself is listed as an interface item
                        continue
                    used = uses_by_module.get(target, [])
                    bad = sorted({
                        _symbol_of(u.target, target) for u in used
                        if not _use_allowed(u.target, target, iface, after.imports, modules)
                    })
                    if not used and not deeper:  # uses reaching submodules were judged above
                        out.append(Finding("DC101", path, imp.line, m, stmt, target,
                                           f"{src} -> {dst}: imports module {target} without using any of its "
                                           f"interface symbols (a module import cannot cross a service boundary)"))
                    for sym in bad:
                        out.append(Finding("DC101", path, imp.line, m, stmt, sym,
                                           f"{src} -> {dst}: {sym} (used through `{stmt}`) is not in the interface of {dst!r}"))
    return out


def _shared_use(m: str, path: str, line: int, stmt: str, sym: str, what: str, ack, imports, modules) -> Finding:
    """DC102: shared module ``m`` depends on a service; a warning when the plan records it as a blocker
    (by the symbol or by its definition, the plan's naming), an error when it is new."""
    known = sym in ack or _origin(sym, imports, modules) in ack
    return Finding("DC102", path, line, m, stmt, sym,
                   f"shared module {m} {what}" + (" (a blocker recorded in the plan)" if known else ""),
                   level="warning" if known else "")


def _origin(symbol: str, imports: dict[str, list[Imp]], modules, depth: int = 0) -> str:
    """``pkg.name`` re-exported by ``pkg`` (``from .mod import name``) -> where it comes from, followed to the end."""
    module, _, name = symbol.rpartition(".")
    origin = _reexport(module, name, imports, modules) if module in modules and depth < 5 else None
    if not origin or origin == symbol:
        return symbol
    return _origin(origin, imports, modules, depth + 1)


def _symbol_of(use_target: str, module: str) -> str:
    """``pkg.mod.Symbol.attr`` used through module ``pkg.mod`` -> ``pkg.mod.Symbol``."""
    rest = use_target[len(module) + 1 :]
    return f"{module}.{rest.split('.', 1)[0]}" if rest else module


def _use_allowed(use_target: str, module: str, iface: set[str], imports, modules) -> bool:
    rest = use_target[len(module) + 1 :]
    if not rest:
        return False  # the module object itself
    symbol = rest.split(".", 1)[0]
    return _in_interface(use_target, iface) or _symbol_allowed(module, symbol, iface, imports, modules)


def _in_interface(symbol: str, interface: set[str]) -> bool:
    if symbol in interface:
        return True
    prefix = symbol + "."
    return any(i.startswith(prefix) for i in interface)


def _reexport(module: str, name: str, imports: dict[str, list[Imp]], modules) -> str | None:
    """If ``module`` binds ``name`` by importing it, the fully qualified origin."""
    for imp_module, names, _line, _ctx, _kind, _level in imports.get(module, ()):
        for n in names:
            bare = _bare(n)
            alias = n.split(" as ", 1)[1].strip() if " as " in n else bare
            if alias == name and imp_module:
                sub = f"{imp_module}.{bare}"
                return sub if sub in modules else f"{imp_module}.{bare}"
    return None


def _symbol_allowed(module: str, name: str, interface: set[str], imports, modules, depth: int = 0) -> bool:
    symbol = f"{module}.{name}"
    if _in_interface(symbol, interface):
        return True
    if depth >= 5:
        return False
    origin = _reexport(module, name, imports, modules)
    if origin and origin != symbol:
        mod, _, sym = origin.rpartition(".")
        if origin in modules:  # re-export of a module: allowed if the module is an interface prefix
            return _in_interface(origin, interface)
        return _symbol_allowed(mod, sym, interface, imports, modules, depth + 1)
    return False
