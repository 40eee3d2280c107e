"""A client re-exporting classes of a borrowed module, re-entered by an import cycle (issue 10).

LNbits: ``lnbits/core/helpers.py`` (service extensions) imports ``is_wasm_extension_id`` from
``lnbits.core.wasm_ext.wasm.loader`` (service wasm-ext); ``lnbits/core/wasm_ext/__init__.py``
imports ``.wasm.loader``, whose package ``wasm/__init__.py`` imports ``.events`` ->
``invoke`` (service extensions) -> ``from ...wasm.loader import WasmExtension``.  In the
monolith the cycle ends at the loader module, loaded whole at that point.  In the split
system both importers use the client of the loader, which re-exports the class from the
borrowed loader: the client's own first import ran the package chain, which came back to
the half-initialised client: ``ImportError: cannot import name 'WasmExtension' from
partially initialized module`` and the service did not boot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from decompose.cli import app
from decompose.planning.plan import Plan, Service
from decompose.planning.planfile import save_plan
from tests.generate_support import write_tree

DESK = {
    "desk/__init__.py": "",
    "desk/app.py": '''
        from flask import Flask

        from desk.core.views import bp as core_bp
        from desk.ext.views import bp as ext_bp


        def create_app():
            app = Flask(__name__)
            app.register_blueprint(core_bp)
            app.register_blueprint(ext_bp)
            return app
    ''',
    "desk/ext/__init__.py": '''
        from .wasm.loader import Extension
    ''',
    "desk/ext/wasm/__init__.py": '''
        from .events import dispatch
    ''',
    "desk/ext/wasm/events.py": '''
        from desk.ext.wasm.invoke import invoke


        def dispatch(name):
            return invoke(name)
    ''',
    "desk/ext/wasm/invoke.py": '''
        from desk.ext.wasm.loader import Extension


        def invoke(name):
            return Extension(name).run()
    ''',
    "desk/ext/wasm/loader.py": '''
        class Extension:
            def __init__(self, name):
                self.name = name

            def run(self):
                return f"ran:{self.name}"


        def is_ext_id(ext_id: str) -> bool:
            return ext_id.startswith("ext")
    ''',
    "desk/ext/views.py": '''
        from flask import Blueprint

        from desk.ext.wasm.loader import is_ext_id

        bp = Blueprint("ext", __name__, url_prefix="/ext")


        @bp.get("/<ext_id>")
        def check(ext_id):
            return {"ok": is_ext_id(ext_id)}
    ''',
    "desk/core/__init__.py": "",
    "desk/core/helpers.py": '''
        from desk.ext.wasm.loader import is_ext_id


        def valid(ext_id):
            return is_ext_id(ext_id)
    ''',
    "desk/core/views.py": '''
        from flask import Blueprint

        from desk.core.helpers import valid
        from desk.ext.wasm import dispatch

        bp = Blueprint("core", __name__, url_prefix="/core")


        @bp.get("/<name>")
        def run(name):
            return {"valid": valid(name), "ran": dispatch(name)}
    ''',
}

SERVICES = {
    "wasm": ["desk.ext", "desk.ext.wasm", "desk.ext.wasm.loader", "desk.ext.views"],
    "core": ["desk.core", "desk.core.helpers", "desk.core.views", "desk.ext.wasm.events", "desk.ext.wasm.invoke"],
}


def _plan(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "mono", DESK)
    plan = Plan(project="desk", source=str(root),
                services={n: Service(name=n, modules=m) for n, m in SERVICES.items()},
                shared=["desk", "desk.app"])
    save_plan(plan, tmp_path / "decompose.yaml")
    return tmp_path / "decompose.yaml"


def test_a_client_re_entered_by_an_import_cycle_of_its_borrowed_module_still_imports(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["generate", "--plan", str(_plan(tmp_path)), "--output", str(out)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "decompose-output.json").read_text())
    src = out / next(u["source"] for u in manifest["services"] if u["name"] == "core")
    client = (src / "decompose_rt" / "clients" / "desk_ext_wasm_loader.py").read_text()
    assert "from desk.ext.wasm.loader import (" in client   # the class, from the borrowed module
    assert "def is_ext_id(ext_id: str) -> bool:" in client   # the function, over RPC
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
    env["PYTHONPATH"] = str(src)
    # the import order of the monolith's failure: the helper first, then the service's app
    check = ("import desk.core.helpers; from desk.ext.wasm.invoke import invoke; print(invoke('x')); "
             "import decompose_rt.server")
    r = subprocess.run([sys.executable, "-c", check], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["ran:x"]


# privacyIDEA: privacyidea/models/__init__.py imports `.db` then `.audit`; the shared
# models/audit.py does `from privacyidea.models import db` (the package's object, bound
# already at that point of the package's import). In a service whose code reaches the package
# first through a borrowed module, audit's import goes to the client of the package, whose
# import of all it re-exports (AuthCache too, not bound yet) ran while the package was half done.
MODELS = {
    "desk/__init__.py": "",
    "desk/app.py": '''
        from flask import Flask

        from desk.mail.views import bp as mail_bp
        from desk.tickets.views import bp as tickets_bp


        def create_app():
            app = Flask(__name__)
            app.register_blueprint(mail_bp)
            app.register_blueprint(tickets_bp)
            return app
    ''',
    "desk/models/__init__.py": '''
        from .db import db
        from .audit import Audit
        from .cache import AuthCache
    ''',
    "desk/models/db.py": '''
        class SQLAlchemy:
            def __init__(self):
                self.tables = []


        db = SQLAlchemy()
    ''',
    "desk/models/audit.py": '''
        from desk.models import db


        class Audit:
            table = "audit"


        db.tables.append(Audit.table)
    ''',
    "desk/models/cache.py": '''
        class AuthCache:
            table = "authcache"
    ''',
    "desk/tickets/__init__.py": "",
    "desk/tickets/forms.py": '''
        from desk.models import AuthCache


        class TicketForm:
            cache = AuthCache
    ''',
    "desk/tickets/views.py": '''
        from flask import Blueprint

        from desk.tickets.forms import TicketForm

        bp = Blueprint("tickets", __name__, url_prefix="/tickets")


        @bp.get("/")
        def tickets():
            return {"cache": TicketForm.cache.table}
    ''',
    "desk/mail/__init__.py": "",
    "desk/mail/views.py": '''
        from flask import Blueprint

        from desk.tickets.forms import TicketForm
        from desk.models import AuthCache

        bp = Blueprint("mail", __name__, url_prefix="/mail")


        def tables():
            return [TicketForm.cache.table, AuthCache.table]


        @bp.get("/")
        def mail():
            return {"tables": tables()}
    ''',
}


def test_a_client_of_a_package_asked_for_a_name_while_that_package_is_half_imported(tmp_path):
    root = write_tree(tmp_path / "mono", MODELS)
    services = {"tickets": ["desk.models", "desk.models.cache", "desk.tickets", "desk.tickets.forms",
                            "desk.tickets.views"],
                "mail": ["desk.mail", "desk.mail.views"]}
    plan = Plan(project="desk", source=str(root), services={n: Service(name=n, modules=m) for n, m in services.items()},
                shared=["desk", "desk.app", "desk.models.db", "desk.models.audit"])
    save_plan(plan, tmp_path / "decompose.yaml")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "decompose.yaml"), "--output", str(out)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "decompose-output.json").read_text())
    src = out / next(u["source"] for u in manifest["services"] if u["name"] == "mail")
    audit = (src / "desk" / "models" / "audit.py").read_text()
    assert "from decompose_rt.clients.desk_models import db" in audit   # the package's object
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
    env["PYTHONPATH"] = str(src)
    check = ("from desk.mail.views import tables; print(*tables()); import desk.models; print(*desk.models.db.tables); "
             "import decompose_rt.server")
    r = subprocess.run([sys.executable, "-c", check], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["authcache", "authcache", "audit"]


# privacyIDEA: lib/tokens/passkeytoken.py does `from privacyidea.lib import fido2` (an empty
# package) and calls `fido2.challenge.verify_fido2_challenge(...)` later; lib/fido2/challenge.py
# imports passkeytoken's class. The client of the package re-exported the submodule by
# importing it at once, while passkeytoken was half imported: ImportError, the service did not boot.
PASSKEY = {
    "desk/__init__.py": "",
    "desk/app.py": '''
        from flask import Flask

        from desk.fido.views import bp as fido_bp
        from desk.tokens.views import bp as tokens_bp


        def create_app():
            app = Flask(__name__)
            app.register_blueprint(fido_bp)
            app.register_blueprint(tokens_bp)
            return app
    ''',
    "desk/fido/__init__.py": "",
    "desk/fido/challenge.py": '''
        from desk.tokens.passkey import PasskeyToken


        def verify(token):
            return isinstance(token, PasskeyToken)
    ''',
    "desk/fido/views.py": '''
        from flask import Blueprint

        from desk.fido.challenge import verify

        bp = Blueprint("fido", __name__, url_prefix="/fido")


        @bp.get("/")
        def check():
            return {"ok": verify(None)}
    ''',
    "desk/tokens/__init__.py": "",
    "desk/tokens/passkey.py": '''
        from desk import fido


        class PasskeyToken:
            def check(self):
                return fido.challenge.verify(self)
    ''',
    "desk/tokens/views.py": '''
        from flask import Blueprint

        from desk.tokens.passkey import PasskeyToken

        bp = Blueprint("tokens", __name__, url_prefix="/tokens")


        @bp.get("/")
        def tokens():
            return {"ok": PasskeyToken().check()}
    ''',
}


def test_a_submodule_the_client_offers_is_imported_when_asked_for_not_at_the_clients_import(tmp_path):
    root = write_tree(tmp_path / "mono", PASSKEY)
    services = {"fido": ["desk.fido", "desk.fido.challenge", "desk.fido.views"],
                "tokens": ["desk.tokens", "desk.tokens.passkey", "desk.tokens.views"]}
    plan = Plan(project="desk", source=str(root), services={n: Service(name=n, modules=m) for n, m in services.items()},
                shared=["desk", "desk.app"])
    save_plan(plan, tmp_path / "decompose.yaml")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "decompose.yaml"), "--output", str(out)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "decompose-output.json").read_text())
    src = out / next(u["source"] for u in manifest["services"] if u["name"] == "tokens")
    passkey = (src / "desk" / "tokens" / "passkey.py").read_text()
    assert "from decompose_rt.clients import desk_fido as fido" in passkey
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
    env["PYTHONPATH"] = str(src)
    check = "from desk.tokens.passkey import PasskeyToken; print(PasskeyToken().check()); import decompose_rt.server"
    r = subprocess.run([sys.executable, "-c", check], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["True"]
