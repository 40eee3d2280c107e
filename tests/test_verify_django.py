"""`decompose verify` on a Django suite: the suite's test ``Client`` against a split system.

A faithful small Django project, run the way verify runs it (the plugin loaded
into pytest, a monolith run then a split run) against a "service": a real
Django WSGI server whose settings are the generated ``decompose_rt/settings.py``
(``templates/runtime/settings_django.py.j2``) over the project's production
settings.  The suite's settings (like a pytest-django ``--ds`` test settings
module) differ from production: another urlconf (the app at ``/`` instead of
``/app/``), an extra middleware, no ``COMPRESS``-style production-only
setting.  What is checked:

* ``client.login``/``force_login`` sessions written by the test process are
  the services' sessions (shared database and SECRET_KEY, the suite's session
  settings);
* POSTs of a client that does not enforce CSRF pass the services' CSRF
  middleware, and one that does is refused as in process;
* the suite's paths reach the view they name in the suite's urlconf, and
  redirects come back as the suite's paths;
* the services run the suite's settings, not production's;
* ``response.context`` / ``assertTemplateUsed`` reads are recorded (a reason),
  Django's client's own read is not.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PROJECT = {
    "proj/__init__.py": "",
    "proj/views.py": """
        from django.conf import settings
        from django.contrib.auth.decorators import login_required
        from django.http import HttpResponse, JsonResponse
        from django.shortcuts import redirect, render


        @login_required
        def private(request):
            return HttpResponse(f"hello {request.user.username}")


        def echo(request):
            return JsonResponse({"method": request.method, "posted": request.POST.get("x", "")})


        def go(request):
            return redirect("private")


        def page(request):
            return render(request, "page.html", {"word": "bird"})


        def which(request):
            return JsonResponse({"extra": getattr(settings, "PRODUCTION_ONLY", None),
                                 "middleware": list(settings.MIDDLEWARE), "debug": settings.DEBUG})
    """,
    "proj/app_urls.py": """
        from django.urls import path

        from proj import views

        urlpatterns = [
            path("private/", views.private, name="private"),
            path("echo/", views.echo, name="echo"),
            path("go/", views.go),
            path("page/", views.page, name="page"),
            path("which/", views.which, name="which"),
        ]
    """,
    "proj/urls.py": """
        from django.urls import include, path

        urlpatterns = [path("app/", include("proj.app_urls")), path("accounts/login/", lambda r: None, name="login")]
    """,
    "proj/templates/page.html": "<p>{{ word }}</p>",
    "proj/settings.py": """
        SECRET_KEY = "production"
        DEBUG = True
        PRODUCTION_ONLY = "yes"
        ROOT_URLCONF = "proj.urls"
        ALLOWED_HOSTS = ["localhost"]
        INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions", "proj"]
        MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",
                      "django.middleware.csrf.CsrfViewMiddleware",
                      "django.contrib.auth.middleware.AuthenticationMiddleware"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/nonexistent/prod.sqlite3"}}
        TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
        USE_TZ = True
    """,
    "proj/test_settings.py": """
        from proj.settings import *  # noqa: F403

        del PRODUCTION_ONLY
        SECRET_KEY = "test"
        ROOT_URLCONF = "proj.test_urls"
        SESSION_COOKIE_NAME = "suite_session"
        PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        MIDDLEWARE = [*MIDDLEWARE, "django.middleware.common.CommonMiddleware"]  # noqa: F405
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    """,
    "proj/test_urls.py": """
        from django.urls import include, path

        urlpatterns = [path("", include("proj.app_urls")), path("accounts/login/", lambda r: None, name="login")]
    """,
    "conftest.py": """
        import os

        import django
        import pytest


        def pytest_configure():  # what pytest-django does with --ds
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.test_settings")
            django.setup()


        @pytest.fixture(scope="session", autouse=True)
        def test_database():
            from django.db import connection
            from django.test.utils import setup_test_environment

            setup_test_environment(debug=False)  # as pytest-django and Django's runner do
            connection.creation.create_test_db(verbosity=0, autoclobber=True)
    """,
    "test_client.py": """
        import json

        from django.contrib.auth.models import User
        from django.test import Client, TestCase


        class Sessions(TestCase):
            def setUp(self):
                self.user = User.objects.create_user("ann", "ann@example.com", "pw")

            def test_login(self):
                assert self.client.login(username="ann", password="pw")
                self.assertContains(self.client.get("/private/"), "hello ann")

            def test_force_login(self):
                self.client.force_login(self.user)
                self.assertContains(self.client.get("/private/"), "hello ann")

            def test_anonymous_is_sent_to_login(self):
                self.assertRedirects(self.client.get("/private/"), "/accounts/login/?next=/private/",
                                     fetch_redirect_response=False)

            def test_redirect_to_the_suites_path(self):
                self.assertRedirects(self.client.get("/go/"), "/private/", fetch_redirect_response=False)

            def test_post_without_csrf_token(self):
                assert self.client.post("/echo/", {"x": "1"}).json() == {"method": "POST", "posted": "1"}

            def test_csrf_enforced_when_the_client_asks(self):
                assert Client(enforce_csrf_checks=True).post("/echo/", {"x": "1"}).status_code == 403

            def test_suite_settings(self):
                data = self.client.get("/which/").json()
                assert data["extra"] is None and data["debug"] is False
                assert data["middleware"][-1] == "django.middleware.common.CommonMiddleware"

            def test_body_only(self):
                self.assertContains(self.client.get("/page/"), "bird")

            def test_reads_context(self):
                assert self.client.get("/page/").context["word"] == "bird"

            def test_template_used(self):
                self.assertTemplateUsed(self.client.get("/page/"), "page.html")
    """,
}

#: The service: the generated settings over the production settings, served by wsgiref.
SERVICE = """
import os, sys
sys.path[:0] = [sys.argv[2], sys.argv[3]]
os.environ["DJANGO_SETTINGS_MODULE"] = "decompose_rt.settings"
import django
from django.conf import settings
django.setup()
settings.ROOT_URLCONF = "proj.urls"  # decompose_rt.urls prunes it per service: tested in test_generate_django
from django.core.management import call_command
call_command("migrate", verbosity=0, run_syncdb=True)
from wsgiref.simple_server import WSGIRequestHandler, make_server
from django.core.wsgi import get_wsgi_application

