"""Every message the designer gives: on the forms (nothing saved) and when Publish refuses
(each problem listed with a link to where it is)."""

from datetime import timedelta

import pytest

from content.models import Content
from journeys.bundles import version_to_spec
from journeys.models import Journey, Step, VersionState
from triggers.models import Trigger

from .helpers import add_step, conditions_management, create, settings_post, url

pytestmark = pytest.mark.django_db


def draft_spec(journey: Journey):
    return version_to_spec(journey.versions.get(state=VersionState.DRAFT))


def errors_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- Create ---------------------------------------------------------------------------------


def test_create_needs_a_start_trigger_or_a_segment(client, marketer, catalogue):
    client.force_login(marketer)

    page = errors_of(client.post(url("add"), {"name": "Welcome", "type": "trigger", "start_trigger": ""}))
    assert "Choose the trigger that starts the journey." in page
    page = errors_of(client.post(url("add"), {"name": "Welcome", "type": "segment"}))
    assert "Choose the segment whose members enter the journey." in page
    assert not Journey.objects.exists()


def test_create_offers_only_triggers_that_are_ready_to_use(client, marketer, catalogue):
    client.force_login(marketer)
    Trigger.objects.filter(key="purchase_completed").update(status="draft")
    draft = Trigger.objects.get(key="purchase_completed")

    page = client.get(url("add")).content.decode()
    assert "Abandoned cart" in page
    assert f'value="{draft.pk}"' not in page
    page = errors_of(client.post(url("add"), {"name": "Welcome", "type": "trigger", "start_trigger": draft.pk}))
    assert "Select a valid choice" in page
    assert not Journey.objects.exists()


# --- Settings: conditions, goal -------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "operator", "value", "message"),
    [
        ("cart.currency", ">", "5", "“&gt;” does not apply to text attribute cart.currency."),
        ("cart_total", ">", "fifty", "“fifty” is not a number; enter a number such as 50 or 49.90."),
        ("cart_total", "in", " , ", "List the values for “in”, separated by commas."),
        ("cart.currency", "=", "", "Enter a value for “=”."),
        ("cart_total", "", "5", "This field is required."),
    ],
)
def test_a_condition_that_does_not_fit_the_attribute_is_refused(journey, client, attribute, operator, value, message):
    before = draft_spec(journey).start_conditions
    response = client.post(
        url("settings", journey.pk),
        settings_post(
            start_trigger=Trigger.objects.get(key="abandoned_cart").pk,
            **{"conditions-0-attribute": attribute, "conditions-0-operator": operator, "conditions-0-value": value},
        ),
    )
    assert message in errors_of(response)
    assert draft_spec(journey).start_conditions == before


def test_conditions_are_typed_by_attribute_and_nested_paths_are_offered(journey, client):
    page = client.get(url("settings", journey.pk)).content.decode()
    assert '<option value="cart.currency" data-type="text"' in page
    assert '<option value="cart_total" data-type="number" selected>' in page

    response = client.post(
        url("settings", journey.pk),
        settings_post(
            start_trigger=Trigger.objects.get(key="abandoned_cart").pk,
            **{
                "conditions-TOTAL_FORMS": "2",
                "conditions-1-attribute": "cart.currency",
                "conditions-1-operator": "in",
                "conditions-1-value": "EUR, USD",
            },
        ),
    )
    assert response.status_code == 302
    assert draft_spec(journey).start_conditions == [
        {"attribute": "cart_total", "operator": ">", "value": 50},
        {"attribute": "cart.currency", "operator": "in", "value": ["EUR", "USD"]},
    ]


def test_at_most_30_start_conditions(journey, client):
    rows = {}
    for i in range(31):
        rows.update(
            {
                f"conditions-{i}-attribute": "cart_total",
                f"conditions-{i}-operator": ">",
                f"conditions-{i}-value": str(i),
            }
        )
    response = client.post(
        url("settings", journey.pk),
        settings_post(
            start_trigger=Trigger.objects.get(key="abandoned_cart").pk, **rows, **{"conditions-TOTAL_FORMS": "31"}
        ),
    )
    assert "A journey start takes at most 30 conditions." in errors_of(response)
    assert len(draft_spec(journey).start_conditions) == 1


