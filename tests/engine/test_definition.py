"""The journey format: every error with its path, and serialising is parsing's inverse."""

import copy
import json

import pytest

from journeys.definition import BundleError, Catalogue, bundle_to_dict, parse_bundle
from journeys.demo import SEED_BUNDLE

BUILTIN = Catalogue(trigger_schemas={"email_opened": {"delivery_id": "text"}})


def seed() -> dict:
    return json.loads(SEED_BUNDLE.read_text())


def errors_of(bundle: dict) -> list[str]:
    with pytest.raises(BundleError) as caught:
        parse_bundle(bundle, BUILTIN)
    return caught.value.errors


def test_the_seed_bundle_is_valid_and_round_trips():
    bundle = parse_bundle(seed(), BUILTIN)

    assert parse_bundle(bundle_to_dict(bundle), BUILTIN) == bundle
    assert [s.id for s in bundle.journeys[0].steps] == ["initial-email", "opened"]
    assert [s.id for s in bundle.journeys[0].steps[1].no] == ["second-text", "wait-a-day", "final-push"]


def test_a_time_limit_over_90_days_is_reported_with_its_path():
    bundle = seed()
    bundle["journeys"][0]["steps"][1]["within"] = "91d"

    assert errors_of(bundle) == ["journeys[0].steps[1].within: 91d is longer than the 90-day limit"]


def test_every_error_is_reported_at_once():
    bundle = seed()
    journey = bundle["journeys"][0]
    journey["start"]["conditions"][0]["value"] = "fifty"
    journey["steps"][0]["content"] = "missing-email"
    journey["steps"][1]["no"][1]["duration"] = "soon"
    journey["goal"]["target_percent"] = 150

    assert errors_of(bundle) == [
        "journeys[0].start.conditions[0].value: 'fifty' is not a number value for 'cart_total'",
        "journeys[0].goal.target_percent: must be a number from 0 to 100",
        "journeys[0].steps[0].content: unknown content 'missing-email'",
        "journeys[0].steps[1].no[1].duration: 'soon' is not a duration: use 30s, 15m, 2h, 1d, 2w or ISO 8601 like P1D",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda j: j["start"].update(trigger="nope"), "journeys[0].start.trigger: unknown trigger 'nope'"),
        (
            lambda j: j["start"].update(repeat="sometimes"),
            "journeys[0].start.repeat: must be one of never, after_exit, immediately",
        ),
        (
            lambda j: j["start"]["conditions"].append(
                {"attribute": "cart_total", "operator": "contains", "value": "x"}
            ),
            "journeys[0].start.conditions[1].operator: contains does not apply to number attribute 'cart_total'",
        ),
        (
            lambda j: j["start"]["conditions"].append({"attribute": "colour", "operator": "=", "value": "x"}),
            "journeys[0].start.conditions[1].attribute: 'colour' is not an attribute of the trigger (known: cart, cart.currency, cart.items, cart_total, cart_url)",
        ),
        (
            lambda j: j["steps"][1].update(of_step="final-push"),
            "journeys[0].steps[1].of_step: 'final-push' must be an earlier email, text or push step on this path",
        ),
        (
            lambda j: j["steps"][0].update(content="second-text-reminder"),
            "journeys[0].steps[0].content: 'second-text-reminder' is text content, not email",
        ),
        (
            lambda j: j["steps"][0].update(to="contact.phone"),
            "journeys[0].steps[0].to: must be contact.email or trigger.<attribute>",
        ),
        (
            lambda j: j["steps"][1]["no"][1].update(until="2026-12-24T09:00:00+01:00"),
            "journeys[0].steps[1].no[1]: a wait needs either duration or until",
        ),
        (
            lambda j: j["steps"][1]["no"][0].update(id="initial-email"),
            "journeys[0].steps[1].no[0].id: 'initial-email' is used by another step of this journey",
        ),
        (
            lambda j: j["steps"].append({"id": "x", "type": "teleport"}),
            "journeys[0].steps[2].type: must be one of email, text, push, webhook, wait, wait_for, branch, split, ab_test, raise_trigger, log",
        ),
        (
            lambda j: j.update(time_zone="Mars/Olympus"),
            "journeys[0].time_zone: 'Mars/Olympus' is not an IANA time zone such as Europe/Paris",
        ),
        (
            lambda j: j["steps"].append({"id": "ab", "type": "split", "paths": [{"percent": 60}, {"percent": 30}]}),
            "journeys[0].steps[2].paths: percentages must add up to 100",
        ),
        (
            lambda j: j["steps"].append(
                {
                    "id": "by",
                    "type": "branch",
                    "paths": [{"conditions": [{"attribute": "cart_total", "operator": ">", "value": 1}]}],
                }
            ),
            "journeys[0].steps[2].paths[0].conditions[0].attribute: must start with contact. or trigger.",
        ),
    ],
)
def test_each_journey_rule_has_a_clear_error(change, expected):
    bundle = seed()
    change(bundle["journeys"][0])

    assert expected in errors_of(bundle)


def test_more_than_30_conditions_are_refused():
    bundle = seed()
    bundle["journeys"][0]["start"]["conditions"] *= 31

    assert "journeys[0].start.conditions: at most 30 conditions" in errors_of(bundle)


def test_branches_nested_deeper_than_8_are_refused():
    bundle = seed()
    step: dict = {"id": "w0", "type": "wait_for", "trigger": "purchase_completed", "within": "1h", "yes": [], "no": []}
    innermost = step
    for depth in range(1, 9):
        child = {
            "id": f"w{depth}",
            "type": "wait_for",
            "trigger": "purchase_completed",
            "within": "1h",
            "yes": [],
            "no": [],
        }
        innermost["yes"] = [child]
        innermost = child
    bundle["journeys"][0]["steps"].append(step)

    assert any("nested deeper than 8 levels" in e for e in errors_of(bundle))


def test_a_nested_attribute_needs_an_object_parent():
    bundle = seed()
    bundle["triggers"][0]["attributes"][1]["type"] = "text"

    assert any(e.startswith("triggers[0].attributes[2].name: nested under 'cart'") for e in errors_of(bundle))


def test_wait_until_a_date_and_branches_round_trip():
    bundle = seed()
    bundle["journeys"][0]["steps"].append(
        {
            "id": "by-value",
            "type": "branch",
            "paths": [
                {
                    "name": "Big",
                    "conditions": [{"attribute": "trigger.cart_total", "operator": ">=", "value": 500}],
                    "steps": [{"id": "xmas", "type": "wait", "until": "2026-12-24T09:00:00+01:00"}],
                }
            ],
            "otherwise": [
                {
                    "id": "ab",
                    "type": "split",
                    "paths": [{"name": "A", "percent": 50, "steps": []}, {"name": "B", "percent": 50, "steps": []}],
                }
            ],
        }
    )
    parsed = parse_bundle(copy.deepcopy(bundle), BUILTIN)

    assert parse_bundle(bundle_to_dict(parsed), BUILTIN) == parsed
