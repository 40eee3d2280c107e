"""The reference rules of benchmarks/references.py on small trees (Django apps, Flask blueprints, FastAPI routers)."""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks.references import reference, render, singular
from decompose.planning.reference import partition_from_mapping


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def test_singular_strips_router_suffixes_and_plurals():
    assert [singular(w) for w in ("payment_api", "payments", "policies", "addresses", "class", "tokens", "user_views")] == [
        "payment", "payment", "policy", "address", "class", "token", "user"]


def test_django_apps_own_their_modules_deepest_first(tmp_path):
    root = _tree(tmp_path, {
        "shop/__init__.py": "", "shop/settings.py": "INSTALLED_APPS = []\n", "shop/urls.py": "",
        "shop/orders/__init__.py": "", "shop/orders/apps.py": "from django.apps import AppConfig\nclass C(AppConfig): pass\n",
        "shop/orders/models.py": "", "shop/orders/migrations/__init__.py": "", "shop/orders/migrations/0001_initial.py": "",
        "shop/orders/tests/__init__.py": "", "shop/orders/tests/test_models.py": "",
        "shop/plugins/__init__.py": "", "shop/plugins/pay/__init__.py": "",
        "shop/plugins/pay/apps.py": "import django.apps\nclass P(django.apps.AppConfig): pass\n",
        "shop/plugins/pay/views.py": "",
        "shop/notanapp/__init__.py": "", "shop/notanapp/apps.py": "X = 1\n", "shop/notanapp/util.py": "",
        "setup.py": "",
    })
    mapping, details = reference(root, "django")
    assert details["owners"] == ["shop.orders", "shop.plugins.pay"]
    assert mapping == {
        "shop": "", "shop.notanapp": "", "shop.notanapp.apps": "", "shop.notanapp.util": "",
        "shop.orders": "orders", "shop.orders.apps": "orders", "shop.orders.migrations": "orders",
        "shop.orders.migrations.0001_initial": "orders", "shop.orders.models": "orders",
        "shop.plugins": "", "shop.plugins.pay": "plugins-pay", "shop.plugins.pay.apps": "plugins-pay",
        "shop.plugins.pay.views": "plugins-pay", "shop.settings": "", "shop.urls": "",
    }
    # the file is what `decompose evaluate` reads: services + shared, every module once
    text = render("shop", "django", "test", mapping, details)
    assert text.startswith("# Reference decomposition of shop")
    assert partition_from_mapping(yaml.safe_load(text), "shop.yaml")["shop.orders.models"] == "orders"


def test_blueprint_packages_and_per_module_blueprints(tmp_path):
    root = _tree(tmp_path, {
        "app/__init__.py": "",
        "app/forum/__init__.py": "", "app/forum/models.py": "",
        "app/forum/views.py": "from flask import Blueprint\ndef make():\n    return Blueprint('forum', __name__)\n",
        "app/api/__init__.py": "",
        "app/api/token.py": "import flask\nbp = flask.Blueprint('token', __name__)\n",
        "app/api/policy_api.py": "from flask import Blueprint\nbp = Blueprint('policy', __name__)\n",
        "app/lib/__init__.py": "", "app/lib/token.py": "", "app/lib/tokens/__init__.py": "",
        "app/lib/tokens/hotp.py": "", "app/lib/policies.py": "", "app/lib/crypto.py": "",
    })
    mapping, details = reference(root, "flask")
    assert details == {"owners": ["app.forum"], "named": {"policy": "app", "token": "app"}}
    assert mapping == {
        "app": "", "app.api": "", "app.api.policy_api": "policy", "app.api.token": "token",
        "app.forum": "forum", "app.forum.models": "forum", "app.forum.views": "forum",
        "app.lib": "", "app.lib.crypto": "", "app.lib.policies": "policy", "app.lib.token": "token",
        "app.lib.tokens": "token", "app.lib.tokens.hotp": "token",
    }
    # a Blueprint call means nothing to the FastAPI rule
    assert set(reference(root, "fastapi")[0].values()) == {""}
