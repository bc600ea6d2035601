"""The ingest endpoints pass by the session, login and messages middleware
(config/middleware.py); every other page keeps them, and the admin's checks accept them."""

import pytest
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.management import call_command
from django.urls import reverse

from config.middleware import INGEST_PATHS

from .conftest import cart_event, post


@pytest.fixture
def people_middleware_ran(monkeypatch):
    """Which of the session and messages middleware ran, for which path."""
    ran = []
    for middleware in (SessionMiddleware, MessageMiddleware):
        original = middleware.process_request

        def recording(self, request, original=original, name=middleware.__name__):
            ran.append((name, request.path))
            return original(self, request)

        monkeypatch.setattr(middleware, "process_request", recording)
    return ran


def test_an_event_is_accepted_without_the_middleware_for_people(website, cart_trigger, people_middleware_ran):
    response = post(website, "/api/v1/events", cart_event())

    assert response.status_code == 202, response.content
    assert people_middleware_ran == []
    assert "sessionid" not in response.cookies


def test_other_pages_still_go_through_them(client, db, people_middleware_ran):
    assert client.get("/admin/login/").status_code == 200

    assert ("SessionMiddleware", "/admin/login/") in people_middleware_ran
    assert ("MessageMiddleware", "/admin/login/") in people_middleware_ran


def test_the_ingest_paths_are_the_ingest_views_and_nothing_else(db):
    for name in ("events", "events-batch", "segment-track", "segment-identify", "segment-batch"):
        assert reverse(f"triggers:{name}").startswith(INGEST_PATHS), name
    for path in ("/admin/", "/api/v1/journeys/", "/api/schema/", "/t/o/x.gif"):
        assert not path.startswith(INGEST_PATHS), path


def test_the_admin_accepts_the_middleware(db):
    call_command("check", "--fail-level", "ERROR")
