"""The command line the subprocess-based CLI tests run.

By default ``python -m decompose`` from this checkout.  Set ``DECOMPOSE_CLI``
to run them against another install instead, e.g. the console script of a
wheel installed in a fresh virtualenv (``tests/test_packaging.py`` does)::

    DECOMPOSE_CLI=/tmp/venv/bin/decompose python -m pytest tests/test_e2e.py

The value is split like a shell line (``DECOMPOSE_CLI="/tmp/venv/bin/python -m decompose"``).
"""

from __future__ import annotations

import os
import shlex
import sys


def decompose_cli() -> list[str]:
    value = os.environ.get("DECOMPOSE_CLI", "").strip()
    return shlex.split(value) if value else [sys.executable, "-m", "decompose"]
