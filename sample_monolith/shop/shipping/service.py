"""Shipping quotes, shipment creation and tracking-status updates."""

from __future__ import annotations

from typing import TypedDict

from sqlalchemy import select

from shop import db
from shop.shipping import rates
from shop.shipping.models import Shipment, TrackingEvent
from shop.utils.clock import isoformat, utcnow
from shop.utils.errors import InvalidState, NotFound, ValidationError
from shop.utils.ids import tracking_number as new_tracking_number

LABEL_CREATED = "label_created"
IN_TRANSIT = "in_transit"
OUT_FOR_DELIVERY = "out_for_delivery"
DELIVERED = "delivered"
EXCEPTION = "exception"
RETURNED = "returned"

TRANSITIONS: dict[str, frozenset[str]] = {
    LABEL_CREATED: frozenset({IN_TRANSIT, EXCEPTION}),
    IN_TRANSIT: frozenset({IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED, EXCEPTION}),
    OUT_FOR_DELIVERY: frozenset({DELIVERED, EXCEPTION, IN_TRANSIT}),
    EXCEPTION: frozenset({IN_TRANSIT, OUT_FOR_DELIVERY, RETURNED}),
    DELIVERED: frozenset(),
    RETURNED: frozenset(),
}
NOTIFY_ON = {OUT_FOR_DELIVERY: "shipment_update", EXCEPTION: "shipment_update",
             DELIVERED: "shipment_delivered"}


class ShippingQuote(TypedDict):
    method: str
    carrier: str
    cost_cents: int
    estimated_days: int
    estimated_delivery: str


def _quote_to_dict(quote: rates.Quote) -> ShippingQuote:
    return ShippingQuote(method=quote.method, carrier=quote.carrier, cost_cents=quote.cost_cents,
                         estimated_days=quote.estimated_days,
                         estimated_delivery=quote.estimated_delivery.isoformat())


SHIPMENT_FIELDS = ("id", "order_id", "customer_id", "carrier", "method", "tracking_number",
                   "status", "address", "weight_grams", "cost_cents")


def _shipment_to_dict(shipment: Shipment, *, with_events: bool = True) -> dict:
    data = {field: getattr(shipment, field) for field in SHIPMENT_FIELDS}
    data["tracking_url"] = tracking_url(shipment.carrier, shipment.tracking_number)
    for field in ("estimated_delivery", "created_at", "delivered_at"):
        data[field] = isoformat(getattr(shipment, field))
    if with_events:
        data["events"] = [{"status": e.status, "location": e.location, "note": e.note,
                           "occurred_at": isoformat(e.occurred_at)} for e in shipment.events]
    return data


def normalize_address(address: dict) -> dict:
    """Validate a postal address and return it in canonical form."""
    country = str(address.get("country") or "").strip().upper()
    if len(country) != 2:
        raise ValidationError("country must be a two-letter ISO code", details={"field": "country"})
    if country not in rates.SUPPORTED_COUNTRIES:
        raise ValidationError(f"we do not ship to {country}", details={"field": "country"})
    for field in ("recipient", "line1", "city", "postal_code"):
        if not str(address.get(field) or "").strip():
            raise ValidationError(f"{field}: is required", details={"field": field})
    return {
        "recipient": address["recipient"].strip(),
        "line1": address["line1"].strip(),
        "line2": str(address.get("line2") or "").strip(),
        "city": address["city"].strip(),
        "region": str(address.get("region") or "").strip().upper(),
        "postal_code": rates.validate_postal_code(country, address["postal_code"]),
        "country": country,
    }


def quote_shipping(method: str, weight_grams: int, country: str,
                   subtotal_cents: int) -> ShippingQuote:
    return _quote_to_dict(rates.quote(method, weight_grams, country.upper(), subtotal_cents))


def available_methods(weight_grams: int, country: str, subtotal_cents: int) -> list[ShippingQuote]:
    return [quote_shipping(method, weight_grams, country, subtotal_cents)
            for method in rates.SERVICE_LEVELS]


def tracking_url(carrier: str, tracking_number: str) -> str:
    template = rates.TRACKING_URLS.get(carrier.upper(), "https://track.shop.example/{number}")
    return template.format(number=tracking_number)


def create_shipment(order_id: int, address: dict, customer_id: int,
                    method: str = "standard", weight_grams: int = 0) -> dict:
    session = db.get_session()
    existing = session.scalar(select(Shipment).where(Shipment.order_id == order_id,
                                                     Shipment.status != RETURNED))
    if existing is not None:
        raise InvalidState(f"order {order_id} already has shipment {existing.id}")
    normalized = normalize_address(address)
    quote = rates.quote(method, weight_grams, normalized["country"], subtotal_cents=0)
    shipment = Shipment(
        order_id=order_id, customer_id=customer_id, carrier=quote.carrier, method=method,
        tracking_number=new_tracking_number(quote.carrier[:2]), address=normalized,
        weight_grams=weight_grams, cost_cents=quote.cost_cents,
        estimated_delivery=quote.estimated_delivery, status=LABEL_CREATED,
    )
    shipment.events.append(TrackingEvent(status=LABEL_CREATED, note="Shipping label created"))
    session.add(shipment)
    session.commit()
    return _shipment_to_dict(shipment)


def _load(shipment_id: int) -> Shipment:
    shipment = db.get_session().get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound.entity("shipment", shipment_id)
    return shipment


def get_shipment(shipment_id: int) -> dict:
    return _shipment_to_dict(_load(shipment_id))


def list_shipments(order_id: int) -> list[dict]:
    shipments = db.get_session().scalars(
        select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)
    ).all()
    return [_shipment_to_dict(s, with_events=False) for s in shipments]


def track(tracking_number: str) -> dict:
    shipment = db.get_session().scalar(
        select(Shipment).where(Shipment.tracking_number == tracking_number.upper())
    )
    if shipment is None:
        raise NotFound.entity("tracking number", tracking_number)
    return _shipment_to_dict(shipment)


def record_tracking_event(shipment_id: int, status: str, location: str = "",
                          note: str = "") -> dict:
    # Imported here: notifications and orders both import this module at load time.
    from shop.notifications import service as notifications_service
    from shop.orders import service as orders_service

    shipment = _load(shipment_id)
    if status not in TRANSITIONS:
        raise ValidationError(f"status must be one of {', '.join(TRANSITIONS)}",
                              details={"field": "status"})
    if status not in TRANSITIONS[shipment.status]:
        raise InvalidState(f"cannot move shipment from {shipment.status} to {status}",
                           details={"from": shipment.status, "to": status})
    shipment.status = status
    shipment.events.append(TrackingEvent(status=status, location=location, note=note))
    if status == DELIVERED:
        shipment.delivered_at = utcnow()
    db.get_session().commit()

    if status == DELIVERED:
        orders_service.mark_delivered(shipment.order_id)
    template = NOTIFY_ON.get(status)
    if template:
        notifications_service.send(shipment.customer_id, template, {
            "order_id": shipment.order_id, "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "status": status.replace("_", " "), "location": location or "carrier facility",
        })
    return _shipment_to_dict(shipment)