def test_a_goal_needs_its_trigger_and_its_share(journey, client):
    abandoned = Trigger.objects.get(key="abandoned_cart")
    purchase = Trigger.objects.get(key="purchase_completed")

    page = errors_of(
        client.post(url("settings", journey.pk), settings_post(start_trigger=abandoned.pk, goal_trigger=purchase.pk))
    )
    assert "Set the share of people needed for the goal (0 to 100)." in page
    page = errors_of(
        client.post(url("settings", journey.pk), settings_post(start_trigger=abandoned.pk, goal_target_percent="40"))
    )
    assert "Choose the goal trigger the percentage is about." in page
    page = errors_of(
        client.post(
            url("settings", journey.pk),
            settings_post(start_trigger=abandoned.pk, goal_trigger=purchase.pk, goal_target_percent="140"),
        )
    )
    assert "Ensure this value is less than or equal to 100." in page
    assert draft_spec(journey).goal_target_percent == 50


# --- Steps ----------------------------------------------------------------------------------


def step_page(client, journey, kind, **fields):
    data = {"parent": "", "path": "", "position": 0, "kind": kind, **fields}
    return client.post(url("add_step", journey.pk), data)


def test_a_message_step_offers_only_content_of_its_channel(journey, client):
    page = client.get(url("add_step", journey.pk) + "?parent=&path=&position=0&kind=email").content.decode()
    assert "Initial email reminder" in page
    assert "Second text reminder" not in page
    assert "Final push notification" not in page

    response = step_page(client, journey, "email", content="second-text-reminder", to="contact.email")
    assert "Select a valid choice" in errors_of(response)


@pytest.mark.parametrize(
    ("amount", "unit", "message"),
    [
        ("91", "d", "91 days is longer than the 90-day limit."),
        ("13", "w", "13 weeks is longer than the 90-day limit."),
        ("", "d", "Enter how long, e.g. 1 day."),
        ("0", "h", "Ensure this value is greater than or equal to 1."),
    ],
)
def test_a_wait_is_between_a_minute_and_90_days(journey, client, amount, unit, message):
    before = draft_spec(journey)
    assert message in errors_of(step_page(client, journey, "wait", amount=amount, unit=unit))
    assert draft_spec(journey) == before


def test_a_wait_until_a_date_is_read_in_the_journeys_time_zone(journey, client):
    journey.versions.filter(state=VersionState.DRAFT).update(time_zone="Europe/Paris")
    assert "Enter the date and time to wait until." in errors_of(step_page(client, journey, "wait", mode="until"))

    response = step_page(client, journey, "wait", mode="until", until="2026-12-24T09:00")
    assert response.status_code == 302
    wait = draft_spec(journey).steps[0]
    assert (wait.type, wait.duration, wait.until.isoformat()) == ("wait", None, "2026-12-24T08:00:00+00:00")
    page = client.get(url("change", journey.pk)).content.decode()
    assert "Wait until 24 Dec 2026 08:00 UTC" in page


def test_of_step_must_be_an_earlier_message_of_the_triggers_channel(journey, client):
    spec = draft_spec(journey)
    opened = spec.steps[1].id
    # After the text on the No path: the text is an earlier message, but Email opened is about emails.
    page = client.get(url("add_step", journey.pk) + f"?parent={opened}&path=no&position=1&kind=wait_for")
    assert b'<option value="second-text-reminder">' in page.content
    assert b'<option value="final-push-notification">' not in page.content  # not before this place
    response = client.post(
        url("add_step", journey.pk),
        {
            "parent": opened,
            "path": "no",
            "position": 1,
            "kind": "wait_for",
            **conditions_management(),
            "trigger": "email_opened",
            "of_step": "second-text-reminder",
            "amount": "1",
            "unit": "d",
        },
    )
    assert "Email opened is about a email; choose one of those." in errors_of(response)
    response = client.post(
        url("add_step", journey.pk),
        {
            "parent": opened,
            "path": "no",
            "position": 1,
            "kind": "wait_for",
            **conditions_management(),
            "trigger": "purchase_completed",
            "of_step": "initial-email-reminder",
            "amount": "1",
            "unit": "d",
        },
    )
    assert "Purchase completed is not about a message; choose Any." in errors_of(response)
    assert draft_spec(journey) == spec


