"""Module roles: tests and project tooling never become services or ship in images;
the plan lists them under ``excluded`` and every command accepts that plan."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from decompose.analysis.roles import excluded_role, is_test_module, is_testing_name
from decompose.cli import app
from decompose.generation.generate import detect_database_env, module_instances
from decompose.planning.plan import Plan, PlanError


@pytest.mark.parametrize("module,path,role", [
    ("conftest", "tests/conftest.py", "test"),
    ("test_auth", "tests/test_auth.py", "test"),
    ("helpers", "tests/helpers.py", "test"),           # a suite without __init__.py
    ("pkg.tests.unit.x", "pkg/tests/unit/x.py", "test"),
    ("conf", "docs/conf.py", "tooling"),
    ("setup", "setup.py", "tooling"),
    ("shop.orders.views", "shop/orders/views.py", None),
    ("shop.testimonials", "shop/testimonials.py", None),  # not a test because of its name's prefix
    # one-off scripts in top-level script folders without __init__.py (privacyIDEA's tools/)
    ("privacyidea-update-linotp-counter", "tools/privacyidea-update-linotp-counter.py", "script"),
    ("ssha", "tools/ssha.py", "script"),
    ("cron-runner", "deploy/docker/cron-runner.py", "script"),
    ("manage", "bin/manage.py", "script"),
    ("fix", "contrib/fix.py", "script"),
    ("tools.report", "tools/report.py", None),            # tools/ is a package: importable code
    ("shop.tools.x", "shop/tools/x.py", None),            # a package's own tools/ subpackage
])
def test_roles(module, path, role):
    why = excluded_role(module, path)
    assert (why.split(" ", 1)[0] if why else None) == {"test": "test", "tooling": "project", "script": "script:",
                                                        None: None}[role]


def test_testing_names():
    assert is_testing_name("TESTING_DATABASE_URL") and is_testing_name("TEST_DB")
    assert not is_testing_name("CONTEST_DATABASE_URL") and not is_test_module("shop.latest")


def test_database_variable_is_never_the_testing_one():
    src = 'import os\nURL = os.environ.get("TESTING_DATABASE_URL") or os.environ["APP_DATABASE_URL"]\n'
    assert detect_database_env({"app.config": src, "tests.conftest": 'os.environ["T_DATABASE_URL"]'}) == "APP_DATABASE_URL"


def test_module_level_instances_are_live_objects():
    src = "from flask import Blueprint\nbp = Blueprint('x', __name__)\ndb: DB = SQLAlchemy()\nN = int('3')\nNAMES = list()\n"
    assert module_instances(src) == {"bp", "db"}


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    files = {
        "app/__init__.py": "from flask import Flask\n\ndef create_app():\n    app = Flask(__name__)\n    from app import views\n    app.register_blueprint(views.bp)\n    return app\n",
        "app/views.py": "from flask import Blueprint\nbp = Blueprint('v', __name__)\n\n@bp.route('/')\ndef index():\n    return 'ok'\n",
        "tests/conftest.py": "import pytest\nfrom app import create_app\n\n@pytest.fixture\ndef client():\n    return create_app().test_client()\n",
        "tests/test_views.py": "def test_index(client):\n    assert client.get('/').data == b'ok'\n",
        "docs/conf.py": "project = 'x'\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


def test_fresh_plan_excludes_tests_and_every_command_accepts_it(tmp_path):
    root = _project(tmp_path)
    plan_file = tmp_path / "p.yaml"
    runner = CliRunner()
    r = runner.invoke(app, ["plan", str(root), "--no-history", "-o", str(plan_file), "-q"])
    assert r.exit_code == 0, r.output
    data = yaml.safe_load(plan_file.read_text())
    assert set(data["excluded"]) == {"conftest", "test_views", "conf"}
    placed = {m for s in data["services"].values() for m in s["modules"]} | set(data["shared"]["modules"])
    assert placed == {"app", "app.views"}
    r = runner.invoke(app, ["plan", "--check", "--plan", str(plan_file), "-q"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    r = runner.invoke(app, ["generate", "--plan", str(plan_file), "-o", str(out)])
    assert r.exit_code == 0, r.output
    shipped = [p for p in out.rglob("*.py") if p.name in ("conftest.py", "test_views.py", "conf.py")]
    assert shipped == []
    assert not any("pytest" in p.read_text() for p in out.rglob("requirements.txt"))


def test_excluded_must_not_overlap_services():
    with pytest.raises(PlanError, match="in both 'a' and 'excluded'"):
        Plan.from_dict({"project": "p", "services": {"a": {"modules": ["m"]}}, "excluded": {"m": "test code"}})
    plan = Plan.from_dict({"project": "p", "services": {"a": {"modules": ["m"]}}, "excluded": {"t": "test code"}})
    assert plan.excluded == {"t": "test code"} and plan.to_dict()["excluded"] == {"t": "test code"}


def test_odd_file_names_are_accepted_by_every_command_and_scripts_are_excluded(tmp_path):
    root = tmp_path / "odd"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
    (root / "app" / "0001_initial.py").write_text("import app\n")
    (root / "run-me.py").write_text("from app import app\nprint(app)\n")
    (root / "2024-01-01 cleanup.py").write_text("import app\n")
    plan_file = tmp_path / "p.yaml"
    runner = CliRunner()
    r = runner.invoke(app, ["plan", str(root), "--no-history", "-o", str(plan_file), "-q"])
    assert r.exit_code == 0, r.output
    data = yaml.safe_load(plan_file.read_text())
    assert set(data["excluded"]) == {"run-me", "2024-01-01 cleanup"}
    assert all(why.startswith("script:") for why in data["excluded"].values())
    assert "app.0001_initial" in {m for s in data["services"].values() for m in s["modules"]} | set(data["shared"]["modules"])
    for args in (["plan", "--check", "--plan", str(plan_file), "-q"],
                 ["check", str(root / "run-me.py"), "--plan", str(plan_file)],
                 ["generate", "--plan", str(plan_file), "-o", str(tmp_path / "out")]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, (args, r.output)


def test_script_folders_never_become_services(tmp_path):
    """privacyIDEA's tools/: hyphenated one-off scripts with their own tables and engines
    (so not caught as unimported top-level files) became services of their own."""
    root = _project(tmp_path)
    tools = root / "tools"
    tools.mkdir()
    (tools / "app-update-counter.py").write_text(textwrap.dedent("""\
        import sys
        from sqlalchemy import Column, Integer, create_engine
        from sqlalchemy.orm import declarative_base, sessionmaker

        Base = declarative_base()

        class Token(Base):
            __tablename__ = "token"
            id = Column(Integer, primary_key=True)

        def main():
            session = sessionmaker(bind=create_engine(sys.argv[1]))()
            session.query(Token).update({"id": 1})

        if __name__ == "__main__":
            main()
        """))
    (tools / "helper.py").write_text("from app import create_app\nprint(create_app())\n")
    (root / "deploy" / "docker").mkdir(parents=True)
    (root / "deploy" / "docker" / "cron-runner.py").write_text("import app.views\n")
    plan_file = tmp_path / "p.yaml"
    runner = CliRunner()
    r = runner.invoke(app, ["plan", str(root), "--no-history", "-o", str(plan_file), "-q"])
    assert r.exit_code == 0, r.output
    data = yaml.safe_load(plan_file.read_text())
    for m, folder in (("app-update-counter", "tools"), ("helper", "tools"), ("cron-runner", "deploy")):
        assert data["excluded"][m].startswith(f"script: a file of the script folder {folder}/"), data["excluded"]
    placed = {m for s in data["services"].values() for m in s["modules"]} | set(data["shared"]["modules"])
    assert placed == {"app", "app.views"}
    r = runner.invoke(app, ["generate", "--plan", str(plan_file), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert not [p for p in (tmp_path / "out").rglob("*.py") if p.name in ("app-update-counter.py", "cron-runner.py")]
