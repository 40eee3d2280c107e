"""A decorator of another service's module applied to a method (issue 10).

LNbits' ``lnbits/core/wasm_ext/api/host.py`` decorates the methods of ``ExtensionHostAPI``
with ``@extension_api_method(...)`` of ``api/registry.py`` (another service).  The class body
runs at import time, so the decorator does too; generation borrowed the modules of decorators
of top-level definitions only, gave the method's decorator an RPC stub, and the service's
import called the other service before anything was up (``ConnectError``: it did not boot).
The class and its decorator are in one service (the plan keeps a decorator factory with its
user); the service borrowing the class must take the decorator's module along.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


from decompose.analysis.parse import parse_module
from tests.generate_support import generate_fixture, unit_source

DESK = {
    "desk/__init__.py": "",
    "desk/app.py": '''
        from flask import Flask

        from desk.host.views import bp as host_bp
        from desk.registry.views import bp as registry_bp


        def create_app():
            app = Flask(__name__)
            app.register_blueprint(host_bp)
            app.register_blueprint(registry_bp)
            return app
    ''',
    "desk/registry/__init__.py": "",
    "desk/registry/methods.py": '''
        from typing import Callable

        METHODS: dict[str, str] = {}


        def api_method(*, name: str) -> Callable:
            def wrap(func):
                METHODS[name] = func.__qualname__
                return func
            return wrap


        def registered() -> list[str]:
            return sorted(METHODS)
    ''',
    "desk/registry/views.py": '''
        from flask import Blueprint

        from desk.registry.methods import registered

        bp = Blueprint("registry", __name__, url_prefix="/registry")


        @bp.get("/")
        def listing():
            return {"methods": registered()}
    ''',
    "desk/host/__init__.py": "",
    "desk/host/api.py": '''
        from desk.registry.methods import METHODS, api_method


        class HostAPI:
            @api_method(name="wallet.balance")
            def balance(self):
                return 21

            @staticmethod
            def names():
                return sorted(METHODS)
    ''',
    "desk/host/views.py": '''
        from flask import Blueprint

        from desk.host.api import HostAPI

        bp = Blueprint("host", __name__, url_prefix="/host")


        @bp.get("/")
        def balance():
            return {"balance": HostAPI().balance()}
    ''',
}


def test_a_class_records_the_decorators_of_its_methods():
    f = parse_module(textwrap.dedent(DESK["desk/host/api.py"]).encode(), "desk.host.api", "desk/host/api.py", False)
    (host,) = [d for d in f.definitions if d.name == "HostAPI"]
    assert host.method_decorators == ['api_method(name="wallet.balance")', "staticmethod"]


def test_a_method_decorated_by_another_services_function_boots_with_the_decorator_run_locally(tmp_path):
    # as in LNbits: the decorated class and its decorator in one service, the class borrowed by another
    services = {"ext": ["desk.registry", "desk.registry.methods", "desk.registry.views", "desk.host", "desk.host.api"],
                "host": ["desk.host.views"]}
    out, manifest = generate_fixture(tmp_path, DESK, services, ["desk", "desk.app"])
    src = unit_source(out, manifest, "host")
    # the decorator's module is borrowed with the class (never an RPC stub: it runs in the class body)
    assert (src / "desk" / "registry" / "methods.py").is_file()
    client = src / "decompose_rt" / "clients" / "desk_registry_methods.py"
    assert not client.exists() or "def api_method" not in client.read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
    env["PYTHONPATH"] = str(src)
    check = "from desk.host.api import HostAPI; print(HostAPI().balance(), *HostAPI.names()); import decompose_rt.server"
    r = subprocess.run([sys.executable, "-c", check], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["21", "wallet.balance"]


def test_decorators_a_view_class_lists_for_the_framework_are_its_method_decorators():
    """FlaskBB's ``class ForgotPassword(MethodView): decorators = [requires_unactivated]``:
    Flask applies them to the view (Flask-RESTful's ``method_decorators`` likewise).  Taken for
    references called later over RPC, they bonded every view module with the helpers module
    (FlaskBB's auth.views with utils.helpers, which pulled the auth blueprint into forum)."""
    src = textwrap.dedent('''
        from flask.views import MethodView
        from flask_restful import Resource

        from desk.helpers import requires_unactivated, login_required

        class ForgotPassword(MethodView):
            decorators = [requires_unactivated, login_required(role="admin")]

            def get(self):
                return "form"

        class Tickets(Resource):
            method_decorators: tuple = (login_required,)

        class Plain:
            decorators = "not a list"
            other = [requires_unactivated]
    ''')
    f = parse_module(src.encode(), "desk.views", "desk/views.py", False)
    got = {d.name: d.method_decorators for d in f.definitions if d.kind == "class"}
    assert got == {"ForgotPassword": ["requires_unactivated", 'login_required(role="admin")'],
                   "Tickets": ["login_required"], "Plain": []}
