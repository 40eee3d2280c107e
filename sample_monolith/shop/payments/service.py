"""Charges and refunds. Payments and orders depend on each other: orders asks
payments to charge, payments tells orders the order is paid or refunded."""

from __future__ import annotations

from sqlalchemy import select

from shop import db
from shop.config import get_settings
from shop.notifications import service as notifications_service
from shop.orders import service as orders_service
from shop.payments import providers
from shop.payments.models import Payment, Refund
from shop.utils.clock import days_since, isoformat, utcnow
from shop.utils.errors import Conflict, InvalidState, NotFound, PaymentDeclined, ValidationError

SETTLED = (Payment.CAPTURED, Payment.PARTIALLY_REFUNDED, Payment.REFUNDED)
REFUNDABLE = (Payment.CAPTURED, Payment.PARTIALLY_REFUNDED)


def _refund_to_dict(refund: Refund) -> dict:
    return {"id": refund.id, "payment_id": refund.payment_id,
            "amount_cents": refund.amount_cents, "reason": refund.reason,
            "provider_reference": refund.provider_reference,
            "created_at": isoformat(refund.created_at)}


PAYMENT_FIELDS = ("id", "order_id", "amount_cents", "currency", "method", "status",
                  "provider_reference", "failure_reason", "details", "refunded_cents")


def payment_to_dict(payment: Payment) -> dict:
    data = {field: getattr(payment, field) for field in PAYMENT_FIELDS}
    data["refunds"] = [_refund_to_dict(r) for r in payment.refunds]
    data["created_at"] = isoformat(payment.created_at)
    data["captured_at"] = isoformat(payment.captured_at)
    return data


def _load(payment_id: int) -> Payment:
    payment = db.get_session().get(Payment, payment_id)
    if payment is None:
        raise NotFound.entity("payment", payment_id)
    return payment


def charge(order_id: int, amount_cents: int, method: str, details: dict | None = None) -> dict:
    """Charge an order through the provider for ``method`` and mark it paid.
    Raises PaymentDeclined (the declined attempt is kept for auditing)."""
    if amount_cents <= 0:
        raise ValidationError("amount must be positive", details={"field": "amount_cents"})
    provider = providers.load_provider(method)
    session = db.get_session()
    paid = session.scalar(select(Payment.id).where(Payment.order_id == order_id,
                                                   Payment.status.in_(SETTLED)))
    if paid is not None:
        raise Conflict(f"order {order_id} is already paid", details={"payment_id": paid})

    payment = Payment(order_id=order_id, amount_cents=amount_cents,
                      currency=get_settings().currency, method=provider.name,
                      status=Payment.PENDING, details={})
    session.add(payment)
    session.flush()
    result = provider.charge(amount_cents, payment.currency, details or {})
    if not result.approved:
        payment.status = Payment.DECLINED
        payment.failure_reason = f"{result.decline_code}: {result.message}"[:255]
        session.commit()
        raise PaymentDeclined(result.message or "payment declined", details={
            "payment_id": payment.id, "decline_code": result.decline_code})

    payment.status = Payment.CAPTURED
    payment.provider_reference = result.reference
    payment.details = dict(result.details)
    payment.captured_at = utcnow()
    session.commit()
    try:
        order = orders_service.mark_paid(order_id, payment.id)
    except InvalidState:
        # The order changed (e.g. was cancelled) while we were charging: give the money back.
        reversal = provider.refund(payment.provider_reference, amount_cents, payment.currency)
        payment.refunds.append(Refund(amount_cents=amount_cents, reason="order not payable",
                                      provider_reference=reversal.reference))
        payment.refunded_cents = amount_cents
        payment.status = Payment.REFUNDED
        session.commit()
        raise
    notifications_service.send(order["customer_id"], "payment_received", {
        "reference": order["reference"], "amount_cents": amount_cents,
        "method": provider.display_name.lower()})
    return payment_to_dict(payment)


def refund(payment_id: int, amount_cents: int | None = None,
           reason: str = "requested by customer") -> dict:
    """Refund part or all of a payment. Rules: only captured payments, within the
    refund window, never more than what the order still allows to be refunded."""
    session = db.get_session()
    payment = _load(payment_id)
    if payment.status not in REFUNDABLE:
        raise InvalidState(f"payment {payment_id} is {payment.status}",
                           details={"status": payment.status})
    window = get_settings().refund_window_days
    if payment.captured_at and days_since(payment.captured_at) > window:
        raise InvalidState(f"refund window of {window} days has expired")
    limit = min(payment.remaining_cents, orders_service.refundable_cents(payment.order_id))
    if limit <= 0:
        raise InvalidState("nothing left to refund", details={"refundable_cents": 0})
    amount = limit if amount_cents is None else amount_cents
    if amount <= 0:
        raise ValidationError("amount must be positive", details={"field": "amount_cents"})
    if amount > limit:
        raise ValidationError(f"at most {limit} cents can be refunded",
                              details={"field": "amount_cents", "refundable_cents": limit})

    provider = providers.load_provider(payment.method)
    result = provider.refund(payment.provider_reference, amount, payment.currency)
    record = Refund(amount_cents=amount, reason=reason, provider_reference=result.reference)
    payment.refunds.append(record)
    payment.refunded_cents += amount
    payment.status = (Payment.REFUNDED if payment.remaining_cents == 0
                      else Payment.PARTIALLY_REFUNDED)
    session.commit()

    order = orders_service.mark_refunded(payment.order_id, amount)
    notifications_service.send(order["customer_id"], "refund_issued", {
        "reference": order["reference"], "amount_cents": amount, "reason": reason})
    return {**_refund_to_dict(record), "payment_status": payment.status,
            "order_status": order["status"]}


def refund_order(order_id: int, reason: str) -> int:
    """Refund everything still refundable on an order; returns the cents refunded."""
    payments = db.get_session().scalars(
        select(Payment).where(Payment.order_id == order_id, Payment.status.in_(REFUNDABLE))
    ).all()
    total = 0
    for payment in payments:
        total += refund(payment.id, None, reason)["amount_cents"]
    return total


def get_payment(payment_id: int) -> dict:
    return payment_to_dict(_load(payment_id))


def list_payments(order_id: int) -> list[dict]:
    payments = db.get_session().scalars(
        select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)
    ).all()
    return [payment_to_dict(p) for p in payments]


def list_methods() -> list[dict]:
    return [{"name": p.name, "display_name": p.display_name,
             "default": p.name == get_settings().default_payment_method}
            for p in providers.available_providers()]
