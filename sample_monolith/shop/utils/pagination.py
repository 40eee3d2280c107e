"""Offset pagination for list endpoints."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from shop.utils.validation import query_int

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_request(args: Mapping) -> PageRequest:
    return PageRequest(
        page=query_int(args, "page", default=1, minimum=1),
        per_page=query_int(args, "per_page", default=DEFAULT_PER_PAGE, minimum=1,
                           maximum=MAX_PER_PAGE),
    )


def page_envelope(items: list, total: int, page: PageRequest) -> dict:
    return {
        "items": items,
        "page": page.page,
        "per_page": page.per_page,
        "total": total,
        "pages": math.ceil(total / page.per_page) if total else 0,
    }


def paginate(
    session: Session, stmt: Select, page: PageRequest, serialize: Callable[[Any], dict]
) -> dict:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.scalars(stmt.limit(page.per_page).offset(page.offset)).all()
    return page_envelope([serialize(row) for row in rows], total or 0, page)
