"""What the monolith declares about its dependencies, parsed from the files' text (pure).

:func:`collect` takes {path relative to the monolith's root: text} (read by
:mod:`decompose.generation.dependencies`) and returns every declaration as an
:class:`Entry` with its source, group and precedence rank.  Precedence and groups
are described in :mod:`decompose.generation.requirements`, which resolves them.
setup.py is read with :mod:`ast`, never executed.
"""

from __future__ import annotations

import ast
import configparser
import json
import posixpath
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

SOURCES = (
    "uv.lock", "poetry.lock", "Pipfile.lock", "requirements", "pyproject.toml [project]",
    "pyproject.toml [tool.poetry]", "Pipfile", "setup.cfg", "setup.py",
)
LOCK_FILES = ("uv.lock", "poetry.lock", "Pipfile.lock")
MANIFEST_FILES = ("pyproject.toml", "Pipfile", "setup.cfg", "setup.py")
DEV_WORDS = frozenset({
    "dev", "devel", "develop", "development", "test", "tests", "testing", "doc", "docs", "documentation",
    "lint", "linting", "ci", "tox", "typing", "types", "mypy", "local", "debug", "check", "checks", "qa",
    "style", "format", "bench", "benchmark", "benchmarks", "coverage", "pre-commit", "precommit", "e2e",
})
MAIN_WORDS = frozenset({
    "requirements", "requirement", "reqs", "req", "base", "prod", "production", "common", "main", "default",
    "core", "runtime", "install", "app", "deploy", "deployment", "server", "web", "txt", "in",
})
GROUP_RANK = {"main": 2, "extra": 1, "dev": 0}

def normalise(name: str) -> str:
    """PEP 503 normalisation: ``Flask_SQLAlchemy`` -> ``flask-sqlalchemy``."""
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def _group_rank(group: str) -> int:
    return GROUP_RANK[group.split(":", 1)[0]]


def is_dev_name(name: str) -> bool:
    """An extra, group or requirements file named for development (``test``, ``docs``, ``requirements-dev``)."""
    return bool(set(re.split(r"[-_.\s/]+", name.lower())) & DEV_WORDS)


# --------------------------------------------------------------------------- target environment


def target_environment(base_image: str = "python:3.11-slim", python: str | None = None) -> dict[str, str]:
    """Marker environment of the generated images: CPython on Linux x86_64, Python ``python``
    ("3.12": the monolith's, decompose.generation.pyversion), else the Python of an official
    ``python:3.X`` base image (3.11 otherwise)."""
    m = re.match(r"^(\d+)\.(\d+)$", python or "") or re.match(r"^(?:[^/]+/)*python:(\d+)\.(\d+)", base_image or "")
    major, minor = (m.group(1), m.group(2)) if m else ("3", "11")
    return {
        "implementation_name": "cpython", "implementation_version": f"{major}.{minor}.0", "os_name": "posix",
        "platform_machine": "x86_64", "platform_python_implementation": "CPython", "platform_release": "",
        "platform_system": "Linux", "platform_version": "", "python_full_version": f"{major}.{minor}.0",
        "python_version": f"{major}.{minor}", "sys_platform": "linux", "extra": "",
    }


def marker_holds(marker: str, env: dict[str, str], extras: Iterable[str] = ()) -> bool:
    """Does ``marker`` hold on the target (with one of ``extras`` requested, for ``extra == ...``)?"""
    if not marker:
        return True
    try:
        m = Marker(marker)
        return any(m.evaluate({**env, "extra": e}) for e in (*extras, ""))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return True  # undecidable here: keep it, pip decides at install time


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Entry:
    """One declaration of a distribution in one source."""

    name: str  # normalised
    specifier: str = ""  # "==1.0", ">=2,<3", "" (any)
    extras: tuple[str, ...] = ()
    marker: str = ""
    url: str = ""  # ``name @ url``
    source: str = ""  # the file (and table) it comes from
    group: str = "main"  # main | extra:<name> | dev
    rank: tuple[int, int] = (0, 0)  # (index in SOURCES, order within the source)
    kind: str = "declared"  # declared | lock | constraint

    @property
    def pin(self) -> str | None:
        """The exact version, if this entry pins one (``==1.2.3``, ``===1.2.3``)."""
        m = re.fullmatch(r"===?\s*([^,;*\s]+)", self.specifier.strip())
        return m.group(1) if m else None


