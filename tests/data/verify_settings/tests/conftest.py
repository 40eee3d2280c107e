import pytest
from fastapi.testclient import TestClient

from setapp.app import app
from setapp.settings import Method, settings


@pytest.fixture(autouse=True)
def restore_settings():
    """Every test starts from the settings the app was built with, as LNbits' suite does."""
    saved = settings.model_dump()
    yield
    for name, value in saved.items():
        setattr(settings, name, value)


@pytest.fixture
def client():
    return TestClient(app)


@pytest.fixture
def open_signup():
    settings.allow_signup = True
    settings.admins = ["ada"]
    settings.motd = "welcome aboard"
