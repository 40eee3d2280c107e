"""Requirements of the generated units, resolved from what the monolith declares (pure core).

Input: the text of the monolith's dependency files (read by
:mod:`decompose.generation.dependencies`), the import-name index of installed
distributions when one is available, and the third-party imports of the
modules copied into a service.  Output: ``requirements.txt`` lines,
``constraints.txt`` lines (``name==version`` only) and notes.

Sources, in precedence order (``SOURCES``):

1. lock files - ``uv.lock``, ``poetry.lock``, ``Pipfile.lock`` (their
   production part: the closure of the production dependencies; dev groups and
   ``develop`` are not production);
2. requirements files - ``requirements.txt`` first, then every other
   ``requirements*.txt``/``.in`` (root and ``requirements/``), following
   ``-r`` includes and ``-c`` constraints files;
3. ``pyproject.toml`` ``[project]`` (``dependencies``, ``optional-dependencies``);
4. ``pyproject.toml`` ``[tool.poetry]`` (``dependencies``, groups, extras);
5. ``Pipfile`` (``[packages]``, ``[dev-packages]``);
6. ``setup.cfg`` (``[options] install_requires``, ``[options.extras_require]``);
7. ``setup.py`` (``install_requires=``/``extras_require=``/``tests_require=``
   read statically with :mod:`ast`, never executed).

A distribution's version is the first exact pin (``==``) in that order; without
one, the first declared range.  Extras and environment markers come from its
first declaration.  Entries whose marker is false for the target image's
Python (3.11 on Linux unless the base image says otherwise) are ignored.

Groups: ``main`` (installed in production), ``extra:<name>`` (an optional
extra or an unrecognised requirements file: used only when a copied module
imports it) and ``dev`` (dev/test/docs groups, ``requirements-dev.txt``,
``tests_require``, ``[dependency-groups]``...: never a service requirement).

An import is mapped to a distribution through the declared distributions:
the import names installed distributions provide (metadata), then a table of
known names (:data:`KNOWN_IMPORTS`), then the name itself - the first candidate
the monolith declares (or locks) for production wins.  An import no declared
distribution provides is reported in a note, never given an invented pin.
Imports of test modules and imports guarded by ``try: ... except ImportError``
are not requirements.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from decompose.analysis.roles import is_test_module
from decompose.generation.declarations import (  # noqa: F401 - re-exported: the one entry point of the core
    SOURCES,
    Declarations,
    Entry,
    _group_rank,
    collect,
    marker_holds,
    normalise,
    pyproject_with,
    target_environment,
)

#: Import name (or dotted prefix) -> the distributions known to provide it, most common first.
#: Only a fallback: installed metadata comes first, and a candidate counts only
#: when the monolith declares it.
KNOWN_IMPORTS: dict[str, tuple[str, ...]] = {
    "yaml": ("pyyaml",), "PIL": ("pillow",), "sklearn": ("scikit-learn",), "skimage": ("scikit-image",),
    "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python"), "bs4": ("beautifulsoup4",),
    "dateutil": ("python-dateutil",), "jwt": ("pyjwt",), "attr": ("attrs",), "dotenv": ("python-dotenv",),
    "magic": ("python-magic",), "psycopg2": ("psycopg2-binary", "psycopg2"), "google.protobuf": ("protobuf",),
    "jose": ("python-jose",), "multipart": ("python-multipart",), "OpenSSL": ("pyopenssl",),
    "Crypto": ("pycryptodome", "pycrypto"), "Cryptodome": ("pycryptodomex",), "MySQLdb": ("mysqlclient",),
    "docx": ("python-docx",), "slugify": ("python-slugify", "awesome-slugify"), "factory": ("factory-boy",),
    "pkg_resources": ("setuptools",), "_pytest": ("pytest",), "git": ("gitpython",), "serial": ("pyserial",),
    "zmq": ("pyzmq",), "dns": ("dnspython",), "nacl": ("pynacl",), "ldap": ("python-ldap",),
    "memcache": ("python-memcached",), "websocket": ("websocket-client",), "socketio": ("python-socketio",),
    "engineio": ("python-engineio",), "telegram": ("python-telegram-bot",), "grpc": ("grpcio",),
    "kafka": ("kafka-python",), "argon2": ("argon2-cffi",), "pythonjsonlogger": ("python-json-logger",),
    "rest_framework": ("djangorestframework",), "corsheaders": ("django-cors-headers",),
    "environ": ("django-environ",), "debug_toolbar": ("django-debug-toolbar",),
    "crispy_forms": ("django-crispy-forms",), "allauth": ("django-allauth",), "storages": ("django-storages",),
    "editor": ("python-editor",), "Levenshtein": ("python-levenshtein",), "markdown": ("markdown",),
    "ruamel.yaml": ("ruamel-yaml",), "webtest": ("webtest",), "usb": ("pyusb",), "gi": ("pygobject",),
    "oauth2_provider": ("django-oauth-toolkit",), "sass": ("libsass",), "django_filters": ("django-filter",),
    "phonenumbers": ("phonenumbers", "phonenumberslite"), "phonenumber_field": ("django-phonenumber-field",),
}

#: The oldest versions the generated runtime (gateway, rpc, servers) is written for.
RUNTIME_SUPPORT: dict[str, str] = {
    "flask": ">=2.2", "werkzeug": ">=2.2", "httpx": ">=0.23", "gunicorn": ">=20.1",
    "fastapi": ">=0.100", "uvicorn": ">=0.20",
}

#: What the pinned runtime packages themselves require (their metadata, Python 3.11,
#: no extras; tests/test_requirements.py checks it against the installed metadata).
RUNTIME_NEEDS: dict[str, tuple[str, ...]] = {
    "flask==3.1.3": ("blinker>=1.9.0", "click>=8.1.3", "itsdangerous>=2.2.0", "jinja2>=3.1.2",
                     "markupsafe>=2.1.1", "werkzeug>=3.1.0"),
    "werkzeug==3.1.8": ("markupsafe>=2.1.1",),
    "httpx==0.28.1": ("anyio", "certifi", "httpcore==1.*", "idna"),
    "gunicorn==27.0.1": (),
    "uvicorn==0.54.0": ("click>=7.0", "h11>=0.8"),
    "fastapi==0.165.0": ("annotated-doc>=0.0.2", "anyio>=4.1.0", "opentelemetry-api>=1.44.0", "pydantic>=2.9.0",
                         "starlette>=1.6.0", "typing-extensions>=4.8.0", "typing-inspection>=0.4.2"),
}

#: What the newest versions of their unpinned dependencies require in turn (httpx -> anyio -> idna,
#: httpcore -> h11): pip backtracks to old releases when the monolith pins these lower.
RUNTIME_INDIRECT: dict[str, tuple[str, ...]] = {
    "httpx==0.28.1": ("h11>=0.16", "idna>=2.8"),
}


# --------------------------------------------------------------------------- resolution


@dataclass
class Dist:
    """One distribution as the monolith declares it, all sources merged."""

    name: str
    group: str  # best group over its declarations: main > extra:* > dev
    version: str | None = None  # exact pin
    pinned_by: str = ""
    specifier: str = ""  # declared range (no pin)
    extras: tuple[str, ...] = ()
    marker: str = ""
    url: str = ""
    declared: bool = False  # named by a manifest/requirements file (not only locked)

    def line(self, version: str | None = None) -> str:
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        v = version or self.version
        if self.url and not version:
            body = f"{self.name}{extras} @ {self.url}"
        else:
            body = f"{self.name}{extras}" + (f"=={v}" if v else self.specifier)
        return body + (f"; {self.marker}" if self.marker else "")


def merge(decl: Declarations, env: dict[str, str]) -> tuple[dict[str, Dist], list[str]]:
    """Every distribution, merged in precedence order; notes for contradicting pins."""
    notes: list[str] = []
    by: dict[str, list[Entry]] = {}
    for e in decl.entries:
        if marker_holds(e.marker, env):
            by.setdefault(e.name, []).append(e)
    out: dict[str, Dist] = {}
    for name in sorted(by):
        entries = by[name]
        group = max((e.group for e in entries), key=_group_rank)
        if _group_rank(group) > 0:
            group = "main" if any(e.group == "main" for e in entries) else min(
                (e.group for e in entries if e.group.startswith("extra")))
            entries = [e for e in entries if e.group != "dev"]  # dev pins never decide a production version
        d = Dist(name=name, group=group)
        decls = [e for e in entries if e.kind == "declared"]
        d.declared = bool(decls)
        first = decls[0] if decls else entries[0]
        d.extras, d.marker, d.url = first.extras, first.marker if first.kind == "declared" else "", first.url
        pins = [e for e in entries if e.pin]
        if pins:
            d.version, d.pinned_by = pins[0].pin, pins[0].source
            others = sorted({(e.pin, e.source) for e in pins if e.pin != d.version and e.kind != "lock"} |
                            {(e.pin, e.source) for e in pins if e.pin != d.version and e.kind == "lock" and pins[0].kind != "lock"})
            if others:
                notes.append(f"{name}: {d.pinned_by} pins {d.version}, "
                             + ", ".join(f"{s} {v}" for v, s in others) + f"; {d.version} is used ({d.pinned_by} comes first)")
            for e in decls:
                if e.specifier and not e.pin and not _satisfies(d.version, e.specifier):
                    notes.append(f"{name}: {d.pinned_by} pins {d.version}, outside {e.specifier} declared in {e.source}")
        else:
            d.specifier = next((e.specifier for e in decls if e.specifier), "")
        out[name] = d
    return out, notes


def _satisfies(version: str | None, spec: str) -> bool:
    if not version or not spec:
        return True
    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def constraint_lines(dists: dict[str, Dist]) -> list[str]:
    """``name==version`` of every production pin (no extras, no markers: what pip accepts as a constraint)."""
    return sorted(f"{d.name}=={d.version}" for d in dists.values() if d.version and not d.group == "dev" and not d.url)


def candidates(module: str, dists: dict[str, Dist], provides: dict[str, tuple[str, ...]]) -> list[str]:
    """Distributions that may provide ``module``, most likely first."""
    parts = module.split(".")
    prefixes = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
    out: list[str] = []
    for p in prefixes:
        out += provides.get(p, ())
        out += KNOWN_IMPORTS.get(p, ())
    top = parts[0]
    out.append(top)
    for d in sorted(dists):  # declared names that differ from the import by a conventional prefix
        n = normalise(top)   # (django-compressor provides ``compressor``, django-formtools ``formtools``...)
        if d in (f"python-{n}", f"py{n}", f"{n}-python", f"py-{n}", f"django-{n}"):
            out.append(d)
    seen: list[str] = []
    for c in out:
        c = normalise(c)
        if c not in seen:
            seen.append(c)
    return seen


def known_distributions(module: str, provides: dict[str, tuple[str, ...]]) -> list[str]:
    """What installed metadata, else the table, says provides ``module`` (longest dotted match)."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        p = ".".join(parts[:i])
        if provides.get(p):
            return sorted({normalise(d) for d in provides[p]})
        if p in KNOWN_IMPORTS:
            return list(KNOWN_IMPORTS[p])
    return []


