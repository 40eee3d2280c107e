"""Which Python the generated images run: the one the monolith declares (pure).

The monolith says which Python it needs in one or more of: ``pyproject.toml``
(``[project] requires-python``, or Poetry's ``[tool.poetry.dependencies]
python``), ``setup.cfg`` (``[options] python_requires``), ``setup.py``
(``python_requires=`` of ``setup()``, read with :mod:`ast`), ``.python-version``
(pyenv, uv) and ``runtime.txt`` (``python-3.12.4``).  Every declaration found
is a constraint; the generated Dockerfiles' default base image is the lowest
supported official ``python:3.X-slim`` that satisfies all of them
(:data:`SUPPORTED`), ``python:3.11-slim`` when the monolith declares nothing.
A requirement no supported version satisfies is one :class:`PythonVersionError`
naming the files.  An explicit ``--base-image`` always wins (its ``python:3.X``
tag, when it has one, is then the target).

:func:`satisfying` is the same rule over the images a user *has*: ``decompose
build`` uses it when the default image cannot be had (runtime reads the
requirement from ``decompose-output.json``; see docs/run.md).
"""

from __future__ import annotations

import ast
import configparser
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

#: Python versions with an official, upstream-supported ``python:3.X-slim`` image, lowest first.
SUPPORTED: tuple[str, ...] = ("3.11", "3.12", "3.13", "3.14")
#: The target when the monolith declares no Python.
FALLBACK = SUPPORTED[0]
#: Files (relative to the monolith's root) that may declare the Python.
PYTHON_FILES = ("pyproject.toml", "setup.cfg", "setup.py", ".python-version", "runtime.txt")


class PythonVersionError(ValueError):
    """The monolith's declared Python cannot be met by any supported image."""


@dataclass(frozen=True)
class PythonDecl:
    source: str  # "pyproject.toml [project] requires-python"
    specifier: str  # PEP 440 specifier set, e.g. ">=3.12" or "==3.12.*"


@dataclass(frozen=True)
class PythonTarget:
    version: str  # "3.12"
    requires: str  # every declaration's specifier joined ("" when none)
    sources: tuple[str, ...]  # where they come from
    # every supported version meeting them, lowest first, when decompose chose the image ((): it was given)
    accepts: tuple[str, ...] = ()

    @property
    def base_image(self) -> str:
        return base_image_for(self.version)

    def as_dict(self) -> dict[str, object]:
        return {"version": self.version, "requires": self.requires, "sources": list(self.sources),
                "accepts": list(self.accepts)}


def base_image_for(version: str) -> str:
    return f"python:{version}-slim"


def image_python(image: str) -> str | None:
    """``3.X`` of an image named ``[registry/...]python:3.X[...]``, else None."""
    m = re.match(r"^(?:[^/\s]+/)*python:(\d+\.\d+)(?:[.\-].*)?$", image or "")
    return m.group(1) if m else None


# --------------------------------------------------------------------------- reading the declarations


def _poetry_spec(text: str) -> str:
    """Poetry's ``^3.12`` / ``~3.12`` / ``3.12.*`` / ``>=3.12,<4`` as a PEP 440 specifier."""
    parts = []
    for raw in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text.strip()):
        if not raw:
            continue
        m = re.fullmatch(r"\^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", raw)
        if m:
            major, minor = int(m.group(1)), int(m.group(2) or 0)
            parts += [f">={major}.{minor}" + (f".{m.group(3)}" if m.group(3) else ""), f"<{major + 1}"]
            continue
        m = re.fullmatch(r"~\s*(\d+)\.(\d+)(?:\.(\d+))?", raw)
        if m:
            major, minor = int(m.group(1)), int(m.group(2))
            parts += [f">={major}.{minor}" + (f".{m.group(3)}" if m.group(3) else ""), f"<{major}.{minor + 1}"]
            continue
        if re.fullmatch(r"\d+(\.\d+)*(\.\*)?", raw):
            raw = "==" + raw
        parts.append(raw)
    return ",".join(parts)


def _pin_spec(text: str) -> str | None:
    """``3.12``, ``3.12.4``, ``python-3.12.4``, ``cpython@3.12`` -> ``==3.12.*``; None if no version."""
    m = re.search(r"(?<![\d.])(3)\.(\d+)(?:\.\d+)?", text)
    return f"=={m.group(1)}.{m.group(2)}.*" if m else None