@dataclass
class Declarations:
    """Everything the monolith declares, in precedence order, plus the import index."""

    entries: list[Entry] = field(default_factory=list)
    #: import name (``yaml``, ``google.protobuf``) -> distributions providing it (installed metadata)
    provides: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)  # files read
    notes: list[str] = field(default_factory=list)
    own: frozenset[str] = frozenset()  # the monolith's own distribution names

    @property
    def empty(self) -> bool:
        return not self.entries


def parse_requirement(text: str, **kw) -> Entry | None:
    try:
        req = Requirement(text.strip())
    except InvalidRequirement:
        return None
    return Entry(
        name=normalise(req.name), specifier=str(req.specifier), extras=tuple(sorted(normalise(e) for e in req.extras)),
        marker=str(req.marker) if req.marker else "", url=req.url or "", **kw,
    )


_OPTION_ARG = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=?\s*)(\S+)$")


def requirements_lines(text: str) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """A requirements file: (requirement strings, includes as ("r"|"c", path), skipped lines)."""
    joined: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        joined.append((buf + line).strip())
        buf = ""
    if buf.strip():
        joined.append(buf.strip())
    reqs: list[str] = []
    includes: list[tuple[str, str]] = []
    skipped: list[str] = []
    for line in joined:
        if not line:
            continue
        m = _OPTION_ARG.match(line)
        if m:
            includes.append(("c" if m.group(1) in ("-c", "--constraint") else "r", m.group(2)))
            continue
        if line.startswith("-"):
            if line.startswith(("-e", "--editable")):
                target = line.split(None, 1)[1] if " " in line else line[2:]
                if target.strip() not in (".", "./"):
                    skipped.append(line)
            continue  # -i, --index-url, --hash lines, -f, --pre...: not requirements
        line = re.split(r"\s+--?[a-z]", line, maxsplit=1)[0].strip()  # per-requirement options (--hash=...)
        if re.match(r"^(\.|/|[a-z+]+://|git\+|hg\+|svn\+|bzr\+)", line):
            skipped.append(line)
            continue
        reqs.append(line)
    return reqs, includes, skipped


def requirements_file_group(path: str) -> str | None:
    """main / dev from a requirements file's name, None when the name says neither."""
    stem = posixpath.basename(path).rsplit(".", 1)[0]
    tokens = {t for t in re.split(r"[-_.\s]+", stem.lower()) if t}
    if tokens & DEV_WORDS:
        return "dev"
    if tokens <= MAIN_WORDS:
        return "main"
    return None


def is_requirements_file(path: str) -> bool:
    base = posixpath.basename(path)
    parent = posixpath.basename(posixpath.dirname(path))
    return base.endswith((".txt", ".in")) and (base.startswith(("requirements", "constraints")) or parent == "requirements")


def requirements_includes(path: str, text: str) -> list[str]:
    """The files a requirements file includes (``-r``/``-c``), relative to the monolith's root."""
    _, includes, _ = requirements_lines(text)
    return [posixpath.normpath(posixpath.join(posixpath.dirname(path), p)) for _, p in includes]


