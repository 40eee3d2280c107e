"""Django projects: the settings module, INSTALLED_APPS and ROOT_URLCONF read statically,
detection (never Flask), ``generate`` writing a Django project per service (booted in
``tests/test_generate_django.py``) and its one-line refusals.

The fixture project ``tests/data/django_site`` is a small real Django project
(manage.py, split settings with ``from .base import *``, an AppConfig, three
apps, an admin, a DRF router); the variants below are written per test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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
            import os
            ROOT_URLCONF = f"{os.environ['NAME']}.urls"
        """,
        "proj/plugins.py": "def discover():\n    return []\n",
    })
    facts, sources = load(root)
    project = read_project(facts, sources)
    assert [a.entry for a in project.apps] == ["django.contrib.auth"]
    assert project.problems == [
        "proj/settings.py:5: an INSTALLED_APPS entry cannot be read statically (a loop variable)",
        "proj/settings.py:8: ROOT_URLCONF cannot be read statically (an f-string)",
    ]


def test_what_every_service_copies_and_what_its_runtime_is_told(site):
    facts, sources = site
    dj = frameworks.get("django")
    app = dj.find_app(facts, sources)
    assert app.module == "site_conf.settings.dev"
    assert app.settings == {"settings": "site_conf.settings.dev", "root_urlconf": "site_conf.urls",
                            "internal_tops": ["accounts", "blog", "manage", "shop", "site_conf"],
                            "staticfiles": True, "static_url": "/static/", "whitenoise": False}
    # loaded by name or convention, never by an import the analysis sees
    assert dj.wiring_modules(facts, sources, app) == {
        "accounts": "INSTALLED_APPS accounts", "accounts.models": "Django loads models of INSTALLED_APPS accounts",
        "blog": "INSTALLED_APPS blog.apps.BlogConfig", "blog.apps": "Django loads apps of INSTALLED_APPS blog.apps.BlogConfig",
        "blog.models": "Django loads models of INSTALLED_APPS blog.apps.BlogConfig",
        "blog.urls": "in the urlconf tree (ROOT_URLCONF)", "shop": "INSTALLED_APPS shop",
        "shop.models": "Django loads models of INSTALLED_APPS shop", "shop.urls": "in the urlconf tree (ROOT_URLCONF)",
        "site_conf.settings.dev": "the settings module", "site_conf.urls": "in the urlconf tree (ROOT_URLCONF)"}
    # what the settings name for Django to import: requirements of every service
    assert dj.named_imports(facts, sources, app) == {name: "site_conf.settings.dev" for name in [
        "accounts", "blog.apps.BlogConfig", "debug_toolbar", "django.contrib.admin", "django.contrib.auth",
        "django.contrib.contenttypes", "django.contrib.messages", "django.contrib.sessions",
        "django.contrib.staticfiles", "rest_framework", "shop"]}
    # the urlconf tree runs whole in every service: what it imports is copied, never a client
    assert dj.copies_imports_of(facts, sources, app) == {"blog.urls", "shop.urls", "site_conf.urls"}
    # STATIC_URL: the default service's route, as the generated urlconf spells it
    [static] = dj.app_routes(app, "")
    assert (static.path, static.function, static.native) == (
        "/static/<path:path>", "django.contrib.staticfiles.views.serve", "^static/(?P<path>.*)$")
    # every URL pattern carries its route as Django joins it (what the service's /readyz compares)
    natives = {r.function: r.native for _m, r in dj.routes(facts, sources, app, [])}
    assert natives["blog.views.archive"] == "^archive/(?P<year>[0-9]{4})/$"
    assert natives["shop.views.CheckoutView"] == "shop/checkout/"


