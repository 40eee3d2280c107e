from __future__ import annotations

from flask import Blueprint, jsonify, request

from shop.catalog import search, service
from shop.utils.pagination import page_request
from shop.utils.validation import (
    get_bool, get_int, get_money_cents, get_str, query_int, require_object,
)

bp = Blueprint("catalog", __name__, url_prefix="/api/catalog")


@bp.get("/categories")
def list_categories():
    return jsonify({"items": service.list_categories()})


@bp.post("/categories")
def create_category():
    data = require_object(request.get_json(silent=True))
    category = service.create_category(
        name=get_str(data, "name", max_length=120),
        description=get_str(data, "description", required=False, default="", max_length=2000),
        parent_id=get_int(data, "parent_id", required=False, minimum=1),
    )
    return jsonify(category), 201


@bp.get("/categories/<int:category_id>")
def get_category(category_id: int):
    return jsonify(service.get_category(category_id))


@bp.get("/products")
def list_products():
    return jsonify(service.list_products(
        page_request(request.args),
        category_id=query_int(request.args, "category_id", minimum=1),
        include_inactive=request.args.get("include_inactive", "").lower() in {"1", "true"},
    ))


@bp.post("/products")
def create_product():
    data = require_object(request.get_json(silent=True))
    product = service.create_product(
        sku=get_str(data, "sku", max_length=64),
        name=get_str(data, "name", max_length=200),
        price_cents=get_money_cents(data, "price"),
        description=get_str(data, "description", required=False, default="", max_length=5000),
        category_id=get_int(data, "category_id", required=False, minimum=1),
        weight_grams=get_int(data, "weight_grams", required=False, default=0, minimum=0,
                             maximum=70_000),
    )
    return jsonify(product), 201


@bp.get("/products/<int:product_id>")
def get_product(product_id: int):
    return jsonify(service.get_product(product_id))


@bp.patch("/products/<int:product_id>")
def update_product(product_id: int):
    data = require_object(request.get_json(silent=True))
    product = service.update_product(
        product_id,
        name=get_str(data, "name", required=False, max_length=200),
        description=get_str(data, "description", required=False, max_length=5000),
        price_cents=get_money_cents(data, "price", required=False),
        weight_grams=get_int(data, "weight_grams", required=False, minimum=0, maximum=70_000),
        category_id=get_int(data, "category_id", required=False, minimum=1),
        active=get_bool(data, "active", default=None),
    )
    return jsonify(product)


@bp.get("/search")
def search_products():
    args = request.args
    return jsonify(search.search_products(
        args.get("q", ""),
        page_request(args),
        category_slug=args.get("category") or None,
        min_price_cents=query_int(args, "min_price_cents", minimum=0),
        max_price_cents=query_int(args, "max_price_cents", minimum=0),
        sort=args.get("sort", "relevance"),
    ))