def _requirements_entries(files: dict[str, str], notes: list[str]) -> list[Entry]:
    paths = sorted((p for p in files if is_requirements_file(p) or p.endswith((".txt", ".in"))),
                   key=lambda p: (p != "requirements.txt", p))
    parsed = {p: requirements_lines(files[p]) for p in paths}
    # groups: a file's own name, raised by every file that includes it (main > extra > dev)
    group: dict[str, str | None] = {p: requirements_file_group(p) for p in paths}
    constraint_of: dict[str, bool] = {p: posixpath.basename(p).startswith("constraints") for p in paths}
    for p in paths:
        for kind, inc in parsed[p][1]:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(p), inc))
            if target not in files:
                notes.append(f"{p}: -{kind} {inc} not found, not read")
                continue
            if kind == "c":
                constraint_of[target] = True
    for _ in range(len(paths) + 1):  # propagate the includer's group down the -r / -c chains
        changed = False
        for p in paths:
            g = group[p]
            if g is None:
                continue
            for _kind, inc in parsed[p][1]:
                t = posixpath.normpath(posixpath.join(posixpath.dirname(p), inc))
                if t in group and (group[t] is None or _group_rank(group[t]) < _group_rank(g)):
                    group[t] = g
                    changed = True
        if not changed:
            break
    out: list[Entry] = []
    for i, p in enumerate(paths):
        g = group[p]
        if g is None:
            g = "extra:" + posixpath.basename(p).rsplit(".", 1)[0]
        reqs, _includes, skipped = parsed[p]
        for line in skipped:
            notes.append(f"{p}: {line!r} is not a named requirement, not read")
        for line in reqs:
            e = parse_requirement(line, source=p, group=g, rank=(SOURCES.index("requirements"), i),
                                  kind="constraint" if constraint_of[p] else "declared")
            if e is None:
                notes.append(f"{p}: {line!r} is not a valid requirement, not read")
            else:
                out.append(e)
    return out


# -- pyproject.toml, Pipfile, setup.cfg, setup.py


def _poetry_specifier(value: str) -> str:
    """Poetry's constraint syntax as a PEP 440 specifier (``^1.2`` -> ``>=1.2,<2.0``)."""
    out = []
    for part in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", value.strip()):
        part = part.strip()
        if not part or part == "*":
            continue
        if "||" in part:
            return ""  # alternatives: not expressible as one specifier set, keep it open
        if part[0] in "^~" and not part.startswith("~="):
            caret = part[0] == "^"
            nums = [int(x) if x.isdigit() else 0 for x in part[1:].strip().split(".")]
            if caret:
                idx = next((i for i, n in enumerate(nums) if n), len(nums) - 1)
            else:
                idx = 0 if len(nums) == 1 else 1
            upper = nums[: idx + 1]
            upper[idx] += 1
            out += [f">={part[1:].strip()}", "<" + ".".join(str(n) for n in upper + [0] * (max(2, len(nums)) - len(upper)))]
        elif part[0].isdigit():
            out.append(f"=={part}")
        else:
            out.append(part)
    return ",".join(out)


def _python_marker(python: str) -> str:
    """Poetry's ``python = "<3.8"`` as an environment marker."""
    try:
        spec = SpecifierSet(_poetry_specifier(python))
    except InvalidSpecifier:
        return ""
    return " and ".join(f'python_full_version {s.operator} "{s.version}"' for s in sorted(spec, key=str))


def _poetry_entry(name: str, value, **kw) -> list[Entry]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        spec, extras, marker, url = "", (), "", ""
        if isinstance(item, str):
            spec = _poetry_specifier(item)
        elif isinstance(item, dict):
            if item.get("path") or item.get("git") or item.get("url"):
                url = item.get("url") or ""
                if not url:
                    continue
            spec = _poetry_specifier(str(item.get("version", "")))
            extras = tuple(sorted(normalise(e) for e in item.get("extras", [])))
            marker = str(item.get("markers", ""))
            if item.get("python") and not marker:
                marker = _python_marker(str(item["python"]))
            if item.get("optional") and kw.get("group") == "main":
                kw = {**kw, "group": "extra:optional"}
        else:
            continue
        out.append(Entry(name=normalise(name), specifier=spec, extras=extras, marker=marker, url=url, **kw))
    return out


