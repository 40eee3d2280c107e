"""Django monoliths generated as one runnable Django project per service, and booted.

The fixture ``tests/data/django_library`` is a small real Django project written
for these tests (manage.py, settings naming a middleware and a context processor
by string only, two apps with models, migrations, templates and static files, a
ForeignKey from one app's model to the other's, views of one app calling
functions of the other, a signal receiver of one app on the other's model
(registered by its ``AppConfig.ready``), two apps' patterns of one Werkzeug shape told apart by
their regexes).  The plan puts the catalog app and the loans app in two
services; the project package (settings, ROOT_URLCONF, middleware) is shared.

What is checked: the pruned urlconf (every pattern kept for ``reverse()``, the
other service's ones answering 404 with their owner), ``/readyz`` failing when
an owned pattern is not served, determinism, and the whole split system under
``up --local``: pages, JSON, a POST, static files and the admin through the
gateway, each answered by its own service, the cross-service call going over
RPC, migrations run at start into the one shared SQLite database.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

from cli_command import decompose_cli
from decompose.runtime.docker_build import load_manifest
from decompose.runtime.runner import down_local, free_port, run_dir, up_local

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "tests" / "data" / "django_library"
PLAN = textwrap.dedent("""\
    version: 1
    project: library
    source: .
    services:
      catalog:
        modules: [catalog, catalog.admin, catalog.apps, catalog.migrations, catalog.migrations.0001_initial,
                  catalog.models, catalog.signals, catalog.stock, catalog.urls, catalog.views]
      loans:
        modules: [loans, loans.migrations, loans.migrations.0001_initial, loans.models, loans.urls, loans.views]
    shared:
      modules: [library, library.settings, library.urls, library.wsgi, library.middleware, library.context_processors]
    """)


def generate(tmp: Path, out_name: str = "out") -> Path:
    src = tmp / "library"
    if not src.exists():
        shutil.copytree(LIBRARY, src, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3"))
        (src / "decompose.yaml").write_text(PLAN, encoding="utf-8")
    out = tmp / out_name
    r = subprocess.run([*decompose_cli(), "generate", "--plan", str(src / "decompose.yaml"), "--output", str(out),
                        "--no-cache"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("django"))


def run_in_service(tree: Path, code: str, env: dict | None = None) -> dict:
    """Run ``code`` with a service's source tree and settings (real Django); its last line prints JSON."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DECOMPOSE_DATABASE")}
    e.update({"PYTHONPATH": str(tree), "DECOMPOSE_MIGRATE": "0", **(env or {})})
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tree, env=e, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


PRUNED = """
    import json, os
    os.environ["DJANGO_SETTINGS_MODULE"] = "decompose_rt.settings"
    import django
    django.setup()
    from django.conf import settings
    from django.urls import resolve, reverse
    from decompose_rt import urls

    def who(path):
        func = resolve(path).func
        func = getattr(func, "view_class", func)
        return getattr(func, "decompose_owner", None) or func.__module__ + "." + func.__name__

    print(json.dumps({
        "root": settings.ROOT_URLCONF, "middleware": list(settings.MIDDLEWARE),
        "database": settings.DATABASES["default"]["NAME"],
        "reverse": [reverse("catalog:book", args=[3]), reverse("loans:for-book", args=[3]), reverse("loan-code", args=[7]),
                    reverse("admin:index")],
        "who": {p: who(p) for p in ["/catalog/", "/catalog/books/3/", "/loans/", "/loans/lend/", "/code/7/",
                                    "/code/dune/", "/admin/", "/static/catalog/style.css"]},
        "views": sorted(urls.SERVED_VIEWS), "elsewhere": sorted(set(urls.ELSEWHERE.values())),
    }))
"""


def test_each_service_keeps_every_pattern_for_reverse_and_serves_only_its_own(out, tmp_path):
    db = tmp_path / "x.db"
    loans = run_in_service(out / "services/loans/app", PRUNED, {"DATABASE_URL": f"sqlite:///{db}"})
    catalog = run_in_service(out / "services/catalog/app", PRUNED, {"DATABASE_URL": f"sqlite:///{db}"})
    for got in (loans, catalog):
        assert got["root"] == "decompose_rt.urls"
        assert got["middleware"][-1] == "library.middleware.served_by"  # the monolith's own settings
        assert got["database"] == str(db)  # the split system's database, from its URL
        assert got["reverse"] == ["/catalog/books/3/", "/loans/book/3/", "/code/7/", "/admin/"]
    assert loans["who"] == {
        "/catalog/": "catalog", "/catalog/books/3/": "catalog",  # another service's: 404 naming it
        "/loans/": "loans.views.index", "/loans/lend/": "loans.views.lend",
        "/code/7/": "loans.views.loan_by_number", "/code/dune/": "catalog",  # regexes decide, as in the monolith
        "/admin/": "django.contrib.admin.sites.index",  # declared in the shared urlconf: every service serves it
        "/static/catalog/style.css": "decompose_rt.urls.serve_static",
    }
    assert catalog["who"]["/catalog/books/3/"] == "catalog.views.BookDetail"
    assert catalog["who"]["/loans/"] == "loans" and catalog["who"]["/code/7/"] == "loans"
    assert catalog["who"]["/code/dune/"] == "catalog.views.book_by_slug"
    assert catalog["who"]["/admin/"] == "django.contrib.admin.sites.index"
    assert [v for v in loans["views"] if not v.startswith("django.")] == [
        "loans.views.for_book", "loans.views.index", "loans.views.lend", "loans.views.loan_by_number"]
    assert "django.contrib.staticfiles.views.serve" in loans["views"]
    assert "catalog.views.BookDetail" in catalog["views"] and "loans.views.index" not in catalog["views"]
    assert loans["elsewhere"] == ["catalog.views"]


