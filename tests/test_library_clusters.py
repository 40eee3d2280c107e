"""Libraries are no services; what the shared library imports is shared (issue 11).

FlaskBB 2.2.0's default plan had services named ``configs`` (imported only by the app
factory, which is shared), ``utils``, ``fixtures``, ``tokens`` and ``cli``: clusters of
the community step holding no route, no table and no module of an app.  A domain expert
draws services around domains; such code goes with the domain it serves, and the
configuration the shared app factory imports is part of the shared library (left in a
service, every service's copy of the factory would need that service's code).  The
fixture is FlaskBB's shape in small: blueprints with their models, a ``configs`` package
only the factory reads, a tightly knit ``utils`` package only the forum uses.
"""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from decompose.cli import app
from tests.generate_support import write_tree

UTILS = {
    f"board/utils/{name}.py": "".join(f"from board.utils.{o} import {o}_helper\n" for o in others)
    + f"\n\ndef {name}_helper(text):\n    return " + " + ".join([*(f"{o}_helper(text)" for o in others), "text"]) + "\n"
    for name, others in {
        "text": ["markup", "dates"], "markup": ["dates", "links"], "dates": ["links"], "links": [],
        "paging": ["text", "markup", "dates", "links"],
    }.items()
}

#: the other blueprints, each a package with its table and its views (FlaskBB has user, management, auth, message)
DOMAINS = ("user", "message", "search", "badge", "notify")


def _domain(d: str) -> dict[str, str]:
    cls = d.capitalize() + "Row"
    return {
        f"board/{d}/__init__.py": "",
        f"board/{d}/models.py": (f"from board.extensions import db\n\n\nclass {cls}(db.Model):\n"
                                 f"    __tablename__ = \"{d}_rows\"\n    id = db.Column(db.Integer, primary_key=True)\n"
                                 f"    name = db.Column(db.String(80))\n"),
        f"board/{d}/views.py": (f"from flask import Blueprint, jsonify\n\nfrom board.{d}.models import {cls}\n\n"
                                f"{d}_bp = Blueprint(\"{d}\", __name__)\n\n\n@{d}_bp.route(\"/rows\")\n"
                                f"def rows():\n    return jsonify([r.name for r in {cls}.query.all()])\n"),
    }


FILES = {
    "board/__init__.py": "",
    "board/app.py": '''
        from flask import Flask

        from board.configs.default import DefaultConfig
        from board.forum.views import forum_bp
        from board.blueprints import BLUEPRINTS


        def create_app():
            app = Flask(__name__)
            app.config.from_object(DefaultConfig)
            app.register_blueprint(forum_bp, url_prefix="/forum")
            for bp in BLUEPRINTS:
                app.register_blueprint(bp, url_prefix="/" + bp.name)
            return app
    ''',
    "board/blueprints.py": "".join(f"from board.{d}.views import {d}_bp\n" for d in DOMAINS)
    + "\nBLUEPRINTS = [" + ", ".join(f"{d}_bp" for d in DOMAINS) + "]\n",
    "board/configs/__init__.py": "",
    "board/configs/default.py": '''
        import os


        class DefaultConfig:
            SECRET_KEY = os.environ.get("SECRET_KEY", "dev")
            SQLALCHEMY_DATABASE_URI = "sqlite:///board.db"
    ''',
    "board/extensions.py": '''
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()
    ''',
    "board/forum/__init__.py": "",
    "board/forum/models.py": '''
        from board.extensions import db


        class Topic(db.Model):
            __tablename__ = "topics"
            id = db.Column(db.Integer, primary_key=True)
            title = db.Column(db.String(200))
    ''',
    "board/forum/views.py": '''
        from flask import Blueprint, jsonify

        from board.forum.models import Topic
        from board.utils.paging import paging_helper

        forum_bp = Blueprint("forum", __name__)


        @forum_bp.route("/topics")
        def topics():
            return jsonify([paging_helper(t.title) for t in Topic.query.all()])
    ''',
    "board/utils/__init__.py": "",
    **UTILS,
    **{path: text for d in DOMAINS for path, text in _domain(d).items()},
}


def _plan(tmp_path):
    root = write_tree(tmp_path / "board-app", FILES)
    out = tmp_path / "plan.yaml"
    r = CliRunner().invoke(app, ["plan", str(root), "-o", str(out), "--no-history"])
    assert r.exit_code == 0, r.output
    plan = yaml.safe_load(out.read_text())
    return plan, {m: n for n, s in plan["services"].items() for m in s["modules"]}


def test_the_configuration_the_shared_app_factory_imports_is_shared(tmp_path):
    plan, owner = _plan(tmp_path)
    shared = plan["shared"]["modules"]
    assert "board.app" in shared
    assert {"board.configs", "board.configs.default"} <= set(shared), owner.get("board.configs.default")


def test_a_library_cluster_goes_with_the_domain_it_serves(tmp_path):
    plan, owner = _plan(tmp_path)
    utils = [m for m in owner if m.startswith("board.utils.")]
    assert len(utils) == 5
    assert {owner[m] for m in utils} == {owner["board.forum.views"]}, {m: owner[m] for m in utils}
    assert len({owner[f"board.{d}.views"] for d in ("forum", *DOMAINS)}) > 1
    assert not {"utils", "configs"} & set(plan["services"]), sorted(plan["services"])
    reasons = plan["services"][owner["board.utils.links"]]["reasons"]
    assert "library (no routes, tables or app modules of its own)" in reasons["board.utils.links"]


def test_a_blueprint_reaching_many_domains_is_no_composition_root(tmp_path):
    """privacyIDEA 3.14: 25 API blueprint modules (``privacyidea.api.token``...) each call the libraries
    of several domains and nobody imports them but the app factory, so they were shared as
    "composition roots": every service a copy of every route.  A module serving routes serves its own
    domain, whatever it calls."""
    files = dict(FILES)
    files["board/api/__init__.py"] = ""  # a layer package of blueprint modules, as privacyidea/api/
    files["board/api/report.py"] = (
        "from flask import Blueprint, jsonify\n\n"
        + "".join(f"from board.{d}.models import {d.capitalize()}Row\n" for d in DOMAINS[:4])
        + "\nreport_bp = Blueprint(\"report\", __name__)\n\n\n@report_bp.route(\"/counts\")\ndef counts():\n"
        + "    return jsonify([" + ", ".join(f"{d.capitalize()}Row.query.count()" for d in DOMAINS[:4]) + "])\n")
    files["board/blueprints.py"] = files["board/blueprints.py"].replace(
        "\nBLUEPRINTS = [", "from board.api.report import report_bp\n\nBLUEPRINTS = [report_bp, ")
    root = write_tree(tmp_path / "board-app", files)
    out = tmp_path / "plan.yaml"
    r = CliRunner().invoke(app, ["plan", str(root), "-o", str(out), "--no-history"])
    assert r.exit_code == 0, r.output
    plan = yaml.safe_load(out.read_text())
    owner = {m: n for n, s in plan["services"].items() for m in s["modules"]}
    assert "board.api.report" in owner, plan["shared"].get("reasons", {}).get("board.api.report")