def _pyproject_entries(text: str, notes: list[str]) -> tuple[list[Entry], set[str]]:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        notes.append(f"pyproject.toml: invalid TOML, dependencies not read ({exc})")
        return [], set()
    out: list[Entry] = []
    own: set[str] = set()
    project = data.get("project", {}) or {}
    if project.get("name"):
        own.add(normalise(str(project["name"])))
    src = SOURCES.index("pyproject.toml [project]")
    order = 0

    def add(line, source: str, group: str, rank: int) -> None:
        nonlocal order
        if not isinstance(line, str):
            return  # {include-group = ...}
        e = parse_requirement(line, source=source, group=group, rank=(rank, order))
        order += 1
        if e is None:
            notes.append(f"{source}: {line!r} is not a valid requirement, not read")
        else:
            out.append(e)

    for line in project.get("dependencies", []) or []:
        add(line, "pyproject.toml [project] dependencies", "main", src)
    for extra, lines in sorted((project.get("optional-dependencies", {}) or {}).items()):
        group = "dev" if is_dev_name(extra) else f"extra:{normalise(extra)}"
        for line in lines or []:
            add(line, f"pyproject.toml [project.optional-dependencies] {extra}", group, src)
    for grp, lines in sorted((data.get("dependency-groups", {}) or {}).items()):
        for line in lines or []:
            add(line, f"pyproject.toml [dependency-groups] {grp}", "dev", src)
    tool = data.get("tool", {}) or {}
    for line in (tool.get("uv", {}) or {}).get("dev-dependencies", []) or []:
        add(line, "pyproject.toml [tool.uv] dev-dependencies", "dev", src)
    for grp, lines in sorted(((tool.get("pdm", {}) or {}).get("dev-dependencies", {}) or {}).items()):
        for line in lines or []:
            add(line, f"pyproject.toml [tool.pdm.dev-dependencies] {grp}", "dev", src)
    poetry = tool.get("poetry", {}) or {}
    psrc = SOURCES.index("pyproject.toml [tool.poetry]")
    if poetry.get("name"):
        own.add(normalise(str(poetry["name"])))
    tables = [("dependencies", poetry.get("dependencies", {}), "main"),
              ("dev-dependencies", poetry.get("dev-dependencies", {}), "dev")]
    for grp, table in sorted((poetry.get("group", {}) or {}).items()):
        tables.append((f"group.{grp}", (table or {}).get("dependencies", {}), "main" if grp == "main" else "dev"))
    extras_of: dict[str, str] = {}
    for extra, names in sorted((poetry.get("extras", {}) or {}).items()):
        for n in names or []:
            extras_of.setdefault(normalise(n), "dev" if is_dev_name(extra) else f"extra:{normalise(extra)}")
    for label, table, group in tables:
        for name, value in (table or {}).items():
            if name.lower() == "python":
                continue
            for e in _poetry_entry(name, value, source=f"pyproject.toml [tool.poetry.{label}]", group=group,
                                   rank=(psrc, order)):
                if e.group == "extra:optional":
                    e = replace(e, group=extras_of.get(e.name, "extra:optional"))
                out.append(e)
            order += 1
    return out, own


def _pipfile_entries(text: str, notes: list[str]) -> list[Entry]:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        notes.append(f"Pipfile: invalid TOML, not read ({exc})")
        return []
    out: list[Entry] = []
    src = SOURCES.index("Pipfile")
    for order, (section, group) in enumerate((("packages", "main"), ("dev-packages", "dev"))):
        for i, (name, value) in enumerate((data.get(section, {}) or {}).items()):
            spec, extras, marker = "", (), ""
            if isinstance(value, str):
                spec = "" if value.strip() == "*" else value.strip()
            elif isinstance(value, dict):
                if value.get("path") or value.get("git") or value.get("file"):
                    continue  # the project itself, or a VCS/path dependency
                v = str(value.get("version", "*")).strip()
                spec = "" if v == "*" else v
                extras = tuple(sorted(normalise(e) for e in value.get("extras", [])))
                marker = str(value.get("markers", ""))
            try:
                SpecifierSet(spec)
            except InvalidSpecifier:
                notes.append(f"Pipfile: {name} = {value!r} is not a valid version specifier, not read")
                continue
            out.append(Entry(name=normalise(name), specifier=spec, extras=extras, marker=marker,
                             source=f"Pipfile [{section}]", group=group, rank=(src, order * 10000 + i)))
    return out


