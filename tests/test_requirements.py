"""Requirements of generated services, resolved from what the monolith declares
(decompose.generation.requirements, decompose.generation.dependencies).

The fixtures follow real layouts: a pip-tools style requirements.txt including
requirements/base.txt with markers, extras, hashes and a constraints file; a
poetry.lock (1.x without groups, 2.x with groups); a Pipfile.lock; a uv.lock
with dev dependencies; setup.cfg; setup.py read with ast."""

from __future__ import annotations

import importlib.metadata as md
import shutil
import textwrap
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from decompose.generation import declarations as D
from decompose.generation import requirements as R
from decompose.generation.dependencies import dependency_files, project_root, read_declarations
from decompose.generation.generate import GATEWAY_PINS
from decompose.generation.output import generation_for, render_outputs
from decompose.planning.plan import Plan
from decompose.planning.planfile import save_plan

from tests.generate_support import reference_plan

FLASK = R.Runtime(pins={"flask": "flask==3.1.3", "httpx": "httpx==0.28.1", "gunicorn": "gunicorn==27.0.1"})
ENV = R.target_environment()


def dedent(s: str) -> str:
    return textwrap.dedent(s).lstrip("\n")


def uses(*modules: str, by: str = "app.views", optional: bool = False) -> list[R.ImportUse]:
    return [R.ImportUse(module=m, by=by, optional=optional) for m in modules]


def reqs_for(files: dict[str, str], *modules: str, provides=None, runtime=FLASK) -> R.UnitRequirements:
    decl = R.collect({k: dedent(v) for k, v in files.items()}, provides=provides)
    return R.service_requirements("web", uses(*modules), decl, runtime, ENV)


# --------------------------------------------------------------------------- requirements files

REQUIREMENTS_TXT = """
    # pip-compile style, with an include, a constraints file and per-line options
    -r requirements/base.txt
    -c constraints.txt
    --index-url https://pypi.org/simple
    -e .
    celery[redis,msgpack]==5.3.6 \\
        --hash=sha256:0123456789abcdef
    uvloop==0.19.0 ; sys_platform != "win32"
    pywin32==306; sys_platform == "win32"
    importlib-metadata==6.0.0; python_version < "3.8"
    gunicorn==21.2.0  # the production server
"""
BASE_TXT = """
    Flask==3.0.3
    Flask-SQLAlchemy>=3.1,<4
    python-dateutil==2.9.0.post0
"""
CONSTRAINTS_TXT = """
    redis==5.0.1
    werkzeug==3.0.6
"""
DEV_TXT = """
    -rrequirements.txt
    pytest==8.2.0
    factory-boy==3.3.0
    WebTest==3.0.0
"""


def test_requirements_txt_includes_markers_extras_and_constraints():
    files = {"requirements.txt": REQUIREMENTS_TXT, "requirements/base.txt": BASE_TXT,
             "constraints.txt": CONSTRAINTS_TXT, "requirements-dev.txt": DEV_TXT}
    r = reqs_for(files, "celery", "flask", "flask_sqlalchemy", "dateutil.parser", "uvloop", "win32api")
    assert r.requirements == [
        "celery[msgpack,redis]==5.3.6",
        "flask==3.0.3",
        "flask-sqlalchemy<4,>=3.1",
        "gunicorn==21.2.0",  # the monolith's pin, in the range the runtime supports
        "httpx==0.28.1",
        "python-dateutil==2.9.0.post0",
        'uvloop==0.19.0; sys_platform != "win32"',
    ]
    # constraints: name==version only, production pins only (no pytest, no extras, no win32 pin)
    assert r.constraints == ["celery==5.3.6", "flask==3.0.3", "gunicorn==21.2.0", "python-dateutil==2.9.0.post0",
                             "redis==5.0.1", "uvloop==0.19.0", "werkzeug==3.0.6"]
    assert r.unpinned == ["flask-sqlalchemy"]
    assert any("win32api" in n and "left out" in n for n in r.notes)


def test_requirements_files_groups_and_includes():
    assert D.requirements_file_group("requirements.txt") == "main"
    assert D.requirements_file_group("requirements/base.txt") == "main"
    assert D.requirements_file_group("requirements/production.txt") == "main"
    assert D.requirements_file_group("requirements-dev.txt") == "dev"
    assert D.requirements_file_group("requirements/test.txt") == "dev"
    assert D.requirements_file_group("requirements/docs.in") == "dev"
    assert D.requirements_file_group("requirements/heroku.txt") is None
    reqs, includes, skipped = D.requirements_lines(dedent(REQUIREMENTS_TXT))
    assert includes == [("r", "requirements/base.txt"), ("c", "constraints.txt")]
    assert "celery[redis,msgpack]==5.3.6" in reqs and not skipped
    # a file included from a production file is production, whatever its name
    decl = R.collect({"requirements/prod.txt": "-r _common.txt\n", "requirements/_common.txt": "flask==3.0.3\n",
                      "requirements/heroku.txt": "psycopg2-binary==2.9.9\n"})
    groups = {e.name: e.group for e in decl.entries}
    assert groups == {"flask": "main", "psycopg2-binary": "extra:heroku"}


