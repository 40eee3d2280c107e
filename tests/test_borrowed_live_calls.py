"""A borrowed module's calls that pass live objects stay in-process (issue 10).

LNbits' ``lnbits/decorators.py`` (FastAPI dependencies, owned by the extensions' service)
is borrowed into ``admin-api``, which injects its ``check_admin``.  Inside it,
``_get_account_from_token`` calls ``get_account(payload.usr, conn=conn)`` of
``lnbits/core/crud`` with the live database connection.  The plan keeps the two modules
in one service, but generation rewrote the borrowed copy's import of crud to an RPC
client: ~123 tests of LNbits' suite failed with ``EncodeError: cannot send a
lnbits.db.Connection``.  A copied module that is not its service's own (borrowed, or the
shared library) must keep its live-object calls local: the callee is borrowed with it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.generate_support import generate_fixture, unit_source

DESK = {
    "desk/__init__.py": "",
    "desk/db.py": '''
        import sqlite3


        class Connection:
            """An open database connection: a live object, never sent over HTTP."""

            def __init__(self) -> None:
                self.raw = sqlite3.connect(":memory:")

            def scalar(self, query: str) -> int:
                return self.raw.execute(query).fetchone()[0]


        def connect() -> Connection:
            return Connection()
    ''',
    "desk/app.py": '''
        from flask import Flask

        from desk.accounts.views import bp as accounts_bp
        from desk.admin.views import bp as admin_bp


        def create_app():
            app = Flask(__name__)
            app.register_blueprint(accounts_bp)
            app.register_blueprint(admin_bp)
            return app
    ''',
    "desk/accounts/__init__.py": "",
    "desk/accounts/crud.py": '''
        from desk.db import Connection


        def get_account(uid: str, conn: Connection) -> dict:
            return {"id": uid, "checked": conn.scalar("select 41 + 1")}
    ''',
    "desk/accounts/guards.py": '''
        from functools import wraps

        from flask import request

        from desk.accounts.crud import get_account
        from desk.db import connect


        def require_account(view):
            @wraps(view)
            def wrapped(*args, **kwargs):
                account = get_account(request.args.get("usr", "anon"), conn=connect())
                return view(account, *args, **kwargs)
            return wrapped
    ''',
    "desk/accounts/views.py": '''
        from flask import Blueprint

        from desk.accounts.crud import get_account
        from desk.db import connect

        bp = Blueprint("accounts", __name__, url_prefix="/accounts")


        @bp.get("/<uid>")
        def show(uid):
            return get_account(uid, conn=connect())
    ''',
    "desk/admin/__init__.py": "",
    "desk/admin/views.py": '''
        from flask import Blueprint

        from desk.accounts.guards import require_account

        bp = Blueprint("admin", __name__, url_prefix="/admin")


        @bp.get("/")
        @require_account
        def index(account):
            return {"admin": account}
    ''',
}


@pytest.mark.parametrize("guards_in", ["accounts", "shared"])
def test_a_borrowed_or_shared_modules_live_object_call_borrows_its_callee(tmp_path, guards_in):
    accounts = ["desk.accounts", "desk.accounts.crud", "desk.accounts.views"]
    shared = ["desk", "desk.app", "desk.db"]
    (accounts if guards_in == "accounts" else shared).append("desk.accounts.guards")
    services = {"accounts": accounts, "admin": ["desk.admin", "desk.admin.views"]}
    out, manifest = generate_fixture(tmp_path, DESK, services, shared)
    src = unit_source(out, manifest, "admin")
    # the decorator's module is borrowed, and so is the module it hands the live connection to
    assert (src / "desk" / "accounts" / "guards.py").is_file()
    assert (src / "desk" / "accounts" / "crud.py").is_file()
    guards = (src / "desk" / "accounts" / "guards.py").read_text()
    assert "from desk.accounts.crud import get_account" in guards, guards
    (unit,) = [u for u in manifest["services"] if u["name"] == "admin"]
    assert "desk.accounts.crud" in unit["borrowed_modules"]
    why = "desk.accounts.guards calls desk.accounts.crud.get_account, which passes live objects"
    assert why in (out / "MIGRATION.md").read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
    env["PYTHONPATH"] = str(src)
    check = ("from flask import Flask; from desk.admin.views import bp; app = Flask('t'); app.register_blueprint(bp); "
             "print(app.test_client().get('/admin/?usr=ada').get_json())")
    r = subprocess.run([sys.executable, "-c", check], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "{'admin': {'checked': 42, 'id': 'ada'}}"