@dataclass(frozen=True)
class ImportUse:
    module: str  # the imported dotted module
    by: str  # the importing module
    optional: bool = False  # guarded by ``try: ... except ImportError``
    #: named in the framework's configuration (Django's ``INSTALLED_APPS``): imported at start,
    #: so needed even when only a development group declares its distribution
    named: bool = False


@dataclass
class Runtime:
    """What a generated unit's own code needs: exact pins, supported ranges, their requirements."""

    pins: dict[str, str]  # name -> "name==version"
    support: dict[str, str] = field(default_factory=lambda: dict(RUNTIME_SUPPORT))
    needs: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(RUNTIME_NEEDS))
    indirect: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(RUNTIME_INDIRECT))


@dataclass
class UnitRequirements:
    requirements: list[str]
    constraints: list[str]
    unpinned: list[str]
    notes: list[str]


def _pin_version(line: str) -> str | None:
    m = re.search(r"==([^,;\s]+)", line)
    return m.group(1) if m else None


def _runtime(unit: str, runtime: Runtime, reqs: dict[str, str], imported: set[str], dists: dict[str, Dist],
             constraints: dict[str, str], notes: list[str], drop: set[str]) -> None:
    """Add the runtime's packages to ``reqs``, against the monolith's pins."""
    used_own: list[str] = []
    for name in sorted(runtime.pins):
        pin = runtime.pins[name]
        support = runtime.support.get(name, "")
        d = dists.get(name) if name in dists and dists[name].group != "dev" else None
        mono = constraints.get(name)
        if name in reqs and _pin_version(reqs[name]):
            v = _pin_version(reqs[name])
            if not _satisfies(v, support):
                notes.append(f"{unit}: the monolith pins {name}=={v}; the generated runtime needs {name}{support}: "
                             f"{name}=={v} is kept (the service's code imports it) and the runtime may fail with it")
            continue
        if mono and (d is None or d.version):
            v = mono
            if _satisfies(v, support):
                reqs[name] = (d.line() if d else f"{name}=={v}")
            elif name in imported:
                reqs[name] = d.line() if d else f"{name}=={v}"
                notes.append(f"{unit}: the monolith pins {name}=={v}; the generated runtime needs {name}{support}: "
                             f"{name}=={v} is kept (the service's code imports it) and the runtime may fail with it")
            else:
                reqs[name] = pin
                drop.add(name)
                used_own.append(pin)
                why = ("it runs none of the monolith's code" if unit == "gateway"
                       else f"none of the service's code imports {name}")
                notes.append(f"{unit}: the monolith pins {name}=={v}, outside what the generated runtime needs "
                             f"({name}{support}); {pin} is used instead and its constraints.txt leaves {name} out ({why})")
            continue
        if d is not None and d.specifier and not _satisfies(_pin_version(pin), d.specifier):
            reqs[name] = d.line()
            notes.append(f"{unit}: the monolith declares {name}{d.specifier}, which excludes the runtime's {pin} "
                         f"(the runtime needs {name}{support}); {d.line()} is used")
            continue
        if d is not None and name in reqs:
            reqs[name] = replace(d, url="").line(_pin_version(pin))
        else:
            reqs[name] = pin
        used_own.append(pin)
    for pin in used_own:
        needs = [(x, True) for x in runtime.needs.get(pin, ())] + [(x, False) for x in runtime.indirect.get(pin, ())]
        for need, direct in needs:
            try:
                r = Requirement(need)
            except InvalidRequirement:
                continue
            n = normalise(r.name)
            v = constraints.get(n)
            if v and n not in drop and not _satisfies(v, str(r.specifier)):
                how = "needs" if direct else "needs (through its dependencies' current releases)"
                notes.append(f"{unit}: {pin} {how} {need}, the monolith pins {n}=={v}: "
                             + ("the gateway's constraints.txt leaves it out" if unit == "gateway" else
                                ("pip cannot install both" if direct else "pip falls back to old releases of them")
                                + " (constraints.txt keeps the monolith's pin: its code was built against it)"))
                if unit == "gateway":
                    drop.add(n)


