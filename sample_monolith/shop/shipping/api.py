from __future__ import annotations

from flask import Blueprint, jsonify, request

from shop.shipping import service
from shop.utils.validation import get_int, get_str, query_int, require_object

bp = Blueprint("shipping", __name__, url_prefix="/api/shipping")


@bp.post("/quote")
def quote():
    data = require_object(request.get_json(silent=True))
    weight = get_int(data, "weight_grams", minimum=0, maximum=70_000)
    country = get_str(data, "country", max_length=2).upper()
    subtotal = get_int(data, "subtotal_cents", required=False, default=0, minimum=0)
    method = get_str(data, "method", required=False)
    if method:
        return jsonify({"items": [service.quote_shipping(method, weight, country, subtotal)]})
    return jsonify({"items": service.available_methods(weight, country, subtotal)})


@bp.get("/shipments")
def list_shipments():
    order_id = query_int(request.args, "order_id", minimum=1, required=True)
    return jsonify({"items": service.list_shipments(order_id)})


@bp.get("/shipments/<int:shipment_id>")
def get_shipment(shipment_id: int):
    return jsonify(service.get_shipment(shipment_id))


@bp.post("/shipments/<int:shipment_id>/events")
def record_event(shipment_id: int):
    data = require_object(request.get_json(silent=True))
    shipment = service.record_tracking_event(
        shipment_id,
        status=get_str(data, "status", max_length=24),
        location=get_str(data, "location", required=False, default="", max_length=120),
        note=get_str(data, "note", required=False, default="", max_length=255),
    )
    return jsonify(shipment), 201


@bp.get("/track/<tracking_number>")
def track(tracking_number: str):
    return jsonify(service.track(tracking_number))
