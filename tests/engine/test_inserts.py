"""journeys.inserts writes a group's rows on PostgreSQL as one array literal per column:
every value must come back as it went in, however awkward."""

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

import pytest
from django.db import connection, models
from psycopg.types.json import Jsonb

from journeys.inserts import _array_literal, _as_is, insert_many_unless_taken
from journeys.models import Contact

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="array literals are PostgreSQL's")

AWKWARD_TEXT = [
    "",
    "NULL",
    "null",
    '"',
    "\\",
    '\\"',
    "a,b",
    "{x}",
    "{",
    "}",
    " leading",
    "trailing ",
    "line\nbreak\ttab\r",
    "é€🛒\u2028",
    "it's",
    'a"b\\c',
    "E'\\x41'",
]


class Size(models.IntegerChoices):
    SMALL = 1
    LARGE = 2**40


class Colour(models.TextChoices):
    RED = "red", "Rouge"


def _round_trip(literal: str | list, array_type: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT UNNEST(%s::{array_type}[])", [literal])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize(
    "values, array_type",
    [
        ([*AWKWARD_TEXT, None], "text"),
        (AWKWARD_TEXT, "varchar"),
        ([0, -1, 2**62, None, Size.LARGE], "bigint"),
        ([True, False, None], "boolean"),
        ([Colour.RED, "red"], "varchar"),
        (
            [
                datetime(2026, 12, 7, 17, 26, 52, 224647, tzinfo=UTC),
                datetime(1, 1, 1, tzinfo=UTC),
                datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30))),
                None,
            ],
            "timestamptz",
        ),
        ([date(2026, 2, 28), date(1, 1, 1), None], "date"),
        ([uuid.UUID(int=0), uuid.uuid4(), None], "uuid"),
    ],
)
def test_values_come_back_as_they_went_in(values, array_type, db):
    literal = _array_literal(values)

    assert isinstance(literal, str)
    assert _round_trip(literal, array_type) == [
        str.__str__(v) if isinstance(v, str) else int(v) if isinstance(v, int) and not isinstance(v, bool) else v
        for v in values
    ]


def test_json_values_come_back_as_they_went_in(db):
    documents = [
        {"name": 'a "quoted" \\ name', "items": [1, 2.5, None, True], "é": "€🛒"},
        ["a,b", "{c}"],
        "NULL",
        None,  # JSON null, not SQL NULL
        {},
    ]

    literal = _array_literal([Jsonb(document) for document in documents] + [None])

    assert isinstance(literal, str)
    # Django's connection reads jsonb as its text (JSONField decodes it).
    assert [json.loads(text) if text is not None else None for text in _round_trip(literal, "jsonb")] == [
        *documents,
        None,
    ]


@pytest.mark.parametrize("value", [float("inf"), 1.5, b"bytes"])
def test_other_kinds_are_left_to_psycopg(value, db):
    assert _array_literal(["x", value]) == ["x", value]


def test_contacts_inserted_together_read_back_equal(db):
    contacts = [
        Contact(
            external_id=f"awkward-{i}",
            email=f"c{i}@example.com",
            first_name=text,
            last_name=text[::-1],
            attributes={"note": text, "n": i},
        )
        for i, text in enumerate(AWKWARD_TEXT)
    ]

    inserted = insert_many_unless_taken(contacts, conflict=("external_id",))

    assert len(inserted) == len(AWKWARD_TEXT)
    stored = {c.external_id: c for c in Contact.objects.filter(external_id__startswith="awkward-")}
    for i, text in enumerate(AWKWARD_TEXT):
        contact = stored[f"awkward-{i}"]
        assert (contact.first_name, contact.last_name, contact.attributes) == (text, text[::-1], {"note": text, "n": i})


class _NoOffset(tzinfo):
    def utcoffset(self, dt):
        return None


def test_a_datetime_whose_zone_gives_no_offset_is_prepared_as_django_does():
    """Django's timezone.is_naive() asks utcoffset(), not tzinfo: such a value is naive and
    goes through the field's preparation (its warning, TIME_ZONE), not written as it is."""
    assert _as_is(datetime(2026, 12, 7, tzinfo=UTC), datetime)
    assert not _as_is(datetime(2026, 12, 7, tzinfo=_NoOffset()), datetime)
    assert not _as_is(datetime(2026, 12, 7), datetime)
