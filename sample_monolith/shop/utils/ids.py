"""Human-facing identifiers: order references, slugs, tracking numbers."""

from __future__ import annotations

import re
import secrets
import unicodedata

from shop.utils.clock import utcnow


def new_reference(prefix: str) -> str:
    """``ORD-260114-4F9A2C``: prefix, UTC date and a random suffix."""
    return f"{prefix}-{utcnow():%y%m%d}-{secrets.token_hex(3).upper()}"


def slugify(text: str) -> str:
    normalized = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", normalized.lower()).strip("-")
    return slug or secrets.token_hex(4)


def tracking_number(carrier_code: str) -> str:
    digits = "".join(str(secrets.randbelow(10)) for _ in range(14))
    return f"{carrier_code.upper()}{digits}"


def provider_reference(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"
