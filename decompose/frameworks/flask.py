"""Flask: Blueprints with ``url_prefix``, the app factory, routes on the app object.

Served by gunicorn (WSGI); the generated API server is ``runtime/server.py.j2``.
"""

from __future__ import annotations

import ast

from decompose.analysis.facts import ModuleFacts
from decompose.analysis.roles import is_test_module
from decompose.frameworks.base import (
    AppInfo,
    Route,
    WebFramework,
    call_name,
    literal_prefix,
)
from decompose.frameworks.flask_wiring import full_prefix, read_wiring

#: text every Flask app module contains, and the names of the app constructor
MARKERS = (".register_blueprint(",)
CONSTRUCTORS = ("Flask", "flask.Flask")


def flask_subclasses(sources: dict[str, str]) -> set[str]:
    """Names of classes deriving (directly or through each other) from Flask."""
    names = {"Flask"}
    defs: list[tuple[str, list[str]]] = []
    for src in sources.values():
        if "class " not in src or "Flask" not in src:
            continue
        try:
            tree = ast.parse(src)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                defs.append((node.name, [call_name(ast.Call(func=b, args=[], keywords=[])) for b in node.bases]))
    changed = True
    while changed:
        changed = False
        for name, bases in defs:
            if name not in names and any(b.rsplit(".", 1)[-1] in names for b in bases):
                names.add(name)
                changed = True
    return names - {"Flask"}