def service_requirements(unit: str, uses: Iterable[ImportUse], decl: Declarations, runtime: Runtime,
                         env: dict[str, str] | None = None, everywhere: Iterable[str] = ()) -> UnitRequirements:
    """requirements.txt / constraints.txt lines of one service from its modules' third-party imports,
    plus ``everywhere``: declared distributions no module imports (:func:`unimported`)."""
    env = env or target_environment()
    dists, _ = merge(decl, env)
    constraints = {line.split("==", 1)[0]: line.split("==", 1)[1] for line in constraint_lines(dists)}
    notes: list[str] = []
    required: dict[str, list[str]] = {}
    optional: dict[str, list[str]] = {}
    tests: set[str] = set()
    named: set[str] = set()
    for u in uses:
        if is_test_module(u.by):
            tests.add(u.by)
            continue
        (optional if u.optional else required).setdefault(u.module, []).append(u.by)
        if u.named:
            named.add(u.module)
    reqs: dict[str, str] = {}
    unpinned: set[str] = set()
    imported: set[str] = set()
    unresolved: dict[str, set[str]] = {}
    dev_only: dict[str, set[str]] = {}
    ambiguous: list[str] = []
    optional_left: dict[str, set[str]] = {}
    named_dev: set[str] = set()
    for module in sorted(required):
        cands = candidates(module, dists, decl.provides)
        prod = [c for c in cands if c in dists and dists[c].group != "dev"]
        if not prod and module in named:
            prod = [c for c in cands if c in dists]
            named_dev.update(prod[:1])
        top = module.split(".", 1)[0]
        if prod:
            d = dists[prod[0]]
            if len(prod) > 1 and not decl.provides.get(top):
                ambiguous.append(f"{top} ({' and '.join(prod)}; {prod[0]} is used)")
            imported.add(d.name)
            if d.name not in reqs:
                reqs[d.name] = d.line()
                if not d.version and not d.url:
                    unpinned.add(d.name)
            continue
        dev = [c for c in cands if c in dists]
        known = known_distributions(module, decl.provides)
        if dev:
            dev_only.setdefault(dev[0], set()).add(top)
        elif decl.empty and len(known) <= 1:
            guess = known[0] if known else normalise(top)
            reqs.setdefault(guess, guess)
            unpinned.add(guess)
            imported.add(guess)
        else:
            unresolved.setdefault(top, set()).update(known)
    for name in sorted(everywhere):
        d = dists.get(name)
        if d is not None and d.name not in reqs:
            reqs[d.name] = d.line()
            if not d.version and not d.url:
                unpinned.add(d.name)
    for module in sorted(set(optional) - set(required)):
        top = module.split(".", 1)[0]
        if any(r.split(".", 1)[0] == top for r in required):
            continue
        optional_left.setdefault(top, set()).update(optional[module])
    drop: set[str] = set()
    _runtime(unit, runtime, reqs, imported, dists, constraints, notes, drop)
    if tests:
        notes.append(f"{unit}: test modules are not counted for requirements: {', '.join(sorted(tests)[:8])}"
                     + (f" and {len(tests) - 8} more" if len(tests) > 8 else ""))
    if unresolved:
        notes.append(f"{unit}: imports that no distribution declared by the monolith provides, left out of "
                     "requirements.txt: " + ", ".join(t + (f" ({' or '.join(sorted(g))}?)" if g else "")
                                                      for t, g in sorted(unresolved.items())))
    if named_dev:
        notes.append(f"{unit}: development-only distributions kept in requirements.txt, since the configuration "
                     f"imports them at start (INSTALLED_APPS, MIDDLEWARE...): {', '.join(sorted(named_dev))}")
    if dev_only:
        notes.append(f"{unit}: imports of development-only distributions, left out of requirements.txt: "
                     + ", ".join(f"{'/'.join(sorted(t))} ({d})" for d, t in sorted(dev_only.items())))
    if optional_left:
        notes.append(f"{unit}: optional imports (try/except ImportError), left out of requirements.txt: "
                     + ", ".join(sorted(optional_left)))
    if ambiguous:
        notes.append(f"{unit}: more than one declared distribution provides " + ", ".join(sorted(ambiguous)))
    if decl.empty and unpinned:
        notes.append(f"{unit}: the monolith declares no dependencies; unpinned, named after the import: "
                     + ", ".join(sorted(unpinned)))
    elif unpinned:
        notes.append(f"{unit}: not pinned by the monolith: {', '.join(sorted(unpinned))}")
    cons = sorted(f"{n}=={v}" for n, v in constraints.items() if n not in drop)
    return UnitRequirements(requirements=[reqs[k] for k in sorted(reqs)], constraints=cons,
                            unpinned=sorted(unpinned), notes=notes)


