"""A package binding a name equal to one of its own submodules (issue 10).

LNbits' ``lnbits/core/__init__.py`` does ``from .db import core_app_extra, db`` (``db`` a
``Database`` object of ``lnbits/core/db.py``) and ``lnbits/commands.py`` then does ``from
lnbits.core import db as core_db; core_db.connect()``; privacyIDEA's ``models/__init__.py``
does ``from .db import db`` and ``lib/smtpserver.py`` ``from privacyidea.models import
SMTPServer as SMTPServerDB, db``.  In Python both names are the package's attribute, which
the package's own binding overwrote after importing the submodule: the object, not the
module.  decompose took ``core_db.connect`` for a function ``connect`` of module
``lnbits.core.db`` and generated a client re-exporting it (ImportError at boot), and gave
privacyIDEA's importer a client of ``privacyidea.models`` without ``db``.
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
from decompose.analysis.resolve import shadowed_submodules, use_module
from decompose.cli import app
from decompose.generation.output import generation_for
from decompose.planning.plan import Plan, Service
from decompose.planning.planfile import save_plan
from tests.generate_support import write_tree

DESK = {
    "desk/__init__.py": "",
    "desk/app.py": '''
        from flask import Flask

        from desk.core.views import bp as core_bp
        from desk.mail.views import bp as mail_bp
        from desk.tickets.views import bp as tickets_bp


        def create_app():
            app = Flask(__name__)
            app.register_blueprint(core_bp)
            app.register_blueprint(mail_bp)
            app.register_blueprint(tickets_bp)
            return app
    ''',
    # LNbits' shape: the package re-exports a module-level object of its submodule `db`
    "desk/core/__init__.py": '''
        from .db import core_extra, db

        __all__ = ["core_extra", "db"]
    ''',
    "desk/core/db.py": '''
        class Database:
            def __init__(self, name):
                self.name = name

            def connect(self):
                return f"connected:{self.name}"


        db = Database("core")
        core_extra = {"name": "core"}
    ''',
    "desk/core/views.py": '''
        from flask import Blueprint

        from desk.core.db import db

        bp = Blueprint("core", __name__, url_prefix="/core")


        @bp.get("/ping")
        def ping():
            return {"db": db.name}
    ''',
    # privacyIDEA's shape: the models package imports `db` from its submodule `db`
    "desk/tickets/__init__.py": "",
    "desk/tickets/models/__init__.py": '''
        from .db import db


        class Ticket:
            def __init__(self, title):
                self.title = title

            def save(self):
                db.session.add(self)
                return self
    ''',
    "desk/tickets/models/db.py": '''
        class Session:
            def __init__(self):
                self.added = []

            def add(self, obj):
                self.added.append(obj)


        class SQLAlchemy:
            def __init__(self):
                self.session = Session()


        db = SQLAlchemy()
    ''',
    "desk/tickets/views.py": '''
        from flask import Blueprint

        from desk.tickets.models import Ticket

        bp = Blueprint("tickets", __name__, url_prefix="/tickets")


        @bp.get("/")
        def tickets():
            return {"title": Ticket("t").save().title}
    ''',
    "desk/mail/__init__.py": "",
    "desk/mail/views.py": '''
        from flask import Blueprint

        from desk.core import db as core_db
        from desk.tickets.models import Ticket as TicketDB, db

        bp = Blueprint("mail", __name__, url_prefix="/mail")


        def connect_core():
            return core_db.connect()


        def store(title):
            ticket = TicketDB(title)
            db.session.add(ticket)
            return len(db.session.added)


        @bp.get("/send")
        def send():
            return {"core": connect_core(), "stored": store("hello")}
    ''',
}

SERVICES = {
    "core": ["desk.core", "desk.core.db", "desk.core.views"],
    "tickets": ["desk.tickets", "desk.tickets.models", "desk.tickets.models.db", "desk.tickets.views"],
    "mail": ["desk.mail", "desk.mail.views"],
}


def _write(root: Path) -> None:
    write_tree(root, DESK)


def _facts():
    out = []
    for rel, text in DESK.items():
        module = rel[:-3].replace("/", ".").removesuffix(".__init__")
        out.append(parse_module(textwrap.dedent(text).lstrip("\n").encode(), module, rel, rel.endswith("__init__.py")))
    return out


def _plan(tmp_path: Path) -> Path:
    root = tmp_path / "mono"
    _write(root)
    plan = Plan(project="desk", source=str(root),
                services={n: Service(name=n, modules=m) for n, m in SERVICES.items()},
                shared=["desk", "desk.app"])
    save_plan(plan, tmp_path / "decompose.yaml")
    return tmp_path / "decompose.yaml"


def test_a_package_binding_its_submodules_name_shadows_the_submodule():
    facts = _facts()
    modules = {f.module for f in facts}
    assert shadowed_submodules(facts) == {"desk.core.db", "desk.tickets.models.db"}
    # `from . import x` binds the submodule itself: no shadow
    pkg = parse_module(b"from . import db\nfrom .db import Database\n", "desk.core", "desk/core/__init__.py", True)
    assert shadowed_submodules([pkg, *[f for f in facts if f.module != "desk.core"]]) == {"desk.tickets.models.db"}
    mail = next(f for f in facts if f.module == "desk.mail.views")
    shadowed = shadowed_submodules(facts)
    landed = {(u.target, use_module(u.target, modules, shadowed, u.start)) for u in mail.uses}
    assert ("desk.core.db.connect", "desk.core") in landed   # core_db.connect: attribute db of desk.core
    assert ("desk.tickets.models.db.session.add", "desk.tickets.models") in landed
    # `from desk.core.db import db` goes through sys.modules: the submodule
    views = next(f for f in facts if f.module == "desk.core.views")
    assert {(u.target, use_module(u.target, modules, shadowed, u.start)) for u in views.uses
            if u.target.startswith("desk.")} == {("desk.core.db.db.name", "desk.core.db")}


def test_the_symbol_graph_and_module_edges_follow_python():
    g = build_graph(_facts())
    sym = set(g.symbols.edges())
    assert ("desk.mail.views:connect_core", "desk.core:db") in sym
    assert ("desk.mail.views:store", "desk.tickets.models:db") in sym
    assert not any(dst in ("desk.core.db:connect", "desk.tickets.models.db:session") for _, dst in sym)
    # the importer depends on the package, whose __init__ imports the submodule
    assert g.internal.has_edge("desk.mail.views", "desk.core")
    assert not g.internal.has_edge("desk.mail.views", "desk.core.db")
    assert g.internal.has_edge("desk.core", "desk.core.db")
    assert g.internal.has_edge("desk.core.views", "desk.core.db")   # from desk.core.db import db


def test_clients_offer_the_packages_object_and_imports_take_it_from_there(tmp_path):
    gen, *_ = generation_for(_plan(tmp_path), use_cache=False)
    mail = gen.services["mail"]
    assert "desk.core.db" not in mail.clients
    assert "desk.tickets.models.db" not in mail.clients
    assert "db" in mail.clients["desk.core"].reexports
    assert {"Ticket", "db"} <= set(mail.clients["desk.tickets.models"].reexports)
    assert mail.rewrites["desk.mail.views"] == {"desk.core": "decompose_rt.clients.desk_core",
                                                "desk.tickets.models": "decompose_rt.clients.desk_tickets_models"}


def test_the_service_importing_the_object_from_another_service_boots_and_uses_it(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["generate", "--plan", str(_plan(tmp_path)), "--output", str(out)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "decompose-output.json").read_text())
    src = out / next(u["source"] for u in manifest["services"] if u["name"] == "mail")
    views = (src / "desk" / "mail" / "views.py").read_text()
    assert "from decompose_rt.clients.desk_core import db as core_db" in views
    assert "from decompose_rt.clients.desk_tickets_models import Ticket as TicketDB" in views
    assert "from decompose_rt.clients.desk_tickets_models import db" in views
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
    env["PYTHONPATH"] = str(src)
    check = ("import decompose_rt.server as s; from desk.mail.views import connect_core, store; "
             "print(connect_core(), store('a'))")
    r = subprocess.run([sys.executable, "-c", check], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["connected:core", "1"]
