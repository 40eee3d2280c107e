"""Message templates and rendering. Placeholders use ``str.format`` syntax;
every ``<name>_cents`` value in the context is also offered pre-formatted as
``<name>`` (e.g. ``total_cents=1999`` -> ``{total}`` renders ``$19.99``)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shop.config import get_settings
from shop.utils.errors import ValidationError
from shop.utils.money import format_cents

if TYPE_CHECKING:
    from shop.customers.models import Customer


@dataclass(frozen=True)
class MessageTemplate:
    name: str
    subject: str
    body: str
    sms: str | None = None


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str
    sms: str | None


TEMPLATES: dict[str, MessageTemplate] = {t.name: t for t in (
    MessageTemplate(
        "welcome", "Welcome to the shop, {first_name}!",
        "Hi {first_name},\n\nyour account {email} is ready. Happy shopping!",
    ),
    MessageTemplate(
        "order_placed", "Order {reference} received",
        "Hi {first_name},\n\nthanks for your order {reference} ({item_count} items).\n"
        "Subtotal {subtotal}, shipping {shipping}, tax {tax}, total {total}.",
        sms="Order {reference} received, total {total}.",
    ),
    MessageTemplate(
        "payment_received", "Payment for order {reference} confirmed",
        "Hi {first_name},\n\nwe received your {method} payment of {amount} for {reference}.",
    ),
    MessageTemplate(
        "order_shipped", "Order {reference} is on its way",
        "Hi {first_name},\n\n{reference} was handed to {carrier}. Tracking number "
        "{tracking_number}: {tracking_url}\nEstimated delivery: {estimated_delivery}.",
        sms="{reference} shipped with {carrier}: {tracking_url}",
    ),
    MessageTemplate(
        "shipment_update", "Update on your shipment {tracking_number}",
        "Hi {first_name},\n\nyour parcel {tracking_number} is now {status} ({location}).\n"
        "Follow it at {tracking_url}",
        sms="Parcel {tracking_number}: {status}.",
    ),
    MessageTemplate(
        "shipment_delivered", "Your parcel {tracking_number} was delivered",
        "Hi {first_name},\n\nyour parcel {tracking_number} was delivered. Enjoy!",
        sms="Parcel {tracking_number} delivered.",
    ),
    MessageTemplate(
        "refund_issued", "Refund of {amount} issued",
        "Hi {first_name},\n\nwe refunded {amount} for order {reference}. Reason: {reason}.\n"
        "It can take 5-10 business days to show up on your statement.",
    ),
    MessageTemplate(
        "order_cancelled", "Order {reference} cancelled",
        "Hi {first_name},\n\nyour order {reference} was cancelled ({reason}).",
        sms="Order {reference} cancelled.",
    ),
)}


def get_template(name: str) -> MessageTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ValidationError(f"unknown template {name!r}", details={"template": name}) from None


def placeholders(template: MessageTemplate) -> list[str]:
    texts = [template.subject, template.body, template.sms or ""]
    return sorted({field for text in texts
                   for _, field, _, _ in string.Formatter().parse(text) if field})


def build_context(customer: Customer, context: dict) -> dict:
    currency = get_settings().currency
    values = {"first_name": customer.first_name, "full_name": customer.full_name,
              "email": customer.email}
    for key, value in context.items():
        values[key] = value
        if key.endswith("_cents") and isinstance(value, int):
            values.setdefault(key.removesuffix("_cents"), format_cents(value, currency))
    return values


def render(template: MessageTemplate, customer: Customer, context: dict) -> RenderedMessage:
    values = build_context(customer, context)
    missing = [name for name in placeholders(template) if name not in values]
    if missing:
        raise ValidationError(f"template {template.name!r} is missing context: {missing}",
                              details={"missing": missing})
    return RenderedMessage(
        subject=template.subject.format_map(values),
        body=template.body.format_map(values),
        sms=template.sms.format_map(values) if template.sms else None,
    )
