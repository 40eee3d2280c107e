"""Alembic migrations go with the services owning their tables, never a service of their own
(issue 10: "migrations go with the service that owns their tables").

privacyIDEA 3.14's default plan had a service `migrations` of 98 Alembic revisions, FlaskBB
2.2.0's a service `utils` of its 15 revisions and one helper: an Alembic revision names its
tables only in ``op.add_column("t", ...)``-style calls, which the analysis did not read, so
the revisions had no tables and clustered with each other.  The operations are now data
access (``how="migration"``); a revision touching no table any module defines (the
environment, merges, a plugin's tables) goes where most of its folder's revisions went.
"""

from __future__ import annotations

import textwrap

import yaml
from typer.testing import CliRunner

from decompose.analysis.parse import parse_module
from decompose.analysis.roles import is_migration_module
from decompose.cli import app
from tests.generate_support import write_tree


def _data(code: str, module: str = "forum.migrations.versions.0001_init") -> list[tuple[str, str]]:
    facts = parse_module(textwrap.dedent(code).encode(), module, module.replace(".", "/") + ".py", False)
    return sorted((d.table, d.how) for d in facts.data)


def test_alembic_operations_name_the_tables_a_revision_changes():
    code = '''
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            op.create_table("topics", sa.Column("id", sa.Integer))
            op.add_column("posts", sa.Column("hidden", sa.Boolean))
            op.create_index("ix_posts_topic", "posts", ["topic_id"])
            op.create_foreign_key("fk_post_user", "posts", "users", ["user_id"], ["id"])
            op.drop_index("ix_old", table_name="legacy")
            with op.batch_alter_table("groups") as batch_op:
                batch_op.drop_column("banned")
            op.rename_table("forumgroups", "forum_groups")
    '''
    assert _data(code) == [(t, "migration") for t in
                           ["forum_groups", "forumgroups", "groups", "legacy", "posts", "topics", "users"]]
    # an `op` that is not Alembic's names nothing
    assert _data("from forum import op\nop.add_column('posts', 1)\n") == []


FILES = {
    "forum/__init__.py": "",
    "forum/app.py": '''
        from flask import Flask

        from forum.topics.views import bp as topics_bp
        from forum.users.views import bp as users_bp


        def create_app():
            app = Flask(__name__)
            app.register_blueprint(topics_bp, url_prefix="/topics")
            app.register_blueprint(users_bp, url_prefix="/users")
            return app
    ''',
    "forum/db.py": '''
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()
    ''',
    "forum/topics/__init__.py": "",
    "forum/topics/models.py": '''
        from forum.db import db


        class Topic(db.Model):
            __tablename__ = "topics"
            id = db.Column(db.Integer, primary_key=True)


        class Post(db.Model):
            __tablename__ = "posts"
            id = db.Column(db.Integer, primary_key=True)
    ''',
    "forum/topics/views.py": '''
        from flask import Blueprint

        from forum.topics.models import Topic

        bp = Blueprint("topics", __name__)


        @bp.route("/")
        def index():
            return {"topics": Topic.query.count()}
    ''',
    "forum/users/__init__.py": "",
    "forum/users/models.py": '''
        from forum.db import db


        class User(db.Model):
            __tablename__ = "users"
            id = db.Column(db.Integer, primary_key=True)
    ''',
    "forum/users/views.py": '''
        from flask import Blueprint

        from forum.users.models import User

        bp = Blueprint("users", __name__)


        @bp.route("/")
        def index():
            return {"users": User.query.count()}
    ''',
    "forum/migrations/__init__.py": "",
    "forum/migrations/env.py": '''
        from alembic import context

        context.configure(url="sqlite://")
    ''',
    "forum/migrations/versions/__init__.py": "",
    "forum/migrations/versions/0001_topics.py": '''
        from alembic import op
        import sqlalchemy as sa

        revision, down_revision = "0001", None

        def upgrade():
            op.create_table("topics", sa.Column("id", sa.Integer))
            op.create_table("posts", sa.Column("id", sa.Integer))
    ''',
    "forum/migrations/versions/0002_users.py": '''
        from alembic import op
        import sqlalchemy as sa

        revision, down_revision = "0002", "0001"

        def upgrade():
            op.create_table("users", sa.Column("id", sa.Integer))
    ''',
    "forum/migrations/versions/0003_hidden.py": '''
        from alembic import op
        import sqlalchemy as sa

        revision, down_revision = "0003", "0002"

        def upgrade():
            op.add_column("posts", sa.Column("hidden", sa.Boolean))
            op.add_column("topics", sa.Column("hidden", sa.Boolean))
    ''',
    # a plugin's table (no module defines it) and a merge revision: no owner to vote for
    "forum/migrations/versions/0004_plugin.py": '''
        from alembic import op
        import sqlalchemy as sa

        revision, down_revision = "0004", "0003"

        def upgrade():
            op.create_table("conversations", sa.Column("id", sa.Integer))
    ''',
    "forum/migrations/versions/0005_merge.py": '''
        revision, down_revision = "0005", ("0004", "0003")

        def upgrade():
            pass
    ''',
}


def test_revisions_go_with_their_tables_and_the_others_with_most_of_their_folder(tmp_path):
    root = write_tree(tmp_path / "forum-app", FILES)
    r = CliRunner().invoke(app, ["plan", str(root), "-o", str(tmp_path / "plan.yaml")])
    assert r.exit_code == 0, r.output
    plan = yaml.safe_load((tmp_path / "plan.yaml").read_text())
    owner = {m: n for n, s in plan["services"].items() for m in s["modules"]}
    for name, svc in plan["services"].items():  # no service of migrations alone
        assert not all(is_migration_module(m) for m in svc["modules"]), name
    v = "forum.migrations.versions."
    topics, users = owner["forum.topics.models"], owner["forum.users.models"]
    assert topics != users
    assert owner[v + "0001_topics"] == owner[v + "0003_hidden"] == topics
    assert owner[v + "0002_users"] == users
    # no table of theirs is defined by a module: where most of the folder's revisions went
    for m in (v + "0004_plugin", v + "0005_merge", "forum.migrations.env"):
        assert owner.get(m) == topics, (m, owner.get(m))
