"""Personas and shared fixtures: a marketer builds journeys, an analyst reads them,
an outsider (staff, no role) and a stranger (not staff) see nothing."""

import pytest
from django.contrib.auth.models import Group, User


def _user(username: str, *, group: str | None = None, is_staff: bool = True) -> User:
    user = User.objects.create_user(username=username, password="pw", is_staff=is_staff)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def marketer(db) -> User:
    return _user("marketer", group="Marketer")


@pytest.fixture
def analyst(db) -> User:
    return _user("analyst", group="Analyst")


@pytest.fixture
def outsider(db) -> User:
    return _user("outsider")


@pytest.fixture
def stranger(db) -> User:
    return _user("stranger", is_staff=False)