def _setup_cfg_entries(text: str, notes: list[str]) -> list[Entry]:
    cp = configparser.ConfigParser(interpolation=None)
    try:
        cp.read_string(text)
    except configparser.Error as exc:
        notes.append(f"setup.cfg: not readable ({exc.__class__.__name__}), not read")
        return []
    out: list[Entry] = []
    src = SOURCES.index("setup.cfg")
    order = 0

    def add(value: str, source: str, group: str) -> None:
        nonlocal order
        if value.strip().startswith("file:"):
            notes.append(f"{source}: {value.strip()!r} is read from the requirements file itself")
            return
        for line in [x.strip() for x in value.splitlines()]:
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if not line:
                continue
            e = parse_requirement(line, source=source, group=group, rank=(src, order))
            order += 1
            if e is None:
                notes.append(f"{source}: {line!r} is not a valid requirement, not read")
            else:
                out.append(e)

    if cp.has_option("options", "install_requires"):
        add(cp.get("options", "install_requires"), "setup.cfg [options] install_requires", "main")
    if cp.has_option("options", "tests_require"):
        add(cp.get("options", "tests_require"), "setup.cfg [options] tests_require", "dev")
    if cp.has_section("options.extras_require"):
        for extra in sorted(cp.options("options.extras_require")):
            group = "dev" if is_dev_name(extra) else f"extra:{normalise(extra)}"
            add(cp.get("options.extras_require", extra), f"setup.cfg [options.extras_require] {extra}", group)
    return out


def _literal_strings(node: ast.AST, names: dict[str, ast.AST], depth: int = 0) -> list[str] | None:
    """The strings of a literal list/tuple (through module-level names and ``+``), else None."""
    if depth > 5:
        return None
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        out: list[str] = []
        for elt in node.elts:
            if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                out.append(elt.value)
            elif isinstance(elt, ast.Starred):
                inner = _literal_strings(elt.value, names, depth + 1)
                if inner is None:
                    return None
                out += inner
            else:
                return None
        return out
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [x for x in node.value.splitlines() if x.strip()]
    if isinstance(node, ast.Name) and node.id in names:
        return _literal_strings(names[node.id], names, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_strings(node.left, names, depth + 1), _literal_strings(node.right, names, depth + 1)
        return None if left is None or right is None else left + right
    return None


def _setup_py_entries(text: str, notes: list[str]) -> tuple[list[Entry], set[str]]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        notes.append("setup.py: not valid Python, not read")
        return [], set()
    names: dict[str, ast.AST] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            names[stmt.targets[0].id] = stmt.value
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and ((isinstance(n.func, ast.Name) and n.func.id == "setup")
                  or (isinstance(n.func, ast.Attribute) and n.func.attr == "setup"))]
    out: list[Entry] = []
    own: set[str] = set()
    src = SOURCES.index("setup.py")
    order = 0

    def add(lines: list[str], source: str, group: str) -> None:
        nonlocal order
        for line in lines:
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if not line or line.startswith("-"):
                continue
            e = parse_requirement(line, source=source, group=group, rank=(src, order))
            order += 1
            if e is None:
                notes.append(f"{source}: {line!r} is not a valid requirement, not read")
            else:
                out.append(e)

    for call in calls:
        for kw in call.keywords:
            if kw.arg == "name" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                own.add(normalise(kw.value.value))
            if kw.arg in ("install_requires", "tests_require"):
                lines = _literal_strings(kw.value, names)
                source = f"setup.py {kw.arg}"
                if lines is None:
                    expr = names.get(kw.value.id, kw.value) if isinstance(kw.value, ast.Name) else kw.value
                    notes.append(f"{source}: computed ({ast.unparse(expr)[:60]}), not read statically")
                    continue
                add(lines, source, "main" if kw.arg == "install_requires" else "dev")
            elif kw.arg == "extras_require":
                value = names.get(kw.value.id, kw.value) if isinstance(kw.value, ast.Name) else kw.value
                if not isinstance(value, ast.Dict):
                    notes.append(f"setup.py extras_require: computed, not read statically")
                    continue
                for k, v in zip(value.keys, value.values):
                    if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                        continue
                    extra = k.value.split(":", 1)[0]
                    lines = _literal_strings(v, names)
                    if lines is None:
                        notes.append(f"setup.py extras_require {extra}: computed, not read statically")
                        continue
                    add(lines, f"setup.py extras_require {extra}",
                        "dev" if is_dev_name(extra) else f"extra:{normalise(extra)}")
    return out, own