def test_adapter_reads_the_files_and_follows_includes(tmp_path):
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements.txt").write_text(dedent(REQUIREMENTS_TXT))
    (tmp_path / "requirements" / "base.txt").write_text(dedent(BASE_TXT) + "-r ../../outside.txt\n")
    (tmp_path / "constraints.txt").write_text(dedent(CONSTRAINTS_TXT))
    (tmp_path / "requirements-dev.txt").write_text(dedent(DEV_TXT))
    files, notes = dependency_files(tmp_path)
    assert sorted(files) == ["constraints.txt", "requirements-dev.txt", "requirements.txt", "requirements/base.txt"]
    decl = read_declarations(tmp_path, environment=False)
    assert any("outside.txt" in n for n in decl.notes)
    assert {e.name for e in decl.entries if e.group == "dev"} == {"pytest", "factory-boy", "webtest"}


# --------------------------------------------------------------------------- lock files

POETRY_PYPROJECT = """
    [tool.poetry]
    name = "blog"
    version = "1.0.0"

    [tool.poetry.dependencies]
    python = "^3.11"
    flask = "^3.0"
    requests = { version = "^2.31", extras = ["socks"] }
    importlib-metadata = { version = "^6", python = "<3.8" }

    [tool.poetry.group.dev.dependencies]
    pytest = "^8.0"
    factory-boy = "^3.3"
"""
POETRY_LOCK = """
    # This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.

    [[package]]
    name = "flask"
    version = "3.0.3"
    description = "A simple framework for building complex web applications."
    optional = false
    python-versions = ">=3.8"
    files = []

    [package.dependencies]
    blinker = ">=1.6.2"
    click = ">=8.1.3"
    importlib-metadata = {version = ">=3.6.0", markers = "python_version < \\"3.10\\""}
    werkzeug = ">=3.0.0"

    [package.extras]
    async = ["asgiref (>=3.2)"]

    [[package]]
    name = "werkzeug"
    version = "3.0.4"
    description = ""
    optional = false
    python-versions = ">=3.8"
    files = []

    [package.dependencies]
    MarkupSafe = ">=2.1.1"

    [[package]]
    name = "markupsafe"
    version = "2.1.5"
    description = ""
    optional = false
    python-versions = ">=3.7"
    files = []

    [[package]]
    name = "blinker"
    version = "1.8.2"
    description = ""
    optional = false
    python-versions = ">=3.8"
    files = []

    [[package]]
    name = "click"
    version = "8.1.7"
    description = ""
    optional = false
    python-versions = ">=3.7"
    files = []

    [[package]]
    name = "importlib-metadata"
    version = "6.11.0"
    description = ""
    optional = false
    python-versions = ">=3.8"
    files = []

    [[package]]
    name = "requests"
    version = "2.32.3"
    description = ""
    optional = false
    python-versions = ">=3.8"
    files = []

    [package.dependencies]
    idna = ">=2.5,<4"
    PySocks = {version = ">=1.5.6,<1.5.7 || >1.5.7", optional = true, markers = "extra == \\"socks\\""}

    [package.extras]
    socks = ["PySocks (>=1.5.6,!=1.5.7)"]

    [[package]]
    name = "idna"
    version = "3.7"
    description = ""
    optional = false
    python-versions = ">=3.5"
    files = []

    [[package]]
    name = "pysocks"
    version = "1.7.1"
    description = ""
    optional = true
    python-versions = "*"
    files = []

    [[package]]
    name = "pytest"
    version = "8.2.2"
    description = ""
    optional = false
    python-versions = ">=3.8"
    files = []

    [package.dependencies]
    iniconfig = "*"

    [[package]]
    name = "iniconfig"
    version = "2.0.0"
    description = ""
    optional = false
    python-versions = ">=3.7"
    files = []

    [[package]]
    name = "factory-boy"
    version = "3.3.0"
    description = ""
    optional = false
    python-versions = ">=3.7"
    files = []

    [package.dependencies]
    Faker = ">=0.7.0"

    [[package]]
    name = "faker"
    version = "25.8.0"
    description = ""
    optional = false
    python-versions = ">=3.8"
    files = []

    [metadata]
    lock-version = "2.0"
    python-versions = "^3.11"
    content-hash = "0000"
"""


def test_poetry_lock_production_closure():
    files = {"pyproject.toml": POETRY_PYPROJECT, "poetry.lock": POETRY_LOCK}
    r = reqs_for(files, "flask", "requests", "werkzeug.exceptions")
    assert r.requirements == ["flask==3.0.3", "gunicorn==27.0.1", "httpx==0.28.1", "requests[socks]==2.32.3",
                              "werkzeug==3.0.4"]
    # dev group (pytest, factory-boy and what only they need) is not production; the
    # marker-false importlib-metadata is not installed on Python 3.11
    assert r.constraints == ["blinker==1.8.2", "click==8.1.7", "flask==3.0.3", "idna==3.7", "markupsafe==2.1.5",
                             "pysocks==1.7.1", "requests==2.32.3", "werkzeug==3.0.4"]