class Quiet(WSGIRequestHandler):
    def log_message(self, *a):
        pass

make_server("127.0.0.1", int(sys.argv[1]), get_wsgi_application(), handler_class=Quiet).serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _run_suite(root: Path, mode: str, env: dict[str, str]) -> dict:
    report = root / f"{mode}-results"
    env = {**env, "DECOMPOSE_VERIFY_MODE": mode, "DECOMPOSE_VERIFY_REPORT": str(report)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                           "decompose.runtime.verify_plugin", "test_client.py"],
                          capture_output=True, text=True, env=env, timeout=180, cwd=root)
    results = json.loads((report / "results-main.json").read_text())["tests"]
    assert results, proc.stdout + proc.stderr
    return {tid.split("::")[-1]: rec for tid, rec in results.items()}


def test_a_django_suite_with_its_own_settings_against_a_service(tmp_path):
    pytest.importorskip("django")
    _write(tmp_path, PROJECT)
    rt = tmp_path / "rt" / "decompose_rt"
    rt.mkdir(parents=True)
    (rt / "__init__.py").write_text("")
    (rt / "service.py").write_text('DJANGO_SETTINGS = "proj.settings"\nDATABASE_ENV = None\n')
    shutil.copyfile(REPO / "templates" / "runtime" / "settings_django.py.j2", rt / "settings.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DECOMPOSE_", "DJANGO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(tmp_path)])
    env["DECOMPOSE_VERIFY_PACKAGES"] = "proj"
    env["DECOMPOSE_VERIFY_DJANGO_URLCONF"] = "proj.urls"

    monolith = _run_suite(tmp_path, "monolith", env)
    assert {t: r["outcome"] for t, r in monolith.items()} == dict.fromkeys(monolith, "passed")
    recorded = json.loads((tmp_path / "monolith-results" / "django-settings.json").read_text())
    assert recorded["module"] == "proj.test_settings"
    assert recorded["settings"]["SESSION_COOKIE_NAME"] == "suite_session" and "PRODUCTION_ONLY" not in recorded["settings"]
    assert "ROOT_URLCONF" not in recorded["settings"] and "SECRET_KEY" not in recorded["settings"]
    assert recorded["settings"]["DEBUG"] is False and "testserver" in recorded["settings"]["ALLOWED_HOSTS"]
    assert "LANGUAGE_CODE" not in recorded["settings"]  # Django's defaults are not the suite's settings

    shared = tmp_path / "shared"
    from decompose.runtime.verify import _hand_suite_settings
    from decompose.runtime.verify_folder import prepare_verify_dir, verify_env

    _hand_suite_settings(tmp_path / "monolith-results", shared)
    prepare_verify_dir(shared)
    port = _free_port()
    service_env = {**env, **verify_env(shared)}
    server = subprocess.Popen([sys.executable, "-c", SERVICE, str(port), str(tmp_path / "rt"), str(tmp_path)],
                              env=service_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/app/echo/", timeout=1)
                break
            except OSError as exc:
                if getattr(exc, "code", None):
                    break
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.1)
        split = _run_suite(tmp_path, "split", {**service_env, "DECOMPOSE_VERIFY_URL": f"http://127.0.0.1:{port}"})
    finally:
        server.terminate()
        server.wait(timeout=10)
    outcomes = {t: (r["outcome"], r["message"][:200]) for t, r in split.items()}
    observable = [t for t in split if t not in ("test_reads_context", "test_template_used")]
    assert all(split[t]["outcome"] == "passed" for t in observable), outcomes
    assert all(split[t]["requests"] >= 1 for t in split)
    # Django's client reads response.context itself after every request: only the test's reads count
    reads = {t: r["template_reads"] for t, r in split.items() if r["template_reads"]}
    assert reads == {"test_reads_context": ["response.context"], "test_template_used": ["response.templates"]}
    assert {t: r["template_reads"] for t, r in monolith.items() if r["template_reads"]} == reads


def test_template_reads_make_a_reason():
    from decompose.runtime.verify import TestOutcome, reasons_and_notes

    mono = TestOutcome(id="t", outcome="passed", requests=1, template_reads=["response.context"])
    reasons, _ = reasons_and_notes(mono, TestOutcome(id="t", outcome="failed", requests=1))
    assert len(reasons) == 1 and reasons[0].startswith("reads response.context") and "over HTTP" in reasons[0]
    assert reasons_and_notes(TestOutcome(id="t", outcome="passed", requests=1),
                             TestOutcome(id="t", outcome="passed", requests=1)) == ([], [])


def test_suite_paths_map_onto_the_services_urlconf_and_back(tmp_path):
    pytest.importorskip("django")
    _write(tmp_path, {k: v for k, v in PROJECT.items() if k.startswith("proj/")})
    script = textwrap.dedent("""
        import json, os
        os.environ["DJANGO_SETTINGS_MODULE"] = "proj.test_settings"
        import django
        django.setup()
        from decompose.runtime.verify_plugin import map_django_path as m
        print(json.dumps([m("/private/", "proj.test_urls", "proj.urls"), m("/go/", "proj.test_urls", "proj.urls"),
                          m("/nowhere/", "proj.test_urls", "proj.urls"), m("/app/echo/", "proj.urls", "proj.test_urls"),
                          m("/private/", "proj.test_urls", "proj.test_urls")]))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DECOMPOSE_", "DJANGO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(tmp_path)])
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # named, unnamed (its callable), unresolvable (kept: a 404 test keeps its 404), back, same urlconf
    assert json.loads(proc.stdout) == ["/app/private/", "/app/go/", "/nowhere/", "/echo/", "/private/"]
