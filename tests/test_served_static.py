"""The app's static folder goes only where it is served or read (issue 10, generate speed).

privacyIDEA 3.14 builds its app with ``Flask(__name__, static_folder=
DefaultConfigValues.STATIC_FOLDER)``: ``privacyidea/static/`` holds 281 MB of compiled
WebUI, and every one of the default plan's 18 services copied it with the ``privacyidea``
package (5.1 of the 5.6 GB generate wrote).  Flask serves that folder at ``/static/<path>``,
which the gateway sends to the default service (no route claims it), and never reads it at
start; code reading ``current_app.static_folder`` (the WebUI's login view) needs it too.
The others start and answer without it.  Templates and other data folders stay everywhere.
"""

from __future__ import annotations

import httpx

from decompose.analysis.facts import ModuleFacts
from decompose.frameworks.base import AppInfo
from decompose.frameworks.flask import Flask
from tests.generate_support import Running, generate_fixture, unit_source

DESK = {
    "desk/__init__.py": "",
    "desk/config.py": '''
        class DefaultConfigValues:
            STATIC_FOLDER = "static/"
            TEMPLATE_FOLDER = "templates/"
    ''',
    "desk/app.py": '''
        from flask import Flask

        from desk.config import DefaultConfigValues
        from desk.tickets.views import bp as tickets_bp
        from desk.reports.views import bp as reports_bp
        from desk.accounts.views import bp as accounts_bp


        def create_app():
            app = Flask(__name__, static_folder=DefaultConfigValues.STATIC_FOLDER)
            app.register_blueprint(tickets_bp, url_prefix="/tickets")
            app.register_blueprint(reports_bp, url_prefix="/reports")
            app.register_blueprint(accounts_bp, url_prefix="/accounts")
            return app
    ''',
    "desk/static/app.js": "console.log('desk');\n",
    "desk/static/css/site.css": "body { margin: 0 }\n",
    "desk/templates/page.html": "<p>{{ text }}</p>\n",
    "desk/tickets/__init__.py": "",
    "desk/tickets/views.py": '''
        from flask import Blueprint, render_template

        bp = Blueprint("tickets", __name__)


        @bp.route("/")
        def index():
            return render_template("page.html", text="tickets")


        @bp.route("/<int:n>")
        def one(n):
            return {"ticket": n}
    ''',
    "desk/reports/__init__.py": "",
    "desk/reports/views.py": '''
        import os

        from flask import Blueprint, current_app

        bp = Blueprint("reports", __name__)


        @bp.route("/asset")
        def asset():
            with open(os.path.join(current_app.static_folder, "app.js")) as f:
                return {"size": len(f.read())}
    ''',
    "desk/accounts/__init__.py": "",
    "desk/accounts/views.py": '''
        from flask import Blueprint, render_template

        bp = Blueprint("accounts", __name__)


        @bp.route("/")
        def index():
            return render_template("page.html", text="accounts")
    ''',
}

SERVICES = {"tickets": ["desk.tickets", "desk.tickets.views"], "reports": ["desk.reports", "desk.reports.views"],
            "accounts": ["desk.accounts", "desk.accounts.views"]}


def _facts(files: dict[str, str]) -> dict[str, ModuleFacts]:
    out = {}
    for rel in files:
        if rel.endswith(".py"):
            m = rel[:-3].replace("/", ".").removesuffix(".__init__")
            out[m] = ModuleFacts(module=m, path=rel, is_package=rel.endswith("__init__.py"))
    return out


def _served(app_source: str, factory: str = "desk.app:create_app") -> list[str]:
    files = {"desk/__init__.py": "", "desk/app.py": app_source}
    sources = {"desk": "", "desk.app": app_source}
    return Flask().served_static(_facts(files), sources, AppInfo(module="desk.app", factory=factory))


def test_the_static_folder_is_the_constructors_argument_relative_to_the_app_module():
    assert _served("from flask import Flask\ndef create_app():\n    return Flask(__name__)\n") == ["desk/static"]
    assert _served("from flask import Flask\ndef create_app():\n    return Flask(__name__, None, 'assets/')\n") \
        == ["desk/assets"]
    assert _served("from flask import Flask\napp = Flask(__name__, static_folder='./web/dist')\n",
                   "desk.app:app") == ["desk/web/dist"]
    # none served: no static folder, a computed, absolute or escaping path (copied as any data)
    for given in ("None", "os.environ['STATIC']", "'/srv/static'", "'../static'"):
        src = f"import os\nfrom flask import Flask\ndef create_app():\n    return Flask(__name__, static_folder={given})\n"
        assert _served(src) == [], given


def test_only_the_default_service_and_readers_of_the_static_folder_hold_it_and_all_serve(tmp_path):
    out, manifest = generate_fixture(tmp_path, DESK, SERVICES, ["desk", "desk.app", "desk.config"])
    assert manifest["gateway"]["default_service"] == "tickets"  # the most routes
    held = {name: (unit_source(out, manifest, name) / "desk" / "static" / "app.js").is_file() for name in SERVICES}
    assert held == {"tickets": True, "reports": True, "accounts": False}
    for name in SERVICES:  # templates are not the static folder: every service renders with them
        assert (unit_source(out, manifest, name) / "desk" / "templates" / "page.html").is_file()
    assert not (unit_source(out, manifest, "accounts") / "desk" / "static").exists()

    run = Running(out, tmp_path / "data").start()
    try:
        gw = run.url("gateway")
        r = httpx.get(gw + "/static/css/site.css", timeout=20)
        assert r.status_code == 200 and r.text == "body { margin: 0 }\n"
        assert httpx.get(gw + "/reports/asset", timeout=20).json() == {"size": len("console.log('desk');\n")}
        r = httpx.get(gw + "/accounts/", timeout=20)
        assert r.status_code == 200 and r.text == "<p>accounts</p>"
        assert httpx.get(gw + "/tickets/7", timeout=20).json() == {"ticket": 7}
    finally:
        run.stop()
