"""Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from shop import __version__, db
from shop import config as shop_config
from shop.catalog.api import bp as catalog_bp
from shop.config import Settings
from shop.customers.api import bp as customers_bp
from shop.inventory.api import bp as inventory_bp
from shop.notifications.api import bp as notifications_bp
from shop.orders.api import bp as orders_bp
from shop.payments.api import bp as payments_bp
from shop.shipping.api import bp as shipping_bp
from shop.utils.errors import ShopError

logger = logging.getLogger("shop")

BLUEPRINTS = (catalog_bp, inventory_bp, customers_bp, orders_bp, payments_bp, shipping_bp,
              notifications_bp)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ShopError)
    def handle_shop_error(error: ShopError):
        db.get_session().rollback()
        return jsonify(error.to_dict()), error.status_code

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return jsonify({"error": {"code": code, "message": error.description}}), error.code

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        logger.exception("unhandled error", exc_info=error)
        db.get_session().rollback()
        return jsonify({"error": {"code": "internal_error",
                                  "message": "internal server error"}}), 500


def create_app(settings: Settings | None = None, **overrides: object) -> Flask:
    settings = shop_config.configure(settings, **overrides)
    app = Flask("shop", static_folder=None)
    app.config["SHOP_SETTINGS"] = settings
    app.json.sort_keys = False

    db.configure(settings.database_url)
    db.init_db()

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    _register_error_handlers(app)
    app.teardown_appcontext(db.shutdown_session)

    @app.get("/health")
    def health():
        return jsonify({"status": "ok", "version": __version__})

    return app