def test_generate_writes_a_django_project_per_service_and_refuses_an_unknown_urlconf_in_one_line(tmp_path):
    plan = tmp_path / "decompose.yaml"
    cli = decompose_cli()
    r = subprocess.run([*cli, "plan", str(SITE), "--output", str(plan), "--no-history", "--no-cache", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    r = subprocess.run([*cli, "generate", "--plan", str(plan), "--output", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "decompose-output.json").read_text())
    assert len(manifest["services"]) > 1
    # every service runs every app's migrations (auth, sessions...): one database for all
    assert {svc["database"] for svc in manifest["services"]} == {"shared"}
    for svc in manifest["services"]:
        rt = out / "services" / svc["name"] / "app" / "decompose_rt"
        assert "DJANGO_SETTINGS_MODULE\"] = \"decompose_rt.settings\"" in (rt / "server.py").read_text()
        service_py = (rt / "service.py").read_text()
        assert "DJANGO_SETTINGS = 'site_conf.settings.dev'" in service_py
        assert "DJANGO_ROOT_URLCONF = 'site_conf.urls'" in service_py
        assert (rt / "urls.py").is_file() and (rt / "settings.py").is_file()
        # Django loads these by convention: every service has them
        app = out / "services" / svc["name"] / "app"
        assert (app / "site_conf/urls.py").is_file() and (app / "blog/apps.py").is_file()
        assert (app / "shop/models.py").is_file()

    # a project with no model of its own still keeps its users and sessions in one database
    bare = write(tmp_path / "bare", {
        "manage.py": 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n',
        "proj/__init__.py": "",
        "pyproject.toml": '[project]\nname = "bare"\nversion = "1"\n'
                          'dependencies = ["django>=4.2", "djangorestframework>=3.14", "django-cors-headers>=4"]\n'
                          '[project.optional-dependencies]\ndev = ["django-debug-toolbar>=4"]\n',
        "proj/settings.py": 'INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", '
                            '"django.contrib.sessions", "rest_framework", "debug_toolbar", "pages", "help"]\n'
                            'MIDDLEWARE = ["corsheaders.middleware.CorsMiddleware"]\nROOT_URLCONF = "proj.urls"\n',
        "proj/urls.py": "from django.urls import include, path\n"
                        'urlpatterns = [path("pages/", include("pages.urls")), path("help/", include("help.urls"))]\n',
        "pages/__init__.py": "", "help/__init__.py": "",
        "pages/views.py": "from django.http import HttpResponse\n\ndef page(request):\n    return HttpResponse('p')\n",
        "help/views.py": "from django.http import HttpResponse\n\ndef topic(request):\n    return HttpResponse('h')\n",
        "pages/urls.py": 'from django.urls import path\nfrom pages import views\nurlpatterns = [path("", views.page)]\n',
        "help/urls.py": 'from django.urls import path\nfrom help import views\nurlpatterns = [path("", views.topic)]\n',
    })
    (bare / "decompose.yaml").write_text(
        "version: 1\nproject: bare\nsource: .\nservices:\n  pages:\n    modules: [pages, pages.views, pages.urls]\n"
        "  help:\n    modules: [help, help.views, help.urls]\nshared:\n  modules: [proj, proj.settings, proj.urls]\n")
    r = subprocess.run([*cli, "generate", "--plan", str(bare / "decompose.yaml"), "--output", str(tmp_path / "bare-out")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "bare-out" / "decompose-output.json").read_text())
    assert {svc["name"]: svc["database"] for svc in manifest["services"]} == {"help": "shared", "pages": "shared"}
    # what the settings name for Django to import (never an import statement) is a requirement too
    for name in ("help", "pages"):
        reqs = (tmp_path / "bare-out/services" / name / "requirements.txt").read_text().splitlines()
        assert {"django>=4.2", "djangorestframework>=3.14", "django-cors-headers>=4"} <= set(reqs), reqs
        # a development-only distribution the settings install is needed at start all the same
        assert "django-debug-toolbar>=4" in reqs

    # a ROOT_URLCONF that is not in the analysed source: one line naming the settings file
    broken = tmp_path / "broken"
    shutil.copytree(SITE, broken, ignore=shutil.ignore_patterns("__pycache__"))
    base = broken / "site_conf/settings/base.py"
    base.write_text(base.read_text().replace('ROOT_URLCONF = "site_conf.urls"', 'ROOT_URLCONF = "gone.urls"'))
    plan2 = tmp_path / "broken.yaml"
    r = subprocess.run([*cli, "plan", str(broken), "--output", str(plan2), "--no-history", "--no-cache", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*cli, "generate", "--plan", str(plan2), "--output", str(tmp_path / "out2")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines == ["error: cannot generate: site_conf/settings/dev.py: ROOT_URLCONF 'gone.urls' is not a module of "
                     "the analysed source; name the project's urlconf module (or analyse the folder that holds it)"]
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())


# --------------------------------------------------------------------------- URL patterns


def site_patterns(site):
    facts, sources = site
    return frameworks.get("django").url_patterns(facts, sources)


def test_url_patterns_full_paths_namespaces_views_and_owners(site):
    conf = site_patterns(site)
    assert conf.notes == []
    rows = [(p.route, p.path, p.view, p.module, p.name, p.kind) for p in conf.patterns]
    assert rows == [
        ("admin/", "/admin/<path:rest>", "django.contrib.admin.site", "site_conf.urls", None, "admin"),
        ("", "/", "blog.views.index", "blog.views", "blog:index", "function"),
        ("posts/<slug:slug>/", "/posts/<slug>/", "blog.views.PostDetail", "blog.views", "blog:post", "class"),
        ("^archive/(?P<year>[0-9]{4})/$", "/archive/<int:year>/", "blog.views.archive", "blog.views",
         "blog:archive", "function"),
        ("shop/cart/", "/shop/cart/", "shop.views.cart", "shop.views", "shop:cart", "function"),
        ("shop/checkout/", "/shop/checkout/", "shop.views.CheckoutView", "shop.views", "shop:checkout", "class"),
        ("accounts/login/", "/accounts/login/", "accounts.views.LoginView", "accounts.views", "login", "class"),
        ("accounts/profile/<int:pk>/", "/accounts/profile/<int:pk>/", "accounts.views.profile", "accounts.views",
         "profile", "function"),
        ("api/", "/api/", "rest_framework.routers.APIRootView", "site_conf.urls", "api-root", "router-root"),
        ("api/orders/", "/api/orders/", "shop.api.OrderViewSet", "shop.api", "order-list", "viewset"),
        ("api/orders/<pk>/", "/api/orders/<pk>/", "shop.api.OrderViewSet", "shop.api", "order-detail", "viewset"),
        ("api/orders/<pk>/cancel/", "/api/orders/<pk>/cancel/", "shop.api.OrderViewSet", "shop.api",
         "order-cancel", "viewset"),
        ("api/products/", "/api/products/", "shop.api.ProductViewSet", "shop.api", "product-list", "viewset"),
        ("api/products/<pk>/", "/api/products/<pk>/", "shop.api.ProductViewSet", "shop.api", "product-detail",
         "viewset"),
        ("^legacy/(?P<slug>[-\\w]+)/$", "/legacy/<slug>/", "accounts.views.legacy", "accounts.views", "legacy",
         "function"),
    ]
    methods = {p.name: p.methods for p in conf.patterns}
    # ReadOnlyModelViewSet: list and retrieve only; ModelViewSet: all; @action(methods=["post"])
    assert methods["order-list"] == ("GET", "HEAD", "OPTIONS")
    assert methods["order-detail"] == ("GET", "HEAD", "OPTIONS")
    assert methods["order-cancel"] == ("OPTIONS", "POST")
    assert methods["product-list"] == ("GET", "HEAD", "OPTIONS", "POST")
    assert methods["product-detail"] == ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "PUT")


def test_routes_map_to_the_modules_whose_service_serves_them(site):
    facts, sources = site
    fw = frameworks.get("django")
    notes: list[str] = []
    routes = fw.routes(facts, sources, fw.find_app(facts, sources), notes)
    owners: dict[str, set[str]] = {}
    for module, route in routes:
        owners.setdefault(module, set()).add(route.path)
    assert owners == {
        "site_conf.urls": {"/admin/<path:rest>", "/api/"},
        "blog.views": {"/", "/posts/<slug>/", "/archive/<int:year>/"},
        "shop.views": {"/shop/cart/", "/shop/checkout/"},
        "shop.api": {"/api/orders/", "/api/orders/<pk>/", "/api/orders/<pk>/cancel/", "/api/products/",
                     "/api/products/<pk>/"},
        "accounts.views": {"/accounts/login/", "/accounts/profile/<int:pk>/", "/legacy/<slug>/"},
    }
    assert {r.prefix for _m, r in routes if r.function == "shop.api.OrderViewSet"} == {"/api/orders"}


def test_urlconf_variants_include_forms_and_what_cannot_be_read(tmp_path):
    root = write(tmp_path / "p", {
        "manage.py": """
            import os
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
        """,
        "proj/__init__.py": "",
        "proj/settings.py": 'INSTALLED_APPS = ["polls"]\nROOT_URLCONF = "proj.urls"\n',
        "proj/urls.py": """
            from django.conf.urls import url
            from django.contrib.auth.decorators import login_required
            from django.urls import include, path
            from django.views.decorators.cache import cache_page

            import polls.views
            from polls import urls as polls_urls
            from polls.extra import more

            def plugins():
                return []

            urlpatterns = [
                url(r"^old/(?P<pk>\\d+)/$", login_required(polls.views.detail), name="old"),
                path("polls/", include((polls_urls, "polls"), namespace="p")),
                path("cached/", cache_page(60)(polls.views.detail)),
                path("accounts/", include("allauth.urls")),
            ]
            urlpatterns += more
            urlpatterns += plugins()
        """,
        "polls/__init__.py": "",
        "polls/views.py": """
            def detail(request, pk=None):
                return None
            def vote(request, pk):
                return None
        """,
        "polls/urls.py": """
            from django.urls import path, re_path
            from . import views
            app_name = "polls"
            urlpatterns = [path("<int:pk>/vote/", views.vote, name="vote"),
                           re_path(r"^(?:a|b)/x$", views.detail, name="odd"),
                           re_path(r"^files/(?P<name>[\\w/]+)$", views.detail, name="files")]
        """,
        "polls/extra.py": """
            from django.urls import path
            from polls.views import vote
            more = [path("more/", vote, name="more")]
        """,
    })
    facts, sources = load(root)
    conf = frameworks.get("django").url_patterns(facts, sources)
    rows = [(p.path, p.view, p.name, p.kind) for p in conf.patterns]
    assert rows == [
        ("/old/<int:pk>/", "polls.views.detail", "old", "function"),
        ("/polls/<int:pk>/vote/", "polls.views.vote", "p:vote", "function"),
        ("/polls/<path:rest>", "polls.views.detail", "p:odd", "function"),  # a regex Werkzeug cannot say
        ("/polls/files/<path:name>", "polls.views.detail", "p:files", "function"),  # a group matching '/'
        ("/cached/", "polls.views.detail", None, "function"),
        ("/accounts/<path:rest>", "allauth.urls", None, "include"),  # another package's urlconf: a catch-all
        ("/more/", "polls.views.vote", "more", "function"),
    ]
    assert conf.notes == ["proj/urls.py:21: a URL pattern cannot be read statically (a call of proj.urls.plugins)"]


VENV = Path.home() / ".cache" / "decompose-corpus" / "venvs" / "hyperkitty-1.3.12" / "bin" / "python"
RESOLVE = """
import json, sys
import django
django.setup()
from django.urls import resolve
out = {}
for url in json.loads(sys.argv[1]):
    m = resolve(url)
    f = m.func
    target = getattr(f, "view_class", None) or getattr(f, "cls", None) or f
    out[url] = [f"{target.__module__}.{target.__qualname__}", m.view_name]
print(json.dumps(out))
"""


@pytest.mark.skipif(not VENV.exists(), reason="needs the hyperkitty corpus venv (Django 4.2 + DRF): "
                                             "python -m benchmarks.corpus --apps hyperkitty")
def test_static_patterns_agree_with_djangos_own_resolver(site):
    """Every pattern read statically, turned into a concrete URL, resolves in Django itself
    (the fixture project imported in a venv with Django and DRF) to the same view and URL name."""
    conf = site_patterns(site)
    urls = {}
    for p in conf.patterns:
        if p.kind == "admin":
            continue
        url = p.path.replace("<path:rest>", "x/").replace("<int:year>", "2024").replace("<int:pk>", "7")
        url = re.sub(r"<(\w+:)?\w+>", "abc", url)
        urls[url] = p
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "site_conf.settings.dev", "PYTHONPATH": str(SITE)}
    r = subprocess.run([str(VENV), "-c", RESOLVE, json.dumps(sorted(urls))], capture_output=True, text=True,
                       env=env, cwd=SITE, timeout=120)
    assert r.returncode == 0, r.stderr
    resolved = json.loads(r.stdout)
    for url, p in urls.items():
        view, name = resolved[url]
        expected = "rest_framework.routers.APIRootView" if p.kind == "router-root" else p.view
        assert view.rsplit(".", 1)[0].startswith(expected.rsplit(".", 1)[0]) and view.endswith(
            expected.rsplit(".", 1)[1]), (url, view, p.view)
        assert name == (p.name or name), (url, name, p.name)


# --------------------------------------------------------------------------- ORM relations across services


def test_orm_relations_to_another_services_model_are_blockers_with_model_field_and_line(site):
    from decompose.analysis.graph import build_graph
    from decompose.planning.propose import describe

    facts, _sources = site
    assignment = {m: m.split(".")[0] for m in facts if m.split(".")[0] in ("blog", "shop", "accounts")}
    shared = [m for m in facts if m not in assignment]
    plan = describe(assignment, shared, list(facts.values()), build_graph(list(facts.values())), project="site")
    rel = [(b["model"], b["field"], b["relation"], b["target"], b["service"], b["target_service"], b["location"])
           for b in plan.blockers if b["kind"] == "orm-relation"]
    # string refs ("blog.Post", "accounts.Profile", "blog.Tag") and a class ref (Post imported from
    # blog.models); Post.author -> settings.AUTH_USER_MODEL and Profile.user -> auth's User are
    # shared infrastructure; Order.product and Post.tags stay inside their service
    assert sorted(rel) == [
        ("accounts.models.Profile", "favourite", "ForeignKey", "blog.models.Post", "accounts", "blog",
         "accounts/models.py:9"),
        ("shop.models.Order", "buyer", "ForeignKey", "accounts.models.Profile", "shop", "accounts",
         "shop/models.py:11"),
        ("shop.models.Order", "tags", "ManyToManyField", "blog.models.Tag", "shop", "blog", "shop/models.py:16"),
        ("shop.models.Product", "review", "OneToOneField", "blog.models.Post", "shop", "blog", "shop/models.py:6"),
    ]
    assert all(b["severity"] == "error" for b in plan.blockers if b["kind"] == "orm-relation")
    # one service holding blog and shop: only the relations to accounts (and from it) remain
    together = {m: ("content" if s in ("blog", "shop") else s) for m, s in assignment.items()}
    plan = describe(together, shared, list(facts.values()), build_graph(list(facts.values())), project="site")
    assert sorted((b["model"], b["field"]) for b in plan.blockers if b["kind"] == "orm-relation") == [
        ("accounts.models.Profile", "favourite"), ("shop.models.Order", "buyer")]


def test_relation_targets_resolved_through_app_labels_packages_and_same_app_names(tmp_path):
    from decompose.frameworks.django_models import resolved_relations

    root = write(tmp_path / "p", {
        "library/__init__.py": "",
        "library/models/__init__.py": "from .book import Book\n",
        "library/models/book.py": """
            from django.db import models
            class Author(models.Model):
                name = models.CharField(max_length=10)
            class Book(models.Model):
                author = models.ForeignKey("Author", on_delete=models.CASCADE)
                parent = models.ForeignKey("self", null=True, on_delete=models.CASCADE)
                site = models.ForeignKey("sites.Site", on_delete=models.CASCADE)
                ct = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE)
                class Meta:
                    app_label = "library"
        """,
        "loans/__init__.py": "",
        "loans/models.py": """
            from django.db import models
            from library.models import Book
            class Loan(models.Model):
                book = models.ForeignKey(to=Book, on_delete=models.CASCADE)
                author = models.ForeignKey("library.Author", on_delete=models.CASCADE)
                tag = models.ForeignKey("taggit.Tag", on_delete=models.CASCADE)
        """,
    })
    facts, _sources = load(root)
    got = [(r.model, r.field, r.target, r.location) for r in resolved_relations(facts)]
    assert got == [
        ("library.models.book.Book", "author", "library.models.book.Author", "library/models/book.py:6"),
        ("loans.models.Loan", "book", "library.models.book.Book", "loans/models.py:5"),
        ("loans.models.Loan", "author", "library.models.book.Author", "loans/models.py:6"),
    ]


def test_plan_lists_each_url_pattern_under_the_service_owning_its_view(site, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from decompose.cli import app

    out = tmp_path / "decompose.yaml"
    r = CliRunner().invoke(app, ["plan", str(SITE), "--output", str(out), "--no-history", "--no-cache", "--quiet"])
    assert r.exit_code == 0, r.output
    plan = yaml.safe_load(out.read_text(encoding="utf-8"))
    owner = {m: name for name, svc in plan["services"].items() for m in svc["modules"]}
    rows = {(route["path"], route["method"], route["function"], name)
            for name, svc in plan["services"].items() for route in svc["routes"]}
    facts, sources = site
    expected = set()
    for p in site_patterns(site).patterns:
        methods = ["*"] if set(p.methods) >= {"DELETE", "GET", "PATCH", "POST", "PUT"} else p.methods
        expected |= {(p.path, m, p.view, owner[p.module]) for m in methods}
    assert rows == expected
    assert ("/api/orders/<pk>/cancel/", "POST", "shop.api.OrderViewSet", owner["shop.api"]) in rows
    assert ("/shop/cart/", "*", "shop.views.cart", owner["shop.views"]) in rows


def test_urlconf_branches_fstrings_decorator_factories_and_custom_converters(tmp_path):
    # Weblate's urls.py: `if not URL_PREFIX: urlpatterns = real else: urlpatterns = [path(URL_PREFIX, ...)]`,
    # f-string routes, `management_permission_required("x")(View.as_view())`, `<name:project>` converters
    root = write(tmp_path / "p", {
        "manage.py": """
            import os
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
        """,
        "proj/__init__.py": "",
        "proj/settings.py": 'INSTALLED_APPS = ["proj"]\nROOT_URLCONF = "proj.urls"\nURL_PREFIX = ""\n',
        "proj/perms.py": """
            def permission_required(perm):
                def wrap(view):
                    return view
                return wrap
        """,
        "proj/views.py": """
            from django.views import View
            class Widget(View):
                pass
            def manage(request):
                return None
        """,
        "proj/urls.py": """
            from django.conf import settings
            from django.urls import path
            from proj import views
            from proj.perms import permission_required

            PREFIX = settings.URL_PREFIX
            widget = "<name:widget>.svg"
            real = [
                path(f"widgets/<name:project>/{widget}", views.Widget.as_view(), name="widget"),
                path("manage/", permission_required("manage")(views.manage), name="manage"),
            ]
            if not PREFIX:
                urlpatterns = real
            else:
                urlpatterns = [path(PREFIX, include(real))]
        """,
    })
    facts, sources = load(root)
    conf = frameworks.get("django").url_patterns(facts, sources)
    assert [(p.route, p.path, p.view, p.name) for p in conf.patterns] == [
        ("widgets/<name:project>/<name:widget>.svg", "/widgets/<path:project>/<path:widget>.svg",
         "proj.views.Widget", "widget"),
        ("manage/", "/manage/", "proj.views.manage", "manage"),
    ]
    assert conf.notes == []
