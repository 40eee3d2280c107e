"""Shared fixtures: paths to the bundled sample monolith and to real-world corpora."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_monolith"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def sample_monolith() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def django_source() -> Path:
    """Django's source from PyPI (downloaded once, cached under ~/.cache/decompose-corpus)."""
    from benchmarks.corpus import django_source as fetch

    return fetch()