def test_poetry_2_lock_groups():
    lock = POETRY_LOCK.replace('name = "pytest"', 'name = "pytest"\n    groups = ["dev"]').replace(
        'name = "flask"', 'name = "flask"\n    groups = ["main"]').replace(
        'name = "werkzeug"', 'name = "werkzeug"\n    groups = ["main"]')
    decl = R.collect({"pyproject.toml": dedent(POETRY_PYPROJECT), "poetry.lock": dedent(lock)})
    groups = {e.name: e.group for e in decl.entries if e.kind == "lock"}
    assert groups["flask"] == groups["werkzeug"] == "main" and groups["pytest"] == "dev"
    assert groups["iniconfig"] == "dev"  # a lock with groups: a package without "main" is not production


def test_poetry_constraint_syntax():
    assert D._poetry_specifier("^1.2.3") == ">=1.2.3,<2.0.0"
    assert D._poetry_specifier("^0.2.3") == ">=0.2.3,<0.3.0"
    assert D._poetry_specifier("~1.2.3") == ">=1.2.3,<1.3.0"
    assert D._poetry_specifier("1.2.3") == "==1.2.3"
    assert D._poetry_specifier("*") == ""
    assert D._poetry_specifier(">=1.0,<2.0") == ">=1.0,<2.0"
    assert D._python_marker("<3.8") == 'python_full_version < "3.8"'


PIPFILE = """
    [[source]]
    url = "https://pypi.org/simple"
    verify_ssl = true
    name = "pypi"

    [packages]
    flask = "*"
    python-slugify = {version = "==8.0.4", extras = ["unidecode"]}
    blog = {path = ".", editable = true}

    [dev-packages]
    pytest = "*"
    factory-boy = "*"

    [requires]
    python_version = "3.11"
"""
PIPFILE_LOCK = """
    {
        "_meta": {"hash": {"sha256": "00"}, "pipfile-spec": 6, "requires": {"python_version": "3.11"},
                  "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]},
        "default": {
            "blog": {"editable": true, "path": "."},
            "flask": {"hashes": ["sha256:00"], "index": "pypi", "markers": "python_version >= '3.8'", "version": "==3.0.3"},
            "python-slugify": {"extras": ["unidecode"], "hashes": [], "version": "==8.0.4"},
            "text-unidecode": {"hashes": [], "version": "==1.3"},
            "werkzeug": {"hashes": [], "markers": "python_version >= '3.8'", "version": "==3.0.4"}
        },
        "develop": {
            "factory-boy": {"hashes": [], "index": "pypi", "version": "==3.3.0"},
            "faker": {"hashes": [], "version": "==25.8.0"},
            "pytest": {"hashes": [], "index": "pypi", "version": "==8.2.2"}
        }
    }
"""


def test_pipfile_and_lock():
    r = reqs_for({"Pipfile": PIPFILE, "Pipfile.lock": PIPFILE_LOCK}, "flask", "slugify")
    assert r.requirements == ["flask==3.0.3", "gunicorn==27.0.1", "httpx==0.28.1", "python-slugify[unidecode]==8.0.4"]
    assert r.constraints == ["flask==3.0.3", "python-slugify==8.0.4", "text-unidecode==1.3", "werkzeug==3.0.4"]


UV_PYPROJECT = """
    [project]
    name = "blog"
    version = "1.0.0"
    requires-python = ">=3.11"
    dependencies = ["flask>=3.0", "httpx>=0.27"]

    [project.optional-dependencies]
    postgres = ["psycopg2-binary>=2.9"]

    [dependency-groups]
    dev = ["pytest>=8", "webtest>=3"]
"""
UV_LOCK = """
    version = 1
    requires-python = ">=3.11"

    [[package]]
    name = "blog"
    version = "1.0.0"
    source = { editable = "." }
    dependencies = [
        { name = "flask" },
        { name = "httpx" },
    ]

    [package.optional-dependencies]
    postgres = [
        { name = "psycopg2-binary" },
    ]

    [package.dev-dependencies]
    dev = [
        { name = "pytest" },
        { name = "webtest" },
    ]

    [package.metadata]
    requires-dist = [
        { name = "flask", specifier = ">=3.0" },
        { name = "httpx", specifier = ">=0.27" },
        { name = "psycopg2-binary", marker = "extra == 'postgres'", specifier = ">=2.9" },
    ]

    [[package]]
    name = "flask"
    version = "3.0.3"
    source = { registry = "https://pypi.org/simple" }
    dependencies = [
        { name = "werkzeug" },
        { name = "colorama", marker = "sys_platform == 'win32'" },
    ]

    [[package]]
    name = "werkzeug"
    version = "3.0.4"
    source = { registry = "https://pypi.org/simple" }

    [[package]]
    name = "colorama"
    version = "0.4.6"
    source = { registry = "https://pypi.org/simple" }

    [[package]]
    name = "httpx"
    version = "0.27.2"
    source = { registry = "https://pypi.org/simple" }

    [[package]]
    name = "psycopg2-binary"
    version = "2.9.9"
    source = { registry = "https://pypi.org/simple" }

    [[package]]
    name = "pytest"
    version = "8.2.2"
    source = { registry = "https://pypi.org/simple" }
    dependencies = [
        { name = "iniconfig" },
    ]

    [[package]]
    name = "iniconfig"
    version = "2.0.0"
    source = { registry = "https://pypi.org/simple" }

    [[package]]
    name = "webtest"
    version = "3.0.0"
    source = { registry = "https://pypi.org/simple" }
"""