def gateway_requirements(decl: Declarations, pins: dict[str, str], env: dict[str, str] | None = None) -> UnitRequirements:
    """The gateway runs none of the monolith's code: its own pins, the monolith's when they fit;
    a monolith pin it cannot use is left out of its constraints.txt (and said so)."""
    env = env or target_environment()
    dists, _ = merge(decl, env)
    constraints = {line.split("==", 1)[0]: line.split("==", 1)[1] for line in constraint_lines(dists)}
    reqs: dict[str, str] = {}
    notes: list[str] = []
    drop: set[str] = set()
    gateway = {n: Dist(name=n, group="main", version=constraints[n]) for n in pins if n in constraints}
    _runtime("gateway", Runtime(pins=pins), reqs, set(), {**gateway}, constraints, notes, drop)
    reqs = {n: (f"{n}=={_pin_version(v)}" if _pin_version(v) else v) for n, v in reqs.items()}
    cons = sorted(f"{n}=={v}" for n, v in constraints.items() if n not in drop)
    return UnitRequirements(requirements=[reqs[k] for k in sorted(reqs)], constraints=cons, unpinned=[], notes=notes)


# --------------------------------------------------------------------------- optional imports


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    t = handler.type
    if t is None:
        return True
    names = t.elts if isinstance(t, ast.Tuple) else [t]
    return any((isinstance(n, ast.Name) and n.id in _IMPORT_ERRORS)
               or (isinstance(n, ast.Attribute) and n.attr in _IMPORT_ERRORS) for n in names)


