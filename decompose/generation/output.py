"""``decompose generate``: read the inputs, render every output file, write them (adapters).

:func:`render_outputs` turns a :class:`~decompose.generation.generate.Generation` into a
``{relative path: bytes}`` mapping (templates + codemods, no disk writes);
:func:`write_outputs` checks every target first and writes nothing unless all
of them may be written (``force`` or absent).  The same inputs always give
byte-identical files: everything is sorted and nothing depends on time, the
machine or the order of a directory listing.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

import jinja2

from decompose.analysis.pipeline import analyze
from decompose import frameworks
from decompose.frameworks import PruneError
from decompose.analysis.extract import default_jobs
from decompose.analysis.roles import is_test_module
from decompose.generation.codemods import (
    Change,
    CodemodError,
    rewrite_remote_imports,
    rewrite_remote_imports_each,
    rewrite_remote_imports_many,
)
from decompose.generation.compile_check import compile_sources, running_version
from decompose.generation.dependencies import project_root, python_target, read_declarations
from decompose.analysis.facts import ModuleFacts
from decompose.fsio import RefusedOverwrite, atomic_write, atomic_write_all
from decompose.generation.generate import (
    DATA_MOUNT,
    GATEWAY_NAME,
    HEALTH_PATH,
    PORT,
    SHARED_MOUNT,
    Generation,
    GenerateError,
    build_generation,
)
from decompose.generation.manifests import (
    BASE_RESOURCES,
    INGRESS_CLASS,
    INGRESS_NAMESPACE,
    MANIFEST_NAME,
    OVERLAYS,
    PUBLIC_PORT,
    SHARED_VOLUME,
    UID,
    gateway_routes,
    gateway_unit,
    labels,
    migration_rows,
    minimal_prefixes,
    output_manifest,
    service_unit,
)
from decompose.generation import database as db
from decompose.generation import distinfo, rpc_auth, verify_keys
from decompose.generation.database_url import accepts_sqlite
from decompose.planning.plan import Plan
from decompose.planning.planfile import load_plan
from decompose.planning.replica_state import notes as _replica_notes

PRUNED = {"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".decompose_cache", ".venv", "node_modules"}


@dataclass
class Outputs:
    files: dict[str, bytes]
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about this run (not written into any file)


# --------------------------------------------------------------------------- inputs


def load_inputs(plan_path: Path, *, use_cache: bool = True) -> tuple[Plan, Path, list[ModuleFacts], dict[str, str]]:
    """The plan, the monolith's root, its facts and the source text of every module."""
    plan = load_plan(plan_path)
    root = (Path(plan_path).resolve().parent / plan.source).resolve()
    an = analyze(root, use_cache=use_cache)
    sources = {}
    for f in an.facts:
        sources[f.module] = (an.root / f.path).read_text(encoding="utf-8")
    return plan, an.root, an.facts, sources


def project_version(root: Path) -> str:
    py = Path(root) / "pyproject.toml"
    try:
        data = tomllib.loads(py.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return "0.1.0"
    version = data.get("project", {}).get("version")
    return str(version) if version else "0.1.0"


def generation_for(
    plan_path: Path, *, base_image: str | None = None, database_env: str | None = None, use_cache: bool = True,
    database: str = "auto", database_image: str = db.DEFAULT_IMAGE,
) -> tuple[Generation, Path, list[ModuleFacts], dict[str, str]]:
    """``base_image`` None: the lowest supported python:3.X-slim meeting the monolith's declared Python."""
    plan, root, facts, sources = load_inputs(plan_path, use_cache=use_cache)
    shipped = {f.path: sources[f.module] for f in facts if f.module in sources and not is_test_module(f.module)}
    declared = project_root(root)   # the src layout: pyproject.toml one folder up
    python, image = python_target(declared, base_image, shipped)
    gen = build_generation(
        plan,
        facts,
        sources,
        dependencies=read_declarations(declared, base_image=image, python=python.version),
        version=project_version(declared),
        base_image=image,
        python=python.version,
        python_requires=python.requires,
        python_accepts=python.accepts,
        database_env=database_env,
        database=database,
        database_image=database_image,
    )
    return gen, root, facts, sources


# --------------------------------------------------------------------------- templates


def default_templates_dir() -> Path:
    """The templates shipped with decompose (package data of the wheel, or the checkout's templates/)."""
    try:
        files = resources.files("decompose.templates")
        candidates = [Path(str(files))]
        candidates += [Path(str(p)) for p in getattr(files, "_paths", ())]  # a namespace package's MultiplexedPath
    except (ModuleNotFoundError, TypeError):
        candidates = []
    candidates.append(Path(__file__).resolve().parents[2] / "templates")  # a source checkout
    for path in candidates:
        if (path / "service" / "Dockerfile.j2").is_file():
            return path
    return candidates[-1]


def _q(value) -> str:
    """A YAML-safe scalar: JSON (a subset of YAML), ASCII only, so no plan content can inject YAML."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, (dict, list, tuple)):
        raise TypeError("the q filter quotes scalars only")
    return json.dumps(value, ensure_ascii=True)


def _py(value) -> str:
    """A Python literal of plain data (str, int, bool, None, lists, tuples, dicts)."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_py(v) for v in value)
        if isinstance(value, tuple):
            return f"({inner}{',' if len(value) == 1 else ''})"
        return f"[{inner}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot render {type(value).__name__} as a Python literal")


