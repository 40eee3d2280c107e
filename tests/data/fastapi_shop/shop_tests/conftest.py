"""With ``SHOP_BASE_URL`` set the tests talk to a running server through httpx;
otherwise to the in-process app through FastAPI's TestClient.  Tests create
their own data and never assume particular ids."""

from __future__ import annotations

import os

import httpx
import pytest


@pytest.fixture(scope="session")
def client():
    base_url = os.environ.get("SHOP_BASE_URL")
    if base_url:
        with httpx.Client(base_url=base_url, timeout=30) as c:
            yield c
        return
    from fastapi.testclient import TestClient

    from fshop.app import create_app

    with TestClient(create_app()) as c:
        yield c
