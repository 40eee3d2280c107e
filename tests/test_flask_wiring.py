"""Flask route wiring as real apps write it (patterns of flaskr, FlaskBB, Flask-RESTful
and flask-restx apps), and pruning the app module / finding the app factory."""

from __future__ import annotations

import textwrap

import pytest

from decompose.analysis.facts import ModuleFacts
from decompose.frameworks import AppInfo, PruneError
from decompose.frameworks.base import prune_imports
from decompose.frameworks.flask import Flask as FlaskAdapter
from decompose.frameworks.flask import flask_subclasses

SOURCES = {
    # configuration classes: url prefixes come from app.config keys
    "forum.configs.default": '''
        class DefaultConfig:
            USER_URL_PREFIX = "/user"
            ADMIN_URL_PREFIX = "/admin"
        class TestingConfig(DefaultConfig):
            ADMIN_URL_PREFIX = "/testing-admin"
    ''',
    # a helper wrapping add_url_rule, used by the views modules
    "forum.utils.helpers": '''
        def register_view(bp_or_app, routes, view_func, *args, **kwargs):
            for route in routes:
                bp_or_app.add_url_rule(route, view_func=view_func, *args, **kwargs)
    ''',
    # Blueprint created inside a hook function; MethodView classes; prefix from config
    "forum.user.views": '''
        from flask import Blueprint
        from flask.views import MethodView
        from forum.utils.helpers import register_view

        class Profile(MethodView):
            def get(self, username):
                return username

        class Settings(MethodView):
            def get(self):
                return ""
            def post(self):
                return ""

        def load_blueprints(app):
            user = Blueprint("user", __name__)
            register_view(user, routes=["/<username>"], view_func=Profile.as_view("profile"))
            register_view(user, routes=["/settings", "/settings/general"], view_func=Settings.as_view("settings"))
            app.register_blueprint(user, url_prefix=app.config["USER_URL_PREFIX"])
    ''',
    # module-level Blueprint whose routes live in another module (package __init__ + submodule)
    "forum.admin": '''
        from flask import Blueprint
        bp = Blueprint("admin", __name__, url_prefix="/ignored-when-registered-with-a-prefix")
        from forum.admin import pages  # noqa: E402  registers the routes
    ''',
    "forum.admin.pages": '''
        from forum.admin import bp

        @bp.route("/users", methods=["GET", "POST"])
        def users():
            return ""

        @bp.get("/stats")
        def stats():
            return ""
    ''',
    # Flask-RESTful resources on an Api bound to a Blueprint
    "forum.api": '''
        from flask import Blueprint
        from flask_restful import Api, Resource
        api_bp = Blueprint("api", __name__)
        api = Api(api_bp, prefix="/v1")

        class TopicList(Resource):
            def get(self):
                return []
            def post(self):
                return {}

        api.add_resource(TopicList, "/topics", "/topics/")
    ''',
    # flask-restx namespaces with class routes, nested Blueprint
    "forum.search": '''
        from flask import Blueprint
        from flask_restx import Api, Namespace, Resource
        search_bp = Blueprint("search", __name__, url_prefix="/search")
        inner = Blueprint("inner", __name__, url_prefix="/inner")
        rx = Api(inner)
        ns = Namespace("posts", path="/posts")

        @ns.route("/<int:post_id>")
        class Post(Resource):
            def get(self, post_id):
                return {}
            def delete(self, post_id):
                return {}

        rx.add_namespace(ns)
        search_bp.register_blueprint(inner)
    ''',
    # the app: a Flask subclass constructed in a factory
    "forum.app": '''
        from flask import Flask
        from forum.admin import bp as admin_bp
        from forum.api import api_bp
        from forum.search import search_bp
        from forum.user import views as user_views

        class ForumApp(Flask):
            pass

        def create_app(config=None):
            app = ForumApp("forum")
            app.config.from_object("forum.configs.default.DefaultConfig")
            app.register_blueprint(admin_bp, url_prefix=app.config["ADMIN_URL_PREFIX"])
            app.register_blueprint(api_bp, url_prefix="/api")
            app.register_blueprint(search_bp)
            user_views.load_blueprints(app)
            return app

        @ForumApp.route("/never")  # not a route: a class, not the app object
        def nope():
            return ""
    ''',
    # tests construct apps too; they never count as the app module
    "tests.conftest": '''
        from flask import Flask
        def make_app():
            return Flask("t")
    ''',
}
SOURCES = {m: textwrap.dedent(s) for m, s in SOURCES.items()}
PACKAGES = {"forum.admin"}