def test_settings_take_the_split_systems_database_url_sqlite_or_postgresql(out, tmp_path):
    code = """
        import json, os
        os.environ["DJANGO_SETTINGS_MODULE"] = "decompose_rt.settings"
        from django.conf import settings
        print(json.dumps({k: str(v) for k, v in settings.DATABASES["default"].items()
                          if k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")}))
    """
    tree = out / "services/catalog/app"
    got = run_in_service(tree, code, {"DATABASE_URL": "postgresql+psycopg://catalog:p%40ss@postgres:5432/shared"})
    assert got == {"ENGINE": "django.db.backends.postgresql", "NAME": "shared", "USER": "catalog",
                   "PASSWORD": "p@ss", "HOST": "postgres", "PORT": "5432"}
    got = run_in_service(tree, code, {"DATABASE_URL": f"sqlite:///{tmp_path}/a.db"})
    assert got == {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{tmp_path}/a.db"}
    # decompose verify's database wins (the test process writes it)
    got = run_in_service(tree, code, {"DATABASE_URL": "sqlite:////x.db", "DECOMPOSE_DATABASE": f"{tmp_path}/v.db"})
    assert got["NAME"] == f"{tmp_path}/v.db"
    # without a URL: the monolith's own
    got = run_in_service(tree, code, {})
    assert got == {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tree.resolve() / "db.sqlite3")}


def test_under_verify_the_services_allow_the_host_djangos_test_client_sends(out, tmp_path):
    code = """
        import json, os
        os.environ["DJANGO_SETTINGS_MODULE"] = "decompose_rt.settings"
        from django.conf import settings
        print(json.dumps(list(settings.ALLOWED_HOSTS)))
    """
    tree = out / "services/catalog/app"
    own = run_in_service(tree, code, {})  # the monolith's (this fixture's lists it already: appended anyway)
    assert run_in_service(tree, code, {"DECOMPOSE_DATABASE": f"{tmp_path}/v.db"}) == [*own, "testserver"]


def test_readyz_is_unready_while_an_owned_pattern_is_not_served(out, tmp_path):
    tree = tmp_path / "loans"
    shutil.copytree(out / "services/loans/app", tree)
    urls = tree / "loans/urls.py"
    urls.write_text(urls.read_text().replace('path("lend/", csrf_exempt(views.lend), name="lend"),', ""))
    code = """
        import json
        from decompose_rt import server
        print(json.dumps(server._readiness()))
    """
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "DECOMPOSE_RPC_SECRET": "s" * 64}
    status, body = run_in_service(tree, code, env)
    assert status == 503
    assert body["missing_routes"] == [f"{m} /loans/lend/" for m in
                                      ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]]
    status, body = run_in_service(out / "services/loans/app", code, env)
    assert (status, body["status"]) == (200, "ready"), body


def test_a_pattern_list_declared_in_one_service_and_included_by_another_is_served_where_generate_put_it(tmp_path):
    """The gateway, /readyz and the urlconf follow one assignment: a list of patterns with a view of
    Django's, written in catalog/extra.py (the catalog service's) and included by loans/urls.py
    (the loans service's), is the catalog's, as ``decompose plan`` and the gateway say."""
    src = tmp_path / "library"
    shutil.copytree(LIBRARY, src, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3"))
    (src / "catalog/extra.py").write_text(textwrap.dedent("""\
        from django.urls import path
        from django.views.generic import RedirectView

        extra_patterns = [path("about/", RedirectView.as_view(url="/catalog/"), name="about")]
        """))
    urls = src / "loans/urls.py"
    urls.write_text(urls.read_text().replace("from loans import views\n",
                                             "from catalog.extra import extra_patterns\nfrom loans import views\n")
                    .replace('    path("", views.index, name="index"),\n',
                             '    path("", views.index, name="index"),\n    path("more/", include(extra_patterns)),\n')
                    .replace("from django.urls import path", "from django.urls import include, path"))
    (src / "decompose.yaml").write_text(PLAN.replace("catalog.stock,", "catalog.stock, catalog.extra,"))
    out = generate(tmp_path)
    routes = (out / "gateway/app/decompose_gateway/routes.py").read_text()
    assert "('/loans/more/about/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'], 'catalog')" in routes
    code = """
        import json
        from django.urls import resolve
        from decompose_rt import server
        func = resolve("/loans/more/about/").func
        print(json.dumps([server._readiness()[0], getattr(func, "decompose_owner", None)]))
    """
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "DECOMPOSE_RPC_SECRET": "s" * 64}
    assert run_in_service(out / "services/catalog/app", code, env) == [200, None]  # served here, and ready
    assert run_in_service(out / "services/loans/app", code, env) == [200, "catalog"]  # the catalog's


