"""What a module is for, from its name and path: production code, tests, migrations, scripts.

Only production code becomes services or ships in images; tests never do;
migrations go with the service owning their tables.  Pure: names in, role out.
"""

from __future__ import annotations

import re

TEST_PARTS = frozenset({"tests", "test", "testing", "conftest"})
_MIGRATION_PART = frozenset({"migrations", "alembic", "versions"})


def is_test_module(module: str, path: str = "") -> bool:
    """``tests.x``, ``pkg.tests.y``, ``test_x``, ``x_test``, ``x_tests``, ``conftest`` (any
    dotted part), or a file under a ``tests``/``test`` folder (suites without ``__init__.py``)."""
    parts = module.split(".") + [p for p in path.replace("\\", "/").split("/")[:-1] if p]
    return any(p in TEST_PARTS or p.startswith("test_") or p.endswith(("_test", "_tests")) for p in parts)


#: Files that build, document or run the project rather than being part of it.
TOOLING_FILES = frozenset({"setup.py", "noxfile.py", "fabfile.py", "tasks.py", "conf.py", "docs_conf.py"})
TOOLING_DIRS = frozenset({"docs", "doc", "examples", "benchmarks", "scripts", ".github"})
#: Top-level folders that hold one-off scripts when they are not packages (no ``__init__.py``,
#: so their files' module names do not start with the folder): run as files, never imported.
SCRIPT_DIRS = frozenset({"scripts", "script", "tools", "tool", "bin", "contrib", "deploy", "deployment",
                         "devtools", "hack", "ci", ".ci"})


def excluded_role(module: str, path: str = "") -> str | None:
    """Why a module never becomes (part of) a service, or None for production code."""
    if is_test_module(module, path):
        return "test code: never a service, never shipped in an image"
    folders = [p for p in path.replace("\\", "/").split("/")[:-1] if p]
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if folders and folders[0] in TOOLING_DIRS:
        return f"project tooling ({folders[0]}/): not part of the application"
    if not folders and name in TOOLING_FILES:
        return f"project tooling ({name}): not part of the application"
    if folders and folders[0] in SCRIPT_DIRS and module.split(".", 1)[0] != folders[0]:
        return f"script: a file of the script folder {folders[0]}/ (no __init__.py); runs on its own, not part of a service"
    return None


#: Names of the packages holding migrations.
_MIGRATION_ROOTS = ("migrations", "alembic")


def is_migration_module(module: str) -> bool:
    """Alembic or Django migrations: a ``migrations``/``alembic`` package (and its ``versions``)."""
    parts = module.split(".")
    return any(p in _MIGRATION_ROOTS for p in parts[:-1]) or (
        len(parts) > 1 and parts[-1] in _MIGRATION_PART and parts[-2] in _MIGRATION_ROOTS
    ) or parts[-1] in _MIGRATION_ROOTS


def migrations_root(module: str) -> str:
    """The migrations package a migration belongs to (``pkg.migrations`` of
    ``pkg.migrations.versions.0001_init``; Django's ``app.migrations``)."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part in _MIGRATION_ROOTS:
            return ".".join(parts[: i + 1])
    return module.rpartition(".")[0]


def is_testing_name(name: str) -> bool:
    """An environment/config name meant for tests (``TESTING_DATABASE_URL``, ``TEST_DB``)."""
    return re.search(r"(^|_)TEST(ING)?(_|$)", name) is not None


def is_non_production_name(name: str) -> bool:
    """An environment/config name meant for tests or development (``TESTING_DATABASE_URL``,
    ``TEST_DB``, ``DEV_DATABASE_URL``, ``DEVELOPMENT_DATABASE_URI``, ``LOCAL_DB``)."""
    return is_testing_name(name) or re.search(r"(^|_)(DEV|DEVEL|DEVELOP|DEVELOPMENT|LOCAL)(_|$)", name) is not None