# -- lock files


def _uv_lock_entries(text: str, env: dict[str, str], notes: list[str]) -> list[Entry]:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        notes.append(f"uv.lock: invalid TOML, not read ({exc})")
        return []
    packages = [p for p in data.get("package", []) or [] if isinstance(p, dict) and p.get("name")]
    by_name: dict[str, list[dict]] = {}
    for p in packages:
        by_name.setdefault(normalise(p["name"]), []).append(p)
    roots = [p for p in packages if "editable" in (p.get("source") or {}) or "virtual" in (p.get("source") or {})]

    def refs(p: dict, extras: Iterable[str], with_optional: bool) -> list[tuple[dict, list[str]]]:
        deps = list(p.get("dependencies", []) or [])
        opt = p.get("optional-dependencies", {}) or {}
        for extra in sorted(opt if with_optional else set(extras)):
            if with_optional and is_dev_name(extra):
                continue
            deps += list(opt.get(extra, []) or [])
        out = []
        for d in deps:
            if not isinstance(d, dict) or not d.get("name") or not marker_holds(str(d.get("marker", "")), env):
                continue
            cands = by_name.get(normalise(d["name"]), [])
            if d.get("version"):
                cands = [c for c in cands if str(c.get("version")) == str(d["version"])] or cands
            for c in cands:
                out.append((c, list(d.get("extra", []) or [])))
        return out

    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    production: set[tuple[str, str]] = set()
    stack = [(r, [], True) for r in roots]
    while stack:
        p, extras, is_root = stack.pop()
        key = (normalise(p["name"]), str(p.get("version", "")), tuple(sorted(extras)))
        if key in seen:
            continue
        seen.add(key)
        production.add(key[:2])
        for c, ex in refs(p, extras, is_root):
            stack.append((c, ex, False))
    own = {normalise(r["name"]) for r in roots}
    out: list[Entry] = []
    src = SOURCES.index("uv.lock")
    for i, (name, versions) in enumerate(sorted(by_name.items())):
        if name in own:
            continue
        for p in versions:
            version = str(p.get("version", ""))
            if not version:
                continue
            rm = p.get("resolution-markers") or []
            if rm and not any(marker_holds(str(m), env) for m in rm):
                continue
            prod = (name, version) in production or not roots
            out.append(Entry(name=name, specifier=f"=={version}", source="uv.lock", group="main" if prod else "dev",
                             rank=(src, i), kind="lock"))
    return out


def _poetry_lock_entries(text: str, roots: dict[str, tuple[str, ...]], env: dict[str, str], notes: list[str]) -> list[Entry]:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        notes.append(f"poetry.lock: invalid TOML, not read ({exc})")
        return []
    packages = {normalise(p["name"]): p for p in data.get("package", []) or [] if isinstance(p, dict) and p.get("name")}
    explicit = any("groups" in p or "category" in p for p in packages.values())
    production: set[str] = set()
    if not explicit:
        stack = [(n, list(ex)) for n, ex in roots.items()]
        seen: set[tuple[str, tuple[str, ...]]] = set()
        while stack:
            name, extras = stack.pop()
            if (name, tuple(sorted(extras))) in seen or name not in packages:
                continue
            seen.add((name, tuple(sorted(extras))))
            production.add(name)
            p = packages[name]
            wanted = {normalise(re.split(r"[\s(\[<>=!~;]", x, maxsplit=1)[0])
                      for e in extras for x in (p.get("extras", {}) or {}).get(e, [])}
            for dep, value in (p.get("dependencies", {}) or {}).items():
                for item in value if isinstance(value, list) else [value]:
                    item = item if isinstance(item, dict) else {"version": item}
                    if item.get("optional") and normalise(dep) not in wanted:
                        continue
                    if not marker_holds(str(item.get("markers", "")), env, extras):
                        continue
                    stack.append((normalise(dep), list(item.get("extras", []) or [])))
    out: list[Entry] = []
    src = SOURCES.index("poetry.lock")
    for i, (name, p) in enumerate(sorted(packages.items())):
        if p.get("source", {}).get("type") in ("directory", "git", "file", "url") if isinstance(p.get("source"), dict) else False:
            continue
        if "groups" in p:
            prod = "main" in (p.get("groups") or [])
        elif "category" in p:
            prod = p.get("category") == "main"
        else:
            prod = name in production
        out.append(Entry(name=name, specifier=f"=={p.get('version')}", source="poetry.lock",
                         group="main" if prod else "dev", rank=(src, i), kind="lock"))
    return out


