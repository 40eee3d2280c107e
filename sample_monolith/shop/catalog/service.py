"""Catalog business logic. Other domains use these functions to look up
products and prices; every argument and result is JSON-serializable."""

from __future__ import annotations

from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shop import db
from shop.catalog.models import Category, Product
from shop.config import get_settings
from shop.utils.clock import isoformat
from shop.utils.errors import Conflict, NotFound, ValidationError
from shop.utils.ids import slugify
from shop.utils.money import format_cents
from shop.utils.pagination import PageRequest, paginate

# Process-wide price cache: product_id -> price in cents. Read on every cart
# and checkout operation; orders and inventory also read/evict it directly.
PRICE_CACHE: dict[int, int] = {}


class ProductInfo(TypedDict):
    id: int
    sku: str
    name: str
    description: str
    price_cents: int
    price: str
    weight_grams: int
    active: bool
    category_id: int | None
    created_at: str | None
    updated_at: str | None


def product_to_dict(product: Product) -> ProductInfo:
    return ProductInfo(
        id=product.id,
        sku=product.sku,
        name=product.name,
        description=product.description,
        price_cents=product.price_cents,
        price=format_cents(product.price_cents, get_settings().currency),
        weight_grams=product.weight_grams,
        active=product.active,
        category_id=product.category_id,
        created_at=isoformat(product.created_at),
        updated_at=isoformat(product.updated_at),
    )


def _category_to_dict(category: Category, product_count: int | None = None) -> dict:
    data = {
        "id": category.id,
        "name": category.name,
        "slug": category.slug,
        "description": category.description,
        "parent_id": category.parent_id,
        "created_at": isoformat(category.created_at),
    }
    if product_count is not None:
        data["product_count"] = product_count
    return data


def _load_product(product_id: int) -> Product:
    product = db.get_session().get(Product, product_id)
    if product is None:
        raise NotFound.entity("product", product_id)
    return product


def _check_category(category_id: int | None) -> None:
    if category_id is not None and db.get_session().get(Category, category_id) is None:
        raise NotFound.entity("category", category_id)


# --- categories ---------------------------------------------------------------

def create_category(name: str, description: str = "", parent_id: int | None = None) -> dict:
    session = db.get_session()
    _check_category(parent_id)
    slug = slugify(name)
    if session.scalar(select(Category.id).where(Category.slug == slug)) is not None:
        raise Conflict(f"category {slug!r} already exists", details={"slug": slug})
    category = Category(name=name, slug=slug, description=description, parent_id=parent_id)
    session.add(category)
    session.commit()
    return _category_to_dict(category, product_count=0)


def list_categories() -> list[dict]:
    session = db.get_session()
    counts = dict(
        session.execute(
            select(Product.category_id, func.count(Product.id))
            .where(Product.active.is_(True))
            .group_by(Product.category_id)
        ).all()
    )
    categories = session.scalars(select(Category).order_by(Category.name)).all()
    return [_category_to_dict(c, counts.get(c.id, 0)) for c in categories]


def get_category(category_id: int) -> dict:
    session = db.get_session()
    category = session.get(Category, category_id)
    if category is None:
        raise NotFound.entity("category", category_id)
    count = session.scalar(
        select(func.count(Product.id)).where(
            Product.category_id == category_id, Product.active.is_(True)
        )
    )
    return _category_to_dict(category, count or 0)


def category_id_for_slug(slug: str) -> int | None:
    return db.get_session().scalar(select(Category.id).where(Category.slug == slug))


# --- products -----------------------------------------------------------------

def create_product(
    sku: str, name: str, price_cents: int, description: str = "",
    category_id: int | None = None, weight_grams: int = 0,
) -> ProductInfo:
    if price_cents <= 0:
        raise ValidationError("price must be positive", details={"field": "price"})
    session = db.get_session()
    _check_category(category_id)
    product = Product(
        sku=sku.upper(), name=name, description=description, price_cents=price_cents,
        category_id=category_id, weight_grams=weight_grams, active=True,
    )
    session.add(product)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"sku {sku.upper()!r} already exists", details={"sku": sku.upper()}) from exc
    PRICE_CACHE[product.id] = product.price_cents
    return product_to_dict(product)


def get_product(product_id: int) -> ProductInfo:
    return product_to_dict(_load_product(product_id))


def product_exists(product_id: int) -> bool:
    return db.get_session().get(Product, product_id) is not None


def list_products(
    page: PageRequest, category_id: int | None = None, include_inactive: bool = False
) -> dict:
    stmt = select(Product).order_by(Product.id.desc())
    if category_id is not None:
        stmt = stmt.where(Product.category_id == category_id)
    if not include_inactive:
        stmt = stmt.where(Product.active.is_(True))
    return paginate(db.get_session(), stmt, page, product_to_dict)


def update_product(
    product_id: int, *, name: str | None = None, description: str | None = None,
    price_cents: int | None = None, weight_grams: int | None = None,
    category_id: int | None = None, active: bool | None = None,
) -> ProductInfo:
    product = _load_product(product_id)
    if category_id is not None:
        _check_category(category_id)
        product.category_id = category_id
    if name is not None:
        product.name = name
    if description is not None:
        product.description = description
    if weight_grams is not None:
        product.weight_grams = weight_grams
    if active is not None:
        product.active = active
    if price_cents is not None:
        if price_cents <= 0:
            raise ValidationError("price must be positive", details={"field": "price_cents"})
        product.price_cents = price_cents
    db.get_session().commit()
    PRICE_CACHE.pop(product_id, None)
    return product_to_dict(product)


def get_product_price(product_id: int) -> int:
    """Current unit price in cents (cached). Raises NotFound for unknown and
    ValidationError for discontinued products."""
    cached = PRICE_CACHE.get(product_id)
    if cached is not None:
        return cached
    product = _load_product(product_id)
    if not product.active:
        raise ValidationError(f"product {product_id} is discontinued",
                              details={"product_id": product_id})
    PRICE_CACHE[product_id] = product.price_cents
    return product.price_cents
