from __future__ import annotations

from flask import Blueprint, jsonify, request

from shop.payments import service
from shop.utils.validation import get_int, get_str, query_int, require_object

bp = Blueprint("payments", __name__, url_prefix="/api/payments")


@bp.get("")
def list_payments():
    order_id = query_int(request.args, "order_id", minimum=1, required=True)
    return jsonify({"items": service.list_payments(order_id)})


@bp.get("/methods")
def list_methods():
    return jsonify({"items": service.list_methods()})


@bp.get("/<int:payment_id>")
def get_payment(payment_id: int):
    return jsonify(service.get_payment(payment_id))


@bp.post("/<int:payment_id>/refunds")
def refund(payment_id: int):
    data = require_object(request.get_json(silent=True) or {})
    result = service.refund(
        payment_id,
        amount_cents=get_int(data, "amount_cents", required=False, minimum=1),
        reason=get_str(data, "reason", required=False, default="requested by customer",
                       max_length=200),
    )
    return jsonify(result), 201
