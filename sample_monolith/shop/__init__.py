"""Shop: a single-process online shop (catalog, inventory, customers, orders,
payments, shipping and notifications) served as a JSON HTTP API."""

__version__ = "1.4.0"