def test_uv_lock_production_closure_and_dev_groups():
    r = reqs_for({"pyproject.toml": UV_PYPROJECT, "uv.lock": UV_LOCK}, "flask", "psycopg2", "webtest")
    # the monolith's httpx pin (0.27.2, in the runtime's supported range) is used, not the runtime's
    assert r.requirements == ["flask==3.0.3", "gunicorn==27.0.1", "httpx==0.27.2", "psycopg2-binary==2.9.9"]
    assert r.constraints == ["flask==3.0.3", "httpx==0.27.2", "psycopg2-binary==2.9.9", "werkzeug==3.0.4"]
    assert any("development-only" in n and "webtest" in n for n in r.notes)


def test_setup_cfg():
    setup_cfg = """
        [metadata]
        name = blog

        [options]
        packages = find:
        install_requires =
            Flask>=3.0
            SQLAlchemy==2.0.30
            typing-extensions; python_version < "3.8"
        tests_require =
            pytest

        [options.extras_require]
        redis = redis>=5
        testing =
            pytest-cov
    """
    decl = R.collect({"setup.cfg": dedent(setup_cfg)})
    got = {(e.name, e.specifier, e.group) for e in decl.entries}
    assert got == {("flask", ">=3.0", "main"), ("sqlalchemy", "==2.0.30", "main"), ("typing-extensions", "", "main"),
                   ("pytest", "", "dev"), ("redis", ">=5", "extra:redis"), ("pytest-cov", "", "dev")}
    r = R.service_requirements("web", uses("flask", "sqlalchemy.orm", "redis"), decl, FLASK, ENV)
    assert r.requirements == ["flask==3.1.3", "gunicorn==27.0.1", "httpx==0.28.1", "redis>=5", "sqlalchemy==2.0.30"]


def test_setup_py_is_read_statically_never_run(tmp_path):
    setup_py = """
        import os, sys
        from setuptools import setup, find_packages
        open(os.path.join(os.path.dirname(__file__), "EXECUTED"), "w").write("setup.py ran")
        sys.exit("must not run")

        BASE = ["Flask==3.0.3", "requests>=2.31"]
        INSTALL_REQUIRES = BASE + ["python-slugify[unidecode]==8.0.4"]

        setup(
            name="blog",
            packages=find_packages(),
            install_requires=INSTALL_REQUIRES,
            extras_require={"postgres": ["psycopg2-binary==2.9.9"], "test": ["pytest", "WebTest"]},
            tests_require=["factory_boy"],
        )
    """
    (tmp_path / "setup.py").write_text(dedent(setup_py))
    decl = read_declarations(tmp_path, environment=False)
    assert not (tmp_path / "EXECUTED").exists()
    got = {(e.name, e.specifier, e.extras, e.group) for e in decl.entries}
    assert got == {("flask", "==3.0.3", (), "main"), ("requests", ">=2.31", (), "main"),
                   ("python-slugify", "==8.0.4", ("unidecode",), "main"),
                   ("psycopg2-binary", "==2.9.9", (), "extra:postgres"),
                   ("pytest", "", (), "dev"), ("webtest", "", (), "dev"), ("factory-boy", "", (), "dev")}
    assert decl.own == frozenset({"blog"})
    # install_requires computed by a function (FlaskBB's get_requirements()): said, not guessed
    computed = R.collect({"setup.py": "from setuptools import setup\nsetup(install_requires=get_requirements())\n"})
    assert computed.entries == [] and any("get_requirements()" in n for n in computed.notes)


# --------------------------------------------------------------------------- import names


def test_factory_is_factory_boy_and_test_only_stays_out():
    files = {"requirements.txt": "Flask==3.0.3\n", "requirements-dev.txt": DEV_TXT}
    r = reqs_for(files, "flask", "factory", "webtest")
    assert r.requirements == ["flask==3.0.3", "gunicorn==27.0.1", "httpx==0.28.1"]
    assert not any(x.startswith(("factory", "webtest", "pytest")) for x in r.requirements + r.constraints)
    assert any("development-only" in n and "factory (factory-boy)" in n for n in r.notes)
    # declared for production, factory is factory-boy, pinned
    r = reqs_for({"requirements.txt": "Flask==3.0.3\nfactory-boy==3.3.0\n"}, "factory.alchemy")
    assert "factory-boy==3.3.0" in r.requirements


def test_slugify_has_two_distributions():
    r = reqs_for({"requirements.txt": "awesome-slugify==1.6.5\n"}, "slugify")
    assert "awesome-slugify==1.6.5" in r.requirements and not any("python-slugify" in x for x in r.requirements)
    r = reqs_for({"requirements.txt": "python-slugify==8.0.4\n"}, "slugify")
    assert "python-slugify==8.0.4" in r.requirements
    # installed metadata (top_level.txt / RECORD) decides before the table
    both = {"requirements.txt": "awesome-slugify==1.6.5\npython-slugify==8.0.4\n"}
    r = reqs_for(both, "slugify", provides={"slugify": ("awesome-slugify",)})
    assert "awesome-slugify==1.6.5" in r.requirements and "python-slugify==8.0.4" not in r.requirements
    # neither declared: a note, no invented pin
    r = reqs_for({"requirements.txt": "Flask==3.0.3\n"}, "slugify")
    assert not any("slugify" in x for x in r.requirements)
    assert any("slugify (awesome-slugify or python-slugify?)" in n for n in r.notes)


