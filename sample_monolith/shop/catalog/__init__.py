"""Catalog domain: categories, products, prices and product search."""
