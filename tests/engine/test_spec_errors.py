"""Errors of the journey format are values: a path (with the step it is in), a code and a
message. The designer finds the step and the field from the path, never from the text."""

import json

import pytest

from journeys.definition import BundleError, Catalogue, parse_bundle
from journeys.demo import SEED_BUNDLE
from journeys.spec import SpecError, SpecPath

BUILTIN = Catalogue(trigger_schemas={"email_opened": {"delivery_id": "text"}})


def problems_of(bundle: dict) -> list[SpecError]:
    with pytest.raises(BundleError) as caught:
        parse_bundle(bundle, BUILTIN)
    return caught.value.problems


def test_an_error_in_a_nested_step_names_that_step_and_its_field():
    bundle = json.loads(SEED_BUNDLE.read_text())
    bundle["journeys"][0]["steps"][1]["no"][0]["content"] = "no-such-content"

    [problem] = problems_of(bundle)

    assert (problem.where, problem.field, problem.code) == ("second-text", "content", "unknown")
    assert problem.path.parts == ("journeys", 0, "steps", 1, "no", 0, "content")
    assert str(problem) == "journeys[0].steps[1].no[0].content: unknown content 'no-such-content'"


def test_an_error_in_a_condition_keeps_the_row_and_the_field_apart():
    bundle = json.loads(SEED_BUNDLE.read_text())
    bundle["journeys"][0]["steps"][1]["conditions"] = [{"attribute": "delivery_id", "operator": "nope", "value": 1}]

    problem = problems_of(bundle)[0]

    assert problem.where == "opened"
    assert problem.field_parts[:2] == ("conditions", 0)


def test_an_error_of_the_settings_is_placed_on_them():
    bundle = json.loads(SEED_BUNDLE.read_text())
    bundle["journeys"][0]["time_zone"] = "Mars/Olympus"

    [problem] = problems_of(bundle)

    assert (problem.where, problem.field, problem.code) == ("settings", "time_zone", "invalid")


def test_an_error_without_a_path_reads_as_its_message():
    assert str(SpecError(SpecPath(), "no_draft", "There is no draft.")) == "There is no draft."