def template_env(user_dir: Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        if not Path(user_dir).is_dir():
            raise GenerateError([f"--templates {user_dir}: no such folder"])
        loaders.append(jinja2.FileSystemLoader(str(user_dir)))
    loaders.append(jinja2.FileSystemLoader(str(default_templates_dir())))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["q"] = _q
    env.filters["py"] = _py
    env.globals["rpc_auth"] = rpc_auth.template_globals()
    return env


def _render(env: jinja2.Environment, name: str, **ctx) -> bytes:
    try:
        text = env.get_template(name).render(**ctx)
    except jinja2.TemplateError as exc:
        raise GenerateError([f"template {name}: {exc}"]) from None
    return text.encode("utf-8")


# --------------------------------------------------------------------------- rendering


def _module_path(module: str, is_package: bool) -> str:
    base = module.replace(".", "/")
    return f"{base}/__init__.py" if is_package else f"{base}.py"


def _under(rel: str, folders: list[str]) -> bool:
    """``rel`` (a path in app/) lies in one of ``folders``."""
    return any(rel.startswith(f + "/") for f in folders)


def _data_files(root: Path, facts: dict[str, ModuleFacts], module: str) -> dict[str, bytes]:
    """Non-Python files of a copied package's folder (and its non-package data folders)."""
    f = facts[module]
    if not f.is_package:
        return {}
    folder = (root / f.path).parent
    out: dict[str, bytes] = {}
    base = module.replace(".", "/")
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in PRUNED and not (here / d / "__init__.py").exists() and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            if name.endswith((".py", ".pyc", ".pyo")):
                continue
            p = here / name
            if p.is_symlink() or not p.is_file():
                continue
            rel = p.relative_to(folder).as_posix()
            out[f"{base}/{rel}"] = p.read_bytes()
    return out


#: A folder name joined to a base directory: ``os.path.join(basedir, "whoosh_index", ...)``,
#: ``BASE_DIR / "media"`` (no extension: files such as ``flaskbb.sqlite`` are not folders).
_MADE_FOLDER = re.compile(
    r"""os\.path\.join\(\s*[A-Za-z_][\w.]*\s*,\s*["']([A-Za-z][\w-]*)["']"""
    r"""|\b[A-Za-z_]*(?:BASE|ROOT|base|root)[A-Za-z_]*\s*/\s*["']([A-Za-z][\w-]*)["']""")

#: A data folder at a package root larger than this is not copied into the services.
ROOT_DATA_LIMIT = 20 * 1024 * 1024


def _root_data_folders(root: Path, facts: dict[str, ModuleFacts]) -> dict[str, dict[str, Path]]:
    """{top-level package: {folder name: folder}}: the non-Python folders beside each top-level
    package (its package root, where the service's ``app/`` holds it): ``logs/``, ``data/``.

    A folder that holds Python code (tests, docs, scripts), a dot or underscore folder and the
    tool folders of :data:`PRUNED` are not data."""
    out: dict[str, dict[str, Path]] = {}
    for m, f in facts.items():
        if "." in m or not f.is_package:
            continue
        base = (root / f.path).parent.parent
        found: dict[str, Path] = {}
        for d in sorted(base.iterdir()) if base.is_dir() else ():
            if (not d.is_dir() or d.is_symlink() or d.name.startswith((".", "_")) or d.name in PRUNED
                    or d.name.endswith(".egg-info") or d.name == m):
                continue
            if any(n.endswith(".py") for _, _, names in os.walk(d) for n in names):
                continue
            found[d.name] = d
        if found:
            out[m] = found
    return out


_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")


def _local_database(p: Path) -> bool:
    """A SQLite database (or its journal) a local run left in a data folder beside the package
    (LNbits' ``data/database.sqlite3``): the state of that run, no file of the app."""
    if p.name.endswith(_SQLITE_SIDE_FILES):
        return True
    try:
        with open(p, "rb") as f:
            return f.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def _folder_files(folder: Path) -> dict[str, bytes] | None:
    """The files under ``folder`` by relative path; None when they exceed :data:`ROOT_DATA_LIMIT`.
    SQLite databases a local run left there are no files of the app (:func:`_local_database`):
    never copied into the images, so a folder holding only those (and dotfiles) is a runtime one."""
    out: dict[str, bytes] = {}
    size = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in PRUNED)
        here = Path(dirpath)
        for name in sorted(filenames):
            p = here / name
            if p.is_symlink() or not p.is_file() or _local_database(p):
                continue
            size += p.stat().st_size
            if size > ROOT_DATA_LIMIT:
                return None
            out[p.relative_to(folder).as_posix()] = p.read_bytes()
    return out


