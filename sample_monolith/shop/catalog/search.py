"""Keyword product search with simple relevance ranking."""

from __future__ import annotations

import re

from sqlalchemy import or_, select

from shop import db
from shop.catalog import service as catalog_service
from shop.catalog.models import Product
from shop.utils.errors import ValidationError
from shop.utils.pagination import PageRequest, page_envelope

SORT_KEYS = {
    "relevance": lambda pair: (-pair[1], pair[0].name),
    "price_asc": lambda pair: (pair[0].price_cents, pair[0].id),
    "price_desc": lambda pair: (-pair[0].price_cents, pair[0].id),
    "newest": lambda pair: -pair[0].id,
}
MAX_CANDIDATES = 500
_FIELD_WEIGHTS = (("name", 5), ("sku", 3), ("description", 1))


def tokenize(query: str) -> list[str]:
    return [t for t in re.split(r"[^\w-]+", query.lower()) if len(t) >= 2][:8]


def _score(product: Product, tokens: list[str]) -> int:
    score = 0
    for token in tokens:
        for field, weight in _FIELD_WEIGHTS:
            text = (getattr(product, field) or "").lower()
            if token in text:
                score += weight
                if re.search(rf"\b{re.escape(token)}\b", text):
                    score += weight  # whole-word matches rank higher
    return score


def search_products(
    query: str, page: PageRequest, *, category_slug: str | None = None,
    min_price_cents: int | None = None, max_price_cents: int | None = None,
    sort: str = "relevance",
) -> dict:
    if sort not in SORT_KEYS:
        raise ValidationError(f"sort must be one of {', '.join(SORT_KEYS)}",
                              details={"field": "sort"})
    tokens = tokenize(query)
    if not tokens:
        raise ValidationError("query must contain at least one word of 2+ characters",
                              details={"field": "q"})
    stmt = select(Product).where(Product.active.is_(True))
    for token in tokens:
        pattern = f"%{token}%"
        stmt = stmt.where(or_(Product.name.ilike(pattern), Product.sku.ilike(pattern),
                              Product.description.ilike(pattern)))
    if category_slug:
        category_id = catalog_service.category_id_for_slug(category_slug)
        if category_id is None:
            return {**page_envelope([], 0, page), "query": query}
        stmt = stmt.where(Product.category_id == category_id)
    if min_price_cents is not None:
        stmt = stmt.where(Product.price_cents >= min_price_cents)
    if max_price_cents is not None:
        stmt = stmt.where(Product.price_cents <= max_price_cents)

    candidates = db.get_session().scalars(stmt.limit(MAX_CANDIDATES)).all()
    scored = [(product, _score(product, tokens)) for product in candidates]
    scored.sort(key=SORT_KEYS[sort])

    window = scored[page.offset: page.offset + page.per_page]
    items = [{**catalog_service.product_to_dict(p), "score": s} for p, s in window]
    return {**page_envelope(items, len(scored), page), "query": query}