def _setup_py_requires(text: str) -> str | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "python_requires" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    return kw.value.value
    return None


def declarations(files: dict[str, str]) -> list[PythonDecl]:
    """Every Python declaration in ``files`` (path relative to the monolith's root -> text)."""
    out: list[PythonDecl] = []
    if "pyproject.toml" in files:
        try:
            data = tomllib.loads(files["pyproject.toml"])
        except tomllib.TOMLDecodeError:
            data = {}
        req = (data.get("project") or {}).get("requires-python")
        if isinstance(req, str) and req.strip():
            out.append(PythonDecl("pyproject.toml [project] requires-python", req.strip()))
        poetry = (((data.get("tool") or {}).get("poetry") or {}).get("dependencies") or {}).get("python")
        if isinstance(poetry, str) and poetry.strip() and poetry.strip() != "*":
            out.append(PythonDecl("pyproject.toml [tool.poetry.dependencies] python", _poetry_spec(poetry)))
    if "setup.cfg" in files:
        cp = configparser.ConfigParser(interpolation=None)
        try:
            cp.read_string(files["setup.cfg"])
            req = cp.get("options", "python_requires", fallback="").strip()
        except configparser.Error:
            req = ""
        if req:
            out.append(PythonDecl("setup.cfg [options] python_requires", req))
    if "setup.py" in files:
        req = _setup_py_requires(files["setup.py"])
        if req and req.strip():
            out.append(PythonDecl("setup.py python_requires", req.strip()))
    for name in (".python-version", "runtime.txt"):
        if name in files:
            for line in files[name].splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    spec = _pin_spec(line)
                    if spec:
                        out.append(PythonDecl(f"{name} ({line})", spec))
                    break  # the first version named is the one used
    return out


# --------------------------------------------------------------------------- what the code needs

#: The first Python that leaves annotations unevaluated until read (PEP 649).
DEFERRED_ANNOTATIONS = "3.14"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _bound(nodes: Iterable[ast.stmt]) -> set[str]:
    """Names the statements bind (imports, definitions, assignment targets), nested ones too."""
    out: set[str] = set()
    for stmt in nodes:
        for n in ast.walk(stmt):
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                out.update(a.asname or a.name.split(".", 1)[0] for a in n.names if a.name != "*")
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(n.name)
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                out.add(n.id)
    return out


def _eager_annotations(tree: ast.Module) -> Iterable[ast.expr]:
    """Annotations Python < 3.14 evaluates when the statement runs: every executed function's
    parameters and return, and variable annotations at module and class level (outside
    ``if TYPE_CHECKING:`` blocks, which never run)."""
    def visit(body: list[ast.stmt], scope: str):
        for stmt in body:
            if isinstance(stmt, ast.If) and _is_type_checking(stmt.test):
                yield from visit(stmt.orelse, scope)
                continue
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = stmt.args
                for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                    if arg is not None and arg.annotation is not None:
                        yield arg.annotation
                if stmt.returns is not None:
                    yield stmt.returns
                yield from visit(stmt.body, "function")
            elif isinstance(stmt, ast.ClassDef):
                yield from visit(stmt.body, "class")
            elif isinstance(stmt, ast.AnnAssign):
                if scope != "function":
                    yield stmt.annotation
            else:
                for field in ("body", "orelse", "finalbody"):
                    yield from visit(getattr(stmt, field, None) or [], scope)
                for handler in getattr(stmt, "handlers", None) or []:
                    yield from visit(handler.body, scope)
                for case in getattr(stmt, "cases", None) or []:
                    yield from visit(case.body, scope)
    yield from visit(tree.body, "module")


def deferred_annotation_use(source: str) -> tuple[int, str] | None:
    """(line, name) of the first annotation evaluated at definition time that names something
    bound only under ``if TYPE_CHECKING:``: Python < 3.14 raises NameError there when the
    module is imported (3.14 defers annotations, PEP 649); None when there is none, or the
    module has ``from __future__ import annotations``."""
    if "TYPE_CHECKING" not in source:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if any(isinstance(s, ast.ImportFrom) and s.module == "__future__" and any(a.name == "annotations" for a in s.names)
           for s in tree.body):
        return None
    guarded = [s for s in tree.body if isinstance(s, ast.If) and _is_type_checking(s.test)]
    only = _bound(b for g in guarded for b in g.body) - _bound(
        [s for s in tree.body if s not in guarded] + [o for g in guarded for o in g.orelse])
    if not only:
        return None
    found = sorted((n.lineno, n.id) for ann in _eager_annotations(tree) for n in ast.walk(ann)
                   if isinstance(n, ast.Name) and n.id in only)
    return found[0] if found else None