def _constructs(tree: ast.Module, module: str, constructors: set[str]) -> tuple[str, bool] | None:
    """("module:factory", True) for a top-level function constructing the app,
    ("module:name", False) for a module-level app object, else None."""
    short = {c.rsplit(".", 1)[-1] for c in constructors}

    def is_ctor(node: ast.AST) -> bool:
        return isinstance(node, ast.Call) and call_name(node).rsplit(".", 1)[-1] in short

    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(is_ctor(sub) for sub in ast.walk(node)):
            return f"{module}:{node.name}", True
    for node in tree.body:
        if isinstance(node, ast.Assign) and is_ctor(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    return f"{module}:{target.id}", False
    return None


def _string_value(node: ast.AST, sources: dict[str, str]) -> str | None:
    """A string literal, or ``NAME`` / ``Class.NAME`` bound to one string in the tree
    (``static_folder=DefaultConfigValues.STATIC_FOLDER``); None when not exactly one."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Name):
        owner, name = None, node.id
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owner, name = node.value.id, node.attr
    else:
        return None
    found: set[str] = set()
    for src in sources.values():
        if name not in src or (owner and owner not in src):
            continue
        try:
            tree = ast.parse(src)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        bodies = [c.body for c in ast.walk(tree) if isinstance(c, ast.ClassDef) and c.name == owner] if owner \
            else [tree.body]
        for body in bodies:
            for stmt in body:
                if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                        and stmt.targets[0].id == name and isinstance(stmt.value, ast.Constant)
                        and isinstance(stmt.value.value, str)):
                    found.add(stmt.value.value)
    return found.pop() if len(found) == 1 else None


def join_route(prefix: str, rule: str) -> str:
    """What Flask's ``BlueprintSetupState.add_url_rule`` does with a ``url_prefix``."""
    if not prefix:
        return rule or "/"
    if rule:
        return "/".join((prefix.rstrip("/"), rule.lstrip("/")))
    return prefix


def static_prefix(path: str) -> str:
    """The literal part of a Werkzeug rule before its first ``<variable>``, up to a '/'."""
    return literal_prefix(path, "<")


class Flask(WebFramework):
    name = "flask"
    runtime_pins = {"flask": "flask==3.1.3", "httpx": "httpx==0.28.1", "gunicorn": "gunicorn==27.0.1"}
    server_template = "runtime/server.py.j2"
    asgi = False

    def detects(self, tops: set[str]) -> bool:
        return "flask" in tops

    def find_app(self, facts: dict[str, ModuleFacts], sources: dict[str, str]) -> AppInfo:
        """The module building the app: it constructs ``Flask`` or a subclass of it
        (``class MyFlask(Flask)``), preferably in a factory function; test code
        (``tests``/``test_*``/``conftest``) never counts."""
        constructors = set(CONSTRUCTORS) | flask_subclasses(sources)
        best: tuple | None = None
        for module in sorted(sources):
            if module not in facts or is_test_module(module):
                continue
            src = sources[module]
            if not any(c.rsplit(".", 1)[-1] + "(" in src for c in constructors):
                continue
            try:
                tree = ast.parse(src)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            found = _constructs(tree, module, constructors)
            if found is None:
                continue
            factory, is_function = found
            score = (0 if is_function else 1, 0 if MARKERS[0] in src else 1, module.count("."), module)
            if best is None or score < best[0]:
                best = (score, module, factory)
        if best is None:
            return AppInfo()
        return AppInfo(module=best[1], factory=best[2])

    def module_routes(self, module: str, facts: ModuleFacts, source: str, app: AppInfo,
                      notes: list[str]) -> list[Route]:
        return [r for m, r in self.routes({module: facts}, {module: source}, app, notes) if m == module]

    def routes(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo,
               notes: list[str]) -> list[tuple[str, Route]]:
        """Every route the app's wiring reaches (see :mod:`decompose.frameworks.flask_wiring`)."""
        known = {m: sources[m] for m in sorted(sources) if m in facts}
        w = read_wiring(known, {m for m in known if facts[m].is_package}, app_names={"app"})
        notes.extend(w.notes)
        out: list[tuple[str, Route]] = []
        seen: set[tuple[str, str, tuple[str, ...]]] = set()
        for rule in w.rules:
            if rule.obj == "<app>" and rule.module == app.module:
                continue  # the app module's own routes: app_routes (served by the default service)
            prefix = full_prefix(w, rule.obj)
            if prefix is None:
                notes.append(f"{rule.module}: route {rule.rule} hangs on {rule.obj.partition(':')[2]}, "
                             "which is never registered on the app; left out")
                continue
            path = join_route(prefix, rule.rule)
            top = rule.obj if rule.obj != "<app>" else None
            obj = w.objects.get(rule.obj)
            while obj is not None and obj.kind != "blueprint" and isinstance(obj.parent, str):
                top = obj.parent if obj.parent != "<app>" else None
                obj = w.objects.get(obj.parent)
            blueprint = top if top and w.objects.get(top) and w.objects[top].module_level \
                and w.objects[top].kind == "blueprint" else None
            group_prefix = (full_prefix(w, top) or "") if top else ""
            key = (rule.module, path, tuple(sorted(rule.methods)))
            if key in seen:
                continue
            seen.add(key)
            out.append((rule.module, Route(path=path, methods=sorted(rule.methods), function=rule.function,
                                           blueprint=blueprint,
                                           prefix=group_prefix.rstrip("/") or static_prefix(path))))
        return out

    def static_prefix(self, path: str) -> str:
        return static_prefix(path)

    static_readers = (".static_folder", "send_static_file")

    def served_static(self, facts: dict[str, ModuleFacts], sources: dict[str, str], app: AppInfo) -> list[str]:
        """The app's ``static_folder``: Flask serves it at ``/static/<path>`` (which the gateway
        sends to the default service, as every path no route claims) and never reads it at start.

        The folder is the constructor's ``static_folder`` (third positional or keyword; "static"
        when not given; a string, or a name or ``Class.NAME`` bound to a string in the tree),
        relative to the app module's folder.  Anything else (a computed path, an absolute one,
        one leaving the package, ``None``) gives none: the folder is then copied as any data."""
        if not app.module or not app.factory or app.module not in sources:
            return []
        try:
            tree = ast.parse(sources[app.module])
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return []
        attr = app.factory.partition(":")[2]
        scope = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == attr),
                     next((n for n in tree.body if isinstance(n, ast.Assign)
                           and any(isinstance(t, ast.Name) and t.id == attr for t in n.targets)), None))
        calls = sorted((c for c in ast.walk(scope) if isinstance(c, ast.Call)),
                       key=lambda c: (c.lineno, c.col_offset)) if scope is not None else []
        short = {c.rsplit(".", 1)[-1] for c in CONSTRUCTORS}
        if not any(call_name(c).rsplit(".", 1)[-1] in short for c in calls):  # a subclass of Flask, then
            short |= {c.rsplit(".", 1)[-1] for c in flask_subclasses(sources)}
        call = next((c for c in calls if call_name(c).rsplit(".", 1)[-1] in short), None)
        if call is None:
            return []
        given = next((k.value for k in call.keywords if k.arg == "static_folder"),
                     call.args[2] if len(call.args) > 2 else None)
        folder = "static" if given is None else _string_value(given, sources)
        if not folder or folder.startswith("/"):
            return []
        parts = [p for p in folder.replace("\\", "/").split("/") if p and p != "."]
        if not parts or ".." in parts:
            return []
        base = app.module.replace(".", "/") if facts[app.module].is_package else app.module.rpartition(".")[0].replace(".", "/")
        return ["/".join([base, *parts]) if base else "/".join(parts)]
