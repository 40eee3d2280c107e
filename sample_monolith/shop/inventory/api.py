from __future__ import annotations

from flask import Blueprint, jsonify, request

from shop.inventory import service
from shop.utils.errors import ValidationError
from shop.utils.pagination import page_request
from shop.utils.validation import get_int, get_str, query_int, require_object

bp = Blueprint("inventory", __name__, url_prefix="/api/inventory")


@bp.get("/stock/<int:product_id>")
def get_stock(product_id: int):
    level = service.get_stock_level(product_id)
    return jsonify({**level, "movements": service.recent_movements(product_id)})


@bp.post("/stock/<int:product_id>/adjust")
def adjust_stock(product_id: int):
    data = require_object(request.get_json(silent=True))
    level = service.adjust_stock(
        product_id,
        delta=get_int(data, "delta", minimum=-1_000_000, maximum=1_000_000),
        reason=get_str(data, "reason", max_length=32),
        reference=get_str(data, "reference", required=False, default="", max_length=64),
    )
    return jsonify(level)


@bp.put("/stock/<int:product_id>/reorder-level")
def set_reorder_level(product_id: int):
    data = require_object(request.get_json(silent=True))
    level = service.set_reorder_level(
        product_id, get_int(data, "reorder_level", minimum=0, maximum=1_000_000)
    )
    return jsonify(level)


@bp.get("/low-stock")
def low_stock():
    return jsonify(service.low_stock(page_request(request.args)))


@bp.get("/reservations")
def list_reservations():
    order_id = query_int(request.args, "order_id", minimum=1, required=True)
    return jsonify({"items": service.list_reservations(order_id)})


@bp.get("/valuation")
def valuation():
    try:
        product_ids = [int(v) for v in request.args.getlist("product_id")]
    except ValueError as exc:
        raise ValidationError("product_id must be an integer",
                              details={"field": "product_id"}) from exc
    if not product_ids:
        raise ValidationError("at least one product_id is required",
                              details={"field": "product_id"})
    return jsonify(service.stock_valuation(product_ids))