def test_generation_is_deterministic(out, tmp_path):
    again = generate(out.parent, "again")
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and ".decompose-run" not in p.parts)
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((out / f).read_bytes() == (again / f).read_bytes() for f in files)
    assert (out / "services/loans/app/decompose_rt/settings.py").is_file()
    routes = (out / "gateway/app/decompose_gateway/routes.py").read_text()
    assert "('/catalog/books/<int:pk>/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'], 'catalog')" \
        in routes
    assert "('/static/<path:path>', ['GET', 'HEAD'], 'catalog')" in routes


def _get(url: str, data: bytes | None = None) -> tuple[int, Message, bytes]:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_up_local_serves_every_route_through_the_gateway_from_its_own_service(out):
    m = load_manifest(out)
    port = free_port()
    running = up_local(m, port=port, timeout=120)
    try:
        g = running.url
        # migrations ran at start into the one database both services share (the ForeignKey keeps them together)
        dbs = sorted(run_dir(out).glob("volumes/*/*.db"))
        assert [p.name for p in dbs] == ["shared.db"]
        with sqlite3.connect(dbs[0]) as conn:
            conn.execute("INSERT INTO catalog_book (title, slug, copies) VALUES ('Dune', 'dune', 2)")
        status, headers, body = _get(g + "/catalog/")
        assert status == 200 and headers["X-Library"] == "1"  # the monolith's middleware
        page = body.decode()
        assert "<title>Library: catalog</title>" in page  # its context processor
        assert 'href="/loans/book/1/"' in page and 'href="/catalog/books/1/"' in page  # reverse() across services
        assert 'href="/static/catalog/style.css"' in page
        assert _get(g + "/static/catalog/style.css")[2] == b"body { font-family: serif; }\n"
        assert _get(g + "/catalog/books/1.json")[2] == b'{"id": 1, "title": "Dune", "slug": "dune", "copies": 2}'
        assert json.loads(_get(g + "/loans/book/1/")[2]) == {"book": 1, "loans": [], "copies": 2,
                                                              "catalog": "/catalog/books/1/"}
        status, _h, body = _get(g + "/loans/lend/", json.dumps({"book": 1, "borrower": "ann lee", "number": 7}).encode())
        assert (status, json.loads(body)) == (201, {"number": 7, "url": "/loans/book/1/"})
        # the catalog's pre_save receiver (registered by its AppConfig.ready) ran in the loans service
        assert json.loads(_get(g + "/code/7/")[2]) == {"number": 7, "borrower": "Ann Lee", "book": 1}
        assert json.loads(_get(g + "/code/dune/")[2]) == {"id": 1, "title": "Dune"}
        assert "1 on the shelf" in _get(g + "/loans/")[2].decode()
        assert _get(g + "/")[0] == 200  # the redirect home, followed to the catalog
        assert b"Log in | Django site admin" in _get(g + "/admin/login/")[2]
        assert _get(g + "/nope/")[0] == 404
        # each service answers only its own patterns; another's path is a 404 naming its owner
        ports = {name: addr.rsplit(":", 1)[1] for name, addr in running.units.items()}
        status, headers, _b = _get(f"http://127.0.0.1:{ports['loans']}/catalog/")
        assert (status, headers.get("X-Decompose-Route-Owner")) == (404, "catalog")
        status, headers, _b = _get(f"http://127.0.0.1:{ports['catalog']}/code/7/")
        assert (status, headers.get("X-Decompose-Route-Owner")) == (404, "loans")
        for name in ("catalog", "loans"):
            assert json.loads(_get(f"http://127.0.0.1:{ports[name]}/readyz")[2])["status"] == "ready"
        # the loans views ask the catalog for its stock over RPC
        log = (run_dir(out) / "logs/catalog.log").read_text()
        assert "POST /_rpc/catalog.stock.copies_of" in log and "POST /_rpc/catalog.stock.shelf_total" in log
    finally:
        down_local(out)