def test_import_index_from_installed_metadata():
    from decompose.generation.dependencies import import_index

    index = import_index()
    assert "pyyaml" in index["yaml"]  # top_level.txt / RECORD of PyYAML
    assert "jinja2" in index["jinja2"]


def test_undeclared_imports_are_noted_not_invented():
    r = reqs_for({"pyproject.toml": '[project]\nname = "x"\ndependencies = ["flask==3.0.3"]\n'}, "flask", "requests")
    assert r.requirements == ["flask==3.0.3", "gunicorn==27.0.1", "httpx==0.28.1"]
    assert any("requests" in n and "left out of requirements.txt" in n for n in r.notes)
    # a monolith declaring nothing at all: names from the import, unpinned, and said so
    r = R.service_requirements("web", uses("requests", "slugify"), R.collect({}), FLASK, ENV)
    assert "requests" in r.requirements and not any("slugify" in x for x in r.requirements)
    assert any("declares no dependencies" in n for n in r.notes)


# --------------------------------------------------------------------------- optional and test imports


OPTIONAL_SOURCE = """
    try:
        import ujson as json
    except ImportError:
        import json

    try:
        from redis import Redis
    except (ImportError, OSError):
        Redis = None

    try:
        import requests
    except ValueError:
        pass

    import flask
"""


def test_try_except_importerror_is_optional():
    src = dedent(OPTIONAL_SOURCE)
    lines = R.guarded_import_lines(src)
    assert lines == frozenset({2, 7})  # ujson, redis; requests' handler does not catch ImportError
    files = {"requirements.txt": "Flask==3.0.3\nredis==5.0.1\nrequests==2.32.3\nujson==5.10.0\n"}
    decl = R.collect(files)
    found = [R.ImportUse("ujson", "app.cache", True), R.ImportUse("redis", "app.cache", True),
             R.ImportUse("requests", "app.cache", False), R.ImportUse("flask", "app.cache", False)]
    r = R.service_requirements("web", found, decl, FLASK, ENV)
    assert r.requirements == ["flask==3.0.3", "gunicorn==27.0.1", "httpx==0.28.1", "requests==2.32.3"]
    assert any("optional imports" in n and "redis, ujson" in n for n in r.notes)
    # imported unguarded elsewhere in the service: required after all
    r = R.service_requirements("web", found + [R.ImportUse("redis", "app.jobs", False)], decl, FLASK, ENV)
    assert "redis==5.0.1" in r.requirements


def test_test_modules_never_bring_requirements():
    files = {"requirements.txt": "Flask==3.0.3\n", "requirements-dev.txt": DEV_TXT}
    decl = R.collect(files)
    found = uses("flask") + uses("pytest", "factory", "webtest", by="tests.test_views") + \
        uses("pytest", by="blog.conftest") + uses("freezegun", by="tests.fixtures.app")
    r = R.service_requirements("web", found, decl, FLASK, ENV)
    assert r.requirements == ["flask==3.0.3", "gunicorn==27.0.1", "httpx==0.28.1"]
    assert any("test modules are not counted" in n for n in r.notes)
    assert R.is_test_module("tests") and R.is_test_module("blog.tests.unit.test_x") and R.is_test_module("conftest")
    assert not R.is_test_module("blog.contest") and not R.is_test_module("blog.attestation")


# --------------------------------------------------------------------------- constraints and runtime pins


def test_extras_never_in_constraints():
    files = {"requirements.txt": "celery[redis]==5.3.6\nuvicorn[standard]==0.30.1; python_version >= '3.8'\n"
                                 "sentry-sdk[flask] @ https://example.invalid/sentry.whl\n"}
    r = reqs_for(files, "celery", "uvicorn", "sentry_sdk")
    assert "celery[redis]==5.3.6" in r.requirements
    assert 'uvicorn[standard]==0.30.1; python_version >= "3.8"' in r.requirements
    assert "sentry-sdk[flask] @ https://example.invalid/sentry.whl" in r.requirements
    assert r.constraints == ["celery==5.3.6", "uvicorn==0.30.1"]
    for line in r.constraints:
        req = Requirement(line)
        assert not req.extras and not req.marker and not req.url and str(req.specifier).startswith("==")


