"""Order lifecycle: cart -> placed (stock reserved) -> paid -> shipped ->
delivered, with cancellation and refunds. Orchestrates catalog, inventory,
customers, payments, shipping and notifications."""

from __future__ import annotations

from sqlalchemy import select

from shop import db
from shop.catalog import service as catalog_service
from shop.config import get_settings
from shop.customers import service as customers_service
from shop.customers.models import Customer
from shop.inventory import service as inventory_service
from shop.notifications import service as notifications_service
from shop.orders import pricing
from shop.orders.models import ALLOWED_TRANSITIONS, Order, OrderEvent, OrderLine, OrderStatus
from shop.payments import service as payments_service
from shop.shipping import service as shipping_service
from shop.utils.clock import isoformat, utcnow
from shop.utils.errors import Conflict, InvalidState, NotFound, OutOfStock, ValidationError
from shop.utils.ids import new_reference
from shop.utils.money import format_cents
from shop.utils.pagination import PageRequest, paginate

MAX_LINE_QUANTITY = 99
CANCELLABLE = (OrderStatus.CART, OrderStatus.PLACED, OrderStatus.PAID)


def _line_to_dict(line: OrderLine) -> dict:
    return {
        "id": line.id, "product_id": line.product_id, "sku": line.sku, "name": line.name,
        "quantity": line.quantity, "unit_price_cents": line.unit_price_cents,
        "line_total_cents": line.line_total_cents, "tax_cents": line.tax_cents,
    }


ORDER_FIELDS = ("id", "reference", "customer_id", "status", "currency", "item_count",
                "subtotal_cents", "shipping_cents", "tax_cents", "total_cents",
                "refunded_cents", "shipping_method", "shipping_address", "payment_id",
                "shipment_id")
ORDER_TIMESTAMPS = ("created_at", "placed_at", "paid_at", "shipped_at", "delivered_at",
                    "cancelled_at")


def order_to_dict(order: Order) -> dict:
    data = {field: getattr(order, field) for field in ORDER_FIELDS}
    data["total"] = format_cents(order.total_cents, order.currency)
    data["lines"] = [_line_to_dict(line) for line in order.lines]
    data.update({field: isoformat(getattr(order, field)) for field in ORDER_TIMESTAMPS})
    return data


def _load(order_id: int) -> Order:
    order = db.get_session().get(Order, order_id)
    if order is None:
        raise NotFound.entity("order", order_id)
    return order


def _require_status(order: Order, *allowed: OrderStatus) -> None:
    if order.status not in allowed:
        raise InvalidState(
            f"order {order.reference} is {order.status}",
            details={"status": order.status, "expected": [str(s) for s in allowed]},
        )


def _transition(order: Order, new_status: OrderStatus, note: str = "") -> None:
    current = OrderStatus(order.status)
    if new_status not in ALLOWED_TRANSITIONS[current]:
        raise InvalidState(f"order {order.reference} cannot go from {current} to {new_status}",
                           details={"from": str(current), "to": str(new_status)})
    order.events.append(OrderEvent(from_status=current, to_status=new_status, note=note[:255]))
    order.status = new_status


def _active_customer(customer_id: int) -> Customer:
    customer = db.get_session().scalar(select(Customer).where(Customer.id == customer_id))
    if customer is None:
        raise NotFound.entity("customer", customer_id)
    if not customer.is_active:
        raise Conflict(f"customer account {customer_id} is {customer.status}",
                       details={"customer_id": customer_id, "status": customer.status})
    return customer


def _add_line(order: Order, product_id: int, quantity: int) -> None:
    existing = next((line for line in order.lines if line.product_id == product_id), None)
    new_quantity = quantity + (existing.quantity if existing else 0)
    if not 1 <= new_quantity <= MAX_LINE_QUANTITY:
        raise ValidationError(f"quantity must be between 1 and {MAX_LINE_QUANTITY}",
                              details={"field": "quantity", "product_id": product_id})
    product = catalog_service.get_product(product_id)
    if not product["active"]:
        raise ValidationError(f"product {product_id} is discontinued",
                              details={"product_id": product_id})
    price = catalog_service.get_product_price(product_id)
    if existing:
        existing.quantity = new_quantity
        existing.unit_price_cents = price
    else:
        order.lines.append(OrderLine(
            product_id=product_id, sku=product["sku"], name=product["name"],
            quantity=quantity, unit_price_cents=price, weight_grams=product["weight_grams"],
        ))


