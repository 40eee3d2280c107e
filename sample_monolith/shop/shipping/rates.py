"""Carrier rate tables and delivery zones."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

from shop.config import get_settings
from shop.utils.clock import add_business_days, utcnow
from shop.utils.errors import ValidationError


@dataclass(frozen=True)
class ServiceLevel:
    name: str
    carrier: str
    base_cents: int
    per_half_kg_cents: int
    transit_days: int


@dataclass(frozen=True)
class Zone:
    name: str
    multiplier_pct: int
    extra_days: int


@dataclass(frozen=True)
class Quote:
    method: str
    carrier: str
    cost_cents: int
    estimated_days: int
    estimated_delivery: date


SERVICE_LEVELS = {
    "standard": ServiceLevel("standard", "USPS", 499, 150, 5),
    "express": ServiceLevel("express", "UPS", 1299, 250, 2),
    "overnight": ServiceLevel("overnight", "FEDEX", 2999, 400, 1),
}

EU_COUNTRIES = frozenset({"AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PL",
                          "PT", "SE"})
POSTAL_CODE_PATTERNS = {
    "US": r"\d{5}(-\d{4})?",
    "CA": r"[A-Z]\d[A-Z] ?\d[A-Z]\d",
    "GB": r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}",
    "DE": r"\d{5}",
    "FR": r"\d{5}",
    "NL": r"\d{4} ?[A-Z]{2}",
    "AU": r"\d{4}",
}
SUPPORTED_COUNTRIES = frozenset({"US", "CA", "GB", "AU"}) | EU_COUNTRIES

TRACKING_URLS = {
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    "UPS": "https://www.ups.com/track?tracknum={number}",
    "FEDEX": "https://www.fedex.com/fedextrack/?trknbr={number}",
}


def zone_for(country: str) -> Zone:
    settings = get_settings()
    if country == settings.home_country:
        return Zone("domestic", 100, 0)
    if country in {"US", "CA"}:
        return Zone("north_america", 180, 2)
    if country in EU_COUNTRIES or country == "GB":
        return Zone("europe", 250, 4)
    return Zone("rest_of_world", 320, 7)


def validate_postal_code(country: str, postal_code: str) -> str:
    code = postal_code.strip().upper()
    pattern = POSTAL_CODE_PATTERNS.get(country)
    if pattern and not re.fullmatch(pattern, code):
        raise ValidationError(f"postal_code {postal_code!r} is not valid for {country}",
                              details={"field": "postal_code"})
    return code


def quote(method: str, weight_grams: int, country: str, subtotal_cents: int) -> Quote:
    level = SERVICE_LEVELS.get(method)
    if level is None:
        raise ValidationError(f"shipping method must be one of {', '.join(SERVICE_LEVELS)}",
                              details={"field": "shipping_method"})
    if country not in SUPPORTED_COUNTRIES:
        raise ValidationError(f"we do not ship to {country}", details={"field": "country"})
    zone = zone_for(country)
    half_kilos = max(1, math.ceil(weight_grams / 500))
    cost = level.base_cents + level.per_half_kg_cents * (half_kilos - 1)
    cost = cost * zone.multiplier_pct // 100
    settings = get_settings()
    if (method == "standard" and zone.name == "domestic"
            and subtotal_cents >= settings.free_shipping_threshold_cents):
        cost = 0
    days = level.transit_days + zone.extra_days
    return Quote(method=method, carrier=level.carrier, cost_cents=cost, estimated_days=days,
                 estimated_delivery=add_business_days(utcnow().date(), days))
