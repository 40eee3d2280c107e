"""Pay by invoice (net 30) for business customers, subject to a credit limit."""

from __future__ import annotations

from datetime import timedelta

from shop.config import get_settings
from shop.payments.providers import ChargeResult, RefundResult
from shop.utils.clock import utcnow
from shop.utils.ids import new_reference

PAYMENT_TERMS_DAYS = 30


class InvoiceProvider:
    name = "invoice"
    display_name = "Invoice (net 30)"

    def charge(self, amount_cents: int, currency: str, details: dict) -> ChargeResult:
        company = str(details.get("company", "")).strip()
        if not company:
            return ChargeResult(False, decline_code="company_required",
                                message="Invoices are only issued to companies.")
        if amount_cents > get_settings().invoice_credit_limit_cents:
            return ChargeResult(False, decline_code="credit_limit_exceeded",
                                message="The order exceeds the invoice credit limit.")
        due = (utcnow() + timedelta(days=PAYMENT_TERMS_DAYS)).date()
        return ChargeResult(True, reference=new_reference("INV"), details={
            "company": company, "vat_id": str(details.get("vat_id", "")).strip(),
            "due_date": due.isoformat()})

    def refund(self, reference: str, amount_cents: int, currency: str) -> RefundResult:
        return RefundResult(reference=new_reference("CN"),
                            message=f"credit note for invoice {reference}")


def create_provider() -> InvoiceProvider:
    return InvoiceProvider()
