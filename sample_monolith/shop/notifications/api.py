from __future__ import annotations

from flask import Blueprint, jsonify, request

from shop.notifications import service
from shop.utils.pagination import page_request
from shop.utils.validation import get_int, query_int, require_object

bp = Blueprint("notifications", __name__, url_prefix="/api/notifications")


@bp.get("")
def list_notifications():
    args = request.args
    return jsonify(service.list_notifications(
        page_request(args),
        customer_id=query_int(args, "customer_id", minimum=1),
        status=args.get("status") or None,
        template=args.get("template") or None,
    ))


@bp.get("/<int:notification_id>")
def get_notification(notification_id: int):
    return jsonify(service.get_notification(notification_id))


@bp.post("/dispatch")
def dispatch():
    data = require_object(request.get_json(silent=True) or {})
    return jsonify(service.dispatch_pending(
        limit=get_int(data, "limit", required=False, default=100, minimum=1, maximum=1000),
        customer_id=get_int(data, "customer_id", required=False, minimum=1),
    ))


@bp.get("/templates")
def list_templates():
    return jsonify({"items": service.list_templates()})