def code_declarations(sources: dict[str, str]) -> list[PythonDecl]:
    """What the code itself needs, as declarations (``{path: source}`` of the modules that ship):
    ``>=3.14`` when annotations name ``TYPE_CHECKING``-only imports without ``from __future__
    import annotations`` (the monolith declares less, but fails at import before 3.14)."""
    uses = [(path, *found) for path in sorted(sources) if (found := deferred_annotation_use(sources[path]))]
    if not uses:
        return []
    path, line, name = uses[0]
    more = f" and {len(uses) - 1} more modules" if len(uses) > 1 else ""
    return [PythonDecl(f"{path}:{line}{more} (an annotation names {name!r}, imported only under TYPE_CHECKING: "
                       f"evaluated at definition time before Python {DEFERRED_ANNOTATIONS}, PEP 649; "
                       "`from __future__ import annotations` in those modules lets older Pythons run them)",
                       f">={DEFERRED_ANNOTATIONS}")]


# --------------------------------------------------------------------------- choosing


def _specs(decls: Iterable[PythonDecl]) -> list[tuple[PythonDecl, SpecifierSet]]:
    out = []
    for d in decls:
        try:
            out.append((d, SpecifierSet(d.specifier)))
        except InvalidSpecifier:
            raise PythonVersionError(f"{d.source}: {d.specifier!r} is not a version specifier "
                                     "(write it like '>=3.12' or '>=3.11,<3.14')") from None
    return out


def _admits(spec: SpecifierSet, minor: str) -> bool:
    """Does some release of Python ``minor`` (3.X.0 ... 3.X.40) satisfy ``spec``?  A monolith that
    asks for ``>=3.12.4`` runs on the newest 3.12 an image carries."""
    try:
        return any(spec.contains(Version(f"{minor}.{patch}")) for patch in range(41))
    except InvalidVersion:
        return False


def satisfying(decls: Iterable[PythonDecl], versions: Iterable[str]) -> list[str]:
    """The ``versions`` (``3.X``) that meet every declaration, in the order given."""
    specs = _specs(decls)
    return [v for v in versions if all(_admits(s, v) for _, s in specs)]


def requires_text(decls: Iterable[PythonDecl]) -> str:
    return ",".join(dict.fromkeys(d.specifier for d in decls))


def choose(decls: list[PythonDecl]) -> PythonTarget:
    """The lowest supported Python meeting every declaration (:data:`FALLBACK` without any)."""
    if not decls:
        return PythonTarget(FALLBACK, "", (), SUPPORTED)
    ok = satisfying(decls, SUPPORTED)
    if not ok:
        said = "; ".join(f"{d.source}: {d.specifier}" for d in decls)
        raise PythonVersionError(
            f"no supported Python image ({', '.join(base_image_for(v) for v in SUPPORTED)}) satisfies the "
            f"monolith's Python ({said}): change that requirement, or pass --base-image with an image of a "
            "Python that meets it")
    return PythonTarget(ok[0], requires_text(decls), tuple(d.source for d in decls), tuple(ok))


def target(decls: list[PythonDecl], base_image: str | None) -> tuple[PythonTarget, str]:
    """(the target Python, the base image): the image given, or the default for the monolith's Python.
    With an explicit image its ``python:3.X`` tag is the target; an image not named after Python keeps
    the monolith's choice as the target (what requirement markers are evaluated for)."""
    if base_image is None:
        t = choose(decls)
        return t, t.base_image
    named = image_python(base_image)
    if named:
        return PythonTarget(named, requires_text(decls), tuple(d.source for d in decls)), base_image
    try:
        version = choose(decls).version
    except PythonVersionError:
        version = FALLBACK
    return PythonTarget(version, requires_text(decls), tuple(d.source for d in decls)), base_image
