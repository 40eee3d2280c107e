"""Application settings, read from ``SHOP_*`` environment variables."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass


def default_database_url() -> str:
    return "sqlite:///" + os.path.join(tempfile.gettempdir(), "shop.db")


@dataclass(frozen=True)
class Settings:
    database_url: str = dataclasses.field(default_factory=default_database_url)
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False
    currency: str = "USD"
    home_country: str = "US"
    tax_rate_bps: int = 825  # 8.25 % sales tax, domestic orders only
    free_shipping_threshold_cents: int = 10_000
    refund_window_days: int = 30
    payment_methods: tuple[str, ...] = ("card", "invoice")
    default_payment_method: str = "card"
    invoice_credit_limit_cents: int = 250_000
    notification_max_attempts: int = 3


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    defaults = Settings()

    def integer(name: str, default: int) -> int:
        raw = env.get(name, "").strip()
        try:
            return int(raw) if raw else default
        except ValueError as exc:
            raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc

    methods = env.get("SHOP_PAYMENT_METHODS") or ",".join(defaults.payment_methods)
    return Settings(
        database_url=env.get("SHOP_DATABASE_URL") or defaults.database_url,
        host=env.get("SHOP_HOST") or defaults.host,
        port=integer("SHOP_PORT", defaults.port),
        debug=env.get("SHOP_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"},
        currency=(env.get("SHOP_CURRENCY") or defaults.currency).upper(),
        home_country=(env.get("SHOP_HOME_COUNTRY") or defaults.home_country).upper(),
        tax_rate_bps=integer("SHOP_TAX_RATE_BPS", defaults.tax_rate_bps),
        free_shipping_threshold_cents=integer("SHOP_FREE_SHIPPING_THRESHOLD_CENTS",
                                              defaults.free_shipping_threshold_cents),
        refund_window_days=integer("SHOP_REFUND_WINDOW_DAYS", defaults.refund_window_days),
        payment_methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
        default_payment_method=(env.get("SHOP_DEFAULT_PAYMENT_METHOD")
                                or defaults.default_payment_method),
        invoice_credit_limit_cents=integer("SHOP_INVOICE_CREDIT_LIMIT_CENTS",
                                           defaults.invoice_credit_limit_cents),
        notification_max_attempts=integer("SHOP_NOTIFICATION_MAX_ATTEMPTS",
                                          defaults.notification_max_attempts),
    )


_current: Settings | None = None


def get_settings() -> Settings:
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def configure(settings: Settings | None = None, **overrides: object) -> Settings:
    """Install the process-wide settings (used by ``create_app`` and tests)."""
    global _current
    base = settings or load_settings()
    _current = dataclasses.replace(base, **overrides) if overrides else base
    return _current
