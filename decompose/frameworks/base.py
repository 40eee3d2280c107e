"""The one small interface every web framework adapter implements, and what they share.

A framework adapter reads the analysis facts and the monolith's source and
answers the questions generation asks about a web application:

* :meth:`WebFramework.detects`: is the monolith written with this framework?
* :meth:`WebFramework.find_app`: which module builds the app, and its factory or
  app object (``"module:attr"``), plus whatever wiring the adapter needs later
  (FastAPI's ``include_router`` prefixes);
* :meth:`WebFramework.routes` / :meth:`WebFramework.app_routes`: the
  public routes, with their full paths (Blueprint ``url_prefix``, router
  prefixes);
* :meth:`WebFramework.gateway_rule` / :meth:`WebFramework.static_prefix`: how
  the gateway matches a route path;
* :meth:`WebFramework.prune_app_module`: the app module as one service runs it;
* :attr:`WebFramework.runtime_pins`, :attr:`WebFramework.server_template`,
  :attr:`WebFramework.asgi`, :meth:`WebFramework.server_context`: what a
  generated service needs to serve it.

Adapters sit between analysis and generation: they read
:class:`~decompose.analysis.facts.ModuleFacts` (the parser records every
route-like decorator generically) and never import planning, generation or
the CLI.  Everything here is pure: source text in, plain data out.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field

import libcst as cst
import libcst.helpers  # noqa: F401  (cst.helpers)

from decompose.analysis.facts import ModuleFacts


class PruneError(Exception):
    """The app module cannot be pruned for a service (names the module and why)."""


@dataclass
class Route:
    """One public route of a service: full path, methods, handler, the
    Blueprint/router it hangs on (``"module:attr"``) and the gateway prefix."""

    path: str
    methods: list[str]
    function: str
    blueprint: str | None
    prefix: str


@dataclass
class AppInfo:
    """Where the app is built: module, factory or app object, and router wiring."""

    module: str | None = None
    factory: str | None = None
    router_prefixes: dict[str, str] = field(default_factory=dict)  # "module:attr" -> include prefix


class WebFramework:
    """Base of the framework adapters (see the module docstring)."""

    name: str = ""
    #: What the generated runtime needs, pinned unless the monolith pins them.
    runtime_pins: dict[str, str] = {}
    #: Template of the service's API server (``templates/runtime/...``).
    server_template: str = ""
    #: Served by an ASGI server (uvicorn) rather than gunicorn's WSGI workers.
    asgi: bool = False

    def detects(self, tops: set[str]) -> bool:
        raise NotImplementedError

    def find_app(self, facts: dict[str, ModuleFacts], sources: dict[str, str]) -> AppInfo:
        raise NotImplementedError

    def module_routes(self, module: str, facts: ModuleFacts, source: str, app: AppInfo,
                      notes: list[str]) -> list[Route]:
        """Routes of one module (``Route.blueprint``: the module-level Blueprint/router carrying it)."""
        raise NotImplementedError

    def routes(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo,
               notes: list[str]) -> list[tuple[str, Route]]:
        """Every public route outside the app module, with the module declaring it
        (whose service serves it); by default :meth:`module_routes` per module."""
        out: list[tuple[str, Route]] = []
        for module in sorted(facts):
            if facts[module].routes:
                routes = self.module_routes(module, facts[module], sources.get(module, ""), app, notes)
                out.extend((module, r) for r in routes)
        return out

    def app_routes(self, app: AppInfo, source: str) -> list[Route]:
        """Routes declared on the app object itself (served by the default service)."""
        raise NotImplementedError

    def static_prefix(self, path: str) -> str:
        raise NotImplementedError

    def gateway_rule(self, path: str) -> str:
        """The route path as a Werkzeug rule for the gateway."""
        return path

    def prune_app_module(self, source: str, module: str, is_package: bool, drop: set[str]) -> str:
        return prune_imports(source, module, is_package, drop)

    def server_context(self, groups: list[tuple[str, str]], app: AppInfo) -> dict:
        """Extra template context of the service's ``service.py`` (``groups``: its Blueprints/routers)."""
        return {}


