"""A database connection that was closed under the API (a restart, a failover) answers 503
with Retry-After, and the website's retry with the same event_id stores the event once."""

import psycopg
import pytest
from django.db import connection

from triggers.models import Event

from .conftest import cart_event, post


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_closed_answers_503_and_the_retry_is_stored_once(website, cart_trigger):
    if connection.vendor != "postgresql":
        pytest.skip("terminates a PostgreSQL backend")
    assert post(website, "/api/v1/events", cart_event(event_id="evt-1")).status_code == 202
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"] or "postgres",
        dbname=settings["NAME"],
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])

    response = post(website, "/api/v1/events", cart_event(event_id="evt-2"))

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "service_unavailable"
    # What Django does when a request ends with a broken connection (the test client does
    # not run it): drop it, so the next request reconnects.
    connection.close_if_unusable_or_obsolete()
    retried = post(website, "/api/v1/events", cart_event(event_id="evt-2"))
    assert retried.status_code == 202
    again = post(website, "/api/v1/events", cart_event(event_id="evt-2"))
    assert again.json()["duplicate"] is True
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["evt-1", "evt-2"]
