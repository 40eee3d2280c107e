"""Django URL patterns: the urlconf tree from ``ROOT_URLCONF``, with full paths and view owners.

Read statically (:mod:`decompose.frameworks.django_static`), as Django's
resolver would build it:

* ``path()``, ``re_path()`` and the old ``url()``, in ``urlpatterns`` lists
  built in any way the static reader follows (``+``, ``+=``, ``append``,
  names imported from other modules, lists in lists);
* ``include()`` of a module name (``"blog.urls"``; its ``app_name`` is the
  namespace), of a ``(patterns_or_module, app_name)`` tuple, with
  ``namespace=``, of a list of patterns or of a module object, nested to
  any depth: prefixes are concatenated, namespaces joined with ``:``;
  ``include()`` of a module outside the monolith (``"allauth.urls"``) is
  one catch-all pattern under its prefix, served where it is included;
* views: functions, ``View.as_view()`` (class-based views), wrapped views
  (``login_required(views.x)``, ``cache_page(60)(views.x)``, instances of a
  class), views of other packages;
* Django REST framework routers (``DefaultRouter()``/``SimpleRouter()``
  ``.register(prefix, ViewSet, basename=...)``, then ``router.urls`` in a
  list or ``include(router.urls)``): the standard list
  (``prefix/``: GET list, POST create) and detail (``prefix/<pk>/``: GET,
  PUT, PATCH, DELETE) routes, only for the actions the viewset has (from
  DRF's viewset and mixin classes and its own methods), its ``@action``
  routes, and DefaultRouter's API root;
* the admin (``admin.site.urls``): one catch-all pattern under its prefix,
  Django's shared infrastructure.

Each :class:`UrlPattern` has the full route as Django matches it
(``route``: ``path()`` syntax and regexes joined), a Werkzeug rule for the
gateway (``path``: converters mapped, simple named groups turned into
``<name>``, anything else behind the literal prefix as ``<path:...>``), the
view's dotted name and the module owning it (the view's module for the
monolith's own views, else the urlconf module that declares the pattern).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from decompose.frameworks.django_static import Ext, ModuleRef, Obj, Reader, Ref, Unknown
from decompose.frameworks.prune import dotted

ALL_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
_PATH_FUNCS = {"path": False, "re_path": True, "url": True}
MAX_INCLUDE_DEPTH = 30

# DRF: the actions each viewset/mixin base class provides
_DRF_ACTIONS = {
    "ModelViewSet": {"list", "create", "retrieve", "update", "partial_update", "destroy"},
    "ReadOnlyModelViewSet": {"list", "retrieve"},
    "ListModelMixin": {"list"}, "CreateModelMixin": {"create"}, "RetrieveModelMixin": {"retrieve"},
    "UpdateModelMixin": {"update", "partial_update"}, "DestroyModelMixin": {"destroy"},
}
_LIST_ACTIONS = (("list", "GET"), ("create", "POST"))
_DETAIL_ACTIONS = (("retrieve", "GET"), ("update", "PUT"), ("partial_update", "PATCH"), ("destroy", "DELETE"))


@dataclass(frozen=True)
class UrlPattern:
    route: str  # as Django matches it: "shop/cart/", "^archive/(?P<year>[0-9]{4})/$" joined with prefixes
    path: str  # a Werkzeug rule for the gateway: "/shop/cart/", "/archive/<year>/"
    prefix: str  # the literal part before the first variable ("/shop/cart", "/archive")
    view: str  # dotted name of the view ("blog.views.index", "django.contrib.admin.site")
    module: str  # the monolith module owning it (the view's, or the declaring urlconf's)
    methods: tuple[str, ...]
    name: str | None  # full URL name with namespaces ("shop:cart")
    kind: str  # "function" | "class" | "viewset" | "router-root" | "admin" | "include" | "external"
    file: str
    line: int


@dataclass
class UrlConf:
    patterns: list[UrlPattern] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the reader's hooks


def _is_django(callee: Any, names: set[str] | dict) -> str | None:
    if isinstance(callee, Ext) and callee.name.startswith("django."):
        last = callee.name.rsplit(".", 1)[-1]
        if last in names:
            return last
    return None


def _viewish(v: Any) -> bool:
    return isinstance(v, (Ref, Ext)) or (isinstance(v, Obj) and v.kind in ("view", "instance"))


def _call(reader: Reader, callee: Any, args: list, kwargs: dict, file: str, line: int) -> Any:
    fn = _is_django(callee, _PATH_FUNCS)
    if fn:
        route = args[0] if args else kwargs.get("route", kwargs.get("regex"))
        view = args[1] if len(args) > 1 else kwargs.get("view")
        return Obj("pattern", {"route": route, "regex": _PATH_FUNCS[fn], "view": view,
                               "name": kwargs.get("name", args[3] if len(args) > 3 else None)}, file, line)
    if _is_django(callee, {"include"}):
        target = args[0] if args else kwargs.get("arg")
        return Obj("include", {"target": target, "namespace": kwargs.get("namespace",
                                                                         args[1] if len(args) > 1 else None)},
                   file, line)
    if _is_django(callee, {"static", "staticfiles_urlpatterns"}):
        return []  # static files in DEBUG only: nothing a service routes
    if _is_django(callee, {"i18n_patterns"}):
        return Obj("include", {"target": list(args), "namespace": None, "i18n": True}, file, line)
    if isinstance(callee, Ext) and callee.name.rsplit(".", 1)[-1] == "format_suffix_patterns" and args:
        return args[0]
    if isinstance(callee, Ext) and callee.name.endswith("Router") and "rest_framework" in callee.name \
            or isinstance(callee, Ext) and callee.name.rsplit(".", 1)[-1] in ("DefaultRouter", "SimpleRouter"):
        kind = "default" if callee.name.endswith("DefaultRouter") else "simple"
        return Obj("router", {"kind": kind, "registry": [], "trailing": kwargs.get("trailing_slash", True)},
                   file, line)
    if isinstance(callee, Ext) and callee.name.endswith(".as_view"):
        return Obj("view", {"view": Ext(callee.name[: -len(".as_view")]), "kind": "class"}, file, line)
    if isinstance(callee, Ref) and callee.kind == "class":
        return Obj("instance", {"view": callee}, file, line)  # MailingListFeed(): a callable view instance
    if isinstance(callee, Obj) and callee.kind == "decorator":
        views = [a for a in args if _viewish(a)]
        return views[0] if views else NotImplemented
    views = [a for a in args if _viewish(a)]
    if views and isinstance(callee, (Ref, Ext)):
        return views[0]  # login_required(views.x), check_private(Feed()): the wrapped view
    if isinstance(callee, (Ext, Ref)) and args and not views:
        return Obj("decorator", {"by": callee}, file, line)  # cache_page(60), permission_required("x"): applied next
    return NotImplemented


def _method(reader: Reader, receiver: Any, name: str, args: list, kwargs: dict, file: str, line: int) -> Any:
    if name == "as_view" and isinstance(receiver, Ref) and receiver.kind == "class":
        return Obj("view", {"view": receiver, "kind": "class"}, file, line)
    if isinstance(receiver, Obj) and receiver.kind == "router" and name == "register":
        prefix = args[0] if args else kwargs.get("prefix")
        viewset = args[1] if len(args) > 1 else kwargs.get("viewset")
        receiver.attrs["registry"].append((prefix, viewset, kwargs.get("basename"), file, line))
        return None
    return NotImplemented


def _attribute(reader: Reader, obj: Any, attr: str) -> Any:
    if isinstance(obj, Obj) and obj.kind == "router" and attr == "urls":
        return Obj("router_urls", {"router": obj}, obj.file, obj.line)
    return NotImplemented


def urls_reader(sources: dict[str, str], packages: set[str], paths: dict[str, str],
                definitions: dict[str, dict[str, tuple[str, int]]] | None = None) -> Reader:
    return Reader(sources, packages, paths, call=_call, method=_method, attribute=_attribute,
                  definitions=definitions)


# --------------------------------------------------------------------------- paths


def _regex_to_rule(regex: str) -> tuple[str, bool]:
    """A Django regex (anchors stripped) as a Werkzeug rule part; False when it is not a plain path."""
    out, i, ok = [], 0, True
    if regex.startswith("^"):
        regex = regex[1:]
    if regex.endswith("$") and not regex.endswith("\\$"):
        regex = regex[:-1]
    while i < len(regex):
        c = regex[i]
        if regex.startswith("(?P<", i):
            end = regex.find(">", i)
            depth, j = 1, end + 1
            while j < len(regex) and depth:
                if regex[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(regex[j], 0)
                j += 1
            group = regex[end + 1: j - 1]
            name = regex[i + 4: end]
            conv = "int:" if re.fullmatch(r"\\d\+|\[0-9\]\+|\\d\{\d+(,\d*)?\}|\[0-9\]\{\d+(,\d*)?\}", group) else (
                "path:" if _spans_slash(group) else "")
            out.append(f"<{conv}{name}>")
            i = j
        elif c == "\\" and i + 1 < len(regex) and not regex[i + 1].isalnum():
            out.append(regex[i + 1])
            i += 2
        elif c in ".*+?[](){}|^$\\":
            if c == "?" and out and out[-1] == "/" and i == len(regex) - 1:
                i += 1  # "/?" at the end: Werkzeug's strict_slashes redirects anyway
                continue
            return "".join(out), False
        else:
            out.append(c)
            i += 1
    return "".join(out), ok


def _spans_slash(group: str) -> bool:
    """Whether a named group's regex matches across a '/' (``.+``, ``[\\w/]+``): a ``<path:>`` variable."""
    try:
        rx = re.compile(group)
    except re.error:
        return True
    return any(rx.fullmatch(sample) for sample in ("x/y", "1/2", "x/y.z"))


