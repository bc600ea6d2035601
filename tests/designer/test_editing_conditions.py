"""Conditions in the designer. A wait-for step's are edited in its form like the start
conditions in the settings: the attribute picker follows the trigger chosen in the same form
(built-in interaction triggers included, nested attributes as paths), values are typed by
attribute, and without scripts either form is redrawn for another trigger, saving nothing."""

import re

import pytest

from journeys.bundles import version_to_spec
from journeys.models import Journey, VersionState

from .helpers import add_step, conditions_management, settings_post, url

pytestmark = pytest.mark.django_db

WAIT = "wait-for-email-opened"  # the seed's "wait for Email opened of the email, up to 1 day"


def draft_spec(journey: Journey):
    return version_to_spec(journey.versions.get(state=VersionState.DRAFT))


def wait_for(spec, step_id: str = WAIT):
    return next(s for s in spec.steps if s.id == step_id)


def rows(*conditions: tuple[str, str, str], initial: int = 0, **extra) -> dict:
    """Condition rows as the page posts them."""
    data = conditions_management(total=len(conditions), initial=initial)
    for i, (attribute, operator, value) in enumerate(conditions):
        data.update(
            {
                f"conditions-{i}-attribute": attribute,
                f"conditions-{i}-operator": operator,
                f"conditions-{i}-value": value,
            }
        )
    data.update(extra)
    return data


def edit(client, journey, trigger: str = "email_clicked", *conditions, initial: int = 0, **extra):
    data = {
        "trigger": trigger,
        "of_step": "initial-email-reminder",
        "amount": "1",
        "unit": "d",
        **rows(*conditions, initial=initial),
        **extra,
    }
    return client.post(url("edit_step", journey.pk, WAIT), data)


def attribute_options(page: str, row: int = 0) -> list[tuple[str, str]]:
    select = re.search(rf'<select name="conditions-{row}-attribute".*?</select>', page, re.S).group(0)
    return re.findall(r'<option value="([^"]+)" data-type="([^"]+)"', select)


def test_the_picker_offers_the_attributes_of_the_trigger_waited_for(journey, client):
    page = client.get(url("edit_step", journey.pk, WAIT)).content.decode()

    # Email opened, a built-in interaction trigger: the delivery it is about and where from.
    assert attribute_options(page) == [
        ("delivery_id", "text"),
        ("journey", "text"),
        ("step", "text"),
        ("content", "text"),
    ]
    assert '<label class="visually-hidden" for="id_conditions-0-attribute">Condition 1: attribute</label>' in page
    # Every trigger's schema for the script, keyed as the trigger select sends it (the key).
    schemas = re.search(r'<script id="trigger-schemas" type="application/json">(.*?)</script>', page).group(1)
    assert '"email_clicked": {"delivery_id": "text", "journey": "text", "step": "text", "content": "text", "url"' in (
        schemas
    )
    assert '"abandoned_cart": {"cart_total": "number", "cart": "object", "cart.items": "number"' in schemas
    assert 'data-trigger="id_trigger"' in page
    assert 'name="redraw"' in page


def test_a_wait_for_saves_its_conditions_and_the_tile_shows_them(journey, client):
    response = edit(client, journey, "email_clicked", ("url", "contains", "/checkout"), ("step", "exists", ""))

    assert response.status_code == 302, response.content.decode()[:3000]
    step = wait_for(draft_spec(journey))
    assert (step.trigger, step.of_step, step.conditions) == (
        "email_clicked",
        "initial-email-reminder",
        [
            {"attribute": "url", "operator": "contains", "value": "/checkout"},
            {"attribute": "step", "operator": "exists"},
        ],
    )
    canvas = client.get(url("change", journey.pk)).content.decode()
    assert (
        "Wait for Email clicked of Initial email reminder where url contains /checkout and step exists, up to 1 day"
        in canvas
    )
    # The Yes and No paths stay where they were.
    assert [s.id for s in step.no] == ["second-text-reminder", "wait", "final-push-notification"]


