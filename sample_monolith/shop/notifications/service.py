"""Transactional messages: render a template for a customer into the outbox
and deliver queued messages."""

from __future__ import annotations

from sqlalchemy import select

from shop import db
from shop.config import get_settings
from shop.customers.models import Customer
from shop.notifications import templates
from shop.notifications.models import Notification
from shop.shipping import service as shipping_service
from shop.utils.clock import isoformat, utcnow
from shop.utils.errors import NotFound
from shop.utils.pagination import PageRequest, paginate

UNDELIVERABLE_EMAIL_DOMAINS = (".invalid", ".test")


MESSAGE_FIELDS = ("id", "customer_id", "channel", "template", "recipient", "subject", "body",
                  "status", "attempts", "last_error")


def _to_dict(notification: Notification) -> dict:
    data = {field: getattr(notification, field) for field in MESSAGE_FIELDS}
    data["created_at"] = isoformat(notification.created_at)
    data["sent_at"] = isoformat(notification.sent_at)
    return data


def send(customer_id: int, template: str, context: dict) -> int:
    """Queue a message for a customer; returns the id of the email message.
    An SMS copy is queued too when the template has one and the customer opted in."""
    session = db.get_session()
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound.entity("customer", customer_id)
    message_template = templates.get_template(template)
    context = dict(context)
    if "tracking_number" in context and "carrier" in context:
        context.setdefault("tracking_url", shipping_service.tracking_url(
            context["carrier"], context["tracking_number"]))
    rendered = templates.render(message_template, customer, context)

    email = Notification(customer_id=customer.id, channel="email", template=template,
                         recipient=customer.email, subject=rendered.subject, body=rendered.body)
    session.add(email)
    if rendered.sms and customer.phone and customer.sms_opt_in:
        session.add(Notification(customer_id=customer.id, channel="sms", template=template,
                                 recipient=customer.phone, body=rendered.sms))
    session.commit()
    return email.id


def list_templates() -> list[dict]:
    return [{"name": t.name, "subject": t.subject, "has_sms": t.sms is not None,
             "placeholders": templates.placeholders(t)} for t in templates.TEMPLATES.values()]


def get_notification(notification_id: int) -> dict:
    notification = db.get_session().get(Notification, notification_id)
    if notification is None:
        raise NotFound.entity("notification", notification_id)
    return _to_dict(notification)


def list_notifications(page: PageRequest, customer_id: int | None = None,
                       status: str | None = None, template: str | None = None) -> dict:
    stmt = select(Notification).order_by(Notification.id.desc())
    if customer_id is not None:
        stmt = stmt.where(Notification.customer_id == customer_id)
    if status:
        stmt = stmt.where(Notification.status == status)
    if template:
        stmt = stmt.where(Notification.template == template)
    return paginate(db.get_session(), stmt, page, _to_dict)


def _deliver(notification: Notification) -> None:
    """Hand a message to the transport. The outbox transport rejects
    addresses on reserved, undeliverable domains."""
    if notification.channel == "email":
        domain = notification.recipient.rsplit("@", 1)[-1]
        if domain.endswith(UNDELIVERABLE_EMAIL_DOMAINS):
            raise ConnectionError(f"mailbox unavailable for domain {domain}")
    elif not notification.recipient.startswith("+"):
        raise ConnectionError("sms recipient must be in E.164 format")


def dispatch_pending(limit: int = 100, customer_id: int | None = None) -> dict:
    """Try to deliver queued messages; failures are retried until the attempt
    limit is reached, after which they are marked failed."""
    session = db.get_session()
    max_attempts = get_settings().notification_max_attempts
    stmt = (select(Notification).where(Notification.status == Notification.QUEUED)
            .order_by(Notification.id).limit(limit))
    if customer_id is not None:
        stmt = stmt.where(Notification.customer_id == customer_id)
    counts = {"sent": 0, "failed": 0, "retrying": 0}
    for notification in session.scalars(stmt).all():
        notification.attempts += 1
        try:
            _deliver(notification)
        except ConnectionError as exc:
            notification.last_error = str(exc)[:255]
            if notification.attempts >= max_attempts:
                notification.status = Notification.FAILED
                counts["failed"] += 1
            else:
                counts["retrying"] += 1
        else:
            notification.status = Notification.SENT
            notification.sent_at = utcnow()
            notification.last_error = ""
            counts["sent"] += 1
    session.commit()
    return counts
