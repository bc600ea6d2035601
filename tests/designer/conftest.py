"""Shared set-up of the designer tests: the seed's triggers and content, with the text
message still a draft (what a marketer has before building the journey)."""

import pytest

from .seed import seed_catalogue


@pytest.fixture
def catalogue(db) -> None:
    seed_catalogue()