class SharedCopies:
    """What the services' source trees hold, made once per distinct content and shared.

    Every service copies the shared modules, the app module's package, its
    own modules' packages and their data files: on a large monolith with many
    services, reading, rewriting and holding them once per service made
    generate slow and its memory grow with services x files.  Here each
    module's text is encoded once, each distinct rewrite of it (one per set of
    remote modules a service imports from it) comes from ONE LibCST parse of
    the module (:func:`rewrite_remote_imports_each`, done for all services
    when the module is first asked for), and each package's data files are
    read once; every service's entry refers to the same ``bytes`` object.
    """

    def __init__(self, gen: Generation, fb: dict[str, ModuleFacts], sources: dict[str, str], root: Path | None):
        self.fb, self.sources, self.root = fb, sources, root
        self.shadowed = frozenset(gen.shadowed)
        # module -> the distinct rewrite maps the services need (the pruned app module aside)
        self._maps: dict[str, list[tuple[tuple[str, str], ...]]] = {}
        for name in sorted(gen.services):
            spec = gen.services[name]
            for m in spec.copied:
                if m == gen.app_module and m not in spec.modules:
                    continue
                key = tuple(sorted(spec.rewrites.get(m, {}).items()))
                if key and key not in self._maps.setdefault(m, []):
                    self._maps[m].append(key)
        self._encoded: dict[str, bytes] = {}
        self._rewritten: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[bytes, list[Change]] | CodemodError] = {}
        self._data: dict[str, dict[str, bytes]] = {}
        self._root_folders: dict[str, dict[str, Path]] | None = None
        self._dir_names: dict[Path, frozenset[str]] = {}
        self._runtime: dict[str, list[str]] = {}
        self._folder_files: dict[Path, dict[str, bytes] | None] = {}
        self.notes: list[str] = []

    def rewrite_all(self, workers: int) -> None:
        """Every rewrite the services need, made at once (in ``workers`` processes), before
        :meth:`module` asks for any."""
        todo = sorted(self._maps)
        jobs = [(self.sources[m], m, self.fb[m].is_package, [dict(k) for k in self._maps[m]]) for m in todo]
        for m, results in zip(todo, rewrite_remote_imports_many(jobs, self.shadowed, workers)):
            for k, r in zip(self._maps[m], results):
                self._rewritten[(m, k)] = r if isinstance(r, CodemodError) else (r[0].encode("utf-8"), r[1])

    def module(self, m: str, remote: dict[str, str]) -> tuple[bytes, list[Change], bool]:
        """(file content, changes, unchanged?) of module ``m`` in a service importing ``remote`` as clients."""
        key = tuple(sorted(remote.items()))
        if not key:
            if m not in self._encoded:
                self._encoded[m] = self.sources[m].encode("utf-8")
            return self._encoded[m], [], True
        if (m, key) not in self._rewritten:
            keys = self._maps.get(m) or [key]
            if key not in keys:
                keys = [*keys, key]
            results = rewrite_remote_imports_each(self.sources[m], m, self.fb[m].is_package, [dict(k) for k in keys],
                                                  self.shadowed)
            for k, r in zip(keys, results):
                self._rewritten[(m, k)] = r if isinstance(r, CodemodError) else (r[0].encode("utf-8"), r[1])
        got = self._rewritten[(m, key)]
        if isinstance(got, CodemodError):
            raise got
        return got[0], got[1], False

    def data_files(self, m: str) -> dict[str, bytes]:
        if self.root is None:
            return {}
        if m not in self._data:
            self._data[m] = _data_files(self.root, self.fb, m)
        return self._data[m]

    def runtime_folders(self, m: str) -> list[str]:
        """Folders beside ``m``'s top-level package that the monolith writes into at run time:
        a data folder ``m`` names that ships with nothing but dotfiles (``logs/.gitkeep``), and
        a folder ``m`` joins to a base directory that the source tree does not have
        (``os.path.join(basedir, "whoosh_index")``, ``BASE_DIR / "media"``): the app makes it.
        Once per module (a shared module is asked for by every service)."""
        if m not in self._runtime:
            self._runtime[m] = self._runtime_folders(m)
        return self._runtime[m]

    def _runtime_folders(self, m: str) -> list[str]:
        files = self.root_data_files(m)
        names = sorted({rel.split("/", 1)[0] for rel in files})
        out = {n for n in names if all(rel.rpartition("/")[2].startswith(".")
                                       for rel in files if rel.split("/", 1)[0] == n)}
        top = self.fb.get(m.split(".", 1)[0])
        if self.root is not None and m in self.fb and top is not None and top.is_package:
            base = (self.root / top.path).parent.parent
            for name in _MADE_FOLDER.findall(self.sources.get(m, "")):
                name = name[0] or name[1]
                if (name and not (base / name).exists() and name not in self._source_dirs(base)
                        and name not in PRUNED and not name.startswith((".", "_"))):
                    out.add(name)
        return sorted(out)

    def _source_dirs(self, base: Path) -> frozenset[str]:
        """Names of the folders of the tree under ``base`` (a name joined to a package's own
        folder, ``os.path.join(os.path.dirname(__file__), "translations")``, is one of them)."""
        if base not in self._dir_names:
            names: set[str] = set()
            for dirpath, dirnames, _ in os.walk(base):
                dirnames[:] = [d for d in dirnames if d not in PRUNED and not d.startswith(".")]
                names.update(dirnames)
            self._dir_names[base] = frozenset(names)
        return self._dir_names[base]

    def root_data_files(self, m: str) -> dict[str, bytes]:
        """The data folders beside ``m``'s top-level package that ``m`` names in a string
        (``os.path.join(basedir, "logs")``, ``"data/seed.json"``), by their path in ``app/``:
        the code reaches them by a path relative to its package root, which is ``app/`` in a service."""
        if self.root is None:
            return {}
        if self._root_folders is None:
            self._root_folders = _root_data_folders(self.root, self.fb)
        folders = self._root_folders.get(m.split(".", 1)[0])
        if not folders:
            return {}
        text = self.sources.get(m, "")
        out: dict[str, bytes] = {}
        for name, folder in folders.items():
            if not re.search(r"""["']""" + re.escape(name) + r"""(?:["'/\\])""", text):
                continue
            if folder not in self._folder_files:
                self._folder_files[folder] = _folder_files(folder)
                if self._folder_files[folder] is None:
                    self.notes.append(f"{folder.relative_to(self.root).as_posix()}/: named by {m} but larger than "
                                      f"{ROOT_DATA_LIMIT // (1024 * 1024)} MB, not copied into the services")
            for rel, data in (self._folder_files[folder] or {}).items():
                out[f"{name}/{rel}"] = data
        return out


