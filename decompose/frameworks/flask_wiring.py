"""How a Flask monolith wires its routes, read statically from the whole source tree.

Real Flask apps do not declare every route as ``@bp.route`` on a module-level
Blueprint with a literal ``url_prefix``.  This module follows what they do:

* Blueprints created at module level *or inside functions* (plugin hooks,
  ``init_app(app)`` functions), used from other modules through imports;
* routes by decorator (``@bp.route``, ``@bp.get`` ...), by
  ``bp.add_url_rule(rule, view_func=View.as_view(...))`` (MethodView classes:
  methods from the class), and through small helpers that wrap
  ``add_url_rule`` (``register_view(bp, routes=[...], view_func=...)``);
* ``register_blueprint(bp, url_prefix=...)`` on the app or on another
  Blueprint (nested Blueprints), the prefix a literal or a config key
  (``app.config["USER_URL_PREFIX"]``) whose literal value is assigned in a
  config class or module;
* Flask-RESTful / flask-restx: ``Api(bp_or_app, prefix=...)``,
  ``api.add_resource(Resource, "/a", "/b")``, ``Namespace(name, path=...)`` /
  ``api.namespace(...)``, ``@ns.route("/x")`` on Resource classes,
  ``api.add_namespace(ns, path=...)``.

The result is a list of :class:`~decompose.frameworks.base.Route` with full
paths, each tagged with the module that declares it (the service owning that
module serves it).  Pure: source text in, plain data out.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from decompose.frameworks.base import import_bindings

HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options")
ALL_METHODS = ["DELETE", "GET", "PATCH", "POST", "PUT"]
MARKERS = ("Blueprint", ".route(", "add_url_rule", "register_blueprint", "add_resource", "Namespace",
           "add_namespace", ".namespace(", "Api(")
#: a verb route, as a decorator (``@bp.get(...)``) or called on a path (``bp.post("/x")(view)``):
#: plain ``.get(`` is in nearly every module (``dict.get``), which made read_wiring parse them all
VERB_ROUTE = re.compile(r"""@[\w.]+\.(?:get|post|put|patch|delete)\(|\.(?:get|post|put|patch|delete)\(\s*[rbuRBU]?["']/""")


def wires(module: str, src: str) -> bool:
    """Whether ``src`` may declare routing (worth an ``ast`` parse), or is a config module."""
    return (any(m in src for m in MARKERS) or VERB_ROUTE.search(src) is not None
            or "config" in module or "setting" in module)


@dataclass
class _Obj:
    """A routing object: a Blueprint, an Api, a Namespace or the app."""

    key: str  # "module:name" (module level) or "module:func.name" (local)
    kind: str  # "blueprint" | "api" | "namespace" | "app"
    prefix: str = ""  # its own prefix (url_prefix=, prefix=, path=)
    parent: str | None = None  # Api -> its Blueprint/app; Namespace -> its Api
    module_level: bool = True


@dataclass
class _Rule:
    module: str
    obj: str  # key of the object it hangs on
    rule: str
    methods: list[str]
    function: str  # handler, "module.name"


@dataclass
class Wiring:
    objects: dict[str, _Obj] = field(default_factory=dict)
    rules: list[_Rule] = field(default_factory=list)
    registrations: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # bp key -> (parent key, prefix)
    notes: list[str] = field(default_factory=list)


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _call_name(node: ast.AST) -> str:
    return _dotted(node.func) if isinstance(node, ast.Call) else ""


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _kw(call: ast.Call, name: str) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _methods_kw(call: ast.Call) -> list[str] | None:
    value = _kw(call, "methods")
    if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        return sorted({str(e.value).upper() for e in value.elts if isinstance(e, ast.Constant)})
    return None


class _ModuleReader:
    """One module's routing objects, rules and registrations (two passes: objects, then uses)."""

    def __init__(self, module: str, tree: ast.Module, is_package: bool, wiring: Wiring,
                 classes: dict[str, list[str]], wrappers: dict[str, tuple[int, int, str | None]],
                 config: dict[str, str], app_names: set[str]):
        self.module = module
        self.tree = tree
        self.w = wiring
        self.bound = import_bindings(tree, module, is_package)
        self.classes = classes  # "module.Class" -> HTTP verbs it defines
        self.wrappers = wrappers  # "module.func" -> (bp arg index, rules arg index, rules kw name)
        self.config = config
        self.app_names = app_names

    # --- resolving names to objects
    def key_of(self, expr: ast.AST, scope: dict[str, str]) -> str | None:
        name = _dotted(expr)
        if not name:
            return None
        if name in scope:
            return scope[name]
        if f"{self.module}:{name}" in self.w.objects:
            return f"{self.module}:{name}"
        head, _, rest = name.partition(".")
        target = self.bound.get(head)
        if target:
            dotted = target + (f".{rest}" if rest else "")
            mod, _, attr = dotted.rpartition(".")
            if f"{mod}:{attr}" in self.w.objects:
                return f"{mod}:{attr}"
        if name in self.app_names or name in ("app", "current_app", "self.app"):
            return "<app>"
        return None

    def qualify(self, name: str) -> str:
        head, _, rest = name.partition(".")
        if head in self.bound:
            return self.bound[head] + (f".{rest}" if rest else "")
        return f"{self.module}.{name}"

    def prefix_value(self, node: ast.AST | None) -> str | None:
        """A literal prefix, or the literal value of a config key (``app.config["X"]``, ``.get("X")``)."""
        if node is None:
            return None
        s = _str(node)
        if s is not None:
            return s
        key = None
        if isinstance(node, ast.Subscript):
            key = _str(node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            key = _str(node.args[0])
        if key is not None and key in self.config:
            return self.config[key]
        return None

    # --- pass 1: objects
    def objects(self) -> None:
        self._objects_in(self.tree.body, None)

    def _objects_in(self, body: list[ast.stmt], func: str | None) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._objects_in(node.body, node.name if func is None else func)
                continue
            if isinstance(node, (ast.If, ast.Try, ast.With, ast.For)):
                for sub in (getattr(node, "body", []), getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                    self._objects_in(sub, func)
                for h in getattr(node, "handlers", []):
                    self._objects_in(h.body, func)
                continue
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
                continue
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if not names:
                continue
            call = node.value
            ctor = _call_name(call).rsplit(".", 1)[-1]
            kind = {"Blueprint": "blueprint", "Api": "api", "Namespace": "namespace"}.get(ctor)
            if kind is None and ctor == "namespace" and isinstance(call.func, ast.Attribute):
                kind = "namespace"  # api.namespace("name", path=...)
            if kind is None:
                continue
            for name in names:
                key = f"{self.module}:{name}" if func is None else f"{self.module}:{func}.{name}"
                obj = _Obj(key=key, kind=kind, module_level=func is None)
                if kind == "blueprint":
                    obj.prefix = self.prefix_value(_kw(call, "url_prefix")) or ""
                elif kind == "api":
                    obj.prefix = self.prefix_value(_kw(call, "prefix")) or ""
                    obj.parent = ("?arg", call.args[0]) if call.args else None  # resolved in pass 2
                else:
                    ns_name = _str(call.args[0]) if call.args else None
                    path = self.prefix_value(_kw(call, "path"))
                    obj.prefix = path if path is not None else (f"/{ns_name}" if ns_name else "")
                    if ctor == "namespace":
                        obj.parent = ("?arg", call.func.value)
                self.w.objects[key] = obj

    # --- pass 2: rules and registrations
    def uses(self) -> None:
        self._uses_in(self.tree.body, {}, None)

    def _scope_for(self, func: str, outer: dict[str, str]) -> dict[str, str]:
        scope = dict(outer)
        for key, obj in self.w.objects.items():
            mod, _, local = key.partition(":")
            if mod == self.module and not obj.module_level and local.startswith(func + "."):
                scope[local[len(func) + 1:]] = key
        return scope

    def _uses_in(self, body: list[ast.stmt], scope: dict[str, str], func: str | None) -> None:
        for obj in self.w.objects.values():
            if isinstance(obj.parent, tuple) and obj.key.startswith(self.module + ":"):
                local = obj.key.partition(":")[2]
                if (func is None and obj.module_level) or (func and local.startswith(func + ".")):
                    obj.parent = self.key_of(obj.parent[1], scope) or "<app>"
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = self._scope_for(node.name if func is None else func, scope)
                self._decorators(node, inner)
                self._uses_in(node.body, inner, node.name if func is None else func)
                continue
            if isinstance(node, ast.ClassDef):
                self._class_route(node, scope)
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call):
                    self._call(sub, scope)
                elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self._decorators(sub, scope)

    def _decorators(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, scope: dict[str, str]) -> None:
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute)):
                continue
            verb = dec.func.attr
            if verb not in HTTP_VERBS and verb != "route":
                continue
            key = self.key_of(dec.func.value, scope)
            rule = _str(dec.args[0]) if dec.args else _str(_kw(dec, "rule"))
            if key is None or rule is None:
                continue
            methods = [verb.upper()] if verb != "route" else (_methods_kw(dec) or ["GET"])
            self.w.rules.append(_Rule(self.module, key, rule, methods, f"{self.module}.{fn.name}"))

    def _class_route(self, cls: ast.ClassDef, scope: dict[str, str]) -> None:
        for dec in cls.decorator_list:
            if not (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) and dec.func.attr == "route"):
                continue
            key = self.key_of(dec.func.value, scope)
            if key is None:
                continue
            verbs = self.classes.get(f"{self.module}.{cls.name}") or ALL_METHODS
            for arg in dec.args:
                rule = _str(arg)
                if rule is not None:
                    self.w.rules.append(_Rule(self.module, key, rule, list(verbs), f"{self.module}.{cls.name}"))

    def _view_methods(self, view: ast.AST | None) -> tuple[list[str], str]:
        """Methods and handler of a ``view_func`` (a function, or ``Cls.as_view(...)``)."""
        if isinstance(view, ast.Call) and isinstance(view.func, ast.Attribute) and view.func.attr == "as_view":
            cls = self.qualify(_dotted(view.func.value))
            return list(self.classes.get(cls) or ALL_METHODS), cls
        name = _dotted(view) if view is not None else ""
        return ["GET"], self.qualify(name) if name else f"{self.module}.<view>"

    def _call(self, call: ast.Call, scope: dict[str, str]) -> None:
        attr = call.func.attr if isinstance(call.func, ast.Attribute) else ""
        owner = call.func.value if isinstance(call.func, ast.Attribute) else call.func
        if attr == "add_url_rule":
            key = self.key_of(owner, scope)
            rule = _str(call.args[0]) if call.args else _str(_kw(call, "rule"))
            if key is None or rule is None:
                return
            view = _kw(call, "view_func") or (call.args[2] if len(call.args) > 2 else None)
            methods, handler = self._view_methods(view)
            self.w.rules.append(_Rule(self.module, key, rule, _methods_kw(call) or methods, handler))
        elif attr == "register_blueprint":
            parent = self.key_of(owner, scope) or "<app>"
            child = self.key_of(call.args[0], scope) if call.args else None
            if child is None:
                return
            prefix_node = _kw(call, "url_prefix")
            prefix = self.prefix_value(prefix_node)
            if prefix_node is not None and prefix is None:
                self.w.notes.append(f"{self.module}: url_prefix of {child.partition(':')[2]} is not a literal "
                                    f"or a config key with a literal value (line {call.lineno}); its own prefix is used")
            self.w.registrations[child] = (parent, prefix)
        elif attr == "add_resource":
            key = self.key_of(owner, scope)
            if key is None or not call.args:
                return
            cls = self.qualify(_dotted(call.args[0]))
            verbs = list(self.classes.get(cls) or ALL_METHODS)
            for arg in call.args[1:]:
                rule = _str(arg)
                if rule is not None:
                    self.w.rules.append(_Rule(self.module, key, rule, verbs, cls))
        elif attr == "add_namespace":
            api = self.key_of(owner, scope)
            ns = self.key_of(call.args[0], scope) if call.args else None
            if api and ns and ns in self.w.objects:
                self.w.objects[ns].parent = api
                path = self.prefix_value(_kw(call, "path"))
                if path is not None:
                    self.w.objects[ns].prefix = path
        else:
            target = self.qualify(_dotted(call.func)) if _dotted(call.func) else ""
            wrapper = self.wrappers.get(target)
            if wrapper is None:
                return
            bp_index, rules_index, rules_kw = wrapper
            bp_node = call.args[bp_index] if len(call.args) > bp_index else None
            rules_node = call.args[rules_index] if len(call.args) > rules_index else (_kw(call, rules_kw) if rules_kw else None)
            key = self.key_of(bp_node, scope) if bp_node is not None else None
            if key is None or rules_node is None:
                return
            rules = [_str(e) for e in rules_node.elts] if isinstance(rules_node, (ast.List, ast.Tuple)) else [_str(rules_node)]
            methods, handler = self._view_methods(_kw(call, "view_func"))
            for rule in rules:
                if rule is not None:
                    self.w.rules.append(_Rule(self.module, key, rule, _methods_kw(call) or methods, handler))


