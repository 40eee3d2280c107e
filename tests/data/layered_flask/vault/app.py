from flask import Flask

from vault.api.token import token_blueprint
from vault.api.user import user_blueprint
from vault.api.policy import policy_blueprint
from vault.db import db


def create_app():
    app = Flask(__name__)
    db.init_app(app)
    app.register_blueprint(token_blueprint, url_prefix="/token")
    app.register_blueprint(user_blueprint, url_prefix="/user")
    app.register_blueprint(policy_blueprint, url_prefix="/policy")
    return app
