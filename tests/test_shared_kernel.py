"""A live-object hub with a large library behind it is a shared kernel, not one service.

privacyIDEA 3.14: ``privacyidea.lib.token.get_tokens()`` returns ``TokenClass`` objects
(behaviour, a live database row inside) to every API blueprint, ``api.lib.utils.send_result``
returns a Flask ``Response`` to all of them.  Each is a live-object bond; the helpers import
most of ``privacyidea.lib`` (about 200 modules), too much for the small closure a bond was
shared with (``MAX_BOND_SHARE``), so the bonds merged every blueprint into one service of
half the project.  A hub called from three or more domains is now shared with its whole
closure when none of it is an app's module or a route module (code that serves one domain);
the Alembic revisions of the tables that library defines go with it into the shared library.
"""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from decompose.cli import app
from tests.generate_support import write_tree

#: a library of ten modules behind the hub: lib.tokens -> lib.policy -> lib.step1 ... lib.step8
CHAIN = {f"vault/lib/step{i}.py": (f"from vault.lib.step{i + 1} import f{i + 1}\n\n\ndef f{i}():\n    return f{i + 1}()\n"
                                   if i < 8 else "def f8():\n    return 1\n") for i in range(1, 9)}

FILES = {
    "vault/__init__.py": "",
    "vault/app.py": '''
        from flask import Flask

        from vault.api.audit import audit_bp
        from vault.api.token import token_bp
        from vault.api.user import user_bp


        def create_app():
            app = Flask(__name__)
            for bp in (token_bp, user_bp, audit_bp):
                app.register_blueprint(bp)
            return app
    ''',
    "vault/db.py": '''
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()
    ''',
    "vault/lib/__init__.py": "",
    "vault/lib/models.py": '''
        from vault.db import db


        class Token(db.Model):
            __tablename__ = "token"
            id = db.Column(db.Integer, primary_key=True)
            serial = db.Column(db.String(40))
    ''',
    "vault/lib/tokens.py": '''
        from vault.lib.models import Token
        from vault.lib.policy import check_policy


        class TokenClass:
            def __init__(self, row):
                self.row = row

            def check_pin(self, pin):
                return check_policy() and bool(pin)

            def serial(self):
                return self.row.serial


        def get_tokens(serial=None) -> list[TokenClass]:
            return [TokenClass(t) for t in Token.query.filter_by(serial=serial)]
    ''',
    "vault/lib/policy.py": '''
        from vault.lib.step1 import f1


        def check_policy():
            return f1() > 0
    ''',
    **{k: v for k, v in CHAIN.items()},
    "vault/api/__init__.py": "",
    "vault/api/token.py": '''
        from flask import Blueprint

        from vault.lib.tokens import get_tokens

        token_bp = Blueprint("token", __name__, url_prefix="/token")


        @token_bp.route("/<serial>")
        def show(serial):
            return {"serials": [t.serial() for t in get_tokens(serial)]}
    ''',
    "vault/api/user.py": '''
        from flask import Blueprint

        from vault.lib.tokens import get_tokens

        user_bp = Blueprint("user", __name__, url_prefix="/user")


        @user_bp.route("/<name>/tokens")
        def tokens(name):
            return {"count": len(get_tokens(name))}
    ''',
    "vault/api/audit.py": '''
        from flask import Blueprint

        from vault.lib.tokens import get_tokens

        audit_bp = Blueprint("audit", __name__, url_prefix="/audit")


        @audit_bp.route("/<serial>")
        def check(serial):
            return {"ok": all(t.check_pin("x") for t in get_tokens(serial))}
    ''',
    "vault/migrations/__init__.py": "",
    "vault/migrations/env.py": "from alembic import context\n",
    "vault/migrations/versions/__init__.py": "",
    "vault/migrations/versions/0001_token.py": '''
        from alembic import op
        import sqlalchemy as sa

        revision, down_revision = "0001", None


        def upgrade():
            op.create_table("token", sa.Column("id", sa.Integer))
    ''',
}


def _plan(tmp_path, files):
    root = write_tree(tmp_path / "vault-app", files)
    out = tmp_path / "plan.yaml"
    r = CliRunner().invoke(app, ["plan", str(root), "-o", str(out), "--no-history"])
    assert r.exit_code == 0, r.output
    plan = yaml.safe_load(out.read_text())
    return plan, {m: n for n, s in plan["services"].items() for m in s["modules"]}


def test_a_hub_with_a_large_library_is_shared_and_the_blueprints_stay_apart(tmp_path):
    plan, owner = _plan(tmp_path, FILES)
    shared = set(plan["shared"]["modules"])
    lib = {"vault.lib.tokens", "vault.lib.policy", "vault.lib.models", *(f"vault.lib.step{i}" for i in range(1, 9))}
    assert lib <= shared, sorted(lib - shared)
    assert len({owner["vault.api.token"], owner["vault.api.user"], owner["vault.api.audit"]}) == 3
    # the layer package above them defines nothing: shared, not the tie that merges them
    assert "vault.api" in shared
    # the revision of a table the shared library defines is shared too
    assert "vault.migrations.versions.0001_token" in shared


def test_a_hub_whose_library_holds_a_route_module_still_bonds(tmp_path):
    # the library imports a blueprint's module: sharing it would copy that domain's routes
    # into every service, so the bond stays and merges the callers instead
    files = dict(FILES)
    files["vault/lib/step8.py"] = "from vault.api.token import token_bp\n\n\ndef f8():\n    return len(token_bp.name)\n"
    plan, owner = _plan(tmp_path, files)
    assert "vault.lib.tokens" not in plan["shared"]["modules"]
    assert owner["vault.api.user"] == owner["vault.api.audit"] == owner["vault.lib.tokens"]