# --------------------------------------------------------------------------- shared helpers


def call_name(call: ast.Call) -> str:
    """Dotted name of what a call calls (``flask.Flask`` for ``flask.Flask(...)``)."""
    f = call.func
    parts = []
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    if isinstance(f, ast.Name):
        parts.append(f.id)
    return ".".join(reversed(parts))


def find_app_module(facts: dict[str, ModuleFacts], sources: dict[str, str], markers: tuple[str, ...],
                    constructors: tuple[str, ...]) -> tuple[str | None, str | None]:
    """The first module (by name) whose source contains every marker, and its
    factory (a function calling one of ``constructors``) or app object."""
    candidates = sorted(m for m, src in sources.items() if all(k in src for k in markers) and m in facts)
    if not candidates:
        return None, None
    module = candidates[0]
    try:
        tree = ast.parse(sources[module])
    except SyntaxError:
        return module, None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and call_name(sub) in constructors:
                    return module, f"{module}:{node.name}"
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and call_name(node.value) in constructors:
            for t in node.targets:
                if isinstance(t, ast.Name):
                    return module, f"{module}:{t.id}"
    return module, None


def decorated_app_routes(source: str, app_names: tuple[str, ...] = ("app",)) -> list[tuple[str, list[str]]]:
    """Routes declared on the app object itself (``@app.get("/health")``), anywhere in the module."""
    out: list[tuple[str, list[str]]] = []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return out
    verbs = {"get": ["GET"], "post": ["POST"], "put": ["PUT"], "patch": ["PATCH"], "delete": ["DELETE"]}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for dec in node.decorator_list:
            if not isinstance(dec, ast.Call) or not isinstance(dec.func, ast.Attribute):
                continue
            if not (isinstance(dec.func.value, ast.Name) and dec.func.value.id in app_names):
                continue
            if not dec.args or not isinstance(dec.args[0], ast.Constant) or not isinstance(dec.args[0].value, str):
                continue
            verb = dec.func.attr
            if verb in verbs:
                out.append((dec.args[0].value, verbs[verb]))
            elif verb == "route":
                methods = ["GET"]
                for kw in dec.keywords:
                    if kw.arg == "methods" and isinstance(kw.value, (ast.List, ast.Tuple)):
                        methods = sorted(str(e.value).upper() for e in kw.value.elts if isinstance(e, ast.Constant))
                out.append((dec.args[0].value, methods))
    return sorted(out)


def constructor_prefixes(source: str, ctor: str, keyword: str) -> dict[str, str]:
    """Module-level ``name = <ctor>(..., <keyword>="...")`` -> {name: prefix}
    (Flask ``Blueprint``/``url_prefix``, FastAPI ``APIRouter``/``prefix``)."""
    out: dict[str, str] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return out
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if call_name(node.value).rsplit(".", 1)[-1] != ctor:
                continue
            prefix = ""
            for kw in node.value.keywords:
                if kw.arg == keyword and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    prefix = kw.value.value
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = prefix
    return out


def literal_prefix(path: str, open_var: str) -> str:
    """The literal part of a route path before its first variable, up to a '/'."""
    head = path.split(open_var, 1)[0]
    if open_var in path:
        head = head.rsplit("/", 1)[0] or "/"
    return head.rstrip("/") or "/"


# --------------------------------------------------------------------------- pruning the app module