def _recalculate_cart(order: Order) -> None:
    order.subtotal_cents = sum(line.line_total_cents for line in order.lines)
    order.shipping_cents = order.tax_cents = 0
    order.total_cents = order.subtotal_cents


def create_order(customer_id: int, items: list[dict] | None = None) -> dict:
    _active_customer(customer_id)
    session = db.get_session()
    order = Order(reference=new_reference("ORD"), customer_id=customer_id,
                  currency=get_settings().currency, status=OrderStatus.CART)
    order.events.append(OrderEvent(from_status=None, to_status=OrderStatus.CART,
                                   note="cart created"))
    session.add(order)
    for item in items or []:
        _add_line(order, item["product_id"], item["quantity"])
    _recalculate_cart(order)
    session.commit()
    return order_to_dict(order)


def get_order(order_id: int) -> dict:
    return order_to_dict(_load(order_id))


def list_orders(page: PageRequest, customer_id: int | None = None, status: str | None = None,
                email: str | None = None) -> dict:
    stmt = select(Order).order_by(Order.id.desc())
    if customer_id is not None:
        stmt = stmt.where(Order.customer_id == customer_id)
    if status:
        stmt = stmt.where(Order.status == status)
    if email:
        stmt = (stmt.join(Customer, Customer.id == Order.customer_id)
                .where(Customer.email == email.lower()))
    return paginate(db.get_session(), stmt, page, order_to_dict)


def order_history(order_id: int) -> list[dict]:
    return [{"from_status": e.from_status, "to_status": e.to_status, "note": e.note,
             "created_at": isoformat(e.created_at)} for e in _load(order_id).events]


def add_item(order_id: int, product_id: int, quantity: int) -> dict:
    order = _load(order_id)
    _require_status(order, OrderStatus.CART)
    _add_line(order, product_id, quantity)
    _recalculate_cart(order)
    db.get_session().commit()
    return order_to_dict(order)


def remove_item(order_id: int, line_id: int) -> dict:
    order = _load(order_id)
    _require_status(order, OrderStatus.CART)
    line = next((line for line in order.lines if line.id == line_id), None)
    if line is None:
        raise NotFound.entity("order line", line_id)
    order.lines.remove(line)
    _recalculate_cart(order)
    db.get_session().commit()
    return order_to_dict(order)


def place_order(order_id: int, address_id: int | None = None,
                shipping_method: str = "standard") -> dict:
    """Check out a cart: re-price, quote shipping, compute tax, reserve stock."""
    session = db.get_session()
    order = _load(order_id)
    _require_status(order, OrderStatus.CART)
    if not order.lines:
        raise ValidationError("cannot place an empty order")
    _active_customer(order.customer_id)
    if address_id is not None:
        address = customers_service.get_address(order.customer_id, address_id)
    else:
        address = customers_service.get_default_address(order.customer_id)
    if address is None:
        raise ValidationError("customer has no shipping address", details={"field": "address_id"})

    # Checkout must never charge a stale price: evict and re-read every line.
    for line in order.lines:
        catalog_service.PRICE_CACHE.pop(line.product_id, None)
        line.unit_price_cents = catalog_service.get_product_price(line.product_id)
    amounts = [line.line_total_cents for line in order.lines]
    weight = sum(line.weight_grams * line.quantity for line in order.lines)
    quote = shipping_service.quote_shipping(shipping_method, weight, address["country"],
                                            sum(amounts))
    totals = pricing.compute_totals(amounts, quote["cost_cents"], address["country"])
    session.commit()

    for line in order.lines:
        if not inventory_service.reserve_stock(line.product_id, line.quantity, order.id):
            inventory_service.release_reservations(order.id)
            available = inventory_service.get_stock_level(line.product_id)["available"]
            raise OutOfStock(f"not enough stock for {line.sku}", details={
                "product_id": line.product_id, "requested": line.quantity,
                "available": available})

    order.subtotal_cents = totals.subtotal_cents
    order.shipping_cents = totals.shipping_cents
    order.tax_cents = totals.tax_cents
    order.total_cents = totals.total_cents
    for line, tax in zip(order.lines, totals.line_tax_cents, strict=True):
        line.tax_cents = tax
    order.shipping_method = shipping_method
    order.shipping_address = {k: v for k, v in address.items()
                              if k not in {"id", "customer_id", "label", "is_default"}}
    order.placed_at = utcnow()
    _transition(order, OrderStatus.PLACED, note=f"{quote['carrier']} {shipping_method}")
    session.commit()
    notifications_service.send(order.customer_id, "order_placed", {
        "reference": order.reference, "item_count": order.item_count,
        "subtotal_cents": order.subtotal_cents, "shipping_cents": order.shipping_cents,
        "tax_cents": order.tax_cents, "total_cents": order.total_cents,
    })
    return order_to_dict(order)


