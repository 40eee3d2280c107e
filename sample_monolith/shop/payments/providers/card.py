"""Card payments through the acquirer gateway (sandbox rules: Luhn-valid
numbers are approved unless they are one of the well-known decline numbers)."""

from __future__ import annotations

import re
from datetime import date

from shop.payments.providers import ChargeResult, RefundResult
from shop.utils.clock import utcnow
from shop.utils.ids import provider_reference

DECLINE_NUMBERS = {
    "4000000000000002": ("card_declined", "The card was declined."),
    "4000000000009995": ("insufficient_funds", "The card has insufficient funds."),
    "4000000000000069": ("expired_card", "The card has expired."),
}
BRANDS = (("4", "visa"), ("51", "mastercard"), ("52", "mastercard"), ("53", "mastercard"),
          ("54", "mastercard"), ("55", "mastercard"), ("34", "amex"), ("37", "amex"))
MAX_CHARGE_CENTS = 1_000_000


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _expired(expiry: str) -> bool | None:
    match = re.fullmatch(r"(\d{1,2})/(\d{2}|\d{4})", expiry.strip())
    if not match:
        return None
    month, year = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return None
    year = year + 2000 if year < 100 else year
    today = utcnow().date()
    return date(year, month, 1) < date(today.year, today.month, 1)


def _brand(number: str) -> str:
    return next((brand for prefix, brand in BRANDS if number.startswith(prefix)), "unknown")


class CardProvider:
    name = "card"
    display_name = "Credit or debit card"

    def charge(self, amount_cents: int, currency: str, details: dict) -> ChargeResult:
        number = re.sub(r"[\s-]", "", str(details.get("card_number", "")))
        if not luhn_valid(number):
            return ChargeResult(False, decline_code="invalid_number",
                                message="The card number is invalid.")
        expired = _expired(str(details.get("expiry", "")))
        if expired is None:
            return ChargeResult(False, decline_code="invalid_expiry",
                                message="Expiry must be MM/YY.")
        if expired:
            return ChargeResult(False, decline_code="expired_card", message="The card has expired.")
        if number in DECLINE_NUMBERS:
            code, message = DECLINE_NUMBERS[number]
            return ChargeResult(False, decline_code=code, message=message)
        if amount_cents > MAX_CHARGE_CENTS:
            return ChargeResult(False, decline_code="amount_too_large",
                                message="The amount exceeds the card limit.")
        return ChargeResult(True, reference=provider_reference("ch"),
                            details={"brand": _brand(number), "last4": number[-4:]})

    def refund(self, reference: str, amount_cents: int, currency: str) -> RefundResult:
        return RefundResult(reference=provider_reference("re"),
                            message=f"refund against {reference}")


def create_provider() -> CardProvider:
    return CardProvider()
