"""The rollup (analytics.rollup): built, refreshed by dirty hours, read by the pages.

A refreshed rollup must hold exactly what a rebuild from scratch holds, whatever changed in
between (a message opened, a participant entering or exiting, a contact deleted, a row that
committed late), and the pages must be exact before the refresh too (counted live).
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from analytics.models import DeliveryCount, OutcomeCount, ParticipantCount, RollupState, StaleHour
from analytics.rollup import LONGEST_TRANSACTION, refresh
from analytics.tasks import refresh_analytics
from journeys.models import Contact, Delivery, DeliveryStatus, Participant, ParticipantHistory
from journeys.tracking import record_click, record_open

from .conftest import contact
from .test_figures_agree_with_the_tables import PERIODS, _both_ways, assert_agree


def rollup_rows() -> dict[str, list[tuple]]:
    """The rollup's contents, without ids, in a stable order."""
    found = {}
    for model in (ParticipantCount, OutcomeCount, DeliveryCount):
        fields = [f.attname for f in model._meta.concrete_fields if f.name != "id"]
        found[model.__name__] = sorted(model.objects.values_list(*fields))
    return found


def rebuilt_rows() -> dict[str, list[tuple]]:
    """What a rebuild from scratch holds now (the rollup is left rebuilt)."""
    refresh(rebuild=True)
    return rollup_rows()


def agrees_for_every_period(journey) -> None:
    for params in PERIODS:
        naive, report = _both_ways(journey, params)
        assert_agree(naive, report)


def test_a_rebuild_counts_every_hour_of_entry(scenario):
    report = refresh(rebuild=True)

    assert report.rebuilt
    rows = rollup_rows()
    assert sum(row[-2] for row in rows["ParticipantCount"]) == Participant.objects.count()  # participants column
    assert (
        sum(row[-1] for row in rows["OutcomeCount"])
        == ParticipantHistory.objects.filter(
            outcome__in=["sent", "blocked", "waited", "yes", "no", "path"], step__isnull=False
        ).count()
    )
    hours = {row[2] for row in rows["ParticipantCount"]}
    assert report.hours == len({(row[0], row[2]) for row in rows["ParticipantCount"]}) == len(hours) == 4
    assert all(hour.minute == hour.second == 0 for hour in hours)


def test_changes_after_a_refresh_are_counted_live_then_rolled_up_as_a_rebuild_would(
    scenario, clock, raise_event, django_capture_on_commit_callbacks
):
    refresh(rebuild=True)
    clock.shift(timedelta(hours=1))
    # A message opened and one clicked (old participants), a new entry, a goal met.
    with django_capture_on_commit_callbacks(execute=True):
        record_open(Delivery.objects.get(contact__external_id="gil", step__key="initial-email"))
        record_click(Delivery.objects.get(contact__external_id="jo", step__key="initial-email"), "https://x.example/")
    raise_event("abandoned_cart", contact("kim"), {"cart_total": 90})
    raise_event("purchase_completed", contact("jo"), {"order_total": 80})
    clock.shift(timedelta(minutes=1))  # the clock stands still: kim entered a moment ago

    # Before any refresh: the pages count the changed hours from the tables.
    naive, report = _both_ways(scenario, {"period": "7d"})
    assert_agree(naive, report)
    assert report["entered"] == 10 and report["goal_met"] == 3
    agrees_for_every_period(scenario)

    result = refresh()

    assert not result.rebuilt and result.hours == 3  # gil's and jo's hours, and kim's
    incremental = rollup_rows()
    agrees_for_every_period(scenario)
    assert incremental == rebuilt_rows()


def test_a_refresh_with_nothing_changed_recounts_nothing_once_the_marks_have_passed(scenario, clock):
    refresh(rebuild=True)
    clock.shift(LONGEST_TRANSACTION + timedelta(minutes=1))
    refresh()  # the rebuild's checkpoint is old enough now: the history mark moves up to it
    clock.shift(timedelta(minutes=1))

    assert refresh().hours == 0
    state = RollupState.objects.get()
    assert state.history_mark == ParticipantHistory.objects.order_by("-pk").first().pk
    assert state.deliveries_mark == timezone.now() - LONGEST_TRANSACTION


