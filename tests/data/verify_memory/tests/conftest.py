import pytest
from fastapi.testclient import TestClient

from memapp.app import app


@pytest.fixture
def client():
    return TestClient(app)
