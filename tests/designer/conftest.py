"""Shared set-up of the designer tests: the seed's triggers and content, with the text
message still a draft (what a marketer has before building the journey), and the seed
journey built through the designer."""

import pytest

from journeys.models import Journey

from .helpers import build_seed_journey
from .seed import seed_catalogue


@pytest.fixture
def catalogue(db) -> None:
    seed_catalogue()


@pytest.fixture
def journey(client, marketer, catalogue) -> Journey:
    """The seed journey, built through the designer by a logged-in marketer."""
    client.force_login(marketer)
    return build_seed_journey(client)
