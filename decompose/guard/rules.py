"""The guard's rules and its findings (pure): :data:`RULES`, :class:`Finding`.

This module owns what a finding *is*: the rule table (id, name, default level
and the texts the reports show) and the record one violation makes, plus
:func:`import_statement`, which rebuilds the statement a finding quotes.  The
rules are applied by :mod:`decompose.guard.evaluation` (coupling, cycles,
unresolved imports) and :mod:`decompose.guard.boundaries` (the plan's
services); the reports render findings in :mod:`decompose.guard.report`.

Rules (``Finding.rule``)
------------------------
``DC101`` boundary-violation (error)
    An import in a module of service A names something of service B that is
    not in B's interface (``decompose.yaml``).  ``from b.mod import f`` is
    judged where ``f`` is defined: allowed iff ``b.mod.f`` is an interface
    item of B (or a class/module prefix of one), or ``b.mod`` re-exports
    ``f`` (by name, or by a star import of the module defining it) from code
    A has (its own service, shared) or from an interface item of the
    service owning it; ``import b.mod`` / ``from b import mod`` is allowed
    iff the module is used and every symbol of it that the importing module
    uses passes (the module object itself, or a module imported for its side
    effects, only when the module is an interface item); ``from b.mod import
    *`` iff every public definition of ``b.mod`` is an interface item.
    Imports into shared modules and into excluded or test modules are always
    allowed.  Every import of a checked file counts, whether new
    or not, and in every context (inside functions and under
    ``TYPE_CHECKING`` too: the split services will not have the code).
``DC102`` shared-imports-service (error)
    A shared module (copied into every service) imports a service's module.
    A warning instead when the plan records the dependency as a
    ``shared-uses-service`` blocker.
``DC103`` new-cycle (error)
    An import of a checked module closes an import cycle that was not there
    before: the strongly connected component it lies in after the change
    holds modules that were not strongly connected to it before.
``DC104`` max-instability / ``DC105`` max-efferent / ``DC106`` max-afferent (error)
    ``[tool.decompose]`` limits, applied to the modules whose figures the
    change alters, when the figure is over the limit *and* worse than
    before (a ratchet: touching a module that is already over the limit
    without making it worse does not block the commit).  Instability is
    judged only for the checked modules and only when something depends on
    the module (Ca >= 1): a module nothing imports is unstable by nature.
    Afferent coupling is judged on the targets of the new imports, at the
    first new import into them.
``DC201`` unresolved-import (warning)
    A checked module imports an internal module that does not exist.
``DC202`` unplaced-module (note)
    A checked module inside the planned code base belongs to no service
    (not in ``decompose.yaml`` and not inferable from its package).
``DC203`` cycle (warning)
    A full check against an empty baseline reports every existing import
    cycle once, without failing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from decompose.analysis.facts import ImportFact


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    level: str  # error | warning | note
    short: str
    help: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("DC101", "boundary-violation", "error",
             "Import crosses a service boundary outside the target service's interface",
             "Call the other service through a symbol listed in its interface in decompose.yaml, "
             "move the code, or change the plan."),
        Rule("DC102", "shared-imports-service", "error",
             "A shared module imports a module owned by a service",
             "Shared modules are copied into every service and must not depend on any service's code."),
        Rule("DC103", "new-cycle", "error",
             "Import closes a new import cycle",
             "Break the cycle: move the code both sides need into a module that depends on neither. "
             "Moving the import into a function hides the cycle at import time but keeps the coupling."),
        Rule("DC104", "max-instability", "error",
             "Module instability above tool.decompose.max_instability",
             "Instability I = Ce/(Ca+Ce); depend on fewer modules or on more stable ones."),
        Rule("DC105", "max-efferent", "error",
             "Module efferent coupling above tool.decompose.max_efferent",
             "The module depends on too many internal modules; split it."),
        Rule("DC106", "max-afferent", "error",
             "Module afferent coupling above tool.decompose.max_afferent",
             "Too many modules depend on the imported module; depend on a narrower one."),
        Rule("DC201", "unresolved-import", "warning",
             "Import of an internal module that does not exist",
             "The named module is not in the analysed tree: a typo, a deleted module, or an excluded file."),
        Rule("DC202", "unplaced-module", "note",
             "Module belongs to no service of the plan",
             "Add the module to a service or to shared in decompose.yaml so its imports are checked."),
        Rule("DC203", "cycle", "warning",
             "Import cycle (full check without a baseline)",
             "An existing import cycle; a full check reports it without failing, a check against a "
             "baseline fails only on cycles that are new."),
    )
}


@dataclass(slots=True)
class Finding:
    rule: str
    path: str  # relative to the project root, POSIX
    line: int
    module: str
    statement: str  # the import as written (reconstructed), "" when none applies
    target: str  # the module or symbol the finding is about
    message: str
    level: str = ""

    def __post_init__(self) -> None:
        if not self.level:
            self.level = RULES[self.rule].level

    @property
    def name(self) -> str:
        return RULES[self.rule].name

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.rule, self.target, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "name": self.name, **asdict(self)}


def import_statement(module: str, is_package: bool, imp: ImportFact) -> str:
    """The import statement as written, rebuilt from its fact."""
    if imp.kind == "dynamic":
        return f'importlib.import_module("{imp.module}")'
    if imp.kind == "string":
        return f'"{".".join([imp.module, *imp.names[:1]])}" (imported by name)'
    names = ", ".join(imp.names)
    if imp.kind == "relative" and imp.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (imp.level - 1)] if imp.level > 1 else base
        base_name = ".".join(base)
        rest = imp.module[len(base_name) + 1 :] if imp.module.startswith(base_name + ".") else (
            "" if imp.module == base_name else imp.module
        )
        return f"from {'.' * imp.level}{rest} import {names}"
    if imp.names:
        return f"from {imp.module} import {names}"
    return f"import {imp.module}" + (f" as {imp.alias}" if imp.alias else "")
