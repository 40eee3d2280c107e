"""Real-world source trees for tests and benchmarks, fetched from PyPI once and cached.

``django_source()`` returns a folder holding Django's ``django/`` package,
unpacked from the official wheel (pure Python, so the wheel *is* the source).

``APPS`` is the conformance corpus: real monoliths (Flask, FastAPI) that ship
their own test suites in their *sdists*, each pinned (version and sha256 of
the sdist) with the folder of the sdist that is the monolith, the interpreter
and packages of its virtualenv, and how its own test suite runs (command,
environment, and the counts measured when the spec was written).  Nothing of
their code is ever committed here: ``app_source(spec)`` downloads and unpacks
the sdist into the cache, ``app_venv(spec)`` makes a per-app virtualenv there
(``python -m venv`` + the app's declared dependencies + its test
dependencies) so that its suite can run.

    python -m benchmarks.corpus                 # Django wheel
    python -m benchmarks.corpus --apps [NAME..] # fetch sdists + build venvs
    python -m benchmarks.corpus --sources [NAME..]  # fetch the source-only monoliths (SOURCES)

The cache folder is ``$DECOMPOSE_CORPUS_DIR`` or ``~/.cache/decompose-corpus``:

    wheels/ sdists/                downloaded archives (sha256-checked)
    django-5.2.8/                  unpacked wheel
    src/<dist>-<version>/          unpacked sdist (``.complete`` marks it done)
    venvs/<app>-<version>/         the app's virtualenv (``.complete`` marks it done)
"""

from __future__ import annotations

import argparse
import ast
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

DJANGO_VERSION = "5.2.8"
PYPI_JSON = "https://pypi.org/pypi/{dist}/json"


def corpus_dir() -> Path:
    return Path(os.environ.get("DECOMPOSE_CORPUS_DIR") or Path.home() / ".cache" / "decompose-corpus")


def pypi_wheel_source(dist: str, version: str) -> Path:
    """Download ``dist==version`` (a pure-Python wheel) and unpack it; returns the folder."""
    target = corpus_dir() / f"{dist}-{version}"
    marker = target / ".complete"
    if marker.exists():
        return target
    wheels = corpus_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--only-binary=:all:", "-d", str(wheels), f"{dist}=={version}"],
        check=True,
    )
    prefix = f"{dist.replace('-', '_').lower()}-{version}-"
    wheel = next(p for p in sorted(wheels.glob("*.whl")) if p.name.lower().startswith(prefix))
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    marker.write_text("ok\n")
    return target


def django_source(version: str = DJANGO_VERSION) -> Path:
    return pypi_wheel_source("django", version)


# ---------------------------------------------------------------------------
# sdists


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pypi_sdist(dist: str, version: str, sha256: str | None = None) -> Path:
    """Download the sdist of ``dist==version`` (PyPI JSON API + urllib) once; returns the archive.

    With ``sha256`` the archive must have that digest (a pin: a re-uploaded or
    tampered file is refused); without it the digest PyPI lists is checked.
    """
    sdists = corpus_dir() / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    for have in sdists.glob("*"):
        if have.name.endswith(".part"):
            continue
        if sha256 and _sdist_matches(have.name, dist, version) and _sha256(have) == sha256:
            return have
    base = PYPI_JSON.format(dist=dist)
    with urllib.request.urlopen(base, timeout=120) as r:
        meta = json.load(r)
    files = [f for f in meta.get("releases", {}).get(version, []) if f.get("packagetype") == "sdist"]
    if not files:
        raise RuntimeError(f"PyPI lists no sdist for {dist}=={version}")
    info = files[0]
    want = sha256 or info["digests"]["sha256"]
    if info["digests"]["sha256"] != want:
        raise RuntimeError(f"{info['filename']}: PyPI lists sha256 {info['digests']['sha256']}, pinned {want}")
    archive = sdists / info["filename"]
    if archive.exists() and _sha256(archive) == want:
        return archive
    part = archive.with_name(archive.name + ".part")
    url = urllib.parse.urljoin(base, info["url"])
    with urllib.request.urlopen(url, timeout=600) as r, part.open("wb") as out:
        shutil.copyfileobj(r, out, 1 << 20)
    got = _sha256(part)
    if got != want:
        part.unlink()
        raise RuntimeError(f"{info['filename']}: downloaded sha256 {got}, expected {want}")
    part.rename(archive)
    return archive


