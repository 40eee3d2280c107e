from __future__ import annotations

from flask import Blueprint, jsonify, request

from shop.orders import reports, service
from shop.utils.errors import ValidationError
from shop.utils.pagination import page_request
from shop.utils.validation import get_int, get_str, query_int, require_object

bp = Blueprint("orders", __name__, url_prefix="/api/orders")


def _items(data: dict) -> list[dict]:
    raw = data.get("items") or []
    if not isinstance(raw, list):
        raise ValidationError("items must be a list", details={"field": "items"})
    items = []
    for entry in raw:
        item = require_object(entry)
        items.append({"product_id": get_int(item, "product_id", minimum=1),
                      "quantity": get_int(item, "quantity", minimum=1)})
    return items


@bp.post("")
def create_order():
    data = require_object(request.get_json(silent=True))
    order = service.create_order(get_int(data, "customer_id", minimum=1), _items(data))
    return jsonify(order), 201


@bp.get("")
def list_orders():
    args = request.args
    return jsonify(service.list_orders(
        page_request(args),
        customer_id=query_int(args, "customer_id", minimum=1),
        status=args.get("status") or None,
        email=args.get("email") or None,
    ))


@bp.get("/<int:order_id>")
def get_order(order_id: int):
    return jsonify(service.get_order(order_id))


@bp.get("/<int:order_id>/history")
def order_history(order_id: int):
    return jsonify({"items": service.order_history(order_id)})


@bp.post("/<int:order_id>/items")
def add_item(order_id: int):
    data = require_object(request.get_json(silent=True))
    order = service.add_item(order_id, get_int(data, "product_id", minimum=1),
                             get_int(data, "quantity", minimum=1))
    return jsonify(order), 201


@bp.delete("/<int:order_id>/items/<int:line_id>")
def remove_item(order_id: int, line_id: int):
    return jsonify(service.remove_item(order_id, line_id))


@bp.post("/<int:order_id>/place")
def place_order(order_id: int):
    data = require_object(request.get_json(silent=True) or {})
    order = service.place_order(
        order_id,
        address_id=get_int(data, "address_id", required=False, minimum=1),
        shipping_method=get_str(data, "shipping_method", required=False, default="standard",
                                max_length=16),
    )
    return jsonify(order)


@bp.post("/<int:order_id>/pay")
def pay_order(order_id: int):
    data = require_object(request.get_json(silent=True))
    details = data.get("details") or {}
    if not isinstance(details, dict):
        raise ValidationError("details must be an object", details={"field": "details"})
    result = service.pay_order(order_id, get_str(data, "method", max_length=32), details)
    return jsonify(result)


@bp.post("/<int:order_id>/ship")
def ship_order(order_id: int):
    return jsonify(service.ship_order(order_id)), 201


@bp.post("/<int:order_id>/cancel")
def cancel_order(order_id: int):
    data = require_object(request.get_json(silent=True) or {})
    reason = get_str(data, "reason", required=False, default="requested by customer",
                     max_length=200)
    return jsonify(service.cancel_order(order_id, reason))


@bp.get("/reports/customers/<int:customer_id>")
def customer_report(customer_id: int):
    top = query_int(request.args, "top", default=5, minimum=1, maximum=50)
    return jsonify(reports.customer_summary(customer_id, top))