def facts() -> dict[str, ModuleFacts]:
    return {m: ModuleFacts(module=m, path=m.replace(".", "/") + ".py", is_package=m in PACKAGES) for m in SOURCES}


def routes() -> dict[str, tuple[str, list[str], str]]:
    fw = FlaskAdapter()
    app = fw.find_app(facts(), SOURCES)
    notes: list[str] = []
    return {r.path: (module, r.methods, r.function) for module, r in fw.routes(facts(), SOURCES, app, notes)}


def test_the_app_factory_constructing_a_flask_subclass_is_found_and_tests_are_ignored():
    assert flask_subclasses(SOURCES) == {"ForumApp"}
    app = FlaskAdapter().find_app(facts(), SOURCES)
    assert (app.module, app.factory) == ("forum.app", "forum.app:create_app")


def test_full_paths_follow_registration_prefixes_config_keys_and_nesting():
    got = routes()
    assert got["/admin/users"] == ("forum.admin.pages", ["GET", "POST"], "forum.admin.pages.users")
    assert got["/admin/stats"][1] == ["GET"]
    assert got["/user/<username>"] == ("forum.user.views", ["GET"], "forum.user.views.Profile")
    assert got["/user/settings"][1] == ["GET", "POST"] and "/user/settings/general" in got
    assert got["/api/v1/topics"] == ("forum.api", ["GET", "POST"], "forum.api.TopicList")
    assert "/api/v1/topics/" in got
    assert got["/search/inner/posts/<int:post_id>"] == ("forum.search", ["DELETE", "GET"], "forum.search.Post")
    assert not any(p.startswith("/ignored") or p == "/never" for p in got)


def test_prune_keeps_attribute_names_and_removes_registrations_dicts_and_dotted_imports():
    src = textwrap.dedent('''
        import forum.user.views
        from forum.admin import bp as admin_bp
        from forum.api import api_bp
        config = {"debug": True}

        def create_app():
            app = Flask("x")
            app.config["A"] = config["debug"]
            panels = {"admin": admin_bp, "api": api_bp}
            app.register_blueprint(admin_bp, url_prefix="/admin")
            forum.user.views.load_blueprints(app)
            app.register_blueprint(api_bp)
            return app
    ''')
    out = prune_imports(src, "forum.app", False, {"forum.admin", "forum.user.views"})
    assert "admin_bp" not in out and "forum.user.views" not in out
    assert 'app.config["A"] = config["debug"]' in out  # ``config`` the attribute is not ``config`` the name
    assert 'panels = {"api": api_bp}' in out and "app.register_blueprint(api_bp)" in out
    compile(out, "pruned", "exec")


def test_prune_refuses_with_lines_when_a_removed_name_is_still_needed():
    src = "from forum.admin import bp\n\ndef create_app():\n    return make(bp)\n"
    with pytest.raises(PruneError, match=r"still uses bp \(line 4\)"):
        prune_imports(src, "forum.app", False, {"forum.admin"})


def test_app_info_defaults_are_empty():
    assert AppInfo() == AppInfo(module=None, factory=None, router_prefixes={})


def test_prune_is_scope_aware_parameters_shadow_and_decorated_views_go():
    src = textwrap.dedent('''
        from forum.admin import bp as admin_bp
        from forum.api import api_bp

        def create_app(app=None):
            app.register_blueprint(admin_bp)
            app.register_blueprint(api_bp)
            return app

        @admin_bp.before_app_request
        def hook():
            return admin_bp.name

        def helper(admin_bp):  # a parameter of the same name is not the import
            return admin_bp
    ''')
    out = prune_imports(src, "forum.app", False, {"forum.admin"})
    assert "def hook" not in out and "register_blueprint(admin_bp)" not in out
    assert "    return admin_bp\n" in out and "def helper(admin_bp):" in out and "app.register_blueprint(api_bp)" in out
    compile(out, "pruned", "exec")


def test_only_modules_that_may_wire_routes_are_parsed_for_wiring():
    from decompose.frameworks.flask_wiring import wires

    # verb routes as decorators or called on a path; registrations; config modules
    assert wires("shop.views", "@bp.get('/items')\ndef items(): ...\n")
    assert wires("shop.views", "@api.v1.delete(\"/items/<int:n>\")\ndef rm(n): ...\n")
    assert wires("shop.views", "bp.post(r'/login')(login)\n")
    assert wires("shop.app", "app.register_blueprint(bp)\n")
    assert wires("shop.config", "X = 1\n")
    # dict.get, requests.get(url), session.delete(obj): nearly every module has those
    assert not wires("shop.utils", "v = d.get('key')\nr = requests.get(url)\nsession.delete(row)\n")