def _check_python(files: dict[str, bytes], untouched: set[str] = frozenset(), python: str | None = None) -> str | None:
    """Every Python file decompose wrote or rewrote compiles, as the images' Python
    (``python``, "3.12") compiles it (decompose.generation.compile_check).  The
    monolith's own files copied unchanged (``untouched``) are not compiled again:
    they are the monolith's, and compiling every copy in every service made
    generate slow on large monoliths.  Identical texts (the same rewrite in
    several services) are compiled once.  Returns a note when that Python's
    interpreter was not found (compiled with this one instead)."""
    texts: dict[str, str] = {}
    seen: set[bytes] = set()
    for path, data in sorted(files.items()):
        if path.endswith(".py") and path not in untouched and data not in seen:
            seen.add(data)
            texts[path] = data.decode("utf-8")
    result = compile_sources(texts, python or running_version())
    if result.problems:
        raise GenerateError(result.problems)
    return result.note


def render_outputs(
    gen: Generation,
    facts: list[ModuleFacts],
    sources: dict[str, str],
    *,
    root: Path | None = None,
    templates: Path | None = None,
) -> Outputs:
    env = template_env(templates)
    fw = frameworks.get(gen.framework)
    app = frameworks.AppInfo(module=gen.app_module, factory=gen.app_factory, router_prefixes=gen.router_prefixes,
                             settings=gen.app_settings)
    fb = {f.module: f for f in facts}
    files: dict[str, bytes] = {}
    untouched: set[str] = set()  # the monolith's files copied unchanged
    changes: list[Change] = []
    data_dirs_service = [DATA_MOUNT, SHARED_MOUNT]
    # what `decompose verify` forces to the shared database (decompose_rt/verify_config.py, manifest "verify")
    db_keys = verify_keys.database_keys(sources, database_env=gen.database_env, flask=gen.framework == "flask",
                                        database_env_form="url" if accepts_sqlite(gen.database_schemes) else "unset")

    def unit_files(prefix: str, unit: dict, requirements: list[str], wsgi: str, package: str, database_env: str | None,
                   mounts: dict[str, str]) -> None:
        # FastAPI services run under uvicorn (ASGI); Flask services and every gateway under gunicorn.
        asgi = fw.asgi and unit["role"] == "service"
        ctx = {"server": "uvicorn"} if asgi else {}
        files[f"{prefix}/Dockerfile"] = _render(
            env, "service/Dockerfile.j2", unit=unit, base_image=gen.base_image, port=PORT, uid=UID,
            health=HEALTH_PATH, wsgi=wsgi, data_dirs=data_dirs_service if unit["role"] == "service" else ["/tmp/app"],
            app_dirs=[v["path"] for v in unit.get("volumes", ()) if v["path"].startswith("/app/")],
            **ctx,
        )
        files[f"{prefix}/.dockerignore"] = _render(env, "service/dockerignore.j2", unit=unit)
        files[f"{prefix}/requirements.txt"] = _render(env, "service/requirements.txt.j2", unit=unit, requirements=requirements)
        files[f"{prefix}/constraints.txt"] = _render(env, "service/constraints.txt.j2", constraints=gen.constraints_of(unit["name"]))
        if asgi:
            files[f"{prefix}/app/{package}/__main__.py"] = _render(
                env, "runtime/main_fastapi.py.j2", asgi=wsgi, package=package, role=unit["role"], mounts=mounts,
                database_env=database_env,
            )
            return
        files[f"{prefix}/app/gunicorn.conf.py"] = _render(env, "runtime/gunicorn.conf.py.j2")
        files[f"{prefix}/app/{package}/__main__.py"] = _render(
            env, "runtime/main.py.j2", wsgi=wsgi, package=package, role=unit["role"], mounts=mounts,
            database_env=database_env,
        )

    own_dist = distinfo.own_distribution(root) if root is not None else None
    copies = SharedCopies(gen, fb, sources, root)
    copies.rewrite_all(default_jobs())
    owner_of = {m: n for n in sorted(gen.services) for m in gen.services[n].modules}
    route_owners: dict[tuple[str, str], str] = {}
    for n in sorted(gen.services):
        for r in gen.services[n].routes:
            route_owners.setdefault((r.native or r.path, r.function), n)
    # the allow-list of decompose_rt.rpc: classes a service builds from what another sends
    own_modules = sorted({m for spec in gen.services.values() for m in spec.copied})
    for name in sorted(gen.services):  # the folders each service writes into (volumes, see service_unit)
        spec = gen.services[name]
        spec.writable = sorted({d for m in spec.copied for d in copies.runtime_folders(m)})
    for name in sorted(gen.services):
        spec = gen.services[name]
        unit = service_unit(gen, name)
        prefix = f"services/{name}"
        mounts = {DATA_MOUNT: name, SHARED_MOUNT: SHARED_VOLUME}
        unit_files(prefix, unit, unit["requirements"], "decompose_rt.server:app", "decompose_rt", gen.database_env, mounts)
        # the service's source tree
        drop = {m for m in fb if m not in spec.copied}
        held: list[str] = []  # the monolith's files this service holds (its distribution's RECORD)
        for m in spec.copied:
            f = fb[m]
            path = f"{prefix}/app/{_module_path(m, f.is_package)}"
            try:
                if m == gen.app_module and m not in spec.modules:
                    text = fw.prune_app_module(sources[m], m, f.is_package, drop)
                    text, ch = rewrite_remote_imports(text, m, f.is_package, spec.rewrites.get(m, {}),
                                                      frozenset(gen.shadowed))
                    data, same = text.encode("utf-8"), False
                else:
                    data, ch, same = copies.module(m, spec.rewrites.get(m, {}))
            except (CodemodError, PruneError) as exc:
                raise GenerateError([f"{name}: {exc}"]) from None
            changes.extend(ch)
            files[path] = data
            held.append(_module_path(m, f.is_package))
            if same:
                untouched.add(path)
            for rel, data in [*copies.data_files(m).items(), *copies.root_data_files(m).items()]:
                if not spec.serves_static and _under(rel, gen.served_static):
                    continue
                files[f"{prefix}/app/{rel}"] = data
                held.append(rel)
        if own_dist is not None:  # the monolith's own distribution metadata (importlib.metadata)
            for rel, data in distinfo.dist_info_files(*own_dist, record=held).items():
                files[f"{prefix}/app/{rel}"] = data
        rt = f"{prefix}/app/decompose_rt"
        files[f"{rt}/__init__.py"] = _render(env, "runtime/init.py.j2", database_env=gen.database_env)
        files[f"{rt}/probes.py"] = _render(env, "runtime/probes.py.j2")
        files[f"{rt}/rpc.py"] = _render(env, "runtime/rpc.py.j2", own_modules=own_modules)
        files[f"{rt}/auth.py"] = _render(env, "runtime/auth.py.j2")
        files[f"{rt}/internal.py"] = _render(env, "runtime/internal.py.j2")
        files[f"{rt}/server.py"] = _render(env, fw.server_template)
        for rel, template in sorted(fw.runtime_templates.items()):
            files[f"{rt}/{rel}"] = _render(env, template)
        files[f"{rt}/verify_config.py"] = _render(
            env, "runtime/verify_config.py.j2", config_keys=db_keys["config"], env_keys=db_keys["env"],
            database_env=gen.database_env)
        service_ctx = {
            "name": name,
            "exports": [{"name": e.name, "module": e.module, "attr": e.attr, "kind": e.kind} for e in spec.exports],
            "app_factory": gen.app_factory,
            "blueprints": spec.blueprints,
            "database_env": gen.database_env,
            "routes": [{"path": r.path, "methods": list(r.methods), "function": r.function, "native": r.native}
                       for r in spec.routes],
        }
        service_ctx.update(fw.server_context(spec.blueprints, app))
        service_ctx.update(fw.service_context(
            [m for m in spec.copied if m not in spec.borrowed],
            {cm.import_name: cm.module for cm in spec.clients.values()},
            {m: owner_of[m] for m in [*spec.copied, *(cm.module for cm in spec.clients.values())] if m in owner_of},
            route_owners, app))
        files[f"{rt}/service.py"] = _render(env, "runtime/service.py.j2", service=service_ctx)
        files[f"{rt}/clients/__init__.py"] = _render(env, "runtime/clients_init.py.j2")
        for t in sorted(spec.clients):
            cm = spec.clients[t]
            files[f"{prefix}/app/{cm.path}"] = _render(env, "runtime/client.py.j2", client=cm)

    # the gateway
    gw = gateway_unit(gen)
    gw_reqs = gen.gateway_requirements
    unit_files(GATEWAY_NAME, gw, gw_reqs, "decompose_gateway.app:app", "decompose_gateway", None, {})
    files[f"{GATEWAY_NAME}/app/decompose_gateway/__init__.py"] = _render(env, "gateway/init.py.j2")
    files[f"{GATEWAY_NAME}/app/decompose_gateway/app.py"] = _render(env, "gateway/app.py.j2")
    files[f"{GATEWAY_NAME}/app/decompose_gateway/routes.py"] = _render(
        env, "gateway/routes.py.j2", routes=gateway_routes(gen, rule=fw.gateway_rule),
        default_service=gen.default_service,
        services=gw["egress_to"],
    )

    # Kubernetes: base per unit, then the base and the overlays.
    namespace = gen.project
    units = [service_unit(gen, n) for n in sorted(gen.services)] + [gw]
    server = database_server(gen)
    common = {"namespace": namespace, "project": gen.project, "uid": UID, "port": PORT,
              "ingress_namespace": INGRESS_NAMESPACE, "resources": BASE_RESOURCES, "server": server}
    for unit in units:
        base = f"k8s/base/{unit['name']}"
        for kind in ("configmap", "deployment", "service", "networkpolicy", "pdb", "hpa"):
            files[f"{base}/{kind}.yaml"] = _render(env, f"k8s/{kind}.yaml.j2", unit=unit, **common)
        files[f"{base}/kustomization.yaml"] = _render(env, "k8s/kustomization-unit.yaml.j2", unit=unit)
    project_labels = {k: v for k, v in labels(gen, gen.project, "project").items()
                      if k not in ("app.kubernetes.io/component", "app.kubernetes.io/instance")}
    files["k8s/base/namespace.yaml"] = _render(env, "k8s/namespace.yaml.j2", labels=project_labels, **common)
    files["k8s/base/default-deny.yaml"] = _render(env, "k8s/default-deny.yaml.j2", labels=project_labels, **common)
    files["k8s/base/ingress.yaml"] = _render(
        env, "k8s/ingress.yaml.j2", labels=project_labels, prefixes=minimal_prefixes(gw["route_prefixes"]) or ["/"],
        gateway=GATEWAY_NAME, ingress_class=INGRESS_CLASS, **common,
    )
    if server:
        files.update(_database_files(env, gen, server, units, common))
    files["k8s/base/kustomization.yaml"] = _render(
        env, "k8s/kustomization-base.yaml.j2", project=gen.project, units=[u["name"] for u in units], server=server
    )
    for name, overlay in OVERLAYS.items():
        # the plan's `replicas:` of a service, where the overlay scales out (prod): its own patch
        own = [] if overlay["replicas"] < 2 else [
            {"name": n, "replicas": gen.services[n].replicas,
             "max_replicas": 1 if gen.services[n].replicas == 1 else max(gen.services[n].replicas, overlay["max_replicas"])}
            for n in sorted(gen.services) if gen.services[n].replicas != overlay["replicas"]]
        files[f"k8s/overlays/{name}/kustomization.yaml"] = _render(
            env, "k8s/kustomization-overlay.yaml.j2", overlay=overlay, project=gen.project, server=server,
            own_replicas=own,
        )
        for r in own:
            for kind in ("deployment", "hpa"):
                files[f"k8s/overlays/{name}/replicas-{r['name']}-{kind}.yaml"] = _render(
                    env, "k8s/overlay-replicas.yaml.j2", r=r, kind=kind)
        files[f"k8s/overlays/{name}/deployments.yaml"] = _render(env, "k8s/overlay-deployments.yaml.j2", overlay=overlay)
        files[f"k8s/overlays/{name}/autoscaling.yaml"] = _render(env, "k8s/overlay-autoscaling.yaml.j2", overlay=overlay)

    # compose, migration guide, manifest
    volumes = sorted({v.split(":", 1)[0] for u in units for v in u["compose_volumes"]}
                     | ({f"{db.SERVER}-data"} if server else set()))
    compose_secrets = sorted([{"name": name, "file": f"secrets/{name}"} for name in _secret_names(server)]
                             + [{"name": rpc_auth.COMPOSE_SECRET, "file": rpc_auth.COMPOSE_SECRET_FILE}],
                             key=lambda sec: sec["name"])
    files["compose.yaml"] = _render(
        env, "project/compose.yaml.j2", project=gen.project, units=units, base_image=gen.base_image,
        public_port=PUBLIC_PORT, volumes=volumes, server=server, compose_secrets=compose_secrets, shared_db=db.SHARED_DB,
    )
    files["make-secrets.py"] = _render(env, "project/make-secrets.py.j2", project=gen.project,
                                       places=_secret_places(server), url_pattern=db.url_pattern(gen.database_url_scheme))
    files["MIGRATION.md"] = _render(
        env, "project/MIGRATION.md.j2", project=gen.project, order=migration_rows(gen),
        shared_tables=gen.shared_tables, shared_services=gen.shared_db_services, database_env=gen.database_env,
        shared_url=(db.url(db.SHARED_DB, "PASSWORD", gen.database_url_scheme) if server else f"sqlite:///{SHARED_MOUNT}/shared.db"),
        notes=[n for n in gen.notes if n not in set(_replica_notes(gen.replica_state))], server=server,
        replica_state=gen.replica_state,
    )
    files.update(rpc_auth.placeholder_files(list(OVERLAYS)))  # secrets/.gitignore: where the RPC secret goes
    manifest = output_manifest(gen)
    manifest["verify"] = {"database_keys": db_keys}
    if gen.framework == "django" and (gen.app_settings or {}).get("root_urlconf"):
        # the urlconf the services' paths come from: verify maps the suite's own (its test settings') onto it
        manifest["verify"]["django_root_urlconf"] = gen.app_settings["root_urlconf"]
    files[MANIFEST_NAME] = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    note = _check_python(files, untouched, gen.python)
    return Outputs(files=dict(sorted(files.items())), changes=changes, notes=[*copies.notes, *([note] if note else [])])