def _route_to_rule(route: str) -> str:
    """``path()`` syntax as a Werkzeug rule: ``<str:x>``/``<slug:x>`` -> ``<x>``; int, path, uuid
    kept; a converter the project registers itself (``register_converter``) may match a '/':
    ``<path:x>``, so the gateway never misses a URL the service serves."""
    def conv(m: re.Match) -> str:
        kind, name = m.group(1) or "", m.group(2)
        if kind in ("int", "path", "uuid"):
            return f"<{kind}:{name}>"
        return f"<{name}>" if kind in ("", "str", "slug") else f"<path:{name}>"

    return re.sub(r"<(?:(\w+):)?(\w+)>", conv, route)


def _join(parts: list[tuple[str, bool]]) -> tuple[str, str, str]:
    """(Django route, Werkzeug rule, literal prefix) of prefix parts joined."""
    route = "".join(p for p, _ in parts)
    rule, exact = "", True
    for part, is_regex in parts:
        if is_regex:
            text, ok = _regex_to_rule(part)
            rule += text
            if not ok:
                exact = False
                break
        else:
            rule += _route_to_rule(part)
    head = rule.split("<", 1)[0]
    literal = head if "<" not in rule else (head.rsplit("/", 1)[0] or "")
    prefix = "/" + literal.strip("/") if literal.strip("/") else "/"
    if not exact:
        rule = literal.rstrip("/") + "/<path:rest>"
    return route, "/" + rule.lstrip("/"), prefix


