"""Customers domain: accounts and postal addresses."""