def database_server(gen: Generation) -> dict | None:
    """The PostgreSQL server as templates see it (None: SQLite files)."""
    entry = db.manifest_entry(gen.database_engine, gen.database_image, db.databases(gen.services),
                              gen.database_url_scheme)
    if entry is None:
        return None
    return {**entry, "k8s_secret": db.K8S_SECRET, "k8s_init_configmap": db.K8S_INIT_CONFIGMAP,
            "k8s_pgdata": db.K8S_PGDATA, "storage": "1Gi"}


def _secret_names(server: dict | None) -> list[str]:
    """compose's secret files (secrets/NAME): the database's."""
    if not server:
        return []
    return [server["password_secret"]] + [d["secret"] for d in server["databases"]]


def _secret_places(server: dict | None) -> dict[str, dict[str, str]]:
    """What make-secrets.py writes: folder -> {file: kind} (RPC secret and database credentials)."""
    def wanted(k8s: bool) -> dict[str, str]:
        out = {PurePosixPath(rpc_auth.K8S_OVERLAY_FILE if k8s else rpc_auth.COMPOSE_SECRET_FILE).name: "rpc"}
        if server:
            out[server["password_secret"]] = "password"
            out.update({d["secret"]: f"url:{d['name']}" for d in server["databases"]})
        return dict(sorted(out.items()))
    places = {"secrets": wanted(False)}
    for name in sorted(OVERLAYS):
        places[f"k8s/overlays/{name}/secrets"] = wanted(True)
    return places


