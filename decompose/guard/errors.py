"""What the guard raises on bad input: :class:`CheckError` (the command exits 2 on it)."""

from __future__ import annotations


class CheckError(Exception):
    """Bad input (config, plan, files, ref); the message is one line naming the file."""