def test_a_split_needs_two_paths_adding_up_to_100(journey, client):
    page = errors_of(step_page(client, journey, "split", path_1_percent="100", path_2_percent=""))
    assert "A split needs at least two paths with a share." in page
    page = errors_of(step_page(client, journey, "split", path_1_percent="50", path_2_percent="40"))
    assert "The shares add up to 90 %; they must add up to 100 %." in page


def test_a_branch_needs_a_condition_that_fits_the_attribute(journey, client):
    page = errors_of(step_page(client, journey, "branch"))
    assert "A branch needs at least one path with a condition." in page
    page = errors_of(step_page(client, journey, "branch", path_1_name="Big carts"))
    assert "Give path 1 a condition, or leave its name empty." in page
    page = errors_of(
        step_page(
            client,
            journey,
            "branch",
            path_1_1_attribute="trigger.cart_total",
            path_1_1_operator="starts_with",
            path_1_1_value="1",
        )
    )
    assert "“starts_with” does not apply to number attribute trigger.cart_total." in page


# --- Publish ------------------------------------------------------------------------------------


def publish(client, journey) -> str:
    response = client.post(url("publish", journey.pk))
    assert response.status_code == 302
    assert response["Location"] == url("change", journey.pk) + "?problems=1#publish-problems"
    return client.get(response["Location"]).content.decode()


def test_publish_refuses_draft_content_and_links_to_its_tile_and_the_message(journey, client):
    page = publish(client, journey)

    text = Content.objects.get(key="second-text-reminder")
    assert "Not published: fix this problem first." in page
    assert (
        '<a href="#step-second-text-reminder">Step second-text-reminder</a>: '
        "Text message &#x27;Second text reminder&#x27; is not Ready to send"
    ) in page
    assert f'<a href="/admin/content/textmessage/{text.pk}/change/">Open Second text reminder</a>' in page
    journey.refresh_from_db()
    assert journey.status == "draft"
    assert not journey.versions.filter(state=VersionState.PUBLISHED).exists()


def test_publish_refuses_triggers_that_are_not_ready_and_links_to_the_settings(journey, client):
    Content.objects.update(status="ready")
    Trigger.objects.filter(key__in=["abandoned_cart", "purchase_completed"]).update(status="draft")

    page = publish(client, journey)

    settings = url("settings", journey.pk)
    assert "Not published: fix these 3 problems first." in page
    assert f'<a href="{settings}#start">Start</a>: trigger &#x27;Abandoned cart&#x27; is not Ready to use' in page
    assert f'<a href="{settings}#goal">Goal</a>: trigger &#x27;Purchase completed&#x27; is not Ready to use' in page
    assert f'<a href="{settings}#exit">Exit</a>: trigger &#x27;Purchase completed&#x27; is not Ready to use' in page
    assert "Open trigger Abandoned cart" in page
    assert Journey.objects.get(pk=journey.pk).status == "draft"


def test_publish_refuses_an_empty_journey_and_a_wait_over_90_days(client, marketer, catalogue):
    client.force_login(marketer)
    journey = create(client)

    page = publish(client, journey)
    assert '<a href="#steps">Steps</a>: add at least one step' in page

    add_step(client, journey, "", "", 0, "wait", amount="2", unit="d")
    # A step written by an older release (or by hand) over the limit is caught at publish.
    Step.objects.filter(version__journey=journey, kind="wait").update(duration=timedelta(days=91))
    page = publish(client, journey)
    assert '<a href="#step-wait">Step wait</a>: waits are limited to 90 days' in page
    assert Journey.objects.get(pk=journey.pk).status == "draft"


def test_once_fixed_the_canvas_says_nothing_stands_in_the_way_and_publish_goes_live(journey, client):
    publish(client, journey)
    Content.objects.update(status="ready")

    page = client.get(url("change", journey.pk) + "?problems=1").content.decode()
    assert "Nothing stands in the way any more: press Publish." in page

    response = client.post(url("publish", journey.pk))
    assert response["Location"] == url("change", journey.pk)
    journey.refresh_from_db()
    assert journey.status == "live"
    assert list(journey.versions.values_list("number", "state")) == [(1, VersionState.PUBLISHED)]