def _database_files(env: jinja2.Environment, gen: Generation, server: dict, units: list[dict], common: dict
                    ) -> dict[str, bytes]:
    """The server's init script (compose and ``up`` mount it) and its Kubernetes base."""
    script = db.init_script(server["databases"], str(server.get("url_scheme") or db.URL_SCHEME))
    pg_labels = labels(gen, db.SERVER, "database")
    pg_selector = {"app.kubernetes.io/name": db.SERVER, "app.kubernetes.io/part-of": gen.project}
    clients = sorted(u["name"] for u in units if u.get("database_server"))
    ctx = {**common, "labels": pg_labels, "selector": pg_selector, "clients": clients}
    out = {f"{db.INITDB_DIR}/{db.INIT_SCRIPT}": script.encode("utf-8")}
    base = f"k8s/base/{db.SERVER}"
    for kind in ("statefulset", "service", "networkpolicy", "kustomization"):
        out[f"{base}/{kind}.yaml"] = _render(env, f"k8s/postgres/{kind}.yaml.j2", **ctx)
    out[f"{base}/configmap.yaml"] = _render(env, "k8s/postgres/configmap.yaml.j2", init_name=db.INIT_SCRIPT,
                                            init_script=script, **ctx)
    return out


# --------------------------------------------------------------------------- writing


