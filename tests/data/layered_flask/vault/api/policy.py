from flask import Blueprint, jsonify

from vault.lib.policy import list_policys, get_policy

policy_blueprint = Blueprint("policy", __name__)


@policy_blueprint.route("/", methods=["GET"])
def index():
    return jsonify(list_policys())


@policy_blueprint.route("/<int:ident>", methods=["GET"])
def one(ident: int):
    return jsonify(get_policy(ident))