def test_gateway_pin_conflict():
    old = R.collect({"requirements.txt": "Flask==1.0.2\nWerkzeug==0.14.1\nMarkupSafe==1.0\nhttpx==0.27.0\n"})
    gw = R.gateway_requirements(old, dict(GATEWAY_PINS), ENV)
    # werkzeug 0.14 is too old for the gateway: its own pin, and the monolith's pin (and
    # markupsafe 1.0, which werkzeug 3 refuses) left out of the gateway's constraints
    assert gw.requirements == ["gunicorn==27.0.1", "httpx==0.27.0", "werkzeug==3.1.8"]
    assert "werkzeug==0.14.1" not in gw.constraints and "markupsafe==1.0" not in gw.constraints
    assert "httpx==0.27.0" in gw.constraints and "flask==1.0.2" in gw.constraints
    assert any("werkzeug==0.14.1" in n and "werkzeug>=2.2" in n for n in gw.notes)
    assert any("markupsafe>=2.1.1" in n and "markupsafe==1.0" in n for n in gw.notes)
    # FlaskBB 2.0.2 pins idna==2.6: pip would take anyio 1.x for httpx 0.28.1; the gateway drops the pin
    flaskbb = R.collect({"requirements.txt": "idna==2.6\ncertifi==2018.4.16\n"})
    gw = R.gateway_requirements(flaskbb, dict(GATEWAY_PINS), ENV)
    assert gw.constraints == ["certifi==2018.4.16"] and any("idna>=2.8" in n for n in gw.notes)
    r = R.service_requirements("web", uses(), flaskbb, FLASK, ENV)
    assert "idna==2.6" in r.constraints and any("idna>=2.8" in n and "old releases" in n for n in r.notes)
    # a werkzeug pin the gateway supports is used as is
    ok = R.collect({"requirements.txt": "werkzeug==3.0.6\n"})
    assert R.gateway_requirements(ok, dict(GATEWAY_PINS), ENV).requirements == [
        "gunicorn==27.0.1", "httpx==0.28.1", "werkzeug==3.0.6"]
    # services: the monolith's flask is kept (its code needs it), the conflict said
    r = R.service_requirements("web", uses("flask"), old, FLASK, ENV)
    assert "flask==1.0.2" in r.requirements and "httpx==0.27.0" in r.requirements
    assert any("flask==1.0.2" in n and "flask>=2.2" in n for n in r.notes)
    # a runtime package the service's code does not import, pinned too old: the runtime's pin,
    # left out of that service's constraints
    r = reqs_for({"requirements.txt": "Flask==3.0.3\nhttpx==0.18.2\n"}, "flask")
    assert "httpx==0.28.1" in r.requirements and not any(c.startswith("httpx") for c in r.constraints)
    assert any("httpx==0.18.2" in n for n in r.notes)


def test_runtime_needs_match_installed_metadata():
    """RUNTIME_NEEDS is what the pinned packages require (checked where the pinned version is installed)."""
    env = {**ENV, "extra": ""}
    checked = 0
    for pin, needs in R.RUNTIME_NEEDS.items():
        name, version = pin.split("==")
        try:
            if md.version(name) != version:
                continue
        except md.PackageNotFoundError:
            continue
        declared = sorted(str(Requirement(x)) for x in md.requires(name) or []
                          if not Requirement(x).marker or Requirement(x).marker.evaluate(env))
        assert sorted(str(Requirement(x)) for x in needs) == declared, pin
        checked += 1
    assert checked >= 3
    assert all(Marker(f'python_version >= "{ENV["python_version"]}"').evaluate(ENV) for _ in [0])


def test_declared_range_excluding_the_runtime_pin():
    r = reqs_for({"requirements.txt": "flask>=2.2,<3\n"}, "flask")
    assert "flask<3,>=2.2" in r.requirements
    assert any("excludes the runtime's flask==3.1.3" in n for n in r.notes)
    r = reqs_for({"requirements.txt": "flask>=2.2\n"}, "flask")
    assert "flask==3.1.3" in r.requirements  # in the monolith's range: the runtime's tested pin


def test_precedence_lock_then_pins_then_ranges():
    files = {"uv.lock": UV_LOCK, "pyproject.toml": UV_PYPROJECT, "requirements.txt": "flask==3.0.0\n"}
    decl = R.collect({k: dedent(v) for k, v in files.items()})
    dists, notes = R.merge(decl, ENV)
    assert dists["flask"].version == "3.0.3" and dists["flask"].pinned_by == "uv.lock"
    assert any("flask" in n and "requirements.txt 3.0.0" in n for n in notes)


def test_deterministic():
    files = {"requirements.txt": REQUIREMENTS_TXT, "requirements/base.txt": BASE_TXT,
             "constraints.txt": CONSTRAINTS_TXT, "requirements-dev.txt": DEV_TXT,
             "pyproject.toml": UV_PYPROJECT, "uv.lock": UV_LOCK}
    a = reqs_for(files, "flask", "celery", "slugify", "dateutil")
    b = reqs_for(dict(reversed(list(files.items()))), "dateutil", "slugify", "celery", "flask")
    assert a == b


# --------------------------------------------------------------------------- through decompose generate


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(dedent(text))


BLOG = {
    "blog/__init__.py": "",
    "blog/app.py": """
        from flask import Flask

        from blog.posts.api import bp as posts_bp
        from blog.users.api import bp as users_bp


        def create_app():
            app = Flask(__name__)
            app.register_blueprint(posts_bp)
            app.register_blueprint(users_bp)
            return app
    """,
    "blog/posts/__init__.py": "",
    "blog/posts/api.py": """
        from flask import Blueprint
        from slugify import slugify

        bp = Blueprint("posts", __name__, url_prefix="/posts")


        @bp.get("/<title>")
        def post(title):
            return {"slug": slugify(title)}
    """,
    "blog/users/__init__.py": "",
    "blog/users/api.py": """
        from flask import Blueprint

        try:
            import ujson as json
        except ImportError:
            import json

        bp = Blueprint("users", __name__, url_prefix="/users")


        @bp.get("/<int:uid>")
        def user(uid):
            return json.dumps({"id": uid})
    """,
    "tests/__init__.py": "",
    "tests/test_posts.py": """
        import factory
        import pytest
        import webtest

        from blog.app import create_app


        def test_app():
            assert create_app()
    """,
    "requirements.txt": """
        -r requirements/base.txt
        awesome-slugify==1.6.5
    """,
    "requirements/base.txt": """
        Flask==3.1.3
        Werkzeug==3.1.8
    """,
    "requirements-dev.txt": DEV_TXT,
}