def test_nested_attributes_and_typed_values(journey, client):
    opened = add_step(
        client,
        journey,
        "",
        "",
        2,
        "wait_for",
        trigger="abandoned_cart",
        amount="2",
        unit="h",
        **rows(("cart.currency", "in", "EUR, USD"), ("cart.items", ">=", "3"), ("cart_total", "<", "49.90")),
    )

    assert wait_for(draft_spec(journey), opened).conditions == [
        {"attribute": "cart.currency", "operator": "in", "value": ["EUR", "USD"]},
        {"attribute": "cart.items", "operator": ">=", "value": 3},
        {"attribute": "cart_total", "operator": "<", "value": 49.9},
    ]
    page = client.get(url("edit_step", journey.pk, opened)).content.decode()
    assert '<option value="cart.currency" data-type="text" selected>' in page
    assert 'name="conditions-0-value" id="id_conditions-0-value" value="EUR, USD"' in page
    assert 'value="49.9"' in page


@pytest.mark.parametrize(
    ("trigger", "condition", "message"),
    [
        ("email_clicked", ("url", ">", "5"), "“&gt;” does not apply to text attribute url."),
        (
            "abandoned_cart",
            ("cart_total", ">", "fifty"),
            "“fifty” is not a number; enter a number such as 50 or 49.90.",
        ),
        ("abandoned_cart", ("cart.currency", "in", " , "), "List the values for “in”, separated by commas."),
        ("email_clicked", ("url", "=", ""), "Enter a value for “=”."),
        (
            "email_clicked",
            ("cart_total", ">", "50"),
            "“cart_total” is not an attribute of Email clicked; choose one of its attributes.",
        ),
        ("email_clicked", ("", "=", "/checkout"), "Choose an attribute, or clear the value to remove the condition."),
    ],
)
def test_a_condition_that_does_not_fit_the_trigger_is_refused(journey, client, trigger, condition, message):
    before = draft_spec(journey)
    response = edit(client, journey, trigger, condition, **({"of_step": ""} if trigger == "abandoned_cart" else {}))

    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert "Please correct the errors below." in page
    assert draft_spec(journey) == before


def test_at_most_30_conditions_on_a_wait(journey, client):
    response = edit(client, journey, "email_clicked", *[("url", "contains", f"/p{i}") for i in range(31)])

    assert "A wait for a trigger takes at most 30 conditions." in response.content.decode()
    assert wait_for(draft_spec(journey)).conditions == []


