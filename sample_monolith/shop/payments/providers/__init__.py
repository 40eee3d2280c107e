"""Payment provider plug-ins. A provider is a module in this package exposing
``create_provider()``; it is loaded by name on first use."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Protocol

from shop.config import get_settings
from shop.utils.errors import ValidationError

DEFAULT_PROVIDER = "card"


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    reference: str = ""
    decline_code: str = ""
    message: str = ""
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    reference: str
    message: str = ""


class PaymentProvider(Protocol):
    name: str
    display_name: str

    def charge(self, amount_cents: int, currency: str, details: dict) -> ChargeResult: ...

    def refund(self, reference: str, amount_cents: int, currency: str) -> RefundResult: ...


_loaded: dict[str, PaymentProvider] = {}


def default_provider() -> PaymentProvider:
    if DEFAULT_PROVIDER not in _loaded:
        module = importlib.import_module("shop.payments.providers.card")
        _loaded[DEFAULT_PROVIDER] = module.create_provider()
    return _loaded[DEFAULT_PROVIDER]


def load_provider(name: str | None = None) -> PaymentProvider:
    name = name or get_settings().default_payment_method
    if name not in get_settings().payment_methods or not re.fullmatch(r"[a-z_]+", name):
        raise ValidationError(f"unsupported payment method {name!r}",
                              details={"field": "method",
                                       "supported": list(get_settings().payment_methods)})
    if name == DEFAULT_PROVIDER:
        return default_provider()
    if name not in _loaded:
        module = importlib.import_module("shop.payments.providers." + name)
        _loaded[name] = module.create_provider()
    return _loaded[name]


def available_providers() -> list[PaymentProvider]:
    return [load_provider(name) for name in get_settings().payment_methods]