def _wrappers(module: str, tree: ast.Module) -> dict[str, tuple[int, int, str | None]]:
    """Module-level functions wrapping ``<param>.add_url_rule(<rule param or loop over it>, ...)``."""
    out: dict[str, tuple[int, int, str | None]] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        params = [a.arg for a in node.args.posonlyargs + node.args.args]
        loops = {n.target.id: _dotted(n.iter) for n in ast.walk(node)
                 if isinstance(n, ast.For) and isinstance(n.target, ast.Name)}
        for sub in ast.walk(node):
            if not (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "add_url_rule"):
                continue
            owner = _dotted(sub.func.value)
            rule = _dotted(sub.args[0]) if sub.args else ""
            rule = loops.get(rule, rule)
            if owner in params and rule in params:
                out[f"{module}.{node.name}"] = (params.index(owner), params.index(rule), rule)
    return out


def _http_classes(module: str, tree: ast.Module) -> dict[str, list[str]]:
    """Classes defining HTTP verb methods (MethodView, Resource): "module.Class" -> methods."""
    out: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            verbs = sorted({f.name.upper() for f in node.body
                            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name in HTTP_VERBS})
            if verbs:
                out[f"{module}.{node.name}"] = verbs
    return out


def _config_literals(trees: dict[str, ast.Module]) -> dict[str, str]:
    """``KEY = "literal"`` in config classes/modules (UPPER_CASE names): the candidate
    config values.  When several differ, the one in a class whose name has
    "Default" or "Base", else the first module in name order."""
    found: dict[str, list[tuple[int, str, str]]] = {}
    for module in sorted(trees):
        for node in ast.walk(trees[module]):
            owner = ""
            bodies: list[tuple[str, list[ast.stmt]]] = []
            if isinstance(node, ast.ClassDef):
                bodies.append((node.name, node.body))
            elif isinstance(node, ast.Module):
                bodies.append(("", node.body))
            for owner, body in bodies:
                for stmt in body:
                    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                        name = stmt.targets[0].id
                        value = _str(stmt.value)
                        if value is not None and name.isupper():
                            rank = 0 if ("Default" in owner or "Base" in owner) else 1
                            found.setdefault(name, []).append((rank, module, value))
    return {k: sorted(v)[0][2] for k, v in found.items()}


