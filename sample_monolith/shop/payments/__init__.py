"""Payments domain: charges, refunds and pluggable payment providers."""