def guarded_import_lines(source: str) -> frozenset[int]:
    """Lines of the import statements in the body of a ``try`` whose handlers catch ImportError."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            for stmt in node.body:
                for sub in ast.walk(stmt):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        lines.add(sub.lineno)
    return frozenset(lines)



def unimported(uses: Iterable[ImportUse], decl: Declarations, env: dict[str, str] | None = None) -> list[str]:
    """The production distributions the monolith declares directly that none of its modules
    imports: plugins and backends other libraries load (argon2-cffi for passlib, a database
    driver named only in a URL), servers, entry-point plugins.  The monolith installs them, so
    every service does too (:func:`service_requirements`, ``everywhere``).

    Declared directly means named by a manifest (pyproject.toml, Pipfile, setup.cfg, setup.py);
    a requirements file counts only when no manifest declares production dependencies (a
    compiled requirements.txt beside a manifest pins the closure, it does not choose it)."""
    env = env or target_environment()
    dists, _ = merge(decl, env)
    used: set[str] = set()
    for u in uses:
        used.update(c for c in candidates(u.module, dists, decl.provides) if c in dists)
    main = [e for e in decl.entries if e.kind == "declared" and e.group == "main" and marker_holds(e.marker, env)]
    manifest = SOURCES.index("pyproject.toml [project]")
    direct = {e.name for e in main if e.rank[0] >= manifest} or {e.name for e in main}
    return sorted(n for n in direct if n in dists and dists[n].group == "main" and n not in used)


def unimported_note(left: list[str]) -> str | None:
    """The note of :func:`unimported`'s distributions, or None."""
    if not left:
        return None
    shown = ", ".join(left[:12]) + (f" and {len(left) - 12} more" if len(left) > 12 else "")
    return (f"requirements: declared by the monolith but imported by none of its modules (plugins, backends, drivers, "
            f"servers loaded indirectly), so in every service's requirements.txt as in the monolith: {shown}")
