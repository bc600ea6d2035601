"""Extreme dates in the analytics parameters and the participants API are a 400 naming the
parameter (or the page's form error), never a 500."""

import csv
import io

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.designer.seed import seed_journey
from triggers.keys import create_api_key

pytestmark = pytest.mark.django_db

EXTREME = [
    ({"period": "custom", "since": "9999-12-31", "until": "9999-12-31"}, "since"),
    ({"period": "custom", "since": "2026-01-01", "until": "9999-12-31"}, "until"),
    ({"period": "custom", "since": "0001-01-01", "until": "0001-01-02"}, "since"),
]


@pytest.fixture
def journey(db):
    seed_journey(publish=True)


def _client(scope: str) -> APIClient:
    _, raw = create_api_key(f"{scope} key", scope=scope, source="shop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.parametrize(("params", "name"), EXTREME)
def test_the_analytics_api_names_the_parameter(journey, params, name):
    response = _client("read").get("/api/v1/journeys/abandoned-cart/analytics", params)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert name in [error["field"] for error in errors]
    assert "between the years 1900 and 2999" in str(errors)


@pytest.mark.parametrize(("params", "name"), EXTREME)
def test_the_analytics_pages_and_exports_answer_without_an_error(client, analyst, journey, params, name):
    client.force_login(analyst)

    pages = [
        reverse("analytics:dashboard"),
        reverse("analytics:journey", args=["abandoned-cart"]),
        reverse("analytics:steps-csv", args=["abandoned-cart"]),
        reverse("analytics:messages-csv", args=["abandoned-cart"]),
    ]

    for page in pages:
        assert client.get(page, params).status_code in (200, 400), page


@pytest.mark.parametrize(
    "value",
    [
        "2000-01-01T00:00:00+17:21",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "not a date",
        "",
    ],
)
def test_the_participants_api_refuses_a_date_it_cannot_store_naming_the_parameter(db, value):
    response = _client("read").get("/api/v1/participants/", {"entered_after": value})

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_parameters"
    assert [error["field"] for error in response.json()["errors"]] == ["entered_after"]


def test_the_participants_api_takes_a_date_within_the_bounds(db):
    response = _client("read").get("/api/v1/participants/", {"entered_after": "2026-01-01T00:00:00+15:59"})

    assert response.status_code == 200


def test_csv_exports_quote_text_a_spreadsheet_would_run_as_a_formula(client, analyst, journey):
    from content.models import Content

    formulas = ['=HYPERLINK("http://evil.example")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]
    for content, name in zip(Content.objects.order_by("pk"), formulas, strict=False):
        Content.objects.filter(pk=content.pk).update(name=name)
    client.force_login(analyst)

    response = client.get(reverse("analytics:messages-csv", args=["abandoned-cart"]))

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    names = {row["content"] for row in rows}
    assert names and all(not name.startswith(("=", "+", "-", "@")) for name in names)
    assert names & {"'" + formula for formula in formulas}
    assert all(row["sent"] == "0" for row in rows)  # numbers stay numbers