def read_wiring(sources: dict[str, str], packages: set[str], app_names: set[str] | None = None) -> Wiring:
    """The routing objects, rules and registrations of the whole monolith."""
    trees: dict[str, ast.Module] = {}
    for module in sorted(sources):
        src = sources[module]
        if not wires(module, src):
            continue
        try:
            trees[module] = ast.parse(src)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    wiring = Wiring()
    classes: dict[str, list[str]] = {}
    wrappers: dict[str, tuple[int, int, str | None]] = {}
    for module, tree in trees.items():
        classes.update(_http_classes(module, tree))
        wrappers.update(_wrappers(module, tree))
    config = _config_literals(trees)
    readers = [_ModuleReader(m, t, m in packages, wiring, classes, wrappers, config, app_names or set())
               for m, t in trees.items()]
    for r in readers:
        r.objects()
    for r in readers:
        r.uses()
    return wiring


def join(prefix: str, rule: str) -> str:
    """What Flask's ``BlueprintSetupState.add_url_rule`` does with a ``url_prefix``."""
    if not prefix:
        return rule or "/"
    if rule:
        return "/".join((prefix.rstrip("/"), rule.lstrip("/")))
    return prefix


def full_prefix(w: Wiring, key: str, seen: frozenset[str] = frozenset()) -> str | None:
    """The URL prefix every rule on ``key`` gets, or None if it never reaches the app."""
    if key == "<app>":
        return ""
    if key in seen or key not in w.objects:
        return None
    obj = w.objects[key]
    if obj.kind == "blueprint":
        # A Blueprint never registered in a way we can read (a loop over a list,
        # a plugin manager) is taken as registered on the app with its own prefix.
        parent, registered = w.registrations.get(key, ("<app>", None))
        base = full_prefix(w, parent, seen | {key})
        if base is None:
            return None
        own = registered if registered is not None else obj.prefix
        return join(base, own) if own else base
    parent = obj.parent if isinstance(obj.parent, str) else "<app>"
    base = full_prefix(w, parent, seen | {key})
    if base is None:
        return None
    return (base.rstrip("/") + obj.prefix) if obj.prefix else base