# --------------------------------------------------------------------------- the tree


class _Walk:
    def __init__(self, reader: Reader, module_of_file: dict[str, str],
                 class_facts: dict[str, dict[str, dict]] | None = None):
        self.r = reader
        self.module_of_file = module_of_file
        self.class_facts = class_facts or {}
        self._classes: dict[str, dict] = {}
        self.out = UrlConf()

    def class_info(self, cls: Ref) -> dict:
        """A class's bases, methods and DRF ``@action`` methods, from its module's source."""
        if cls.module not in self._classes:
            source = self.r.sources.get(cls.module, "")
            known = self.class_facts.get(cls.module)
            # bases and methods are in the facts; only DRF @action decorators need the source parsed
            self._classes[cls.module] = known if known is not None and "action(" not in source \
                else classes_info(source)
        return self._classes[cls.module].get(cls.name, {"bases": [], "methods": [], "actions": []})

    def note(self, msg: str) -> None:
        if msg not in self.out.notes:
            self.out.notes.append(msg)

    def patterns_of(self, module: str, file: str, line: int) -> tuple[list, str | None]:
        if module not in self.r.sources:
            return [], None
        ns = self.r.namespace(module)
        pats = self.r.lookup(module, "urlpatterns")
        app_name = self.r.lookup(module, "app_name") if "app_name" in ns else None
        if isinstance(pats, Unknown):
            self.note(f"{pats.where()}: urlpatterns cannot be read statically ({pats.why})")
            return [], app_name if isinstance(app_name, str) else None
        return pats, app_name if isinstance(app_name, str) else None

    def walk(self, items: Any, parts: list[tuple[str, bool]], names: list[str], depth: int, where: str) -> None:
        if depth > MAX_INCLUDE_DEPTH:
            self.note(f"{where}: includes nested deeper than {MAX_INCLUDE_DEPTH}; left out")
            return
        if isinstance(items, Unknown):
            self.note(f"{items.where()}: URL patterns cannot be read statically ({items.why})")
            return
        if isinstance(items, Obj) and items.kind == "router_urls":
            self.router(items.attrs["router"], parts, names)
            return
        if not isinstance(items, (list, tuple)):
            self.note(f"{where}: URL patterns are not a list; left out")
            return
        for item in items:
            if isinstance(item, (list, tuple)):
                self.walk(item, parts, names, depth + 1, where)
            elif isinstance(item, Obj) and item.kind == "pattern":
                self.pattern(item, parts, names, depth)
            elif isinstance(item, Obj) and item.kind in ("router_urls", "include"):
                if item.kind == "include":
                    self.include(item, parts, names, depth, "")
                else:
                    self.walk(item, parts, names, depth + 1, where)
            elif isinstance(item, Unknown):
                self.note(f"{item.where()}: a URL pattern cannot be read statically ({item.why})")
            elif item is not None:
                self.note(f"{where}: an element of urlpatterns is not a path()/re_path(); left out")

    def pattern(self, p: Obj, parts: list, names: list[str], depth: int) -> None:
        route, view = p.attrs["route"], p.attrs["view"]
        where = f"{p.file}:{p.line}"
        if not isinstance(route, str):
            self.note(f"{where}: the route of a URL pattern cannot be read statically; left out")
            return
        here = [*parts, (route, p.attrs["regex"])]
        if isinstance(view, Obj) and view.kind in ("include", "router_urls"):
            if view.kind == "router_urls":
                self.router(view.attrs["router"], here, names)
            else:
                self.include(view, here, names, depth, route)
            return
        if isinstance(view, (list, tuple)):  # path("x/", ([...], "app", "ns")) -- include's result spelled out
            self.walk(view[0] if view else [], here, names, depth + 1, where)
            return
        if isinstance(view, Ext) and view.name == "django.contrib.admin.site.urls" or (
                isinstance(view, Ext) and view.name.endswith("admin.site.urls")):
            self.add(here, "django.contrib.admin.site", None, p, "admin", ALL_METHODS, catch_all=True)
            return
        name = p.attrs.get("name")
        full = ":".join([*names, name]) if isinstance(name, str) else None
        self.view(here, view, p, full)

    def view(self, parts: list, view: Any, p: Obj, name: str | None) -> None:
        kind = "function"
        if isinstance(view, Obj) and view.kind in ("view", "instance"):
            kind = "class"
            view = view.attrs["view"]
        if isinstance(view, Ref):
            owner = view.module
            dotted = f"{view.module}.{view.name}"
            if view.kind == "class":
                kind = "class"
        elif isinstance(view, Ext):
            owner, dotted, kind = None, view.name, "external"
        else:
            why = view.why if isinstance(view, Unknown) else "not a view"
            self.note(f"{p.file}:{p.line}: the view of a URL pattern cannot be read statically ({why}); "
                      "served by the service of its urlconf")
            owner, dotted, kind = None, "?", "external"
        self.add(parts, dotted, owner, p, kind, ALL_METHODS, name=name)

    def include(self, inc: Obj, parts: list, names: list[str], depth: int, route: str) -> None:
        target, namespace = inc.attrs["target"], inc.attrs.get("namespace")
        app_name = None
        if isinstance(target, tuple) and len(target) == 2:
            target, app_name = target
        if isinstance(target, str) and target not in self.r.sources:
            # a urlconf of another package: one catch-all, served where it is included
            self.add(parts, target, None, inc, "include", ALL_METHODS, catch_all=True)
            return
        if isinstance(target, str):
            target = ModuleRef(target)
        if isinstance(target, ModuleRef):
            items, own_app = self.patterns_of(target.module, inc.file, inc.line)
            app_name = app_name or own_app
        elif isinstance(target, Ext):
            self.add(parts, target.name, None, inc, "include", ALL_METHODS, catch_all=True)
            return
        else:
            items = target
        ns = namespace if isinstance(namespace, str) else (app_name if isinstance(app_name, str) else None)
        self.walk(items, parts, [*names, ns] if ns else names, depth + 1, f"{inc.file}:{inc.line}")

    def router(self, router: Obj, parts: list, names: list[str]) -> None:
        slash = "/" if router.attrs.get("trailing") is not False else ""
        if router.attrs["kind"] == "default":
            self.add([*parts, ("", False)], "rest_framework.routers.APIRootView", None, router, "router-root",
                     ["GET", "HEAD", "OPTIONS"],
                     name=":".join([*names, "api-root"]))
        for prefix, viewset, basename, file, line in router.attrs["registry"]:
            reg = Obj("register", {}, file, line)
            if not isinstance(prefix, str) or not isinstance(viewset, Ref):
                self.note(f"{file}:{line}: a router registration cannot be read statically; left out")
                continue
            info = self.class_info(viewset)
            actions = self.viewset_actions(viewset, set())
            base = basename if isinstance(basename, str) else viewset.name.lower().removesuffix("viewset")
            dotted = f"{viewset.module}.{viewset.name}"
            prefix = prefix.strip("^$").strip("/")

            def add(suffix: str, methods: list[str], url_name: str) -> None:
                if not methods:
                    return
                route = "/".join(x for x in (prefix, suffix) if x) + slash
                allowed = set(methods) | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
                self.add([*parts, (route, False)], dotted, viewset.module, reg, "viewset", sorted(allowed),
                         name=":".join([*names, url_name]))

            add("", [m for a, m in _LIST_ACTIONS if a in actions], f"{base}-list")
            for act in info.get("actions", []):
                if not act["detail"]:
                    add(act["url_path"], act["methods"], f"{base}-{act['url_name']}")
            add("<pk>", [m for a, m in _DETAIL_ACTIONS if a in actions], f"{base}-detail")
            for act in info.get("actions", []):
                if act["detail"]:
                    add(f"<pk>/{act['url_path']}", act["methods"], f"{base}-{act['url_name']}")

    def viewset_actions(self, cls: Ref, seen: set[str]) -> set[str]:
        key = f"{cls.module}.{cls.name}"
        if key in seen:
            return set()
        seen.add(key)
        info = self.class_info(cls)
        out = {m for m in info.get("methods", []) if m in {a for a, _ in _LIST_ACTIONS + _DETAIL_ACTIONS}}
        for base in info.get("bases", []):
            last = base.rsplit(".", 1)[-1]
            if last in _DRF_ACTIONS:
                out |= _DRF_ACTIONS[last]
            else:
                b = self.r.lookup(cls.module, base.split(".", 1)[0]) if "." not in base else None
                if isinstance(b, Ref) and b.kind == "class":
                    out |= self.viewset_actions(b, seen)
        return out

    def add(self, parts: list, view: str, owner: str | None, where: Obj, kind: str, methods: list[str], *,
            name: str | None = None, catch_all: bool = False) -> None:
        route, rule, prefix = _join(parts)
        if catch_all:
            rule = rule.rstrip("/") + "/<path:rest>" if "<path:" not in rule else rule
        module = owner or self.module_of_file.get(where.file, "")
        self.out.patterns.append(UrlPattern(route=route, path=rule, prefix=prefix, view=view, module=module,
                                            methods=tuple(methods), name=name, kind=kind, file=where.file,
                                            line=where.line))


