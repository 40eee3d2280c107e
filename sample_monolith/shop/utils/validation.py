"""Small request-payload validators that raise :class:`ValidationError`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shop.utils.errors import ValidationError
from shop.utils.money import to_cents

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_MISSING = object()


def require_object(payload: Any) -> dict:
    if not isinstance(payload, dict):
        raise ValidationError("request body must be a JSON object")
    return payload


def _fail(key: str, problem: str) -> ValidationError:
    return ValidationError(f"{key}: {problem}", details={"field": key})


def get_str(
    data: Mapping, key: str, *, required: bool = True, max_length: int = 255,
    default: str | None = None,
) -> str | None:
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise _fail(key, "is required")
        return default
    if not isinstance(value, str):
        raise _fail(key, "must be a string")
    value = value.strip()
    if required and not value:
        raise _fail(key, "must not be empty")
    if len(value) > max_length:
        raise _fail(key, f"must be at most {max_length} characters")
    return value


def get_int(
    data: Mapping, key: str, *, required: bool = True, minimum: int | None = None,
    maximum: int | None = None, default: int | None = None,
) -> int | None:
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise _fail(key, "is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(key, "must be an integer")
    if minimum is not None and value < minimum:
        raise _fail(key, f"must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise _fail(key, f"must be <= {maximum}")
    return value


def get_bool(data: Mapping, key: str, *, default: bool | None = False) -> bool | None:
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(key, "must be true or false")
    return value


def get_email(data: Mapping, key: str = "email", *, required: bool = True) -> str | None:
    value = get_str(data, key, required=required, max_length=254)
    if value is None:
        return None
    if not EMAIL_RE.match(value):
        raise _fail(key, "is not a valid email address")
    return value.lower()


def get_phone(data: Mapping, key: str = "phone") -> str | None:
    value = get_str(data, key, required=False, max_length=32)
    if not value:
        return None
    digits = re.sub(r"[\s().-]", "", value)
    if not re.fullmatch(r"\+?\d{7,15}", digits):
        raise _fail(key, "is not a valid phone number")
    return digits if digits.startswith("+") else "+" + digits


def get_money_cents(data: Mapping, key: str, *, required: bool = True) -> int | None:
    """Accept either ``<key>_cents`` (integer) or ``<key>`` (decimal string/number)."""
    if data.get(f"{key}_cents") is not None:
        return get_int(data, f"{key}_cents", minimum=0)
    raw = data.get(key)
    if raw is None:
        if required:
            raise _fail(key, "is required")
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise _fail(key, "must be a decimal amount")
    try:
        cents = to_cents(raw)
    except ValueError as exc:
        raise _fail(key, "must be a decimal amount") from exc
    if cents < 0:
        raise _fail(key, "must not be negative")
    return cents


def query_int(
    args: Mapping, key: str, *, default: int | None = None, minimum: int | None = None,
    maximum: int | None = None, required: bool = False,
) -> int | None:
    raw = args.get(key)
    if raw in (None, ""):
        if required:
            raise _fail(key, "query parameter is required")
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise _fail(key, "must be an integer") from exc
    if minimum is not None and value < minimum:
        raise _fail(key, f"must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise _fail(key, f"must be <= {maximum}")
    return value
