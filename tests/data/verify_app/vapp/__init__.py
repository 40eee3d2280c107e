"""A tiny Flask app for tests/test_verify.py."""

import os

from flask import Flask


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SECRET_KEY="dev", DATABASE=os.path.join(app.instance_path, "vapp.sqlite"))
    if test_config is not None:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    from . import count, db, greet

    db.init_app(app)
    app.register_blueprint(greet.bp)
    app.register_blueprint(count.bp)
    return app
