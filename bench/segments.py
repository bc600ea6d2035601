#!/usr/bin/env python
"""Benchmark of segment-based journeys on PostgreSQL (issue 14): how fast a segment's
members enter a journey through real workers, against raw inserts of the same rows in the
same run.

    .venv/bin/python bench/segments.py --members 20000
    BENCH_WORKERS=2 .venv/bin/python bench/segments.py --members 100000

It uses its own database (journeys_bench_segments), dropped and recreated. Steps:
1. insert N contacts (tier=gold), build the VIP segment (journeys.segments, in batches);
2. publish a segment journey whose first step is a one-day wait, and time the pass of all
   members through a qcluster (bounded batches of journeys.segment_entry.ENTRY_BATCH);
3. insert the same number of participant rows and history rows with plain multi-row
   INSERTs (500 a statement, one transaction each) into scratch copies of the tables.
The ratio entry rate / raw rate is what the engine's bookkeeping costs.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time

from common import ROOT, deployment_env, recreate_database, setup_django

sys.path.insert(0, str(ROOT))
DATABASE = "journeys_bench_segments"
ENV = deployment_env(DATABASE, REDIS_URL="", Q_WORKERS=os.environ.get("BENCH_WORKERS", "2"))
RAW_BATCH = 500


def insert_contacts(count: int) -> None:
    from journeys.models import Contact

    for start in range(0, count, 5000):
        Contact.objects.bulk_create(
            Contact(external_id=f"c{i}", email=f"c{i}@example.com", attributes={"tier": "gold"})
            for i in range(start, min(count, start + 5000))
        )


def build_segment() -> float:
    from journeys.models import Segment
    from journeys.segments import rebuild_now

    segment = Segment.objects.create(
        key="vip", name="VIP", conditions=[{"attribute": "contact.attributes.tier", "operator": "=", "value": "gold"}]
    )
    started = time.perf_counter()
    rebuild_now(segment)
    return time.perf_counter() - started


def publish_journey() -> int:
    from journeys.bundles import import_bundle
    from journeys.models import SegmentEntry

    import_bundle(
        {
            "journeys": [
                {
                    "key": "vip",
                    "name": "VIP",
                    "type": "segment",
                    "start": {"segment": "vip", "mode": "one_time"},
                    "steps": [{"id": "pause", "type": "wait", "duration": "1d"}],
                }
            ]
        },
        publish_journeys=True,  # enqueues the pass's first batch on the ORM broker
    )
    return SegmentEntry.objects.get().pk


def time_pass(entry_id: int, members: int, timeout: float) -> float:
    from journeys.models import SegmentEntry

    workers = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        started = time.perf_counter()
        deadline = started + timeout
        while time.perf_counter() < deadline:
            entry = SegmentEntry.objects.get(pk=entry_id)
            if entry.finished_at is not None:
                return time.perf_counter() - started
            time.sleep(0.2)
        raise SystemExit(f"the pass did not finish within {timeout:.0f}s ({entry.entered} of {members} entered)")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(workers.pid, signal.SIGKILL)
        workers.wait(timeout=30)


def raw_inserts(count: int) -> float:
    """Seconds to insert `count` participant rows and `count` history rows with plain SQL."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_participant (LIKE journeys_participant INCLUDING DEFAULTS)")
        cursor.execute("CREATE TABLE bench_history (LIKE journeys_participanthistory INCLUDING DEFAULTS)")
    version_id, journey_id, step_id = _ids()
    contact_ids = list(range(1, count + 1))
    started = time.perf_counter()
    for start in range(0, count, RAW_BATCH):
        chunk = contact_ids[start : start + RAW_BATCH]
        with transaction.atomic(), connection.cursor() as cursor:
            values = ",".join(
                cursor.mogrify(
                    "(%s, %s, %s, %s, 'active', %s, now(), now(), '', '', now(), '', 0, '')",
                    (i, journey_id, version_id, contact, step_id),
                )
                for i, contact in zip(range(start, start + len(chunk)), chunk, strict=True)
            )
            cursor.execute(
                "INSERT INTO bench_participant (id, journey_id, version_id, contact_id, state, current_step_id,"
                " step_started_at, wake_at, binding_id, entry_key, entered_at, exit_reason, attempts, last_error)"
                f" VALUES {values}"
            )
            history = ",".join(
                cursor.mogrify("(%s, %s, %s, 'entered', '{}', now())", (i, i, step_id))
                for i in range(start, start + len(chunk))
            )
            cursor.execute(
                f"INSERT INTO bench_history (id, participant_id, step_id, step_key, outcome, detail, at) "
                f"SELECT v.column1, v.column2, v.column3, '', v.column4, v.column5::jsonb, v.column6 "
                f"FROM (VALUES {history}) v"
            )
    return time.perf_counter() - started


def _ids() -> tuple[int, int, int]:
    from journeys.models import JourneyVersion

    version = JourneyVersion.objects.get()
    return version.pk, version.journey_id, version.steps.get().pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    recreate_database(DATABASE, ENV)
    setup_django(ENV)
    from journeys.models import Participant

    insert_contacts(args.members)
    built = build_segment()
    entry_id = publish_journey()
    entered_in = time_pass(entry_id, args.members, args.timeout)
    entered = Participant.objects.count()
    raw_in = raw_inserts(args.members)
    entry_rate, raw_rate = entered / entered_in, args.members / raw_in
    print(f"members: {args.members}, workers: {ENV['Q_WORKERS']}")
    print(f"segment built: {args.members / built:,.0f} contacts/s ({built:.1f} s)")
    print(f"entered through the workers: {entered} in {entered_in:.1f} s = {entry_rate:,.0f} members/s")
    print(
        f"raw inserts of the same rows (a participant and a history row each, {RAW_BATCH} a statement): {raw_rate:,.0f} members/s"
    )
    print(f"entry rate / raw insert rate: {100 * entry_rate / raw_rate:.1f} %")


if __name__ == "__main__":
    main()