def _sdist_matches(filename: str, dist: str, version: str) -> bool:
    norm = dist.replace("-", "_").lower()
    name = filename.lower().replace("-", "_")
    return name in (f"{norm}_{version}.tar.gz", f"{norm}_{version}.zip")


def pypi_sdist_source(dist: str, version: str, sha256: str | None = None) -> Path:
    """The unpacked sdist of ``dist==version``: the folder holding its top level (setup files, tests...)."""
    target = corpus_dir() / "src" / f"{dist}-{version}"
    marker = target / ".complete"
    if marker.exists():
        return target
    archive = pypi_sdist(dist, version, sha256)
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data")
    tops = [p for p in tmp.iterdir()]
    root = tops[0] if len(tops) == 1 and tops[0].is_dir() else tmp
    if target.exists():
        shutil.rmtree(target)
    if root is tmp:
        tmp.rename(target)
    else:
        root.rename(target)
        shutil.rmtree(tmp)
    marker.write_text("ok\n")
    return target


# ---------------------------------------------------------------------------
# the conformance corpus


@dataclass(frozen=True)
class TestCounts:
    """What the app's own suite did on the monolith when the spec was written (pytest's summary)."""

    collected: int
    passed: int
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    xfailed: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class AppSpec:
    name: str                       # short name used on the command line
    dist: str                       # PyPI distribution of the sdist
    version: str
    sha256: str                     # of the sdist
    framework: str                  # flask | fastapi | django
    subdir: str                     # folder of the sdist that is the monolith ("" = the sdist's top)
    python: str                     # interpreter of the venv ("3.11" etc.)
    install: tuple[tuple[str, ...], ...]   # `pip install` argument lists, run in the monolith folder
    test_command: tuple[str, ...]   # run with the venv's bin/ first on PATH, cwd = the monolith folder
    test_env: dict[str, str] = field(default_factory=dict)
    test_timeout: int = 1800        # seconds
    expected: TestCounts | None = None
    notes: str = ""
    # the sdist's lock file (uv.lock): every locked version becomes a pip constraint of the venv
    lockfile: str = ""
    # modules (relative to the monolith folder) that get ``from __future__ import annotations``
    # after unpacking: their annotations name TYPE_CHECKING-only imports, which only Python >= 3.14
    # (PEP 649) leaves unevaluated; the one change made to an app's source, recorded here.
    future_annotations: tuple[str, ...] = ()
    # the same for modules of installed dependencies (relative to the venv's site-packages)
    venv_future_annotations: tuple[str, ...] = ()
    # paths (relative to the monolith folder) removed before each run of the suite (state it leaves)
    clean: tuple[str, ...] = ()
    # `decompose build --base-image` of its images when decompose's default cannot run it, and why
    # in a comment at the entry ("" = the default, which follows the app's declared Python)
    base_image: str = ""
    # environment of the `pip install` steps (on top of the caller's), e.g. a project's own switch
    # that skips a build step its suite does not need
    install_env: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


FLASK_VERSION = "3.1.3"
PRIVACYIDEA_API_TESTS = tuple(f"tests/test_api_{n}.py" for n in (
    "auth", "token", "validate", "users", "system", "policy", "info", "healthcheck", "audit", "roles"))

# pretix's suite is ~10,000 tests (src/tests), hours on this 2-core machine: the conformance run
# takes HTTP-level files that go through Django's test Client / DRF's APIClient -- the REST API of
# organizers, events, items, orders, the cart, and the presale shop pages and checkout -- chosen
# to cover several of pretix's apps (api, presale, base models) within ~15 minutes.
PRETIX_TESTS = (*(f"tests/api/test_{n}.py" for n in ("auth", "organizers", "events", "items", "taxrules", "cart")),
                *(f"tests/presale/test_{n}.py" for n in ("event", "locale", "organizer_page")))

APPS: dict[str, AppSpec] = {}


def _app(spec: AppSpec) -> AppSpec:
    APPS[spec.name] = spec
    return spec


