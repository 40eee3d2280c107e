"""Exception types that map one-to-one onto JSON HTTP error responses."""

from __future__ import annotations


class ShopError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class ValidationError(ShopError):
    status_code = 400
    code = "validation_error"


class NotFound(ShopError):
    status_code = 404
    code = "not_found"

    @classmethod
    def entity(cls, kind: str, identifier: object) -> "NotFound":
        return cls(f"{kind} {identifier} not found", details={"resource": kind, "id": identifier})


class Conflict(ShopError):
    status_code = 409
    code = "conflict"


class InvalidState(Conflict):
    code = "invalid_state"


class OutOfStock(Conflict):
    code = "out_of_stock"


class PaymentDeclined(ShopError):
    status_code = 402
    code = "payment_declined"