def test_the_marks_trail_so_a_row_committed_late_with_a_lower_id_is_still_counted(scenario, clock):
    """Two writers: the one with the higher id commits first and is refreshed; the one with
    the lower id commits after that refresh. Ids are handed out at insert, not at commit."""
    refresh(rebuild=True)
    clock.shift(LONGEST_TRANSACTION + timedelta(minutes=1))
    refresh()
    top = ParticipantHistory.objects.order_by("-pk").first().pk

    def goal_met(name: str, history_id: int) -> None:
        """What journeys.transitions.mark_goal_met writes, with the history row's id given."""
        participant = Participant.objects.get(contact__external_id=name)
        Participant.objects.filter(pk=participant.pk).update(goal_met_at=timezone.now())
        ParticipantHistory.objects.create(
            pk=history_id, participant=participant, step=participant.current_step, outcome="goal_met"
        )

    clock.shift(timedelta(seconds=30))
    goal_met("gil", top + 1000)
    refresh()
    clock.shift(timedelta(seconds=10))
    refresh()
    assert RollupState.objects.get().history_mark < top + 1000  # not past a row this recent
    clock.shift(timedelta(seconds=20))
    goal_met("jo", top + 500)
    # A delivery written before that refresh started, committed after it.
    delivery = Delivery.objects.get(contact__external_id="hal", step__key="initial-email")
    Delivery.objects.filter(pk=delivery.pk).update(
        opened_at=timezone.now(), updated_at=timezone.now() - timedelta(minutes=1)
    )

    naive, report = _both_ways(scenario, {"period": "7d"})
    assert_agree(naive, report)
    clock.shift(timedelta(minutes=1))
    refresh()
    incremental = rollup_rows()
    assert incremental == rebuilt_rows()


def test_deleting_a_contact_recounts_its_participants_hours(scenario, clock):
    refresh(rebuild=True)
    hal = Participant.objects.get(contact__external_id="hal")

    Contact.objects.filter(external_id="hal").delete()

    assert list(StaleHour.objects.values_list("journey_id", "hour")) == [
        (hal.journey_id, hal.entered_at.replace(minute=0, second=0, microsecond=0))
    ]
    naive, report = _both_ways(scenario, {"period": "7d"})
    assert_agree(naive, report)
    assert report["entered"] == 8

    clock.shift(timedelta(minutes=1))
    assert refresh().hours == 1
    assert not StaleHour.objects.exists()
    incremental = rollup_rows()
    assert incremental == rebuilt_rows()


def test_a_stopped_journey_is_rolled_up_as_stopped(scenario, clock):
    from journeys.publishing import stop

    refresh(rebuild=True)
    clock.shift(timedelta(minutes=2))
    stop(scenario)
    refresh()

    agrees_for_every_period(scenario)
    assert rollup_rows() == rebuilt_rows()


@pytest.mark.parametrize(
    "write",
    [
        "claim",
        "mark_sent",
        "block",
        "fail",
        "retry_later",
        "record_open",
        "record_click",
        "record_delivered",
        "record_bounced",
        "participant_left",
        "release_held",
    ],
)
def test_every_write_of_a_delivery_sets_its_updated_at(scenario, clock, write, django_capture_on_commit_callbacks):
    from journeys import deliveries, sending, tracking

    delivery = Delivery.objects.get(contact__external_id="jo", step__key="initial-email")
    before = delivery.updated_at
    status = DeliveryStatus.HELD if write == "release_held" else DeliveryStatus.QUEUED
    if write in ("record_open", "record_click", "record_delivered", "record_bounced"):
        status = DeliveryStatus.SENT
    Delivery.objects.filter(pk=delivery.pk).update(status=status, next_attempt_at=None, updated_at=before)
    delivery.refresh_from_db()
    clock.shift(timedelta(minutes=3))
    actions = {
        "claim": lambda: sending.claim(delivery.pk, timezone.now()),
        "mark_sent": lambda: sending.mark_sent(delivery, "pm-1"),
        "block": lambda: sending.block(delivery, "unsubscribed"),
        "fail": lambda: sending.fail(delivery, "554"),
        "retry_later": lambda: sending.retry_later(delivery, "timeout"),
        "record_open": lambda: tracking.record_open(delivery),
        "record_click": lambda: tracking.record_click(delivery, "https://x.example/"),
        "record_delivered": lambda: tracking.record_delivered(delivery),
        "record_bounced": lambda: tracking.record_bounced(delivery, reason="full"),
        "participant_left": lambda: deliveries.block_unsent(Delivery.objects.filter(pk=delivery.pk), timezone.now()),
        "release_held": lambda: deliveries.release_held(
            delivery, status=DeliveryStatus.QUEUED, reason="", next_attempt_at=None
        ),
    }
    with django_capture_on_commit_callbacks(execute=False):
        actions[write]()

    delivery.refresh_from_db()
    assert delivery.updated_at == timezone.now() != before


