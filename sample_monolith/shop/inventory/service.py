"""Stock levels and reservations. Orders reserve stock when placed, release it
on cancellation and commit it (physically remove it) when shipped."""

from __future__ import annotations

from typing import TypedDict

from sqlalchemy import select, update

from shop import db
from shop.catalog import service as catalog_service
from shop.inventory.models import Reservation, StockItem, StockMovement
from shop.utils.clock import isoformat, utcnow
from shop.utils.errors import Conflict, NotFound, ValidationError
from shop.utils.pagination import PageRequest, paginate

ADJUSTMENT_REASONS = ("restock", "correction", "damaged", "returned", "shrinkage")


class StockLevel(TypedDict):
    product_id: int
    on_hand: int
    reserved: int
    available: int
    reorder_level: int
    needs_reorder: bool
    updated_at: str | None


def _level(item: StockItem) -> StockLevel:
    return StockLevel(
        product_id=item.product_id,
        on_hand=item.on_hand,
        reserved=item.reserved,
        available=item.available,
        reorder_level=item.reorder_level,
        needs_reorder=item.available <= item.reorder_level,
        updated_at=isoformat(item.updated_at),
    )


def _stock_item(product_id: int, *, create: bool = False) -> StockItem | None:
    session = db.get_session()
    item = session.scalar(select(StockItem).where(StockItem.product_id == product_id))
    if item is None and create:
        if not catalog_service.product_exists(product_id):
            raise NotFound.entity("product", product_id)
        item = StockItem(product_id=product_id, on_hand=0, reserved=0, reorder_level=0)
        session.add(item)
        session.flush()
    return item


def get_stock_level(product_id: int) -> StockLevel:
    item = _stock_item(product_id)
    if item is None:
        if not catalog_service.product_exists(product_id):
            raise NotFound.entity("product", product_id)
        return StockLevel(product_id=product_id, on_hand=0, reserved=0, available=0,
                          reorder_level=0, needs_reorder=True, updated_at=None)
    return _level(item)


def adjust_stock(product_id: int, delta: int, reason: str, reference: str = "") -> StockLevel:
    if delta == 0:
        raise ValidationError("delta must not be zero", details={"field": "delta"})
    if reason not in ADJUSTMENT_REASONS:
        raise ValidationError(f"reason must be one of {', '.join(ADJUSTMENT_REASONS)}",
                              details={"field": "reason"})
    session = db.get_session()
    item = _stock_item(product_id, create=True)
    if item.on_hand + delta < item.reserved:
        session.rollback()
        raise Conflict(
            "adjustment would leave less stock than is reserved",
            details={"on_hand": item.on_hand, "reserved": item.reserved, "delta": delta},
        )
    item.on_hand += delta
    session.add(StockMovement(product_id=product_id, delta=delta, reason=reason,
                              reference=reference))
    session.commit()
    return _level(item)


def set_reorder_level(product_id: int, reorder_level: int) -> StockLevel:
    item = _stock_item(product_id, create=True)
    item.reorder_level = reorder_level
    db.get_session().commit()
    return _level(item)


def reserve_stock(product_id: int, quantity: int, order_id: int) -> bool:
    """Atomically reserve ``quantity`` units for an order. Returns False when
    not enough stock is available (nothing is changed in that case)."""
    if quantity <= 0:
        raise ValidationError("quantity must be positive", details={"field": "quantity"})
    session = db.get_session()
    result = session.execute(
        update(StockItem)
        .where(StockItem.product_id == product_id,
               StockItem.on_hand - StockItem.reserved >= quantity)
        .values(reserved=StockItem.reserved + quantity, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:
        return False
    session.add(Reservation(product_id=product_id, order_id=order_id, quantity=quantity))
    session.commit()
    return True


def _close_reservations(order_id: int, new_status: str) -> int:
    session = db.get_session()
    reservations = session.scalars(
        select(Reservation).where(Reservation.order_id == order_id,
                                  Reservation.status == Reservation.ACTIVE)
    ).all()
    total = 0
    for reservation in reservations:
        item = _stock_item(reservation.product_id)
        item.reserved -= reservation.quantity
        if new_status == Reservation.COMMITTED:
            item.on_hand -= reservation.quantity
            session.add(StockMovement(product_id=reservation.product_id,
                                      delta=-reservation.quantity, reason="shipment",
                                      reference=f"order:{order_id}"))
        reservation.status = new_status
        reservation.closed_at = utcnow()
        total += reservation.quantity
    session.commit()
    return total


def release_reservations(order_id: int) -> int:
    """Give reserved units of an order back to available stock."""
    return _close_reservations(order_id, Reservation.RELEASED)


def commit_reservations(order_id: int) -> int:
    """Turn an order's reservations into a physical stock decrease (shipped)."""
    return _close_reservations(order_id, Reservation.COMMITTED)


def list_reservations(order_id: int) -> list[dict]:
    rows = db.get_session().scalars(
        select(Reservation).where(Reservation.order_id == order_id).order_by(Reservation.id)
    ).all()
    return [
        {"id": r.id, "product_id": r.product_id, "order_id": r.order_id,
         "quantity": r.quantity, "status": r.status, "created_at": isoformat(r.created_at),
         "closed_at": isoformat(r.closed_at)}
        for r in rows
    ]


def recent_movements(product_id: int, limit: int = 20) -> list[dict]:
    rows = db.get_session().scalars(
        select(StockMovement).where(StockMovement.product_id == product_id)
        .order_by(StockMovement.id.desc()).limit(limit)
    ).all()
    return [{"delta": m.delta, "reason": m.reason, "reference": m.reference,
             "created_at": isoformat(m.created_at)} for m in rows]


def low_stock(page: PageRequest) -> dict:
    stmt = (
        select(StockItem)
        .where(StockItem.on_hand - StockItem.reserved <= StockItem.reorder_level)
        .order_by(StockItem.updated_at.desc(), StockItem.id.desc())
    )
    return paginate(db.get_session(), stmt, page, _level)


def stock_valuation(product_ids: list[int]) -> dict:
    """Value of on-hand stock at current list prices. Reads the catalog's price
    cache directly so a valuation over many products avoids per-item lookups."""
    items = []
    total = 0
    for product_id in product_ids:
        level = get_stock_level(product_id)
        unit_price = catalog_service.PRICE_CACHE.get(product_id)
        if unit_price is None:
            product = catalog_service.get_product(product_id)  # discontinued stock counts too
            unit_price = product["price_cents"]
            if product["active"]:  # the cache only holds sellable products
                catalog_service.PRICE_CACHE[product_id] = unit_price
        value = unit_price * level["on_hand"]
        total += value
        items.append({"product_id": product_id, "on_hand": level["on_hand"],
                      "unit_price_cents": unit_price, "value_cents": value})
    return {"items": items, "total_value_cents": total}
