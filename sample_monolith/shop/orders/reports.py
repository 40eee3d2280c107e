"""Sales reporting straight from SQL: one round trip over orders, order lines,
customers and payments instead of loading ORM objects."""

from __future__ import annotations

from sqlalchemy import text

from shop import db
from shop.utils.errors import NotFound
from shop.utils.money import format_cents

CUSTOMER_SUMMARY_SQL = text("""
    SELECT c.id AS customer_id,
           c.email AS email,
           c.full_name AS full_name,
           COUNT(o.id) AS order_count,
           COALESCE(SUM(o.total_cents), 0) AS ordered_cents,
           COALESCE(SUM(p.captured_cents), 0) AS paid_cents,
           COALESCE(SUM(p.refunded_cents), 0) AS refunded_cents,
           MAX(o.placed_at) AS last_order_at
    FROM customers AS c
    LEFT JOIN orders AS o
           ON o.customer_id = c.id AND o.status NOT IN ('cart', 'cancelled')
    LEFT JOIN (
        SELECT order_id,
               SUM(CASE WHEN status IN ('captured', 'partially_refunded', 'refunded')
                        THEN amount_cents ELSE 0 END) AS captured_cents,
               SUM(refunded_cents) AS refunded_cents
        FROM payments
        GROUP BY order_id
    ) AS p ON p.order_id = o.id
    WHERE c.id = :customer_id
    GROUP BY c.id, c.email, c.full_name
""")

TOP_PRODUCTS_SQL = text("""
    SELECT l.product_id AS product_id,
           l.sku AS sku,
           l.name AS name,
           SUM(l.quantity) AS quantity,
           SUM(l.quantity * l.unit_price_cents) AS revenue_cents
    FROM order_lines AS l
    JOIN orders AS o ON o.id = l.order_id
    WHERE o.customer_id = :customer_id AND o.status NOT IN ('cart', 'cancelled')
    GROUP BY l.product_id, l.sku, l.name
    ORDER BY quantity DESC, revenue_cents DESC
    LIMIT :limit
""")


def customer_summary(customer_id: int, top: int = 5) -> dict:
    session = db.get_session()
    row = session.execute(CUSTOMER_SUMMARY_SQL, {"customer_id": customer_id}).mappings().first()
    if row is None:
        raise NotFound.entity("customer", customer_id)
    # SUM of a BIGINT is NUMERIC on PostgreSQL (Decimal): amounts are whole cents
    summary = {k: int(v) if k.endswith(("_cents", "_count")) else v for k, v in row.items()}
    net = summary["paid_cents"] - summary["refunded_cents"]
    summary["net_revenue_cents"] = net
    summary["net_revenue"] = format_cents(net)
    if summary["last_order_at"] is not None:
        summary["last_order_at"] = str(summary["last_order_at"])
    products = session.execute(TOP_PRODUCTS_SQL,
                               {"customer_id": customer_id, "limit": top}).mappings()
    summary["top_products"] = [{**product, "quantity": int(product["quantity"]),
                                "revenue_cents": int(product["revenue_cents"])} for product in products]
    return summary
