from __future__ import annotations

from flask import Blueprint, jsonify, request

from shop.customers import service
from shop.utils.pagination import page_request
from shop.utils.validation import (
    get_bool, get_email, get_phone, get_str, require_object,
)

bp = Blueprint("customers", __name__, url_prefix="/api/customers")
REQUIRED_ADDRESS_FIELDS = frozenset({"line1", "city", "postal_code", "country"})


@bp.post("")
def register_customer():
    data = require_object(request.get_json(silent=True))
    customer = service.register_customer(
        email=get_email(data),
        full_name=get_str(data, "full_name", max_length=200),
        phone=get_phone(data),
        sms_opt_in=get_bool(data, "sms_opt_in"),
    )
    return jsonify(customer), 201


@bp.get("")
def list_customers():
    return jsonify(service.list_customers(page_request(request.args),
                                          email=request.args.get("email")))


@bp.get("/<int:customer_id>")
def get_customer(customer_id: int):
    return jsonify(service.get_customer(customer_id))


@bp.patch("/<int:customer_id>")
def update_customer(customer_id: int):
    data = require_object(request.get_json(silent=True))
    customer = service.update_customer(
        customer_id,
        full_name=get_str(data, "full_name", required=False, max_length=200),
        phone=get_phone(data),
        sms_opt_in=get_bool(data, "sms_opt_in", default=None),
        status=get_str(data, "status", required=False, max_length=16),
    )
    return jsonify(customer)


@bp.get("/<int:customer_id>/addresses")
def list_addresses(customer_id: int):
    return jsonify({"items": service.list_addresses(customer_id)})


@bp.post("/<int:customer_id>/addresses")
def add_address(customer_id: int):
    data = require_object(request.get_json(silent=True))
    address = {field: get_str(data, field, required=field in REQUIRED_ADDRESS_FIELDS,
                              default="", max_length=200)
               for field in service.ADDRESS_FIELDS}
    created = service.add_address(
        customer_id, address,
        label=get_str(data, "label", required=False, default="home", max_length=40),
        make_default=get_bool(data, "default"),
    )
    return jsonify(created), 201