def test_editing_changes_removes_and_empties_conditions(journey, client):
    edit(
        client,
        journey,
        "email_clicked",
        ("url", "contains", "/checkout"),
        ("step", "exists", ""),
        ("content", "=", "x"),
    )
    page = client.get(url("edit_step", journey.pk, WAIT)).content.decode()
    assert '<option value="url" data-type="text" selected>' in page
    assert 'name="conditions-TOTAL_FORMS" value="4"' in page  # three conditions and a spare row

    response = edit(
        client,
        journey,
        "email_clicked",
        ("url", "starts_with", "https://shop.example/cart"),
        ("step", "exists", ""),
        ("", "=", ""),  # attribute set back to "Choose an attribute": removed
        ("", "=", ""),  # the spare row, untouched
        initial=3,
        **{"conditions-1-DELETE": "on"},
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert wait_for(draft_spec(journey)).conditions == [
        {"attribute": "url", "operator": "starts_with", "value": "https://shop.example/cart"}
    ]


def test_choosing_another_trigger_and_saving_checks_the_conditions_against_it(journey, client):
    edit(client, journey, "email_clicked", ("url", "contains", "/checkout"))
    before = draft_spec(journey)

    response = edit(client, journey, "email_opened", ("url", "contains", "/checkout"), initial=1)

    assert "“url” is not an attribute of Email opened; choose one of its attributes." in response.content.decode()
    assert draft_spec(journey) == before


def test_without_scripts_the_form_is_redrawn_for_the_trigger_chosen_and_nothing_is_saved(journey, client):
    edit(client, journey, "email_clicked", ("url", "contains", "/checkout"), ("delivery_id", "exists", ""))
    before = draft_spec(journey)

    response = edit(
        client,
        journey,
        "email_opened",
        ("url", "contains", "/checkout"),
        ("delivery_id", "exists", ""),
        ("", "=", ""),
        initial=2,
        amount="3",
        redraw="trigger",
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "The conditions now offer the attributes of Email opened. Nothing is saved yet." in page
    assert "Email opened has no attribute url: the condition on it was left out." in page
    assert "Please correct" not in page and "errorlist" not in page
    # The picker offers Email opened's attributes; the condition it can keep is kept.
    assert attribute_options(page) == [
        ("delivery_id", "text"),
        ("journey", "text"),
        ("step", "text"),
        ("content", "text"),
    ]
    assert '<option value="delivery_id" data-type="text" selected>' in page
    assert '<option value="email_opened" selected>' in page
    assert 'name="amount" value="3"' in page  # what was typed elsewhere is kept
    assert 'name="conditions-TOTAL_FORMS" value="2"' in page
    assert draft_spec(journey) == before

    # Saving the redrawn form keeps what it shows.
    response = edit(client, journey, "email_opened", ("delivery_id", "exists", ""), ("", "=", ""), amount="3")
    assert response.status_code == 302
    step = wait_for(draft_spec(journey))
    assert (step.trigger, step.duration.days, step.conditions) == (
        "email_opened",
        3,
        [{"attribute": "delivery_id", "operator": "exists"}],
    )


def test_a_new_wait_for_is_redrawn_too(journey, client):
    data = {
        "parent": "",
        "path": "",
        "position": 2,
        "kind": "wait_for",
        "trigger": "abandoned_cart",
        "amount": "1",
        "unit": "d",
        "redraw": "trigger",
        **conditions_management(),
    }
    response = client.post(url("add_step", journey.pk), data)

    page = response.content.decode()
    assert response.status_code == 200
    assert ("cart.currency", "text") in attribute_options(page)
    assert '<input type="hidden" name="position" value="2">' in page
    assert len(draft_spec(journey).steps) == 2

    page = client.post(url("add_step", journey.pk), {**data, "trigger": ""}).content.decode()
    assert "Nothing is saved yet: choose a trigger, then press Save step." in page
    assert attribute_options(page) == []
    assert len(draft_spec(journey).steps) == 2


def test_an_analyst_sees_the_conditions_read_only(journey, client, analyst):
    edit(client, journey, "email_clicked", ("url", "contains", "/checkout"))
    client.force_login(analyst)

    page = client.get(url("edit_step", journey.pk, WAIT)).content.decode()

    assert re.search(r'<select name="conditions-0-attribute"[^>]* disabled', page)
    assert re.search(r'<input type="text" name="conditions-0-value"[^>]*value="/checkout"[^>]* disabled', page)
    assert 'name="redraw"' not in page and "Save step" not in page
    assert client.post(url("edit_step", journey.pk, WAIT), {"redraw": "trigger"}).status_code == 403


def test_the_settings_spare_row_and_an_emptied_row_do_not_stand_in_the_way(journey, client):
    """The page always adds a spare condition row (its operator select sends "=")."""
    from triggers.models import Trigger

    cart = Trigger.objects.get(key="abandoned_cart").pk
    response = client.post(
        url("settings", journey.pk),
        settings_post(
            start_trigger=cart,
            **rows(("cart_total", ">", "50"), ("cart.currency", "=", "EUR"), ("", "=", ""), initial=2),
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert draft_spec(journey).start_conditions == [
        {"attribute": "cart_total", "operator": ">", "value": 50},
        {"attribute": "cart.currency", "operator": "=", "value": "EUR"},
    ]

    response = client.post(
        url("settings", journey.pk),
        settings_post(start_trigger=cart, **rows(("cart_total", ">", "60"), ("", "=", ""), ("", "=", ""), initial=2)),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert draft_spec(journey).start_conditions == [{"attribute": "cart_total", "operator": ">", "value": 60}]


def test_without_scripts_the_settings_are_redrawn_for_another_start_trigger(journey, client):
    from triggers.models import Trigger

    before = draft_spec(journey)
    purchase = Trigger.objects.get(key="purchase_completed")
    response = client.post(
        url("settings", journey.pk),
        settings_post(
            start_trigger=purchase.pk,
            goal_trigger=purchase.pk,
            goal_target_percent="40",
            exit_triggers=[purchase.pk],
            name="Renamed",
            redraw="trigger",
            **rows(("cart_total", ">", "50"), ("", "=", ""), initial=1),
        ),
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "The conditions now offer the attributes of Purchase completed. Nothing is saved yet." in page
    assert "Purchase completed has no attribute cart_total: the condition on it was left out." in page
    assert "errorlist" not in page
    assert attribute_options(page) == [("order_total", "number")]
    assert f'<option value="{purchase.pk}" selected>Purchase completed</option>' in page
    assert 'name="name" value="Renamed"' in page and 'name="goal_target_percent" value="40"' in page
    assert re.search(rf'<input type="checkbox" name="exit_triggers" value="{purchase.pk}"[^>]* checked', page)
    assert draft_spec(journey) == before
    assert Journey.objects.get(pk=journey.pk).name == "Abandoned cart reminders"
