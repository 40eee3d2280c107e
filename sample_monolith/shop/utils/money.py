"""Money is stored as integer cents; Decimal is used only at the edges."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$"}


def to_cents(amount: Decimal | str | int | float) -> int:
    """Convert a decimal amount ("12.34", 12.34, Decimal) to cents, rounding half up."""
    if isinstance(amount, bool):
        raise ValueError("amount must be a number")
    try:
        value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
    except InvalidOperation as exc:
        raise ValueError(f"not a monetary amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a monetary amount: {amount!r}")
    return int((value / CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) * CENT).quantize(CENT)


def format_cents(cents: int, currency: str = "USD") -> str:
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    sign = "-" if cents < 0 else ""
    amount = f"{from_cents(abs(cents)):,.2f}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency.upper()}"


def apply_rate_bps(cents: int, basis_points: int) -> int:
    """Return ``cents * basis_points / 10000`` rounded half up (825 bps = 8.25 %)."""
    value = Decimal(cents) * Decimal(basis_points) / Decimal(10_000)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def allocate(total_cents: int, weights: Sequence[int]) -> list[int]:
    """Split ``total_cents`` proportionally to ``weights`` without losing a cent
    (largest-remainder method)."""
    if not weights:
        return []
    weight_sum = sum(weights)
    if weight_sum <= 0:
        shares = [0] * len(weights)
        shares[0] = total_cents
        return shares
    raw = [Decimal(total_cents) * w / weight_sum for w in weights]
    shares = [int(r) for r in raw]
    remainder = total_cents - sum(shares)
    by_fraction = sorted(range(len(raw)), key=lambda i: raw[i] - shares[i], reverse=True)
    for index in by_fraction[:remainder]:
        shares[index] += 1
    return shares