def _pipfile_lock_entries(text: str, notes: list[str]) -> list[Entry]:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        notes.append("Pipfile.lock: invalid JSON, not read")
        return []
    out: list[Entry] = []
    src = SOURCES.index("Pipfile.lock")
    for order, (section, group) in enumerate((("default", "main"), ("develop", "dev"))):
        for i, (name, value) in enumerate(sorted((data.get(section, {}) or {}).items())):
            if not isinstance(value, dict) or not str(value.get("version", "")).startswith("=="):
                continue  # editable, path or VCS entries
            out.append(Entry(name=normalise(name), specifier=str(value["version"]), marker=str(value.get("markers", "")),
                             source=f"Pipfile.lock {section}", group=group, rank=(src, order * 100000 + i), kind="lock"))
    return out


def collect(files: dict[str, str], *, provides: dict[str, tuple[str, ...]] | None = None,
            env: dict[str, str] | None = None) -> Declarations:
    """Every declaration in ``files`` (path relative to the monolith's root -> text)."""
    env = env or target_environment()
    notes: list[str] = []
    entries: list[Entry] = []
    own: set[str] = set()
    if "pyproject.toml" in files:
        e, o = _pyproject_entries(files["pyproject.toml"], notes)
        entries += e
        own |= o
    if "Pipfile" in files:
        entries += _pipfile_entries(files["Pipfile"], notes)
    if "setup.cfg" in files:
        entries += _setup_cfg_entries(files["setup.cfg"], notes)
    if "setup.py" in files:
        e, o = _setup_py_entries(files["setup.py"], notes)
        entries += e
        own |= o
    reqfiles = {p: t for p, t in files.items() if p not in LOCK_FILES and p not in MANIFEST_FILES}
    entries += _requirements_entries(reqfiles, notes)
    if "uv.lock" in files:
        entries += _uv_lock_entries(files["uv.lock"], env, notes)
    if "poetry.lock" in files:
        roots: dict[str, tuple[str, ...]] = {}
        for e in entries:
            if e.kind == "declared" and e.group != "dev" and e.source.startswith("pyproject.toml") and marker_holds(e.marker, env):
                roots[e.name] = tuple(sorted(set(roots.get(e.name, ())) | set(e.extras)))
        entries += _poetry_lock_entries(files["poetry.lock"], roots, env, notes)
    if "Pipfile.lock" in files:
        entries += _pipfile_lock_entries(files["Pipfile.lock"], notes)
    entries = [e for e in entries if e.name not in own]
    entries.sort(key=lambda e: (e.rank, e.name, e.group, e.specifier))
    return Declarations(entries=entries, provides=dict(provides or {}), sources=sorted(files),
                        notes=sorted(set(notes)), own=frozenset(own))


def pyproject_with(dependencies: Iterable[str]) -> str:
    """A ``pyproject.toml`` declaring just these ``[project] dependencies`` (for callers holding a list)."""
    return "[project]\ndependencies = [" + ", ".join(json.dumps(d) for d in dependencies) + "]\n"
