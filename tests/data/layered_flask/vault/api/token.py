from flask import Blueprint, jsonify

from vault.lib.token import list_tokens, get_token

token_blueprint = Blueprint("token", __name__)


@token_blueprint.route("/", methods=["GET"])
def index():
    return jsonify(list_tokens())


@token_blueprint.route("/<int:ident>", methods=["GET"])
def one(ident: int):
    return jsonify(get_token(ident))
