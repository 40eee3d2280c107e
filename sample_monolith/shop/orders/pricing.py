"""Order totals: subtotal, shipping and sales tax (allocated back to lines)."""

from __future__ import annotations

from dataclasses import dataclass

from shop.config import get_settings
from shop.utils.money import allocate, apply_rate_bps


@dataclass(frozen=True)
class Totals:
    subtotal_cents: int
    shipping_cents: int
    tax_cents: int
    total_cents: int
    line_tax_cents: tuple[int, ...]


def tax_rate_bps(country: str) -> int:
    """Sales tax is charged on domestic deliveries only; exports are zero-rated."""
    settings = get_settings()
    return settings.tax_rate_bps if country.upper() == settings.home_country else 0


def compute_totals(line_amounts: list[int], shipping_cents: int, country: str) -> Totals:
    subtotal = sum(line_amounts)
    rate = tax_rate_bps(country)
    # Shipping is taxable together with the goods.
    tax = apply_rate_bps(subtotal + shipping_cents, rate)
    goods_tax = apply_rate_bps(subtotal, rate)
    return Totals(
        subtotal_cents=subtotal,
        shipping_cents=shipping_cents,
        tax_cents=tax,
        total_cents=subtotal + shipping_cents + tax,
        line_tax_cents=tuple(allocate(goods_tax, line_amounts)),
    )
