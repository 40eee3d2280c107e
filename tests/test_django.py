"""Django projects: the settings module, INSTALLED_APPS and ROOT_URLCONF read statically,
detection (never Flask), and the one-line refusal of ``generate``.

The fixture project ``tests/data/django_site`` is a small real Django project
(manage.py, split settings with ``from .base import *``, an AppConfig, three
apps, an admin, a DRF router); the variants below are written per test.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from decompose import frameworks
from decompose.analysis.pipeline import analyze
from decompose.frameworks.django import find_settings, read_project

from cli_command import decompose_cli

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "tests" / "data" / "django_site"
SAMPLE = REPO / "sample_monolith"


def load(root: Path):
    an = analyze(root, use_cache=False)
    facts = {f.module: f for f in an.facts}
    sources = {f.module: (an.root / f.path).read_text(encoding="utf-8") for f in an.facts}
    return facts, sources


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def site():
    return load(SITE)


def test_settings_through_manage_py_and_a_star_import_chain(site):
    facts, sources = site
    project = read_project(facts, sources)
    assert project is not None
    assert project.settings == "site_conf.settings.dev"
    assert project.settings_file == "site_conf/settings/dev.py"
    assert project.found_by == "manage.py:7 sets DJANGO_SETTINGS_MODULE"
    # base.py's list (DJANGO_APPS + [...] + PROJECT_APPS), then dev.py's += and the append under `if DEBUG:`
    assert [a.entry for a in project.apps] == [
        "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
        "django.contrib.messages", "django.contrib.staticfiles", "rest_framework", "blog.apps.BlogConfig", "shop",
        "accounts", "debug_toolbar",
    ]
    by_entry = {a.entry: a for a in project.apps}
    assert by_entry["blog.apps.BlogConfig"].package == "blog"  # the AppConfig's name
    assert [a.package for a in project.own_apps] == ["blog", "shop", "accounts"]
    assert {a.package for a in project.apps if a.infrastructure} == {
        "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
        "django.contrib.messages", "django.contrib.staticfiles"}
    assert not by_entry["rest_framework"].internal and not by_entry["rest_framework"].infrastructure
    assert project.root_urlconf == "site_conf.urls"
    assert project.problems == []


def test_detected_as_django_never_flask(site, tmp_path):
    facts, sources = site
    assert frameworks.detect(facts, sources).name == "django"
    flask_facts, flask_sources = load(SAMPLE)
    assert frameworks.detect(flask_facts, flask_sources).name == "flask"
    # a Django app without any settings module (a reusable app) is still not Flask
    root = write(tmp_path / "reusable", {"polls/__init__.py": "", "polls/views.py": """
        from django.http import HttpResponse
        def index(request):
            return HttpResponse("hi")
    """})
    facts, sources = load(root)
    fw = frameworks.detect(facts, sources)
    assert fw.name == "django"
    (problem,) = fw.generation_problems(facts, sources)
    assert "imports django but has no settings module" in problem


def test_settings_named_relative_to_manage_py_folder_and_by_a_variable(tmp_path):
    # hyperkitty's example_project/manage.py names "settings" (its folder is on sys.path);
    # Weblate's manage.py passes a variable holding the default.
    root = write(tmp_path / "p", {
        "example/__init__.py": "",
        "example/manage.py": """
            import os
            if __name__ == "__main__":
                default = "settings"
                os.environ.setdefault("DJANGO_SETTINGS_MODULE", default)
        """,
        "example/settings.py": """
            INSTALLED_APPS = ("django.contrib.auth", "polls")
            ROOT_URLCONF = "urls"
        """,
        "polls/__init__.py": "",
        "polls/models.py": "from django.db import models\n",
    })
    facts, sources = load(root)
    ref, _notes = find_settings(facts, sources)
    assert (ref.module, ref.named, ref.file, ref.line) == ("example.settings", "settings", "example/manage.py", 5)
    project = read_project(facts, sources)
    assert [(a.package, a.internal) for a in project.apps] == [("django.contrib.auth", False), ("polls", True)]


def test_environ_subscript_and_a_missing_settings_module_falls_back_with_a_note(tmp_path):
    root = write(tmp_path / "p", {
        "proj/__init__.py": "",
        "proj/wsgi.py": """
            import os
            os.environ["DJANGO_SETTINGS_MODULE"] = "proj.settings"
        """,
        "proj/settings_example.py": """
            INSTALLED_APPS = ["proj"]
            ROOT_URLCONF = "proj.urls"
        """,
        "proj/celery_app.py": """
            import os
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.worker_settings")
        """,
        "proj/worker_settings.py": "INSTALLED_APPS = []\n",
    })
    facts, sources = load(root)
    project = read_project(facts, sources)
    # wsgi.py names a module the sdist does not ship: the module assigning both settings wins
    # over what a non-entry module (a Celery worker) names
    assert project.settings == "proj.settings_example"
    assert project.found_by == "it assigns INSTALLED_APPS and ROOT_URLCONF"
    assert "proj/wsgi.py:3: DJANGO_SETTINGS_MODULE names proj.settings, which is not in the analysed source" \
        in project.notes


def test_what_cannot_be_read_statically_is_named_with_file_and_line(tmp_path):
    root = write(tmp_path / "p", {
        "manage.py": """
            import os
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
        """,
        "proj/__init__.py": "",
        "proj/settings.py": """
            from proj.plugins import discover

            INSTALLED_APPS = ["django.contrib.auth"]
            for app in discover():
                INSTALLED_APPS.append(app)
            ROOT_URLCONF = f"proj.{'urls'}"
        """,
        "proj/plugins.py": "def discover():\n    return []\n",
    })
    facts, sources = load(root)
    project = read_project(facts, sources)
    assert [a.entry for a in project.apps] == ["django.contrib.auth"]
    assert project.problems == [
        "proj/settings.py:5: an INSTALLED_APPS entry cannot be read statically (a loop variable)",
        "proj/settings.py:7: ROOT_URLCONF cannot be read statically (an f-string)",
    ]


def test_generate_refuses_a_django_project_in_one_line(tmp_path):
    plan = tmp_path / "decompose.yaml"
    cli = decompose_cli()
    r = subprocess.run([*cli, "plan", str(SITE), "--output", str(plan), "--no-history", "--no-cache", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    r = subprocess.run([*cli, "generate", "--plan", str(plan), "--output", str(out), "--format", "json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: cannot generate: site_conf/settings/dev.py: this is a Django project")
    assert "generating Django services" in lines[0] and "not supported yet" in lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists() or not any(out.iterdir())
    assert r.stdout == "" or "error" in json.loads(r.stdout)
