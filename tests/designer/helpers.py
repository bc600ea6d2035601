"""Steps a marketer takes in the designer, through the Django test client."""

from django.urls import reverse

from journeys.bundles import export_bundle
from journeys.models import Journey
from triggers.models import Trigger


def url(name: str, *args) -> str:
    return reverse(f"admin:journeys_journey_{name}", args=args)


def settings_post(**overrides) -> dict:
    data = {
        "name": "Abandoned cart reminders",
        "description": "",
        "start_trigger": "",
        "repeat": "after_exit",
        "time_zone": "UTC",
        "goal_trigger": "",
        "goal_target_percent": "",
        "conditions-TOTAL_FORMS": "1",
        "conditions-INITIAL_FORMS": "0",
        "conditions-MIN_NUM_FORMS": "0",
        "conditions-MAX_NUM_FORMS": "30",
        "conditions-0-attribute": "cart_total",
        "conditions-0-operator": ">",
        "conditions-0-value": "50",
    }
    data.update(overrides)
    return data


def create(client, name: str = "Abandoned cart reminders") -> Journey:
    trigger = Trigger.objects.get(key="abandoned_cart")
    response = client.post(url("add"), {"name": name, "type": "trigger", "start_trigger": trigger.pk})
    journey = Journey.objects.get(name=name)
    assert response.status_code == 302
    assert response["Location"] == url("settings", journey.pk)
    return journey


def conditions_management(total: int = 1, initial: int = 0) -> dict:
    """The management form of a conditions formset, as the page sends it."""
    return {
        "conditions-TOTAL_FORMS": str(total),
        "conditions-INITIAL_FORMS": str(initial),
        "conditions-MIN_NUM_FORMS": "0",
        "conditions-MAX_NUM_FORMS": "30",
    }


def add_step(client, journey: Journey, parent: str, path: str, position: int, kind: str, **fields) -> str:
    data = {"parent": parent, "path": path, "position": position, "kind": kind, **fields}
    if kind == "wait_for":
        data = {**conditions_management(), **data}
    response = client.post(url("add_step", journey.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return response["Location"].rsplit("#step-", 1)[1]


def build_seed_journey(client) -> Journey:
    journey = create(client)
    purchase = Trigger.objects.get(key="purchase_completed")
    response = client.post(
        url("settings", journey.pk),
        settings_post(
            start_trigger=Trigger.objects.get(key="abandoned_cart").pk,
            goal_trigger=purchase.pk,
            goal_target_percent="50",
            exit_triggers=[purchase.pk],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    email = add_step(client, journey, "", "", 0, "email", content="initial-email-reminder", to="contact.email")
    opened = add_step(
        client,
        journey,
        "",
        "",
        1,
        "wait_for",
        trigger="email_opened",
        of_step=email,
        amount="1",
        unit="d",
    )
    add_step(client, journey, opened, "no", 0, "text", content="second-text-reminder", to="contact.phone")
    add_step(client, journey, opened, "no", 1, "wait", amount="1", unit="d")
    add_step(client, journey, opened, "no", 2, "push", content="final-push-notification", to="contact.push_token")
    return journey


def exported_steps(journey: Journey) -> list[dict]:
    """The journey's steps as its export writes them."""
    return export_bundle([journey.key])["journeys"][0]["steps"]