def test_generated_services_use_the_monolith_declarations(tmp_path):
    src = tmp_path / "blog"
    _write(src, BLOG)
    plan = Plan.from_dict({"project": "blog", "source": str(src), "services": {
        "posts": {"modules": ["blog.posts", "blog.posts.api", "tests", "tests.test_posts"]},
        "users": {"modules": ["blog.users", "blog.users.api"]},
    }, "shared": {"modules": ["blog", "blog.app"]}})
    path = tmp_path / "decompose.yaml"
    save_plan(plan, path)
    outputs = []
    for _ in range(2):
        gen, root, facts, sources = generation_for(path, use_cache=False)
        outputs.append(render_outputs(gen, facts, sources, root=root).files)
    files = outputs[0]
    assert outputs[0] == outputs[1]  # byte-identical

    def lines(name):
        return [x for x in files[name].decode().splitlines() if x and not x.startswith("#")]

    # werkzeug: declared, imported by no module, so installed everywhere as in the monolith
    assert lines("services/posts/requirements.txt") == [
        "awesome-slugify==1.6.5", "flask==3.1.3", "gunicorn==27.0.1", "httpx==0.28.1", "werkzeug==3.1.8"]
    assert lines("services/users/requirements.txt") == ["flask==3.1.3", "gunicorn==27.0.1", "httpx==0.28.1",
                                                        "werkzeug==3.1.8"]
    assert lines("services/posts/constraints.txt") == ["awesome-slugify==1.6.5", "flask==3.1.3", "werkzeug==3.1.8"]
    assert lines("gateway/requirements.txt") == ["gunicorn==27.0.1", "httpx==0.28.1", "werkzeug==3.1.8"]
    assert any("optional imports" in n and "ujson" in n for n in gen.notes)
    assert any("test modules are not counted" in n for n in gen.notes)


def test_sample_monolith_requirements_unchanged(tmp_path):
    path = tmp_path / "decompose.yaml"
    save_plan(reference_plan(), path)
    gen, root, facts, sources = generation_for(path, use_cache=False)
    for spec in gen.services.values():
        assert spec.requirements == ["flask==3.1.3", "gunicorn==27.0.1", "httpx==0.28.1", "sqlalchemy==2.1.9",
                                     "werkzeug==3.1.8"], spec.name
        assert gen.constraints_of(spec.name) == ["flask==3.1.3", "sqlalchemy==2.1.9", "werkzeug==3.1.8"]
    assert gen.gateway_requirements == ["gunicorn==27.0.1", "httpx==0.28.1", "werkzeug==3.1.8"]
    assert gen.constraints_of("gateway") == ["flask==3.1.3", "sqlalchemy==2.1.9", "werkzeug==3.1.8"]
    assert not [n for n in gen.notes if "requirements" in n or "pinned" in n]


@pytest.mark.parametrize("image,version", [("python:3.12-slim", "3.12"), ("docker.io/library/python:3.9", "3.9"),
                                           ("registry.local/base:1", "3.11")])
def test_target_python_from_base_image(image, version):
    assert R.target_environment(image)["python_version"] == version


#: privacyIDEA's shape: pyproject.toml declares passlib and argon2_cffi (passlib loads argon2 by
#: name when a hash is made: `argon2: no backends available` on a service without it); a compiled
#: requirements.txt beside it pins the closure (cffi is argon2-cffi-bindings' dependency).
VAULT = {
    "vault/__init__.py": "",
    "vault/app.py": """
        from flask import Flask

        from vault.hashing.api import bp as hashing
        from vault.notes.api import bp as notes


        def create_app():
            app = Flask(__name__)
            app.register_blueprint(hashing)
            app.register_blueprint(notes)
            return app
    """,
    "vault/hashing/__init__.py": "",
    "vault/hashing/api.py": """
        from flask import Blueprint
        from passlib.hash import argon2

        bp = Blueprint("hashing", __name__, url_prefix="/hash")


        @bp.post("/<secret>")
        def make(secret):
            return {"hash": argon2.hash(secret)}
    """,
    "vault/notes/__init__.py": "",
    "vault/notes/api.py": """
        from flask import Blueprint

        bp = Blueprint("notes", __name__, url_prefix="/notes")


        @bp.get("/")
        def index():
            return {"notes": []}
    """,
    "pyproject.toml": """
        [project]
        name = "vault"
        version = "1.0"
        dependencies = ["Flask>=3", "passlib>=1.7", "argon2_cffi>=23"]
    """,
    "requirements.txt": """
        argon2-cffi==25.1.0
            # via vault (pyproject.toml)
        argon2-cffi-bindings==26.1.0
            # via argon2-cffi
        cffi==2.0.0
            # via argon2-cffi-bindings
        flask==3.1.3
            # via vault (pyproject.toml)
        passlib==1.7.4
            # via vault (pyproject.toml)
    """,
}


