"""Modules a monolith imports only by a dotted name in a string (``kind="string"``).

FlaskBB's ``app.config.from_object("flaskbb.configs.default.DefaultConfig")`` is the one
reference to its config module from the app: without it the module is nobody's dependency,
generation did not copy it into the services building the app, and they failed at start.
The same class: ``werkzeug.utils.import_string``, ``pkgutil.resolve_name``, Celery's
``config_from_object``, ``include=[...]`` and ``autodiscover_tasks``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from decompose.analysis.graph import build_graph
from decompose.analysis.parse import parse_module
from decompose.cli import app
from decompose.generation.output import generation_for
from decompose.guard.rules import import_statement
from decompose.planning.plan import Plan, Service
from decompose.planning.planfile import save_plan
from tests.generate_support import write_tree


def facts(src: str, module: str = "forum.app", is_package: bool = False):
    code = textwrap.dedent(src).lstrip("\n")
    return parse_module(code.encode("utf-8"), module, module.replace(".", "/") + ".py", is_package)


def strings(f) -> list[tuple]:
    return [(i.module, i.names, i.line, i.context) for i in f.imports if i.kind == "string"]


def test_string_importing_apis_record_the_module_they_import():
    f = facts('''
        import pkgutil
        import werkzeug.utils
        from celery import Celery
        from django.utils.module_loading import import_string as django_import
        from werkzeug.utils import import_string

        celery = Celery("forum", broker="redis://localhost:6379/0", include=["forum.tasks", "forum.mail.tasks"])

        def create_app(config=None):
            app = Flask(__name__)
            app.config.from_object("forum.configs.default.DefaultConfig")
            handler = import_string("forum.utils.logs:RequestHandler")
            backend = werkzeug.utils.import_string(import_name="forum.search.backend")
            django_import("forum.auth.backends.Backend")
            pkgutil.resolve_name("forum.markup:render.cache")
            celery.config_from_object("forum.celeryconfig")
            celery.autodiscover_tasks(["forum.user", "forum.forum"])
            celery.autodiscover_tasks(("forum.admin",), related_name="jobs")
            return app
    ''')
    assert strings(f) == [
        ("forum", ["tasks"], 7, "module"),   # include=["forum.tasks"]: like from forum import tasks
        ("forum.mail", ["tasks"], 7, "module"),
        ("forum.configs.default", ["DefaultConfig"], 11, "function"),
        ("forum.utils.logs", ["RequestHandler"], 12, "function"),   # "module:object"
        ("forum.search", ["backend"], 13, "function"),
        ("forum.auth.backends", ["Backend"], 14, "function"),
        ("forum.markup", ["render"], 15, "function"),
        ("forum", ["celeryconfig"], 16, "function"),
        ("forum.forum", ["tasks"], 17, "function"),   # autodiscover: each package's tasks submodule
        ("forum.user", ["tasks"], 17, "function"),
        ("forum.admin", ["jobs"], 18, "function"),
    ]


def test_a_name_built_from_a_package_start_is_some_module_of_that_package():
    f = facts('''
        import importlib
        from werkzeug.utils import import_string

        def load(fixture, name):
            import_string("forum.fixtures.{}".format(fixture))      # FlaskBB's `flaskbb upgrade --fixture`
            importlib.import_module(f"forum.plugins.{name}")
            importlib.import_module("forum.plugins." + name)
            importlib.import_module("forum.themes.%s" % name)
            importlib.import_module(f"forum.{name}")               # the whole project: nothing narrower
            importlib.import_module(f"{name}.plugins")
            import_string("forum.x{}".format(name))                # not a package start
    ''')
    assert strings(f) == [
        ("forum.fixtures", ["*"], 5, "function"),
        ("forum.plugins", ["*"], 6, "function"),
        ("forum.plugins", ["*"], 7, "function"),
        ("forum.themes", ["*"], 8, "function"),
    ]


def test_what_is_no_string_import():
    f = facts('''
        from mylib import import_string
        from werkzeug.utils import import_string as load

        def setup(app, name, pkgs):
            app.config.from_object(name)                  # not a literal
            app.config.from_object(name + ".Config")         # no literal package start
            app.config.from_pyfile("forum.cfg")           # a file, not an import
            import_string("forum.not.werkzeug")           # another library's import_string
            load("not a dotted name")
            load("redis://localhost/0")
            celery.autodiscover_tasks(pkgs)
            celery.autodiscover_tasks(["forum.user"], related_name=name)   # which submodule is unknown
            Celery("forum.main")                          # the app's name, not include=
    ''')
    assert strings(f) == []


def test_graph_edge_to_the_named_module_and_nothing_external():
    app_facts = facts('''
        def create_app(app):
            app.config.from_object("forum.configs.default.DefaultConfig")
            app.config.from_object("thirdparty.settings.Config")
            app.config.from_object("forum.configs.missing.Config")
    ''')
    default = facts("class DefaultConfig:\n    DEBUG = False\n", module="forum.configs.default")
    pkg = facts("", module="forum", is_package=True)
    configs = facts("", module="forum.configs", is_package=True)
    g = build_graph([app_facts, default, pkg, configs])
    assert g.internal.has_edge("forum.app", "forum.configs.default")
    assert g.internal["forum.app"]["forum.configs.default"]["kinds"] == ["string"]
    assert not g.external.has_edge("forum.app", "thirdparty")   # a name in a string is no dependency on a package
    assert [(u.module, u.target) for u in g.unresolved] == [("forum.app", "forum.configs.missing")]
    imp = next(i for i in app_facts.imports if i.module == "forum.configs.default")
    assert import_statement("forum.app", False, imp) == '"forum.configs.default.DefaultConfig" (imported by name)'


# --------------------------------------------------------------------------- generation on a small FlaskBB

FORUM = {
    "pyproject.toml": '''
        [project]
        name = "forum"
        version = "1.0"
        requires-python = ">=3.11"
        dependencies = ["flask"]
    ''',
    "logs/.gitkeep": "",
    "forum/__init__.py": "from forum.app import create_app  # noqa: F401\n",
    # FlaskBB's configure_app / configure_default_logging, reduced
    "forum/app.py": '''
        import logging.config
        import os

        from flask import Flask

        from forum.user.views import user_bp
        from forum.shop.views import shop_bp


        def create_app(config=None):
            app = Flask("forum")
            app.config.from_object("forum.configs.default.DefaultConfig")
            if config is not None:
                app.config.from_object(config)
            logging.config.dictConfig(app.config["LOG_CONF"])
            app.register_blueprint(user_bp, url_prefix="/user")
            app.register_blueprint(shop_bp, url_prefix="/shop")
            return app


        def load_fixture(name):
            from werkzeug.utils import import_string
            return import_string("forum.fixtures.{}".format(name))
    ''',
    # FlaskBB's `upgrade --fixture NAME` command: a fixture module chosen at run time
    "forum/fixtures/__init__.py": "",
    "forum/fixtures/groups.py": "GROUPS = {'member': {}}\n",
    "forum/fixtures/settings.py": "SETTINGS = {'general': {}}\n",
    "forum/configs/__init__.py": "",
    # FlaskBB's DefaultConfig: the log folder beside the package, found from __file__
    "forum/configs/default.py": '''
        import os


        class DefaultConfig(object):
            basedir = os.path.abspath(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
            LOG_PATH = os.path.join(basedir, "logs")
            LOG_CONF = {
                "version": 1,
                "handlers": {
                    "file": {"class": "logging.FileHandler", "filename": os.path.join(LOG_PATH, "forum.log")},
                },
                "root": {"handlers": ["file"], "level": "INFO"},
            }
    ''',
    "forum/user/__init__.py": "",
    "forum/user/views.py": '''
        from flask import Blueprint

        user_bp = Blueprint("user", __name__)


        @user_bp.route("/<name>")
        def profile(name):
            return {"user": name}
    ''',
    "forum/shop/__init__.py": "",
    "forum/shop/views.py": '''
        from flask import Blueprint

        shop_bp = Blueprint("shop", __name__)


        @shop_bp.route("/items")
        def items():
            return {"items": []}
    ''',
    "docs/conf.py": "project = 'forum'\n",   # a folder with Python code: not data
}


def _write(root: Path, files: dict[str, str]) -> None:
    write_tree(root, files)


def _forum_plan(tmp_path: Path) -> Path:
    root = tmp_path / "mono"
    _write(root, FORUM)
    plan = Plan(
        project="forum",
        source=str(root),
        services={
            "user": Service(name="user", modules=["forum.user", "forum.user.views"]),
            "shop": Service(name="shop", modules=["forum.shop", "forum.shop.views"]),
            # the config package in a service of its own, as FlaskBB's default plan had it
            "configs": Service(name="configs", modules=["forum.configs", "forum.configs.default"]),
            "fixtures": Service(name="fixtures", modules=["forum.fixtures", "forum.fixtures.groups",
                                                          "forum.fixtures.settings"]),
        },
        shared=["forum", "forum.app"],
        excluded={"docs.conf": "project tooling"},
    )
    save_plan(plan, tmp_path / "decompose.yaml")
    return tmp_path / "decompose.yaml"


def test_a_module_imported_by_name_is_copied_where_the_importer_is(tmp_path):
    gen, *_ = generation_for(_forum_plan(tmp_path), use_cache=False)
    for name in ("user", "shop"):
        spec = gen.services[name]
        assert "forum.configs.default" in spec.copied, name
        assert spec.borrowed["forum.configs.default"] == "forum.app imports it by name (line 12)"
        # loaded by its own name: never a client of the configs service
        assert "forum.configs.default" not in spec.clients
        assert "configs" not in spec.calls
        # "forum.fixtures.{}".format(name): any fixture module may be asked for
        for m in ("forum.fixtures.groups", "forum.fixtures.settings"):
            assert spec.borrowed[m] == "forum.app imports it by name (line 23)", (name, m)


def test_services_start_with_their_config_module_and_data_folder(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["generate", "--plan", str(_forum_plan(tmp_path)), "--output", str(out)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "decompose-output.json").read_text())
    for unit in manifest["services"]:
        src = out / unit["source"]
        assert (src / "logs" / ".gitkeep").is_file(), unit["name"]   # the folder the config names
        assert not (src / "docs").exists()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
        env["PYTHONPATH"] = str(src)
        check = ("import decompose_rt.server as s; print(s.app); from forum.app import load_fixture; "
                 "print(load_fixture('groups').GROUPS)")
        r = subprocess.run([sys.executable, "-c", check], cwd=src,
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{unit['name']}: {r.stderr[-2000:]}"
        assert (src / "logs" / "forum.log").is_file()


def test_a_folder_the_monolith_writes_into_is_a_writable_volume_on_the_read_only_root(tmp_path):
    """FlaskBB's logs/ ships as logs/.gitkeep and its logging config writes logs/error.log. The
    images run with a read-only root file system, so every service holding the folder gets a
    volume over /app/logs (compose, Kubernetes emptyDir) that its user owns; the Dockerfile and
    the manifests still pass hadolint and kubernetes-validate."""
    import yaml

    from tests.generate_support import tool

    out = tmp_path / "out"
    plan = _forum_plan(tmp_path)
    # and a folder the app makes itself (FlaskBB's WHOOSHEE_DIR): not in the source tree at all
    config = tmp_path / "mono" / "forum" / "configs" / "default.py"
    config.write_text(config.read_text().replace(
        '    LOG_PATH = os.path.join(basedir, "logs")\n',
        '    LOG_PATH = os.path.join(basedir, "logs")\n    INDEX_DIR = os.path.join(basedir, "search_index", "v1")\n'))
    assert "search_index" in config.read_text()
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan), "--output", str(out)])
    assert r.exit_code == 0, r.output
    compose = yaml.safe_load((out / "compose.yaml").read_text())
    for name in ("user", "shop"):
        for folder in ("logs", "search_index"):
            assert f"{name}-app-{folder.replace('_', '-')}:/app/{folder}" in compose["services"][name]["volumes"]
            assert f"{name}-app-{folder.replace('_', '-')}" in compose["volumes"]
        dockerfile = (out / "services" / name / "Dockerfile").read_text()
        made = "RUN mkdir -p /app/logs /app/search_index \\\n    && chown 10001:10001 /app/logs /app/search_index"
        assert made in dockerfile, dockerfile
        assert dockerfile.index("COPY app/ /app/") < dockerfile.index(made)
        r = subprocess.run([tool("hadolint"), "--failure-threshold", "style", "--no-color",
                            str(out / "services" / name / "Dockerfile")], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and not r.stdout.strip(), r.stdout + r.stderr
        deploy = out / "k8s" / "base" / name / "deployment.yaml"
        doc = yaml.safe_load(deploy.read_text())
        pod = doc["spec"]["template"]["spec"]
        assert {"name": "app-logs", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
        assert {"name": "app-logs", "mountPath": "/app/logs"} in pod["containers"][0]["volumeMounts"]
        r = subprocess.run([tool("kubernetes-validate"), "--strict", str(deploy)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    # the gateway writes nothing of the monolith's
    assert not any("app-logs" in v for v in compose["services"]["gateway"].get("volumes", []))


def test_a_sqlite_database_a_local_run_left_in_a_data_folder_is_not_copied(tmp_path):
    """LNbits keeps ``data/database.sqlite3`` (and ``.lnbits_auth_key``) in a data folder beside its
    package. A checkout that ran the app holds them: they are that run's state, never copied into
    the images, and the folder is then one the app writes into (a writable volume): LNbits' logs
    went to ``data/logs`` on the read-only root and every service exited."""
    import sqlite3

    import yaml

    out = tmp_path / "out"
    plan = _forum_plan(tmp_path)
    logs = tmp_path / "mono" / "logs"
    with sqlite3.connect(logs / "forum.sqlite3") as conn:
        conn.execute("CREATE TABLE posts (id INTEGER)")
    (logs / "forum.sqlite3-journal").write_bytes(b"")
    r = CliRunner().invoke(app, ["generate", "--plan", str(plan), "--output", str(out)])
    assert r.exit_code == 0, r.output
    compose = yaml.safe_load((out / "compose.yaml").read_text())
    for name in ("user", "shop"):
        assert not list((out / "services" / name / "app" / "logs").glob("forum.sqlite3*"))
        assert f"{name}-app-logs:/app/logs" in compose["services"][name]["volumes"]


def test_a_configuration_constant_naming_a_project_module_is_a_string_import():
    """privacyIDEA's ``PI_AUDIT_MODULE = "privacyidea.lib.auditmodules.sqlaudit"``, loaded by
    ``import_module(config[...])``: the services holding the config need that module."""
    f = facts('''
        import os

        AUDIT_MODULE = "forum.audit.sql"
        BACKENDS: list[str] = ["forum.auth.ldap:Backend", "forum.auth.local"]

        class TestingConfig:
            PI_AUDIT_MODULE = "forum.audit.sql"
            LOGFILE = "forum.log"                # a file name
            NAME = "forum"                       # one part: the app's name
            THIRD = "celery.backends.redis"      # another package
            lower_case = "forum.audit.other"     # not a constant

        def configure(app):
            KEY = "forum.audit.inner"            # inside a function: a local
            hsm = app.config.get("HSM_MODULE", "forum.security.default.Module")
            other = app.config.get("forum.not.a.default")   # the key, not a default
            return get("X", "forum.audit.plain")  # a function, not a lookup
    ''', module="forum.configs.default")
    assert sorted(strings(f)) == [
        ("forum.audit", ["sql"], 3, "function"),
        ("forum.audit", ["sql"], 7, "function"),
        ("forum.auth", ["local"], 4, "function"),
        ("forum.auth.ldap", ["Backend"], 4, "function"),
        ("forum.security.default", ["Module"], 15, "function"),
    ]
    # elsewhere a module's constants naming project modules are data: a logger's name (Weblate's
    # ERROR_LOGGER = "weblate.errors"), Celery task names a migration removes; a class body
    # (a config class) still counts
    data = '''
        ERROR_LOGGER = "forum.errors"
        OBSOLETE_TASKS = ("forum.tasks.cleanup",)

        class Settings:
            AUDIT_MODULE = "forum.audit.sql"

        class OrderSendView:
            ACTION_TYPE = "forum.plugins.sendmail.sent"  # pretix's log action names: no config class
    '''
    assert strings(facts(data, module="forum.utils.errors")) == [("forum.audit", ["sql"], 5, "function")]
    assert strings(facts(data, module="forum.migrations.0020_remove_tasks")) == [("forum.audit", ["sql"], 5, "function")]
    assert len(strings(facts(data, module="forum.settings.production"))) == 4


def test_a_module_named_by_a_configuration_constant_is_copied_where_the_config_is(tmp_path):
    files = {**FORUM,
             "forum/configs/default.py": FORUM["forum/configs/default.py"] + '''
            AUDIT_MODULE = "forum.audit.sql"
    ''',
             "forum/audit/__init__.py": "",
             "forum/audit/sql.py": "class Audit:\n    def log(self, entry):\n        return entry\n"}
    root = tmp_path / "mono"
    _write(root, files)
    plan = Plan(
        project="forum", source=str(root),
        services={
            "user": Service(name="user", modules=["forum.user", "forum.user.views"]),
            "shop": Service(name="shop", modules=["forum.shop", "forum.shop.views"]),
            "audit": Service(name="audit", modules=["forum.audit", "forum.audit.sql"]),
        },
        shared=["forum", "forum.app", "forum.configs", "forum.configs.default", "forum.fixtures",
                "forum.fixtures.groups", "forum.fixtures.settings"],
        excluded={"docs.conf": "project tooling"},
    )
    save_plan(plan, tmp_path / "decompose.yaml")
    gen, *_ = generation_for(tmp_path / "decompose.yaml", use_cache=False)
    for name in ("user", "shop"):
        spec = gen.services[name]
        assert "forum.audit.sql" in spec.copied, name
        assert "imports it by name" in spec.borrowed["forum.audit.sql"], spec.borrowed
        assert "forum.audit.sql" not in spec.clients


def test_a_module_importing_computed_names_imports_the_module_names_it_lists():
    """privacyIDEA's ``get_resolver_list()`` adds ``"privacyidea.lib.resolvers.LDAPIdResolver"``
    (and six more) to a set that ``get_resolver_module_list()`` hands to
    ``importlib.import_module(mod_name)``: a service building the config needs those modules."""
    loader = '''
        import importlib

        def module_names():
            names = set()
            names.add("forum.auth.ldap")
            names.add("forum.auth.local.Backend")
            names.add("forum.log")              # a file name
            names.add("celery.backends.redis")  # another package
            names.add("forum.auth has spaces")  # no module name
            return names

        def modules():
            return [importlib.import_module(name) for name in module_names()]
    '''
    f = facts(loader, module="forum.config")
    assert sorted(strings(f)) == [
        ("forum.auth", ["ldap"], 5, "function"),
        ("forum.auth.local", ["Backend"], 6, "function"),
    ]
    # the same strings in a module that imports nothing by a computed name are only data
    assert strings(facts(loader.replace("importlib.import_module(name)", "name"), module="forum.config")) == []
    # a literal import_module is the import itself, no licence for the module's other strings
    literal = loader.replace("importlib.import_module(name)", 'importlib.import_module("forum.auth.ldap")')
    assert [i.kind for i in facts(literal, module="forum.config").imports if i.module.startswith("forum")] == ["dynamic"]
