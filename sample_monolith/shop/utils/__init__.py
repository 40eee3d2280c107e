"""Helpers shared by every domain: money, validation, paging, ids, time, errors."""
