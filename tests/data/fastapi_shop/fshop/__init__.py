"""A small FastAPI shop: items, users and orders in one app."""
