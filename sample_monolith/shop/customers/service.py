"""Customer accounts and address book."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop import db
from shop.customers.models import Address, Customer
from shop.notifications import service as notifications_service
from shop.shipping import service as shipping_service
from shop.utils.clock import isoformat
from shop.utils.errors import Conflict, NotFound, ValidationError
from shop.utils.pagination import PageRequest, paginate

ADDRESS_FIELDS = ("recipient", "line1", "line2", "city", "region", "postal_code", "country")


def _address_to_dict(address: Address) -> dict:
    data = {field: getattr(address, field) for field in ADDRESS_FIELDS}
    data.update(id=address.id, customer_id=address.customer_id, label=address.label,
                is_default=address.is_default)
    return data


def _customer_to_dict(customer: Customer) -> dict:
    default = next((a for a in customer.addresses if a.is_default), None)
    return {
        "id": customer.id,
        "email": customer.email,
        "full_name": customer.full_name,
        "phone": customer.phone,
        "sms_opt_in": customer.sms_opt_in,
        "status": customer.status,
        "default_address": _address_to_dict(default) if default else None,
        "created_at": isoformat(customer.created_at),
    }


def _load(customer_id: int) -> Customer:
    customer = db.get_session().get(Customer, customer_id)
    if customer is None:
        raise NotFound.entity("customer", customer_id)
    return customer


def register_customer(
    email: str, full_name: str, phone: str | None = None, sms_opt_in: bool = False
) -> dict:
    if sms_opt_in and not phone:
        raise ValidationError("sms_opt_in requires a phone number", details={"field": "phone"})
    session = db.get_session()
    customer = Customer(email=email.lower(), full_name=full_name, phone=phone,
                        sms_opt_in=sms_opt_in)
    session.add(customer)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("email is already registered", details={"email": email}) from exc
    notifications_service.send(customer.id, "welcome", {"email": customer.email})
    return _customer_to_dict(customer)


def get_customer(customer_id: int) -> dict:
    return _customer_to_dict(_load(customer_id))


def list_customers(page: PageRequest, email: str | None = None) -> dict:
    stmt = select(Customer).order_by(Customer.id.desc())
    if email:
        stmt = stmt.where(Customer.email == email.lower())
    return paginate(db.get_session(), stmt, page, _customer_to_dict)


def update_customer(
    customer_id: int, *, full_name: str | None = None, phone: str | None = None,
    sms_opt_in: bool | None = None, status: str | None = None,
) -> dict:
    customer = _load(customer_id)
    if status is not None:
        if status not in Customer.STATUSES:
            raise ValidationError(f"status must be one of {', '.join(Customer.STATUSES)}",
                                  details={"field": "status"})
        if customer.status == Customer.CLOSED and status != Customer.CLOSED:
            raise Conflict("closed accounts cannot be reopened")
        customer.status = status
    if full_name is not None:
        customer.full_name = full_name
    if phone is not None:
        customer.phone = phone
    if sms_opt_in is not None:
        if sms_opt_in and not customer.phone:
            raise ValidationError("sms_opt_in requires a phone number",
                                  details={"field": "phone"})
        customer.sms_opt_in = sms_opt_in
    db.get_session().commit()
    return _customer_to_dict(customer)


def add_address(customer_id: int, address: dict, label: str = "home",
                make_default: bool = False) -> dict:
    customer = _load(customer_id)
    if not customer.is_active:
        raise Conflict(f"customer {customer_id} is {customer.status}")
    normalized = shipping_service.normalize_address(
        {**address, "recipient": address.get("recipient") or customer.full_name}
    )
    new = Address(customer_id=customer_id, label=label,
                  **{field: normalized.get(field, "") for field in ADDRESS_FIELDS})
    if make_default or not customer.addresses:
        for existing in customer.addresses:
            existing.is_default = False
        new.is_default = True
    customer.addresses.append(new)
    db.get_session().commit()
    return _address_to_dict(new)


def list_addresses(customer_id: int) -> list[dict]:
    return [_address_to_dict(a) for a in _load(customer_id).addresses]


def get_address(customer_id: int, address_id: int) -> dict:
    address = db.get_session().get(Address, address_id)
    if address is None or address.customer_id != customer_id:
        raise NotFound.entity("address", address_id)
    return _address_to_dict(address)


def get_default_address(customer_id: int) -> dict | None:
    default = next((a for a in _load(customer_id).addresses if a.is_default), None)
    return _address_to_dict(default) if default else None
