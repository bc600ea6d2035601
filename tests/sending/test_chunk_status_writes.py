"""A chunk writes a message's "sent" together with the next message's "sending started" (one
UPDATE per message), and the states are the same as writing them one by one: a sender killed
between two messages leaves only the message it had handed to the provider `unknown`; the
rest of the chunk is claimed again and sent once."""

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from journeys.models import Delivery, DeliveryStatus, Participant
from journeys.sending import LEASE, dispatch_deliveries, retry_due_deliveries
from tests.workers.processes import ROOT, worker_env


def _states(rows: list[Delivery]) -> list[tuple[str, bool]]:
    """Each delivery's status and whether its attempt is marked started, in chunk order."""
    found = {
        pk: (status, started is not None)
        for pk, status, started in Delivery.objects.filter(pk__in=[d.pk for d in rows]).values_list(
            "pk", "status", "sending_started_at"
        )
    }
    return [found[d.pk] for d in rows]


class SeeingBackend(LocmemBackend):
    """The provider, at the edge: notes what the database says at the moment each message
    reaches it (what a SIGKILL at that moment would leave), and when the session closes."""

    seen: list[list[tuple[str, bool]]] = []
    at_close: list[list[tuple[str, bool]]] = []
    rows: list[Delivery] = []

    def send_messages(self, messages):
        for _ in messages:
            SeeingBackend.seen.append(_states(SeeingBackend.rows))
        return super().send_messages(messages)

    def close(self):
        SeeingBackend.at_close.append(_states(SeeingBackend.rows))


SENT, QUEUED = DeliveryStatus.SENT, DeliveryStatus.QUEUED


@override_settings(EMAIL_BACKEND="tests.sending.test_chunk_status_writes.SeeingBackend")
def test_when_each_message_reaches_the_provider_only_it_is_marked_started_and_those_before_it_are_sent(
    three_deliveries,
):
    SeeingBackend.seen, SeeingBackend.at_close, SeeingBackend.rows = [], [], three_deliveries

    dispatch_deliveries([d.pk for d in three_deliveries])

    assert SeeingBackend.seen == [
        [(QUEUED, True), (QUEUED, False), (QUEUED, False)],
        [(SENT, False), (QUEUED, True), (QUEUED, False)],
        [(SENT, False), (SENT, False), (QUEUED, True)],
    ]
    # The last one's "sent" is written before the session ends, not after its QUIT.
    assert SeeingBackend.at_close == [[(SENT, False)] * 3]
    assert _states(three_deliveries) == [(SENT, False)] * 3
    assert len(mail.outbox) == 3


def test_a_chunk_of_three_deliveries_writes_four_statuses_after_its_claim(three_deliveries):
    with CaptureQueriesContext(connection) as queries:
        dispatch_deliveries([d.pk for d in three_deliveries])

    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "journeys_delivery"')]
    # The claim, then "started" for the first, "sent" + "started" for each next, "sent" for the last.
    assert len(updates) == 1 + 3 + 1
    assert _states(three_deliveries) == [(SENT, False)] * 3


def test_a_message_refused_mid_chunk_does_not_delay_the_sent_before_it(three_deliveries):
    Participant.objects.filter(contact__email="ben@example.com").update(state="exited")

    dispatch_deliveries([d.pk for d in three_deliveries])

    assert _states(three_deliveries) == [(SENT, False), (DeliveryStatus.BLOCKED, False), (SENT, False)]
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "cy@example.com"]


# --- A real sender process, SIGKILLed between two messages -----------------------------------------------------

KILLING_SENDER = """
import json, os, signal, sys
import django
django.setup()
from django.core.mail.backends.base import BaseEmailBackend
from django.test.utils import override_settings
from journeys.sending import dispatch_deliveries

class KillingProvider(BaseEmailBackend):
    # Takes each message (written to the outbox file); SIGKILLs its own process at the second,
    # before or after taking it.
    count = 0

    def send_messages(self, messages):
        for message in messages:
            KillingProvider.count += 1
            if KillingProvider.count == 2 and os.environ["KILL"] == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            with open(os.environ["OUTBOX"], "a") as outbox:
                outbox.write(message.to[0] + "\\n")
            if KillingProvider.count == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        return len(messages)

sys.modules["killing"] = sys.modules[__name__]
with override_settings(EMAIL_BACKEND="killing.KillingProvider"):
    dispatch_deliveries(json.loads(os.environ["IDS"]))
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kill", ["before", "after"])
def test_a_sender_killed_at_the_second_message_of_a_chunk_leaves_only_that_one_unknown(
    three_deliveries, tmp_path: Path, kill: str
):
    if connection.vendor == "sqlite":
        pytest.skip("a second process needs the PostgreSQL test database")
    outbox = tmp_path / "outbox"
    outbox.touch()
    ids = [d.pk for d in three_deliveries]
    env = worker_env(OUTBOX=str(outbox), IDS=json.dumps(ids), KILL=kill)
    sender = subprocess.run([sys.executable, "-c", KILLING_SENDER], cwd=ROOT, env=env, capture_output=True, timeout=120)

    assert sender.returncode == -9, sender.stderr.decode(errors="replace")
    taken = outbox.read_text().split()
    assert taken == (["ana@example.com"] if kill == "before" else ["ana@example.com", "ben@example.com"])
    # Ana's sent is written with Ben's "started"; Cy's was never begun.
    assert _states(three_deliveries) == [(SENT, False), (QUEUED, True), (QUEUED, False)]

    with time_machine.travel(timezone.now() + LEASE + timedelta(seconds=1)):
        assert retry_due_deliveries() == 1  # Cy's; Ben's outcome is unknown (at most once)

    assert _states(three_deliveries) == [(SENT, False), (DeliveryStatus.UNKNOWN, True), (SENT, False)]
    assert [m.to[0] for m in mail.outbox] == ["cy@example.com"]