def test_the_refresh_runs_every_minute_as_a_django_q2_schedule(db):
    schedule = Schedule.objects.get(name="Refresh analytics")

    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "analytics.tasks.refresh_analytics",
        Schedule.MINUTES,
        1,
        -1,
    )


def test_the_task_and_the_command_refresh_and_rebuild(scenario, clock, capsys):
    assert refresh_analytics().startswith("analytics rollup rebuilt: 4 hours")  # the first run builds
    clock.shift(timedelta(minutes=1))
    assert refresh_analytics().startswith("analytics rollup refreshed: 0 hours")

    call_command("refresh_analytics", "--rebuild")
    assert "rebuilt: 4 hours" in capsys.readouterr().out
    call_command("refresh_analytics")
    assert "refreshed: 0 hours" in capsys.readouterr().out


def test_the_page_says_how_current_the_figures_are(client, analyst, scenario, clock):
    client.force_login(analyst)
    url = "/analytics/journeys/abandoned-cart/"

    assert "counted from the tables (the rollup is not built yet)" in client.get(url).content.decode()
    refresh(rebuild=True)
    clock.shift(timedelta(minutes=2))
    html = client.get(url).content.decode()
    refreshed = timezone.localtime(RollupState.objects.get().refreshed_at)
    assert f"whole hours of entry from the rollup refreshed at {refreshed:%H:%M}" in html
    assert f"Exact as of {timezone.localtime():%H:%M:%S}" in html
    assert "whole hours of entry from the rollup" in client.get("/analytics/").content.decode()


def test_at_most_six_changed_hours_are_counted_live_the_newest_first():
    from datetime import UTC, datetime

    from analytics.sources import LIVE_HOURS_AT_MOST, plan

    since = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    until = datetime(2026, 11, 3, 8, 30, tzinfo=UTC)
    rollup = RollupState(refreshed_at=until)
    changed = {datetime(2026, 11, 2, hour, tzinfo=UTC) for hour in range(20)} | {since.replace(minute=0)}

    sources = plan(since, until, rollup, changed)

    assert LIVE_HOURS_AT_MOST == 6
    assert sources.rolled == (datetime(2026, 11, 1, 9, tzinfo=UTC), datetime(2026, 11, 3, 8, tzinfo=UTC))
    assert sources.skipped == [datetime(2026, 11, 2, hour, tzinfo=UTC) for hour in range(14, 20)]
    assert sources.behind == 14  # hours 0-13 of Nov 2 are read as of the refresh
    assert sources.live == [
        (since, datetime(2026, 11, 1, 9, tzinfo=UTC)),
        (datetime(2026, 11, 2, 14, tzinfo=UTC), datetime(2026, 11, 2, 20, tzinfo=UTC)),
        (datetime(2026, 11, 3, 8, tzinfo=UTC), until),
    ]
    assert plan(since, until, rollup, set()).behind == 0
    assert plan(since, until, None, changed).live == [(since, until)]  # no rollup yet: all live


def test_the_page_says_which_hours_are_as_of_the_refresh_when_many_changed(client, analyst, scenario, clock):
    from unittest import mock

    client.force_login(analyst)
    refresh(rebuild=True)
    clock.shift(timedelta(minutes=2))
    with mock.patch("analytics.sources.LIVE_HOURS_AT_MOST", 0):
        Delivery.objects.filter(contact__external_id="gil").update(updated_at=timezone.now())
        html = client.get("/analytics/journeys/abandoned-cart/").content.decode()

    refreshed = timezone.localtime(RollupState.objects.get().refreshed_at)
    assert f"Current to {refreshed:%H:%M} for 1 hour of entry with changes since" in html
    assert 'data-behind="1"' in html
