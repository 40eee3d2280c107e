"""Shipping domain: rate quotes, shipments and carrier tracking."""
