"""Django ORM relations: which model each ``ForeignKey``/``ManyToManyField``/``OneToOneField`` points to.

The parser records every relation field of a Django model
(:class:`~decompose.analysis.facts.ModelRelation`: the target as a string
``"app_label.Model"``, ``"Model"`` (same app), ``"self"``, or the dotted name
a class reference resolves to).  :func:`resolved_relations` turns each target
into the model class of the monolith that defines it, so planning can tell a
relation to a model that another service owns (a join across a database
boundary: the hard coupling of a Django split).

Django's own apps (``contenttypes``, ``auth``, ``sessions``, ``admin``,
``messages``, ``staticfiles``, ``sites``) are shared infrastructure of every
service: a relation to ``auth.User``/``settings.AUTH_USER_MODEL`` is never a
cross-service relation.  Targets outside the monolith (third-party apps) are
left out.  Pure: facts in, relations out.
"""

from __future__ import annotations

from dataclasses import dataclass

from decompose.analysis.facts import ModuleFacts

#: app labels of django.contrib apps: shared infrastructure, never services
INFRASTRUCTURE_LABELS = frozenset({"contenttypes", "auth", "sessions", "admin", "messages", "staticfiles", "sites"})


@dataclass(frozen=True)
class Relation:
    module: str  # the module defining the model with the field
    model: str  # "shop.models.Order"
    field: str
    kind: str
    target: str  # "accounts.models.Profile"
    target_module: str
    file: str
    line: int

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


def _label(module: str) -> str:
    """The app label of a module's models when Meta has none (the parser's rule)."""
    parts = module.split(".")
    parent = parts[:-1] or parts
    if len(parent) > 1 and parent[-1] == "models":
        parent = parent[:-1]
    return parent[-1] if parent else ""


def model_index(facts: dict[str, ModuleFacts]) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """(``"module.Class"`` -> module, ``(app_label, Class)`` -> ``"module.Class"``) of the Django models."""
    by_name: dict[str, str] = {}
    by_label: dict[tuple[str, str], str] = {}
    for m in sorted(facts):
        f = facts[m]
        labels = {r.model: r.app_label for r in f.relations}
        for d in f.data:
            if d.how != "model" or not d.symbol:
                continue
            full = f"{m}.{d.symbol}"
            by_name[full] = m
            label = labels.get(d.symbol) or (d.table[: -len(d.symbol) - 1]
                                             if d.table.endswith("_" + d.symbol.lower()) else _label(m))
            by_label.setdefault((label, d.symbol), full)
    return by_name, by_label


def resolved_relations(facts: dict[str, ModuleFacts]) -> list[Relation]:
    """Every relation field whose target is a model of the monolith (infrastructure targets left out)."""
    by_name, by_label = model_index(facts)
    # a class re-exported by a package (``from .post import Post`` in models/__init__.py)
    reexports: dict[str, str] = {}
    for m, f in facts.items():
        for imp in f.imports:
            for n in imp.names:
                if f"{imp.module}.{n}" in by_name:
                    reexports[f"{m}.{n}"] = f"{imp.module}.{n}"
    out: list[Relation] = []
    for m in sorted(facts):
        f = facts[m]
        for r in f.relations:
            target = r.target
            if target == "self" or target.startswith("django.") :
                continue
            if "." in target and target in by_name:
                full = target
            elif target in reexports:
                full = reexports[target]
            elif target.count(".") == 1 and (tuple(target.split(".")) in by_label):
                label, cls = target.split(".")
                if label in INFRASTRUCTURE_LABELS:
                    continue
                full = by_label[(label, cls)]
            elif "." not in target and (r.app_label, target) in by_label:
                full = by_label[(r.app_label, target)]
            elif f"{m}.{target}" in by_name:
                full = f"{m}.{target}"
            else:
                continue  # a third-party or infrastructure model
            out.append(Relation(module=m, model=f"{m}.{r.model}", field=r.field, kind=r.kind, target=full,
                                target_module=by_name[full], file=f.path, line=r.line))
    return out


def relation_blockers(facts: dict[str, ModuleFacts], owner: dict[str, str]) -> list[dict]:
    """``orm-relation`` blockers: a relation field whose model and target model are in different
    services (``owner``: module -> service, ``""`` for the shared library, which never counts)."""
    out: list[dict] = []
    for rel in resolved_relations(facts):
        s_from, s_to = owner.get(rel.module), owner.get(rel.target_module)
        if not s_from or not s_to or s_from == s_to:
            continue
        out.append({
            "kind": "orm-relation",
            "severity": "error",
            "module": rel.module,
            "model": rel.model,
            "field": rel.field,
            "relation": rel.kind,
            "target": rel.target,
            "service": s_from,
            "target_service": s_to,
            "location": rel.location,
        })
    return out
