"""Which calls cannot cross a process boundary, and which modules they bind together (pure).

A call whose parameters or result are **live objects** (ORM rows, sessions,
callables, open files, objects with behaviour, the web application object)
cannot become an HTTP call between services.  :func:`live_object_bonds` finds
those calls in the analysis facts; :func:`split_bonds` names the ones a
partition puts across services.  Both sides use this one predicate:
:mod:`decompose.planning.propose` keeps every bond inside one service
(whatever the domains, cycle cuts or size cap say), and
``decompose generate`` refuses a plan that splits one.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from decompose.analysis.facts import Definition, ModuleFacts, Param
from decompose.analysis.graph import DependencyGraph


def split_bonds(owner: Mapping[str, str], bonds: Iterable[tuple[list[str], str]]) -> list[str]:
    """The live-object bonds (:func:`live_object_bonds`) a partition puts across services,
    one line each.  ``owner`` maps module -> service ("" for the shared library, copied
    into every service, so a bond into it needs nothing).  ``decompose generate`` refuses
    a plan with any; :func:`propose` never makes one."""
    problems = []
    for (a, b), reason in bonds:
        sa, sb = owner.get(a, ""), owner.get(b, "")
        if sa and sb and sa != sb:
            problems.append(f"{a} (service {sa}) and {b} (service {sb}) must be in one service: {a} {bond_detail(reason)}")
    return problems


def bond_detail(reason: str) -> str:
    """What a bond's reason says its caller does (``calls m.f, which passes live objects (...)``),
    without the ``kept with ...:`` head."""
    return reason.split(": ", 1)[1] if ": " in reason else reason


def live_object_bonds(facts: list[ModuleFacts], graph: DependencyGraph) -> list[tuple[list[str], str]]:
    """Pairs of modules that must share a service: one calls a function of the other
    whose parameters or result are live objects (ORM rows, sessions, callables,
    objects with behaviour) that cannot be sent between processes.  Splitting them
    would turn the call into an HTTP call that cannot work."""
    model_classes = {
        f"{f.module}.{d.symbol}" for f in facts for d in f.data if d.how in ("model", "table") and d.symbol
    }
    res = _Resolver(facts, model_classes)
    # names each module applies as decorators: generation borrows a decorator's module
    # into the user's service, so a decorator is not a reference called over RPC
    decorating: dict[str, set[str]] = {
        f.module: {dec.split("(", 1)[0].strip().rpartition(".")[2]
                   for d in f.definitions for dec in (*d.decorators, *d.method_decorators)}
        for f in facts
    }
    bonds: dict[tuple[str, str], str] = {}
    for src, dst, d in sorted(graph.symbols.edges(data=True)):
        # a call, or a reference: a function passed as a value (a factory handed to a
        # view class, ``Depends(get_db)``) is called later in the user's process, over RPC
        # once split, with the same arguments and result
        called = bool(d.get("calls"))
        user = src.partition(":")[0]
        mod, _, name = dst.partition(":")
        found = res.definition(f"{mod}.{name}")
        if found is None:
            continue
        mod, dfn = found
        if mod == user or dfn.kind not in ("function", "async_function") or (user, mod) in bonds:
            continue
        if not called and (name in decorating.get(user, ()) or dfn.name in decorating.get(user, ())):
            continue
        # only the parameters the calls fill (an optional ``conn=None`` no caller passes
        # sends nothing); a reference is called later with whatever its caller passes
        only_calls = called and d.get("count", 0) <= d["calls"]
        verdicts = [param_verdict(p, mod, res) for p in passed_params(dfn.params, d.get("args") if only_calls else None)]
        verdicts.append(return_verdict(dfn, mod, res))
        how = "calls" if called else "passes on (to be called later)"
        for verdict, why in verdicts:
            if verdict == "bad":
                bonds[(user, mod)] = f"kept with {mod if user != mod else user}: {how} {mod}.{dfn.name}, which passes live objects ({why})"
                break
    return [([a, b], reason.replace(f"kept with {b}", f"kept with {a} and {b}", 1)) for (a, b), reason in sorted(bonds.items())]



def passed_params(params: list[Param], args: Iterable[str] | None) -> list[Param]:
    """The parameters calls passing the argument slots ``args`` (``SymbolUse.args``) fill:
    those without a default (a call must fill them), the positional ones up to the calls'
    count, those named by keyword, every one when an argument is unpacked (``*``/``**``)
    or ``args`` is None (not known).  ``*args``/``**kwargs`` count when something can reach them."""
    if args is None:
        return list(params)
    args = set(args)
    if args & {"*", "**"}:
        return list(params)
    npos = sum(1 for a in args if a.startswith("#"))
    out = []
    positional = [p for p in params if p.kind in ("positional", "positional_only")]
    named = {p.name for p in params if p.kind != "positional_only"}
    for p in params:
        if p.kind in ("positional", "positional_only"):
            pos = positional.index(p)
            if p.default is None or pos < npos or (p.kind == "positional" and p.name in args):
                out.append(p)
        elif p.kind == "keyword_only":
            if p.default is None or p.name in args:
                out.append(p)
        elif p.kind == "var_positional":
            if npos > len(positional):
                out.append(p)
        elif p.kind == "var_keyword":
            if any(not a.startswith("#") and a not in named for a in args):
                out.append(p)
    return out


# -- serializability ----------------------------------------------------------------


OK_NAMES = {
    "int", "float", "str", "bool", "None", "NoneType", "bytes", "list", "dict", "tuple", "set", "frozenset",
    "typing.List", "typing.Dict", "typing.Tuple", "typing.Set", "typing.FrozenSet", "typing.Optional",
    "typing.Union", "typing.Literal", "typing.Sequence", "typing.Mapping", "typing.MutableMapping",
    "typing.MutableSequence", "typing.Annotated", "typing.Final", "typing.TypedDict", "typing.NamedTuple",
    "typing.Collection", "typing.AbstractSet", "typing.NotRequired", "typing.Required",
    "collections.abc.Sequence", "collections.abc.Mapping", "collections.abc.Collection", "collections.abc.Set",
    "collections.abc.MutableMapping", "collections.abc.MutableSequence", "collections.OrderedDict",
    "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta", "decimal.Decimal", "uuid.UUID",
    "pathlib.Path", "pathlib.PurePath", "enum.Enum", "enum.IntEnum", "enum.StrEnum",
}
UNKNOWN_NAMES = {"typing.Any": "Any says nothing about the value", "object": "object says nothing about the value"}
BAD_NAMES = {
    "typing.Callable": "a callable",
    "collections.abc.Callable": "a callable",
    "typing.Awaitable": "an awaitable",
    "typing.Coroutine": "a coroutine",
    "collections.abc.Awaitable": "an awaitable",
    "collections.abc.Coroutine": "a coroutine",
    "typing.Iterator": "a lazy iterator",
    "typing.Generator": "a generator",
    "typing.AsyncIterator": "a lazy async iterator",
    "typing.AsyncGenerator": "an async generator",
    "collections.abc.Iterator": "a lazy iterator",
    "collections.abc.Generator": "a generator",
    "collections.abc.AsyncIterator": "a lazy async iterator",
    "collections.abc.AsyncGenerator": "an async generator",
    "typing.IO": "an open file/stream",
    "typing.TextIO": "an open file/stream",
    "typing.BinaryIO": "an open file/stream",
    "types.FunctionType": "a callable",
    "types.GeneratorType": "a generator",
    "functools.partial": "a callable",
}
#: Annotations of a class value (``type[X]``), by fully qualified name.
CLASS_VALUES = frozenset({"typing.Type", "builtins.type", "type"})
BAD_MODULES = {
    "io": "an open file/stream",
    "socket": "a socket",
    "threading": "a thread or lock",
    "multiprocessing": "a process-local object",
    "sqlite3": "a database connection",
    "logging": "a logger",
    "flask": "a request-bound web object",
    "werkzeug": "a request-bound web object",
}
BAD_SQLALCHEMY = {"Session", "Engine", "Connection", "Query", "Result", "ScopedSession", "scoped_session", "AsyncSession", "Select"}
OK_BASES = ("TypedDict", "NamedTuple", "Enum", "IntEnum", "StrEnum", "BaseModel")
BEHAVIOUR_BASES = ("Protocol", "ABC", "ABCMeta")


class _Resolver:
    """Resolve names written in a module to fully qualified names, and classify classes."""

    def __init__(self, facts: list[ModuleFacts], model_classes: set[str]):
        self.by_module = {f.module: f for f in facts}
        self.models = model_classes
        self.defs = {(f.module, d.name): d for f in facts for d in f.definitions}
        # a Flask/FastAPI-style project: its modules import an app framework (Django's
        # ``app`` parameters are app labels and AppConfigs, not the WSGI application)
        self.app_framework = any(
            i.module.split(".", 1)[0] in APP_FRAMEWORKS for f in facts for i in f.imports
        ) and not any(i.module.split(".", 1)[0] == "django" for f in facts for i in f.imports)
        # annotated parameters by name, for the unannotated ones (:func:`param_verdict`)
        self.annotated: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for f in facts:
            for d in f.definitions:
                for p in d.params:
                    if p.annotation and p.kind not in ("var_positional", "var_keyword"):
                        self.annotated[p.name].append((f.module, p.annotation))
        self._by_name: dict[str, tuple[str, str] | None] = {}
        self.imported: dict[tuple[str, str], str] = {}
        for f in facts:
            for imp in f.imports:
                if not imp.module:
                    continue
                if imp.names and imp.names != ["*"]:
                    for n in imp.names:
                        self.imported.setdefault((f.module, n), f"{imp.module}.{n}")
                elif imp.alias:
                    self.imported.setdefault((f.module, imp.alias), imp.module)
                else:
                    top = imp.module.split(".", 1)[0]
                    self.imported.setdefault((f.module, top), top)

    def qualify(self, module: str, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        if (module, head) in self.defs:
            base = f"{module}.{head}"
        elif (module, head) in self.imported:
            base = self.imported[(module, head)]
        elif head in {"int", "float", "str", "bool", "None", "bytes", "list", "dict", "tuple", "set", "frozenset", "object", "type"}:
            base = head
        else:
            base = head
        return f"{base}.{rest}" if rest else base

    def definition(self, fq: str) -> tuple[str, Definition] | None:
        """Follow re-exports: ``shop.catalog.Product`` -> (``shop.catalog.models``, Product)."""
        seen = set()
        while fq not in seen:
            seen.add(fq)
            mod, _, name = fq.rpartition(".")
            if (mod, name) in self.defs:
                return mod, self.defs[(mod, name)]
            nxt = self.imported.get((mod, name))
            if nxt is None:
                return None
            fq = nxt
        return None


#: Parameter names that, left unannotated, conventionally receive the web application
#: object itself (Flask/Quart ``init_app(app)``, FastAPI/Starlette ``setup(app)``).
APP_PARAMS = frozenset({"app", "application"})
#: Top-level packages whose projects pass the application object to ``init_app(app)``.
APP_FRAMEWORKS = frozenset({"flask", "quart", "fastapi", "starlette"})


#: An unannotated parameter takes the verdict of its name's annotations elsewhere in the
#: project when at least this many say so and all of them are live (:func:`param_verdict`).
NAMESAKES = 3
#: A verdict naming an ORM row: a recorded model, or a class defined in a ``models`` module/package.
_ORM_ROW = re.compile(r" is the ORM model | is the class \S*\.models\.")


def param_verdict(p: Param, module: str, res: _Resolver) -> tuple[str, str]:
    """(verdict, why) for one parameter: its annotation, or, when it has none, its name
    when that name conventionally receives the application object (an app factory calling
    ``init_app(app)`` of another module would send the Flask/FastAPI app across services;
    in Flask/Quart/FastAPI/Starlette projects only), or when the project annotates that
    name elsewhere, always with a live type (LNbits annotates ``conn: Connection | None`` on
    125 functions and leaves it bare on ``update_migration_version(conn, db_name, version)``)."""
    if p.annotation is None and p.kind not in ("var_positional", "var_keyword"):
        if res.app_framework and p.name in APP_PARAMS:
            return "bad", f"{p.name} (no annotation) receives the application object (Flask/FastAPI app), which lives in one process"
        namesake = _namesake_verdict(p.name, res)
        if namesake is not None:
            return namesake
    return classify_annotation(p.annotation, module, res)


def _namesake_verdict(name: str, res: _Resolver) -> tuple[str, str] | None:
    """("bad", why) when at least :data:`NAMESAKES` annotations of parameters called ``name``
    exist in the project and every one is a live type other than an ORM model; else None."""
    if name in res._by_name:
        return res._by_name[name]
    found = None
    seen = res.annotated.get(name, [])
    if len(seen) >= NAMESAKES:
        verdicts = [classify_annotation(a, m, res) for m, a in seen]
        # rows of ORM models (recorded as models, or classes of a `models` module: Misago's
        # Thread(PluginDataModel)) are left to the annotations: a bare `thread` or `post` of a
        # Django app is as often an id or a dict, and binding on a name alone merged its apps
        if all(v == "bad" and not _ORM_ROW.search(why) for v, why in verdicts):
            written = Counter(a for _, a in seen).most_common(1)[0][0]
            found = ("bad", f"{name} (no annotation) is annotated {written} on {len(seen)} other parameters of "
                            f"the project: {verdicts[0][1]}")
    res._by_name[name] = found
    return found


#: Calls of libraries (by fully qualified name) whose result is plain data although their
#: module's other objects are live (Flask's templates and URLs give strings).
OK_CALLS = frozenset({
    "flask.render_template", "flask.render_template_string", "flask.url_for", "flask.escape",
    "markupsafe.escape", "json.dumps", "json.loads", "str", "int", "float", "bool", "dict", "list", "tuple",
    "set", "frozenset", "len", "sorted", "sum", "min", "max", "round", "abs", "repr", "format", "any", "all",
})
#: Builtins whose result is live.
BAD_CALLS = {"open": "an open file/stream", "iter": "a lazy iterator", "map": "a lazy iterator",
             "filter": "a lazy iterator", "zip": "a lazy iterator", "enumerate": "a lazy iterator",
             "reversed": "a lazy iterator", "range": "a lazy range"}
#: How deep :func:`return_verdict` follows ``return other_function(...)``.
RETURN_DEPTH = 3


def return_verdict(dfn: Definition, module: str, res: _Resolver, depth: int = 0) -> tuple[str, str]:
    """(verdict, why) for what a function returns: its annotation when it has one, else
    the value sources its body returns (``Definition.returns_inferred``), the worst of
    them.  ``return sqlite3.connect(...)``, ``return g.db`` (Flask's request globals),
    a generator, a lambda or an inner function, an ORM model or a class with behaviour
    are live; literals and containers are data; the result of a project function is
    that function's own verdict (followed :data:`RETURN_DEPTH` calls deep)."""
    if dfn.returns is not None:
        return classify_annotation(dfn.returns, module, res)
    if not dfn.returns_inferred:
        return "unknown", "no annotation"
    verdict, why = _worst(_source_verdict(src, module, res, depth) for src in dfn.returns_inferred)
    if verdict == "bad":
        why = f"it returns {why} (no return annotation; read from its return statements)"
    return verdict, why


def _source_verdict(src: str, module: str, res: _Resolver, depth: int) -> tuple[str, str]:
    kind, _, written = src.partition(":")
    if kind == "literal":
        return "ok", ""
    if kind == "generator":
        return "bad", "a generator or context manager (its body yields)"
    if kind in ("lambda", "function"):
        return "bad", f"a callable ({written or 'a lambda'})"
    if kind == "item":
        # an item of a live container (``flask.g``, an app-local store) is that process's
        # (or that request's) state: over RPC the callee would answer from its own
        return _item_verdict(written, module, res, depth)
    if kind not in ("call", "name"):
        return "unknown", "no annotation"
    fq = res.qualify(module, written)
    found = res.definition(fq)
    if found is not None:
        mod, d = found
        if d.kind in ("function", "async_function"):
            if kind == "name":
                return "bad", f"a callable ({written}, the function {mod}.{d.name})"
            if depth >= RETURN_DEPTH:
                return "unknown", f"{written}(): not followed further"
            v, w = return_verdict(d, mod, res, depth + 1)
            return v, (f"the result of {written}(), {w}" if v == "bad" and d.returns is not None else w)
        if d.kind == "class":
            if kind == "name":
                return "bad", f"a class ({written})"
            return _classify_name(f"{mod}.{d.name}", written, res)
        return "unknown", f"{written} ({mod}.{d.name}) is module state"
    if kind == "call" and fq in OK_CALLS:
        return "ok", ""
    if kind == "call" and fq in BAD_CALLS:
        return "bad", f"{written}() ({BAD_CALLS[fq]})"
    top = fq.split(".", 1)[0]
    if top in BAD_MODULES:
        return "bad", f"{written} ({fq}, {BAD_MODULES[top]})"
    if top == "sqlalchemy" and (kind == "name" or fq.split(".")[-1] in BAD_SQLALCHEMY | {"create_engine", "sessionmaker"}):
        return "bad", f"{written} ({fq}, a database session/connection)"
    return "unknown", f"{written} ({fq}) cannot be classified"


def _item_verdict(container: str, module: str, res: _Resolver, depth: int) -> tuple[str, str]:
    """(verdict, why) for an item taken out of ``container`` (a value source itself)."""
    verdict, why = _source_verdict(container, module, res, depth)
    if verdict != "bad":
        return "unknown", f"an item of {container.partition(':')[2]}, not classified"
    return "bad", f"an item of a container held by the process ({why}): state kept for one request or process"


def classify_annotation(text: str | None, module: str, res: _Resolver) -> tuple[str, str]:
    """(verdict, why) with verdict in ok / unknown / bad, for an annotation written in ``module``."""
    if text is None or not text.strip():
        return "unknown", "no annotation"
    # a class handed over (``model: type[FilterModel]``, LNbits' generate_filter_params_openapi):
    # the callee works on the class object itself; string contents (``Literal["type"]``) are no names
    for name in _DOTTED.findall(re.sub(r"(['\"]).*?\1", " ", text)):
        if name == "type" or res.qualify(module, name) in CLASS_VALUES:
            return "bad", f"{name}[...] is a class, which cannot be sent between processes"
    clean = text.replace('"', " ").replace("'", " ")
    return _worst(_classify_name(res.qualify(module, name), name, res) for name in _DOTTED.findall(clean))


#: A dotted name as written in an annotation.
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_RANK = {"ok": 0, "unknown": 1, "bad": 2}


def _worst(verdicts: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """The worst (verdict, why) of ``verdicts`` (bad > unknown > ok; the first of equals); ok if none."""
    verdict, why = "ok", ""
    for v, w in verdicts:
        if _RANK[v] > _RANK[verdict]:
            verdict, why = v, w
    return verdict, why


def _is_data_class(module: str, d: Definition, res: _Resolver, depth: int = 0) -> bool:
    """A class that is data: a ``TypedDict``/``NamedTuple``/``Enum``/pydantic model or a
    dataclass, directly or through the project's own base classes (LNbits' ``Wallet(BaseWallet)``
    with ``BaseWallet(BaseModel)``), followed a few levels deep."""
    if any(b.split(".")[-1].split("[")[0] in OK_BASES for b in d.bases) or any(
        dec.split(".")[-1].split("(")[0] == "dataclass" for dec in d.decorators
    ):
        return True
    if depth >= RETURN_DEPTH:
        return False
    for b in d.bases:
        found = res.definition(res.qualify(module, b.split("[")[0]))
        if found is not None and found[1].kind == "class" and _is_data_class(found[0], found[1], res, depth + 1):
            return True
    return False


def _classify_name(fq: str, written: str, res: _Resolver) -> tuple[str, str]:
    found = res.definition(fq)
    if found is not None:
        mod, d = found
        full = f"{mod}.{d.name}"
        if full in res.models:
            return "bad", f"{written} is the ORM model {full} (a live database row; pass its id or a dict)"
        if d.kind == "class":
            if _is_data_class(mod, d, res):
                return "ok", ""
            behaviour = [m for m in d.methods if not (m.startswith("__") and m.endswith("__"))]
            if behaviour or any(b.split(".")[-1].split("[")[0] in BEHAVIOUR_BASES for b in d.bases):
                shown = ", ".join(behaviour[:3]) + ("..." if len(behaviour) > 3 else "")
                return "bad", (
                    f"{written} is the class {full}, an object with behaviour ({shown or 'an interface'}); "
                    "it cannot be sent to another process"
                )
            return "unknown", f"{written} is the class {full}, serializable only if converted explicitly"
        if d.kind == "variable":
            return "ok", ""  # a type alias: its parts were checked where written
        return "unknown", f"{written} names {full}, not a type"
    if fq in OK_NAMES or fq.split(".")[-1] in ("None",):
        return "ok", ""
    if fq in UNKNOWN_NAMES:
        return "unknown", f"{written}: {UNKNOWN_NAMES[fq]}"
    if fq in BAD_NAMES:
        return "bad", f"{written} is {BAD_NAMES[fq]}"
    top = fq.split(".", 1)[0]
    if top in BAD_MODULES:
        return "bad", f"{written} ({fq}) is {BAD_MODULES[top]}"
    if top == "sqlalchemy" and fq.split(".")[-1] in BAD_SQLALCHEMY:
        return "bad", f"{written} ({fq}) is a database session/connection"
    if fq in ("typing", "collections.abc") or top == "typing":
        return "ok", ""
    return "unknown", f"{written} ({fq}) cannot be classified"