def resolve_from(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The module a ``from`` import in ``module`` names (relative levels resolved; "" if above the root)."""
    if not level:
        return name or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    if level - 1 > len(base):
        return ""
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([name] if name else [])])


def dotted(node: cst.BaseExpression | None) -> str:
    """Dotted name of a LibCST expression ("" when it is not a plain name/attribute chain)."""
    return cst.helpers.get_full_name_for_node(node) or "" if node is not None else ""


class _Uses(cst.CSTVisitor):
    """Does a node use one of the removed names?  Attribute names (``app.config``)
    are not names; ``a.b.c`` counts when a removed ``import a.b.c`` bound it."""

    def __init__(self, removed: set[str], dotted_removed: set[str]):
        self.removed = removed
        self.dotted_removed = dotted_removed
        self.found = False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        name = dotted(node)
        if name and any(name == d or name.startswith(d + ".") for d in self.dotted_removed):
            self.found = True
            return False
        node.value.visit(self)
        return False  # never visit .attr: it is not a reference to a local name

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.removed:
            self.found = True


class _Pruner(cst.CSTTransformer):
    """Removes the imports of dropped modules and, statement by statement, what
    uses the names they bound: expression statements (``app.register_blueprint(bp)``,
    ``ext.init_app(app)``), assignments (whose targets are then dropped too),
    elements of list/tuple/set/dict literals and decorated definitions."""

    def __init__(self, module: str, is_package: bool, drop: set[str]):
        self.module = module
        self.is_package = is_package
        self.drop = drop  # modules not present in this service
        self.removed: set[str] = set()  # local names bound by removed imports/statements
        self.dotted_removed: set[str] = set()  # ``import a.b.c`` of a dropped module (binds ``a``)

    def _gone(self, node: cst.CSTNode) -> bool:
        if not (self.removed or self.dotted_removed):
            return False
        v = _Uses(self.removed, self.dotted_removed)
        node.visit(v)
        return v.found

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom):
        base = resolve_from(self.module, self.is_package, len(updated.relative), dotted(updated.module) or None)
        if isinstance(updated.names, cst.ImportStar):
            if base in self.drop:
                return cst.RemoveFromParent()
            return updated
        keep = []
        for alias in updated.names:
            name = dotted(alias.name)
            local = alias.asname.name.value if alias.asname is not None else name
            if base in self.drop or f"{base}.{name}" in self.drop:
                self.removed.add(local)
            else:
                keep.append(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        if len(keep) == len(updated.names):
            return updated
        if not keep:
            return cst.RemoveFromParent()
        return updated.with_changes(names=keep)

    def leave_Import(self, original: cst.Import, updated: cst.Import):
        keep = []
        for alias in updated.names:
            target = dotted(alias.name)
            if target in self.drop:
                if alias.asname is not None:
                    self.removed.add(alias.asname.name.value)
                elif "." in target:
                    self.dotted_removed.add(target)  # the package it binds stays bound by the kept ancestors
                else:
                    self.removed.add(target)
            else:
                keep.append(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        if len(keep) == len(updated.names):
            return updated
        if not keep:
            return cst.RemoveFromParent()
        return updated.with_changes(names=keep)

    def _filter(self, updated, elements):
        kept = [e for e in elements if not self._gone(e)]
        if len(kept) == len(elements):
            return updated
        fixed = []
        for i, e in enumerate(kept):
            last = i == len(kept) - 1
            if last and isinstance(updated, cst.Tuple) and len(kept) == 1:
                fixed.append(e.with_changes(comma=cst.Comma()))
            elif last:
                fixed.append(e.with_changes(comma=cst.MaybeSentinel.DEFAULT))
            else:
                fixed.append(e.with_changes(comma=e.comma if isinstance(e.comma, cst.Comma) else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))))
        new = updated.with_changes(elements=fixed)
        if isinstance(new, cst.Tuple) and not new.lpar:
            new = new.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return new

    def leave_Tuple(self, original: cst.Tuple, updated: cst.Tuple):
        return self._filter(updated, list(updated.elements)) if self.removed or self.dotted_removed else updated

    def leave_List(self, original: cst.List, updated: cst.List):
        return self._filter(updated, list(updated.elements)) if self.removed or self.dotted_removed else updated

    def leave_Set(self, original: cst.Set, updated: cst.Set):
        if not (self.removed or self.dotted_removed):
            return updated
        kept = [e for e in updated.elements if not self._gone(e)]
        if len(kept) == len(updated.elements) or not kept:
            return updated  # an empty set literal would be a dict: leave it to the leftover check
        return self._filter(updated, list(updated.elements))

    def leave_Dict(self, original: cst.Dict, updated: cst.Dict):
        if not (self.removed or self.dotted_removed):
            return updated
        kept = [e for e in updated.elements if not self._gone(e)]
        if len(kept) == len(updated.elements):
            return updated
        fixed = [e.with_changes(comma=cst.MaybeSentinel.DEFAULT if i == len(kept) - 1 else
                                (e.comma if isinstance(e.comma, cst.Comma) else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))))
                 for i, e in enumerate(kept)]
        return updated.with_changes(elements=fixed)

    def _targets(self, stmt: cst.BaseSmallStatement) -> list[str]:
        names: list[str] = []
        targets = []
        if isinstance(stmt, cst.Assign):
            targets = [t.target for t in stmt.targets]
        elif isinstance(stmt, (cst.AnnAssign, cst.AugAssign)):
            targets = [stmt.target]
        for t in targets:
            for n in ([t] if isinstance(t, cst.Name) else
                      [e.value for e in t.elements if isinstance(e.value, cst.Name)] if isinstance(t, (cst.Tuple, cst.List)) else []):
                names.append(n.value)
        return names

    def leave_SimpleStatementLine(self, original, updated: cst.SimpleStatementLine):
        if not (self.removed or self.dotted_removed):
            return updated
        body = []
        for s in updated.body:
            if isinstance(s, cst.Expr) and self._gone(s):
                continue
            if isinstance(s, (cst.Assign, cst.AnnAssign, cst.AugAssign)) and s.value is not None and self._gone(s.value):
                self.removed.update(self._targets(s))
                continue
            body.append(s)
        if len(body) == len(updated.body):
            return updated
        if not body:
            return cst.RemoveFromParent()
        return updated.with_changes(body=body)

    def _drop_decorated(self, updated):
        if any(self._gone(d.decorator) for d in updated.decorators):
            self.removed.add(updated.name.value)
            return cst.RemoveFromParent()
        return updated

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef):
        return self._drop_decorated(updated) if self.removed or self.dotted_removed else updated

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef):
        return self._drop_decorated(updated) if self.removed or self.dotted_removed else updated


def prune_imports(source: str, module: str, is_package: bool, drop: set[str]) -> str:
    """Remove from the app module every import of a ``drop`` module and every
    statement, literal element or decorated definition using what it bound;
    refuse (:class:`PruneError`, naming each remaining use with its line in the
    original source) when other code still needs it."""
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise PruneError(f"{module}: cannot parse: {exc.message}") from None
    pruner = _Pruner(module, is_package, set(drop))
    new = tree.visit(pruner)
    if pruner.removed or pruner.dotted_removed:
        leftover: list[tuple[int, str]] = []

        wrapper = cst.metadata.MetadataWrapper(new, unsafe_skip_copy=True)
        positions = wrapper.resolve(cst.metadata.PositionProvider)
        # Lines of the pruned module -> lines of the original (pruning only deletes lines).
        to_original: dict[int, int] = {}
        matcher = difflib.SequenceMatcher(None, new.code.splitlines(), source.splitlines(), autojunk=False)
        for a, b, size in matcher.get_matching_blocks():
            for i in range(size):
                to_original[a + i + 1] = b + i + 1

        def line_of(n: cst.CSTNode) -> int:
            line = positions[n].start.line
            return to_original.get(line, line)

        class Check(cst.CSTVisitor):
            def visit_ImportFrom(self, n: cst.ImportFrom) -> bool:
                return False  # names imported from kept modules are not references

            def visit_Import(self, n: cst.Import) -> bool:
                return False

            def visit_Attribute(self, n: cst.Attribute) -> bool:
                name = dotted(n)
                if name and any(name == d or name.startswith(d + ".") for d in pruner.dotted_removed):
                    leftover.append((line_of(n), name))
                    return False
                n.value.visit(self)
                return False  # attribute names are not references

            def visit_Name(self, n: cst.Name) -> None:
                if n.value in pruner.removed:
                    leftover.append((line_of(n), n.value))

        wrapper.module.visit(Check())
        if leftover:
            shown = [f"{name} (line {line})" for line, name in sorted(set(leftover))]
            more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
            raise PruneError(
                f"{module}: cannot prune the app module for this service: still uses {', '.join(shown[:8])}{more}"
                " (move these uses into the module that defines them, or keep that module in this service)"
            )
    return new.code
