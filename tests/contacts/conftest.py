"""A website with its events:write key, a reporting tool with its read key."""

import pytest
from rest_framework.test import APIClient

from triggers.keys import create_api_key


def _client(scope: str, name: str) -> APIClient:
    _, secret = create_api_key(name, scope=scope, source="shop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def website(db) -> APIClient:
    """The shop's website, calling the API with its events:write key."""
    return _client("events:write", "Shop website")


@pytest.fixture
def reporting(db) -> APIClient:
    """A reporting tool with a read key."""
    return _client("read", "Reporting")
