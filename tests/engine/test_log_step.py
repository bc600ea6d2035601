"""The log step, the example kind of docs/extending.md: one module (journeys/steps/log.py)
makes it part of the format, the engine, the designer's canvas and the reports."""

import pytest

from journeys.bundles import export_bundle, import_bundle, version_to_spec
from journeys.definition import BundleError, parse_bundle
from journeys.designer.canvas import Names, build_canvas
from journeys.models import Delivery, Journey, Participant
from journeys.steps import kinds, leaving_outcomes

ANA = {"id": "ana", "email": "ana@example.com"}
NOTE = {"id": "note", "type": "log", "message": "entered with a cart"}


@pytest.fixture
def logging_journey(db, clock, seed_bundle) -> Journey:
    seed_bundle["journeys"][0]["steps"].insert(0, NOTE)
    import_bundle(seed_bundle, publish_journeys=True)
    return Journey.objects.get(key="abandoned-cart")


def test_a_log_step_writes_its_note_and_the_journey_goes_on(logging_journey, raise_event):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    participant = Participant.objects.get()
    note = participant.history.get(step_key="note")
    assert (note.outcome, note.detail) == ("logged", {"message": "entered with a cart"})
    assert participant.current_step.key == "opened"
    assert Delivery.objects.get().step.key == "initial-email"


def test_a_log_step_round_trips_through_export(logging_journey):
    exported = export_bundle(["abandoned-cart"])

    assert exported["journeys"][0]["steps"][0] == NOTE


def test_a_log_step_needs_its_message(seed_bundle):
    seed_bundle["journeys"][0]["steps"].insert(0, {"id": "note", "type": "log"})

    with pytest.raises(BundleError) as caught:
        parse_bundle(seed_bundle)
    problem = next(p for p in caught.value.problems if p.path.step == "note")
    assert (problem.code, problem.field, str(problem)) == (
        "required",
        "message",
        "journeys[0].steps[0].message: is required",
    )


def test_the_canvas_and_the_reports_know_the_log_step_from_its_module(logging_journey):
    spec = version_to_spec(logging_journey.versions.get())
    tile = build_canvas(spec, Names()).items[1]

    assert (tile.kind, tile.kind_label, tile.summary) == ("log", "Log a note", "Log a note: entered with a cart")
    assert tile.accent == "#4a5568"
    assert "logged" in leaving_outcomes()
    assert "log" in [k.name for k in kinds()]