def pay_order(order_id: int, method: str, details: dict | None = None) -> dict:
    order = _load(order_id)
    _require_status(order, OrderStatus.PLACED)
    payment = payments_service.charge(order.id, order.total_cents, method, details or {})
    session = db.get_session()
    session.refresh(order)  # payments marked the order as paid
    return {"order": order_to_dict(order), "payment": payment}


def mark_paid(order_id: int, payment_id: int) -> dict:
    """Called by payments once a charge for this order was captured."""
    order = _load(order_id)
    if order.status == OrderStatus.PAID and order.payment_id == payment_id:
        return order_to_dict(order)
    _transition(order, OrderStatus.PAID, note=f"payment {payment_id}")
    order.payment_id = payment_id
    order.paid_at = utcnow()
    db.get_session().commit()
    return order_to_dict(order)


def refundable_cents(order_id: int) -> int:
    """How much may still be refunded. Shipping is not refundable once shipped."""
    order = _load(order_id)
    if order.payment_id is None:
        return 0
    non_refundable = (order.shipping_cents
                      if order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED) else 0)
    return max(0, order.total_cents - non_refundable - order.refunded_cents)


def mark_refunded(order_id: int, amount_cents: int) -> dict:
    """Called by payments after money was returned to the customer."""
    session = db.get_session()
    order = _load(order_id)
    fully_refunded = amount_cents >= refundable_cents(order_id)
    order.refunded_cents += amount_cents
    note = f"refunded {format_cents(amount_cents, order.currency)}"
    release_stock = False
    if fully_refunded and order.status in (OrderStatus.PAID, OrderStatus.SHIPPED,
                                           OrderStatus.DELIVERED):
        release_stock = order.status == OrderStatus.PAID
        _transition(order, OrderStatus.REFUNDED, note=note)
    else:
        order.events.append(OrderEvent(from_status=order.status, to_status=order.status,
                                       note=note))
    session.commit()
    if release_stock:
        inventory_service.release_reservations(order.id)
    return order_to_dict(order)


def ship_order(order_id: int) -> dict:
    session = db.get_session()
    order = _load(order_id)
    _require_status(order, OrderStatus.PAID)
    weight = sum(line.weight_grams * line.quantity for line in order.lines)
    shipment = shipping_service.create_shipment(order.id, order.shipping_address,
                                                order.customer_id, order.shipping_method, weight)
    inventory_service.commit_reservations(order.id)
    _transition(order, OrderStatus.SHIPPED, note=f"tracking {shipment['tracking_number']}")
    order.shipment_id = shipment["id"]
    order.shipped_at = utcnow()
    session.commit()
    notifications_service.send(order.customer_id, "order_shipped", {
        "reference": order.reference, "carrier": shipment["carrier"],
        "tracking_number": shipment["tracking_number"],
        "estimated_delivery": shipment["estimated_delivery"],
    })
    return {"order": order_to_dict(order), "shipment": shipment}


def mark_delivered(order_id: int) -> dict:
    """Called by shipping when the carrier reports delivery."""
    order = _load(order_id)
    if order.status == OrderStatus.SHIPPED:
        _transition(order, OrderStatus.DELIVERED, note="carrier confirmed delivery")
        order.delivered_at = utcnow()
        db.get_session().commit()
    return order_to_dict(order)


def cancel_order(order_id: int, reason: str = "requested by customer") -> dict:
    session = db.get_session()
    order = _load(order_id)
    _require_status(order, *CANCELLABLE)
    previous = order.status
    _transition(order, OrderStatus.CANCELLED, note=reason)
    order.cancelled_at = utcnow()
    session.commit()
    if previous in (OrderStatus.PLACED, OrderStatus.PAID):
        inventory_service.release_reservations(order.id)
    if previous == OrderStatus.PAID:
        payments_service.refund_order(order.id, reason=f"order cancelled: {reason}")
    if previous != OrderStatus.CART:
        notifications_service.send(order.customer_id, "order_cancelled",
                                   {"reference": order.reference, "reason": reason})
    session.refresh(order)
    return order_to_dict(order)