_app(AppSpec(
    name="flaskr",
    dist="flask",
    version=FLASK_VERSION,       # newest flask sdist (3.1.3) still ships examples/tutorial with its tests
    sha256="0ef0e52b8a9cd932855379197dd8f94047b359ca0a78695144304cb45f87c9eb",
    framework="flask",
    subdir="examples/tutorial",
    python="3.11",
    install=((f"flask=={FLASK_VERSION}", "pytest", "coverage"), ("--no-deps", "-e", ".")),
    test_command=("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE"),
    expected=TestCounts(collected=24, passed=24, seconds=7),
    notes="Flask's tutorial blog (factory create_app, blueprints auth and blog, sqlite3 via flask.g).",
))

_app(AppSpec(
    name="flaskbb",
    dist="flaskbb",
    version="2.2.0",             # newest 2.x; needs Python >= 3.12
    sha256="3a24ac17dabe6872ff6ccca4a6eb51fcf557974ffb90d7a24ceb730b311a608c",
    framework="flask",
    subdir="",
    python="3.12",
    install=(("-e", "."),
             ("pytest>=9.0.2", "pytest-mock", "pytest-xdist", "freezegun", "responses", "coverage", "pytest-cov")),
    lockfile="uv.lock",
    future_annotations=(
        "flaskbb/auth/services/authentication.py", "flaskbb/auth/views.py", "flaskbb/forum/models.py",
        "flaskbb/forum/utils.py", "flaskbb/core/auth/activation.py", "flaskbb/core/auth/authentication.py",
        "flaskbb/utils/helpers.py", "flaskbb/plugins/manager.py",
        "flaskbb/utils/database.py", "flaskbb/auth/services/registration.py",
    ),
    venv_future_annotations=(      # FlaskBB's own dependency, same style
        "flask_allows2/allows.py", "flask_allows2/permission.py", "flask_allows2/requirements.py",
        "flask_allows2/views.py",
    ),
    # pyproject's addopts ask for xdist (--numprocesses auto): workers race on create_app's
    # os.makedirs(instance/) (FileExistsError, 204 errors on a fresh tree), so no workers.
    test_command=("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "--numprocesses", "0"),
    # instance/ and the search index (WHOOSHEE_DIR = basedir/whoosh_index) are made by every run
    clean=("instance", "whoosh_index"),
    # requires-python says >=3.12 (decompose's default: python:3.12-slim, or the lowest local one
    # meeting it), but FlaskBB 2.2.0 and its dependency flask_allows2 1.1.0 are written for Python
    # 3.14 (PEP 649): on 3.12/3.13 flask_allows2 fails at import (NameError: 'Callable' in an
    # annotation).  future_annotations patches the venv's copies (this machine has no 3.14 to build
    # the venv with); an image installs flask_allows2 from PyPI, so the images run 3.14
    # (.ci/docker-setup.sh builds python:3.14-slim from Debian forky).
    base_image="python:3.14-slim",
    # 1 failed: tests/unit/utils/test_translations.py (no compiled .mo catalogues in the sdist)
    expected=TestCounts(collected=233, passed=231, failed=1, skipped=1, seconds=189),
    notes="Forum (Flask-SQLAlchemy, Flask-Login, Celery tasks, pluggy plugins); tests/ uses an in-memory SQLite "
          "(flaskbb/configs/testing.py). 2.2.0 is written for Python 3.14 (PEP 649): on 3.12 its modules and "
          "flask_allows2's fail at import (NameError on TYPE_CHECKING-only names in annotations), hence "
          "future_annotations. Venv pinned to the sdist's uv.lock.",
))

_app(AppSpec(
    name="privacyidea",
    dist="privacyidea",
    version="3.14",
    sha256="9900ec9c94ca3d822551736c827f2aa2d74bc7acc45ee3b4c1ad346ab3cf06ce",
    framework="flask",
    subdir="",
    python="3.11",
    # tests/requirements.txt: the project's own pip-compile of [test] (hashed); then the app itself.
    install=(("-r", "tests/requirements.txt"), ("--no-deps", "-e", ".")),
    # The whole suite is 5182 tests (tests/), about 2 h on this 2-core machine: the conformance
    # run takes the HTTP API files below.  --dist loadfile: the tests of one class build on each
    # other (test_01_..., test_02_...), so a file must stay on one worker (--dist load: 4 failures).
    # Each xdist worker gets its own SQLite file (tests/conftest.py: /tmp/pi-test-<worker>.sqlite).
    test_command=("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "-n", "2", "--dist", "loadfile",
                  *PRIVACYIDEA_API_TESTS),
    test_timeout=2400,
    # 2 failed: test_api_auth.py::AuthApiTestCase::test_04_remote_user_auth (302 != 200),
    # test_api_roles.py::PolicyConditionsTestCase::test_02_enroll_rights
    expected=TestCounts(collected=381, passed=379, failed=2, seconds=830),
    notes="Multi-factor authentication server (Flask, Flask-SQLAlchemy, Flask-Migrate); large (5182 tests in all).",
))

_app(AppSpec(
    name="lnbits",
    dist="lnbits",
    version="1.6.2",
    sha256="628c66c81a91cdca8831d1c3bd279216b8396288dc290094cfd106c656e21c81",
    framework="fastapi",
    subdir="",
    python="3.11",
    install=(("-e", "."),
             ("asgi-lifespan~=2.1.0", "anyio~=4.12.1", "pytest~=9.0.2", "pytest-httpserver~=1.1.3",
              "pytest-mock~=3.15.1", "mock~=5.2.0", "pytest-cov~=7.0.0", "openapi-spec-validator~=0.7.2")),
    lockfile="uv.lock",
    # As the sdist's .github/workflows (ci.yml -> tests.yml, SQLite leg): `pytest tests/api` with
    # FakeWallet.  The Makefile's test-api target also sets LNBITS_DATA_FOLDER=./tests/data: with
    # it 66 of the 272 fail here (403/401, "no such table: accounts"), so it is left unset as in
    # CI.  tests/unit + tests/api are 918 tests (past 10 min here); the conformance run takes
    # tests/api (HTTP through the app).  -o addopts= drops pyproject's "-s --cov=lnbits
    # --cov-report=xml".  The SQLite databases the suite fills (data/, tests/data/) are removed
    # before each run.  2 failed: test_api.py::test_create_invoice_fiat_amount and
    # ::test_fiat_tracking, which fetch exchange rates from the internet.
    test_command=("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "-o", "addopts=", "tests/api"),
    test_env={"LNBITS_BACKEND_WALLET_CLASS": "FakeWallet", "PYTHONUNBUFFERED": "1", "DEBUG": "true"},
    expected=TestCounts(collected=272, passed=270, failed=2, seconds=312),
    clean=("tests/data", "data", ".coverage", "coverage.xml"),
    test_timeout=1500,
    notes="Lightning wallet/accounts system: FastAPI app (lnbits.app:create_app), routers per feature, SQLite by "
          "default. Its suite drives the app in-process through httpx.AsyncClient(ASGITransport) and a "
          "fastapi.testclient.TestClient fixture (websocket tests). Venv pinned to the sdist's uv.lock.",
))

_app(AppSpec(
    name="oak-health",
    dist="cuga-oak-health",
    version="1.3.0",
    sha256="53800bcfc30a89d7046dfcc8225f746f81077fd9816b0cd88f215506775b37b9",
    framework="fastapi",
    subdir="",
    python="3.12",
    install=(("-e", "."), ("pytest", "httpx")),
    test_command=("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "tests"),
    expected=TestCounts(collected=178, passed=178, seconds=15),
    notes="Health-insurance demo API: one FastAPI app module with 19 routes, tests all through fastapi.testclient.TestClient.",
))


_app(AppSpec(
    name="hyperkitty",
    dist="hyperkitty",
    version="1.3.12",            # pin from DJANGO_CANDIDATES; Django >= 4.2, < 5.1
    sha256="deb582937ec5bc9ea9c1d5d86bfb76a4da429b60e1fea6fd6964e7c667cf161d",
    framework="django",
    subdir="",
    python="3.11",
    # tox.ini's [testenv] deps (the django42 leg) with the app itself.
    install=(("-e", "."),
             ("django>=4.2,<4.3", "Whoosh", "beautifulsoup4", "lxml", "elasticsearch<9.0.0", "django-debug-toolbar",
              "pytest", "pytest-django", "setuptools")),
    # As tox.ini: `pytest hyperkitty` (pytest.ini: --ds=hyperkitty.tests.settings_test, SQLite,
    # Whoosh search index in a temporary folder).  --reuse-db from pytest.ini is overridden by
    # --create-db, so every run starts from a fresh test database.
    test_command=("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "hyperkitty"),
    # Not measured to the end yet: 366 tests collected; on this 2-core machine shared with other
    # jobs, 207 ran in 25 min (200 passed, 5 skipped/xfailed, 2 failed: test_templatetags.py::
    # TestDecorate::test_header and ::test_outlook_style_reply_blockquote, markdown rendering);
    # models/test_mailinglist.py::TopThreadsTestCase::test_order (210 add_to_list calls) alone
    # took ~15 min of them.
    test_timeout=3600,
    notes="GNU Mailman's archiver (Django 4.2 app + example_project/ with manage.py, settings, urls); its suite "
          "drives the views through Django's test Client on SQLite.",
))

_app(AppSpec(
    name="pretix",
    dist="pretix",
    version="2026.8.0",          # pin from DJANGO_CANDIDATES; Django 5.2, requires-python >= 3.11
    sha256="97c46dab676f8c29461c81dce90c6fb7812b29fe9181f8d1288a32f36e11cc64",
    framework="django",
    subdir="src",                # the monolith: src/pretix + src/tests (pyproject.toml one level up)
    python="3.11",
    # The sdist's own declared dependencies and its `dev` extra (pytest, pytest-django, fakeredis,
    # freezegun, responses, ...), editable from the sdist's top.  pretix's build commands
    # (src/pretix/_build.py) run `npm ci` + `npm run build` (frontend assets, not used by the
    # suite); PRETIX_DOCKER_BUILD is pretix's own switch that skips them.
    install=(("-e", "..[dev]"),),
    install_env={"PRETIX_DOCKER_BUILD": "1"},
    test_command=("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", *PRETIX_TESTS),
    # setup.cfg [tool:pytest]: DJANGO_SETTINGS_MODULE = tests.settings (SQLite, pretix.testutils.settings)
    test_env={"DJANGO_SETTINGS_MODULE": "tests.settings"},
    test_timeout=1800,
    # measured on this 2-core machine at load average ~13 (other jobs): 337 passed in 467 s
    expected=TestCounts(collected=337, passed=337, seconds=467),
    notes="Ticket shop (Django 5.2, DRF, django-scopes, celery tasks run eagerly in tests): src/pretix (base, "
          "control, presale, api, plugins/*) + src/tests; its suite drives views through Django's test Client "
          "and DRF's APIClient on SQLite.",
))

# Django projects considered for the conformance corpus (hyperkitty is in APPS above; pretix, misago
# and weblate are source-only entries in SOURCES below).  Whether their sdists carry tests was
# checked by listing each sdist (the figures below); sha256 of the sdist for pinning.
DJANGO_CANDIDATES: tuple[dict, ...] = (
    {"dist": "hyperkitty", "version": "1.3.12", "size": "small",
     "sha256": "deb582937ec5bc9ea9c1d5d86bfb76a4da429b60e1fea6fd6964e7c667cf161d",
     "sdist_mb": 2.2, "py_files": 150, "tests": "yes: hyperkitty/tests/ (43 test files), pytest.ini, tox.ini",
     "database": "SQLite (hyperkitty/tests/settings_test.py)",
     "notes": "GNU Mailman's archiver: a Django app plus example_project/ (settings, urls); `pytest hyperkitty`."},
    {"dist": "pretix", "version": "2026.8.0", "size": "large",
     "sha256": "97c46dab676f8c29461c81dce90c6fb7812b29fe9181f8d1288a32f36e11cc64",
     "sdist_mb": 19.3, "py_files": 1223, "tests": "yes: src/tests/ (226 test files)",
     "database": "SQLite by default (pretix/settings.py: database backend fallback sqlite3)",
     "notes": "Ticket shop; the monolith is src/ (pretix/ + tests/); requires Python >= 3.11; node assets not needed for tests."},
    {"dist": "misago", "version": "0.39.6", "size": "large",
     "sha256": "67265caa84e0c1a448547b04a123b2ae9e5fb5ae5f53d9343ec2d9dd14e91074",
     "sdist_mb": 12.9, "py_files": 1133, "tests": "yes: inside the package (misago/*/tests, 422 test files)",
     "database": "PostgreSQL (django.contrib.postgres in misago/settings.py)",
     "notes": "Forum; needs a PostgreSQL server for its suite."},
    {"dist": "weblate", "version": "2026.10.1", "size": "large",
     "sha256": "2da6d85241de0d26d759ead1736b0d1d0b1feac85fb4cd2462e8d2c8c851b4f4",
     "sdist_mb": 23.0, "py_files": 1048, "tests": "yes: inside the package (weblate/*/tests, 200 test files)",
     "database": "PostgreSQL (weblate/settings_test.py sets ENGINE postgresql)",
     "notes": "Translation platform; requires Python >= 3.12; needs PostgreSQL (and git) for its suite."},
    {"dist": "nautobot", "version": "3.2.7", "size": "large",
     "sha256": "d8d90b807c4cf647ed630fc86ec75e5e7fe039d952531a125a29a0aa90d83581",
     "sdist_mb": 49.7, "py_files": 1203, "tests": "yes: inside the package (nautobot/*/tests, 237 test files)",
     "database": "PostgreSQL or MySQL, plus Redis (nautobot/core/tests/nautobot_config.py)",
     "notes": "Network source of truth; heaviest of the candidates."},
    {"dist": "pretalx", "version": "2026.2.1", "size": "medium",
     "sha256": "0017e11e67f853cede833aeeba773e838968d2f7c5d010471c77e17a71c50a3b",
     "sdist_mb": 5.6, "py_files": 686, "tests": "no: the sdist has no tests/ (1 stray test module)",
     "database": "-", "notes": "Requires Python >= 3.13; unusable as a conformance app from its sdist."},
)


@dataclass(frozen=True)
class SourceSpec:
    """A monolith used only as source (benchmarks/plan_quality.py): its pinned sdist, no venv, no suite."""

    name: str
    dist: str
    version: str
    sha256: str                     # of the sdist
    framework: str                  # flask | fastapi | django
    subdir: str = ""                # folder of the sdist that is the monolith ("" = the sdist's top)
    notes: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


#: Source-only corpus: Django projects whose sdists hold the project's source (pins from
#: DJANGO_CANDIDATES).  Their suites need PostgreSQL etc., so they are analysed and planned, never run.
SOURCES: dict[str, SourceSpec] = {
    s.name: s
    for s in (
        SourceSpec("pretix", "pretix", "2026.8.0",
                   "97c46dab676f8c29461c81dce90c6fb7812b29fe9181f8d1288a32f36e11cc64", "django", "src",
                   "Ticket shop: src/pretix (base, control, presale, api, plugins/*) + src/tests."),
        SourceSpec("misago", "misago", "0.39.6",
                   "67265caa84e0c1a448547b04a123b2ae9e5fb5ae5f53d9343ec2d9dd14e91074", "django", "",
                   "Forum: misago/<app>/ (users, threads, categories, ...), tests inside each app."),
        SourceSpec("weblate", "weblate", "2026.10.1",
                   "2da6d85241de0d26d759ead1736b0d1d0b1feac85fb4cd2462e8d2c8c851b4f4", "django", "",
                   "Translation platform: weblate/<app>/ (trans, accounts, auth, checks, ...), tests inside each app."),
    )
}


def source_of(name: str) -> Path:
    """The monolith folder of a source-only entry (``SOURCES``) or of a conformance app (``APPS``)."""
    if name in APPS:
        return app_source(APPS[name])
    spec = SOURCES[name]
    root = pypi_sdist_source(spec.dist, spec.version, spec.sha256)
    return root / spec.subdir if spec.subdir else root


FUTURE_LINE = "from __future__ import annotations  # added by decompose benchmarks/corpus.py (Python < 3.14)\n"


def add_future_annotations(path: Path) -> bool:
    """Put ``from __future__ import annotations`` first in ``path`` (after its docstring); False if already there."""
    text = path.read_text(encoding="utf-8")
    if FUTURE_LINE in text or "from __future__ import annotations" in text:
        return False
    body = ast.parse(text).body
    at = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        at = body[0].end_lineno or 0
    lines = text.splitlines(keepends=True)
    lines.insert(at, FUTURE_LINE)
    path.write_text("".join(lines), encoding="utf-8")
    return True


def app_source(spec: AppSpec) -> Path:
    """The monolith's folder (the sdist unpacked, then ``spec.subdir``; ``future_annotations`` applied)."""
    root = pypi_sdist_source(spec.dist, spec.version, spec.sha256)
    src = root / spec.subdir if spec.subdir else root
    for rel in spec.future_annotations:
        add_future_annotations(src / rel)
    return src


def lock_constraints(spec: AppSpec, src: Path) -> list[str]:
    """``name==version`` of every package in the app's uv.lock (but the app itself)."""
    if not spec.lockfile:
        return []
    with open(src / spec.lockfile, "rb") as f:
        lock = tomllib.load(f)
    own = spec.dist.replace("_", "-").lower()
    versions: dict[str, set[str]] = {}
    for pkg in lock.get("package", []):
        src_kind = pkg.get("source", {})
        if pkg["name"].lower() == own or "registry" not in src_kind:
            continue
        versions.setdefault(pkg["name"], set()).add(pkg["version"])
    # a package locked twice (forked by Python version or markers) is left to the resolver
    return sorted(f"{n}=={next(iter(v))}" for n, v in versions.items() if len(v) == 1)


def find_python(version: str) -> str:
    """An interpreter ``python<version>`` that runs (PATH first, then pyenv's versions folder)."""
    cands = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    cands += sorted(glob.glob(str(pyenv / "versions" / f"{version}.*" / "bin" / f"python{version}")), reverse=True)
    cands += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for c in cands:
        if not c or not Path(c).exists():
            continue
        ok = subprocess.run([c, "-c", "import sys, venv; print(sys.version)"], check=False,
                            capture_output=True, text=True)
        if ok.returncode == 0 and ok.stdout.startswith(version):
            return c
    raise RuntimeError(f"no working python{version} found (PATH, {pyenv}/versions)")


def venv_dir(spec: AppSpec) -> Path:
    return corpus_dir() / "venvs" / spec.key


def venv_python(spec: AppSpec) -> Path:
    return venv_dir(spec) / "bin" / "python"


def app_venv(spec: AppSpec, log=None) -> Path:
    """Make (once) the app's virtualenv with its declared and test dependencies; returns the venv folder."""
    target = venv_dir(spec)
    marker = target / ".complete"
    if marker.exists():
        return target
    src = app_source(spec)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    out = log if log is not None else sys.stderr
    subprocess.run([find_python(spec.python), "-m", "venv", str(target)], check=True, stdout=out, stderr=out)
    py = str(target / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip", "setuptools", "wheel"],
                   check=True, stdout=out, stderr=out)
    extra: list[str] = []
    pins = lock_constraints(spec, src)
    if pins:
        cfile = target / "lock-constraints.txt"
        cfile.write_text("\n".join(pins) + "\n")
        extra = ["-c", str(cfile)]
    env = {**os.environ, **spec.install_env}
    for args in spec.install:
        subprocess.run([py, "-m", "pip", "install", "--quiet", *extra, *args], cwd=src, check=True, stdout=out,
                       stderr=out, env=env)
    if spec.venv_future_annotations:
        site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        for rel in spec.venv_future_annotations:
            add_future_annotations(Path(site) / rel)
    marker.write_text("ok\n")
    return target


def clean_state(spec: AppSpec) -> None:
    """Remove what an earlier run of the suite left behind (``spec.clean``)."""
    src = app_source(spec)
    for rel in spec.clean:
        p = src / rel
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


def test_environment(spec: AppSpec) -> dict[str, str]:
    """The environment the app's suite runs in: its venv first on PATH, plus ``spec.test_env``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["VIRTUAL_ENV"] = str(venv_dir(spec))
    env["PATH"] = os.pathsep.join([str(venv_dir(spec) / "bin"), env.get("PATH", "")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(spec.test_env)
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", nargs="*", metavar="NAME", help="fetch these apps (all when none named) and build their venvs")
    ap.add_argument("--no-venv", action="store_true", help="only download and unpack the sdists")
    ap.add_argument("--sources", nargs="*", metavar="NAME",
                    help="fetch these source-only monoliths (all of SOURCES when none named)")
    a = ap.parse_args(argv)
    if a.sources is not None:
        for name in a.sources or list(SOURCES):
            print(f"{SOURCES[name].key}: source {source_of(name)}", flush=True)
        if a.apps is None:
            return 0
    if a.apps is None:
        print(django_source())
        return 0
    for name in a.apps or list(APPS):
        spec = APPS[name]
        print(f"{spec.key}: source {app_source(spec)}", flush=True)
        if not a.no_venv:
            print(f"{spec.key}: venv {app_venv(spec)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
