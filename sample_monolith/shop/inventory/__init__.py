"""Inventory domain: stock levels, reservations for orders, stock movements."""
