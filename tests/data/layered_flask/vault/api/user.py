from flask import Blueprint, jsonify

from vault.lib.user import list_users, get_user

user_blueprint = Blueprint("user", __name__)


@user_blueprint.route("/", methods=["GET"])
def index():
    return jsonify(list_users())


@user_blueprint.route("/<int:ident>", methods=["GET"])
def one(ident: int):
    return jsonify(get_user(ident))
