from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import Base
from shop.utils.clock import utcnow


class Payment(Base):
    __tablename__ = "payments"

    PENDING = "pending"
    CAPTURED = "captured"
    DECLINED = "declined"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(Integer, index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    provider_reference: Mapped[str] = mapped_column(String(64), default="")
    failure_reason: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    captured_at: Mapped[datetime | None] = mapped_column(DateTime)

    refunds: Mapped[list[Refund]] = relationship(
        back_populates="payment", cascade="all, delete-orphan", order_by="Refund.id"
    )

    @property
    def remaining_cents(self) -> int:
        return self.amount_cents - self.refunded_cents


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(255))
    provider_reference: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="refunds")