def test_declared_distributions_no_module_imports_go_into_every_service(tmp_path):
    src = tmp_path / "vault"
    _write(src, VAULT)
    plan = Plan.from_dict({"project": "vault", "source": str(src), "services": {
        "hashing": {"modules": ["vault.hashing", "vault.hashing.api"]},
        "notes": {"modules": ["vault.notes", "vault.notes.api"]},
    }, "shared": {"modules": ["vault", "vault.app"]}})
    path = tmp_path / "decompose.yaml"
    save_plan(plan, path)
    gen, root, facts, sources = generation_for(path, use_cache=False)
    hashing, notes = gen.services["hashing"].requirements, gen.services["notes"].requirements
    # argon2-cffi: declared by the manifest, imported by none -> everywhere, pinned by the lock
    assert "argon2-cffi==25.1.0" in hashing and "argon2-cffi==25.1.0" in notes
    # passlib: imported by hashing only, so only there; the lock's closure (cffi...) is no requirement
    assert "passlib==1.7.4" in hashing and not any(r.startswith("passlib") for r in notes)
    assert not any(r.startswith(("cffi", "argon2-cffi-bindings")) for r in hashing + notes)
    assert any("in every service's requirements.txt" in n and "argon2-cffi" in n for n in gen.notes)


def test_unimported_without_a_manifest_reads_the_requirements_files():
    decl = D.Declarations(entries=[
        D.Entry(name="flask", specifier="==3.1.3", source="requirements.txt", rank=(D.SOURCES.index("requirements"), 0)),
        D.Entry(name="psycopg2-binary", specifier="==2.9.10", source="requirements.txt",
                rank=(D.SOURCES.index("requirements"), 1)),
        D.Entry(name="pytest", specifier="==8.0", source="requirements-dev.txt", group="dev",
                rank=(D.SOURCES.index("requirements"), 2)),
    ])
    uses = [R.ImportUse(module="flask", by="app")]
    assert R.unimported(uses, decl) == ["psycopg2-binary"]  # a driver named only in a database URL
    assert R.unimported(uses + [R.ImportUse(module="psycopg2", by="db")], decl) == []


def _src_layout(tmp_path: Path, build: str) -> Path:
    """pretix's shape: the Django project in ``src/`` (with a setup.cfg of tool settings only), its
    pyproject.toml (dependencies, ``requires-python``, the package folder) one folder up."""
    proj = tmp_path / "proj"
    shutil.copytree(Path(__file__).parent / "data" / "django_library", proj / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3"))
    (proj / "src" / "setup.cfg").write_text("[flake8]\nmax-line-length = 160\n\n[tool:pytest]\n"
                                            "DJANGO_SETTINGS_MODULE = library.settings\n", encoding="utf-8")
    (proj / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [project]
        name = "library"
        version = "2.4.0"
        requires-python = ">=3.12"
        dependencies = ["Django[argon2]==5.2.*,>=5.2.8", "django-formtools==2.7"]
        {build}
        """), encoding="utf-8")
    return proj / "src"


def test_a_src_layout_takes_the_dependencies_and_python_its_parent_declares(tmp_path):
    src = _src_layout(tmp_path, '[tool.setuptools.packages.find]\nwhere = ["src"]')
    assert project_root(src) == src.parent.resolve()
    save_plan(Plan.from_dict({"project": "library", "source": str(src), "services": {
        "catalog": {"modules": ["catalog", "catalog.models", "catalog.views", "catalog.urls"]}}}),
        tmp_path / "decompose.yaml")
    gen, root, facts, sources = generation_for(tmp_path / "decompose.yaml", use_cache=False)
    assert root == src.resolve()
    assert gen.python == "3.12"
    assert "django[argon2]==5.2.*,>=5.2.8" in [r.lower() for r in gen.services["catalog"].requirements]
    assert not [n for n in gen.notes if "declares no dependencies" in n]


def test_a_folder_its_parent_does_not_name_keeps_its_own_declarations(tmp_path):
    src = _src_layout(tmp_path, '[tool.setuptools.packages.find]\nwhere = ["lib"]')
    assert project_root(src) == src.resolve()
    (src / "requirements.txt").write_text("django==5.2.8\n", encoding="utf-8")
    src2 = _src_layout(tmp_path / "b", '[tool.setuptools.packages.find]\nwhere = ["src"]')
    (src2 / "requirements.txt").write_text("django==5.2.8\n", encoding="utf-8")
    assert project_root(src2) == src2.resolve()    # a folder that declares its own


def test_django_prefixed_distributions_provide_their_import_name():
    dists, _ = R.merge(D.collect({"pyproject.toml": '[project]\nname = "x"\ndependencies = '
                                  '["django-compressor==4.6.0", "django-hierarkey==2.0.2"]\n'}),
                       D.target_environment())
    assert R.candidates("compressor.filters", dists, {})[:2] == ["compressor", "django-compressor"]
    assert "django-hierarkey" in R.candidates("hierarkey.proxy", dists, {})