def classes_info(source: str) -> dict[str, dict]:
    """``{class: {"bases": [...], "methods": [...], "actions": [{detail, methods, url_path, url_name}]}}``
    of a module's top-level classes (DRF's ``@action(detail=..., methods=[...], url_path=..., url_name=...)``)."""
    out: dict[str, dict] = {}
    try:
        tree = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return out
    for stmt in tree.body:
        if not isinstance(stmt, cst.ClassDef):
            continue
        info: dict = out.setdefault(stmt.name.value, {"bases": [], "methods": [], "actions": []})
        info["bases"] = [dotted(a.value) for a in stmt.bases if dotted(a.value)]
        for inner in stmt.body.body:
            if not isinstance(inner, cst.FunctionDef):
                continue
            info["methods"].append(inner.name.value)
            for dec in inner.decorators:
                d = dec.decorator
                if isinstance(d, cst.Call) and dotted(d.func).rsplit(".", 1)[-1] == "action":
                    kw = {a.keyword.value: a.value for a in d.args if a.keyword is not None}
                    detail = isinstance(kw.get("detail"), cst.Name) and kw["detail"].value == "True"
                    methods = ["GET"]
                    if isinstance(kw.get("methods"), (cst.List, cst.Tuple)):
                        methods = sorted(str(e.value.evaluated_value).upper() for e in kw["methods"].elements
                                         if isinstance(e.value, cst.SimpleString))
                    url_path = _literal(kw.get("url_path")) or inner.name.value
                    url_name = _literal(kw.get("url_name")) or inner.name.value.replace("_", "-")
                    info["actions"].append({"detail": detail, "methods": methods, "url_path": url_path,
                                            "url_name": url_name})
    return out


def _literal(node) -> str | None:
    if isinstance(node, cst.SimpleString):
        v = node.evaluated_value
        return v if isinstance(v, str) else None
    return None


def read_urlconf(root: str, sources: dict[str, str], packages: set[str], paths: dict[str, str],
                 definitions: dict[str, dict[str, tuple[str, int]]] | None = None,
                 class_facts: dict[str, dict[str, dict]] | None = None) -> UrlConf:
    """Every URL pattern reachable from the ``root`` urlconf module, in Django's order
    (``definitions``: top-level functions/classes per module, so view modules need no parse;
    ``class_facts``: module -> {class: {"bases", "methods", "actions": []}} from the facts)."""
    reader = urls_reader(sources, packages, paths, definitions)
    walk = _Walk(reader, {p: m for m, p in paths.items()}, class_facts)
    items, _app = walk.patterns_of(root, paths.get(root, root), 0)
    walk.walk(items, [], [], 0, paths.get(root, root))
    return walk.out
