"""A STOP reply names only a phone number: the lookup of its contacts uses the phone index
instead of reading every contact."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from journeys.consent import apply_text_reply
from journeys.models import Consent, Contact

pytestmark = pytest.mark.django_db


def plan_of(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN " + sql)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(" ".join(str(part) for part in row) for row in cursor.fetchall())


def test_a_stop_reply_finds_its_contacts_through_the_phone_index():
    Contact.objects.bulk_create(
        Contact(external_id=f"c{i}", phone=f"+1555{i:07d}", email=f"c{i}@example.com") for i in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE journeys_contact")

    with CaptureQueriesContext(connection) as queries:
        assert apply_text_reply("+15550001234", "STOP") == "unsubscribed"

    lookups = [q["sql"] for q in queries if 'FROM "journeys_contact"' in q["sql"] and "phone" in q["sql"]]
    assert len(lookups) == 1, [q["sql"] for q in queries]
    assert "contact_phone" in plan_of(lookups[0])
    assert list(Consent.objects.values_list("contact__external_id", "channel", "status")) == [
        ("c1234", "text", "unsubscribed")
    ]