def _safe_rel(path: str) -> PurePosixPath:
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise GenerateError([f"refusing to write outside the output folder: {path!r}"])
    return p


def conflicts(out: Path, files: dict[str, bytes]) -> list[str]:
    """Targets that exist already (and would be overwritten)."""
    return [rel for rel in files if (Path(out) / _safe_rel(rel)).exists()]


def write_outputs(out: Path, files: dict[str, bytes], *, force: bool = False) -> list[str]:
    """Write every file, or none: without ``force`` any existing target stops everything first."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RefusedOverwrite(f"{out}: exists and is not a folder")
    existing = conflicts(out, files)
    if existing and not force:
        shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
        raise RefusedOverwrite(f"{out}: {len(existing)} file(s) already exist ({shown}); use --force to overwrite")
    previous = _previous_outputs(out)
    atomic_write_all([(out / _safe_rel(rel), data) for rel, data in files.items()])
    # What an earlier generation wrote and this one does not (a renamed or removed
    # service) goes, so the folder equals a fresh generation.  Only files listed in
    # the earlier record are touched: nothing the user added is ever deleted.
    for rel in sorted(previous - set(files)):
        target = out / _safe_rel(rel)
        if target.is_file():
            target.unlink()
            _prune_empty_dirs(target.parent, out)
    record = "".join(f"{rel}\n" for rel in sorted(files))
    atomic_write(out / GENERATED_LIST, record, force=True)
    return list(files)


#: The files the last ``decompose generate`` wrote into an output folder, one per line.
GENERATED_LIST = ".decompose-generated"


def _previous_outputs(out: Path) -> set[str]:
    try:
        lines = (out / GENERATED_LIST).read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return set()
    keep = set()
    for line in lines:
        try:
            _safe_rel(line)
        except GenerateError:  # a tampered record never makes us delete outside `out`
            continue
        keep.add(line)
    return keep


def _prune_empty_dirs(folder: Path, stop: Path) -> None:
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            return
        folder = folder.parent
