#!/usr/bin/env python
"""Benchmark of the analytics pages on PostgreSQL (issue 7).

    .venv/bin/python bench/analytics.py              # build the data once, then measure
    .venv/bin/python bench/analytics.py --rebuild    # drop and build the data again
    .venv/bin/python bench/analytics.py --explain    # also print EXPLAIN ANALYZE of each query

The seed journey (abandoned-cart) with two versions gets 1,000,000 participants who entered
over the last 60 days, with their history and at least 3,000,000 deliveries: version 1
(400,000) and version 2 with a branch (600,000); Yes and No paths, the goal met by 30 %,
exits, blocked, bounced, failed, opened and clicked messages, and the last two days'
participants still active at their waits. Five more journeys make the dashboard's rows.

For each page and period the script renders the page through Django's test client
(in-process: no HTTP, no network), takes the median of several runs, counts the queries,
and runs the same SQL statements straight through psycopg to give the ratio of the page to
raw PostgreSQL. It uses its own database (analytics_bench), built once and kept.

The pages read the rollup (analytics.rollup): the script refreshes it first (building it
if needed), measures the pages, then times a full rebuild, and then, RUNS_REFRESH times, a
minute of activity (ACTIVITY_OPENS messages opened and ACTIVITY_GOALS goals met, among the
participants of the last three days), the pages while that activity is still counted live,
and the incremental refresh that rolls it up. The activity is committed: each run leaves the
data set a little busier.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta

from common import ROOT, SERVER, deployment_env, recreate_database
from common import setup_django as _setup_django

sys.path.insert(0, str(ROOT))
DATABASE = os.environ.get("BENCH_DATABASE", "h_analytics_bench")
ENV = deployment_env(DATABASE, REDIS_URL="")
PARTICIPANTS = 1_000_000
VERSION_ONE = 400_000
CONTACTS = 250_000
DAYS = 60
RUNS = 7
RUNS_REFRESH = 3
ACTIVITY_OPENS = 1_000
ACTIVITY_GOALS = 500


# --- Set-up ---------------------------------------------------------------------------------


def database_exists() -> bool:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone() is not None


def create_database() -> None:
    recreate_database(DATABASE, ENV)


def setup_django() -> None:
    _setup_django(ENV)


def import_journeys() -> dict[tuple[int, str], int]:
    """The seed journey's two versions and five copies; returns {(version, key): step id}."""
    import copy
    import json

    from journeys.bundles import import_bundle
    from journeys.demo import SEED_BUNDLE
    from journeys.models import Step

    seed = json.loads(SEED_BUNDLE.read_text())
    import_bundle(seed, publish_journeys=True)
    second = copy.deepcopy(seed)
    second["journeys"][0]["steps"].insert(
        1,
        {
            "id": "big-cart",
            "type": "branch",
            "paths": [
                {
                    "name": "Big cart",
                    "conditions": [{"attribute": "trigger.cart_total", "operator": ">", "value": 100}],
                    "steps": [
                        {
                            "id": "big-cart-text",
                            "type": "text",
                            "content": "second-text-reminder",
                            "to": "contact.phone",
                        }
                    ],
                }
            ],
            "otherwise": [],
        },
    )
    import_bundle(second, publish_journeys=True)
    for i in range(5):
        other = copy.deepcopy(seed)
        other["journeys"][0].update(key=f"other-{i}", name=f"Other journey {i}")
        import_bundle(other, publish_journeys=True)
    steps = Step.objects.filter(version__journey__key="abandoned-cart").values_list("version__number", "key", "pk")
    return {(number, key): pk for number, key, pk in steps}


def build_data() -> None:
    from django.contrib.auth.models import User
    from django.db import connection

    started = time.perf_counter()
    steps = import_journeys()
    User.objects.create_superuser("bench", password="bench")
    step = {f"{key}_{number}".replace("-", "_"): pk for (number, key), pk in steps.items()}
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, key FROM content_content")
        content = dict((key, pk) for pk, key in cursor.fetchall())
        cursor.execute("SELECT id FROM journeys_journey WHERE key = 'abandoned-cart'")
        journey_id = cursor.fetchone()[0]
        cursor.execute("SELECT number, id FROM journeys_journeyversion WHERE journey_id = %s", [journey_id])
        versions = dict(cursor.fetchall())
        for sql in data_sql(journey_id, versions, step, content):
            t = time.perf_counter()
            cursor.execute(sql)
            print(f"  {time.perf_counter() - t:6.1f} s  {sql.strip().splitlines()[0][:90]}", flush=True)
    print(f"built in {time.perf_counter() - started:.0f} s")


def data_sql(journey_id: int, versions: dict[int, int], step: dict[str, int], content: dict[str, int]) -> list[str]:
    """Set-based SQL: one story per participant (bench_story), then its rows from the story."""
    s = step
    big_text = s["big_cart_text_2"]
    return [
        f"""INSERT INTO journeys_contact (external_id, email, phone, push_token, first_name, last_name, time_zone,
            attributes, created_at, updated_at)
        SELECT 'c' || i, 'c' || i || '@example.com', '+1555' || lpad(i::text, 7, '0'), 'tok-' || i, '', '', '',
            '{{}}', now(), now()
        FROM generate_series(1, {CONTACTS}) i""",
        # The story: version, path, age, goal, exit; the columns below follow from it.
        f"""CREATE UNLOGGED TABLE bench_story AS
        SELECT i,
            (SELECT min(id) FROM journeys_contact) + (i % {CONTACTS}) AS contact_id,
            CASE WHEN i <= {VERSION_ONE} THEN 1 ELSE 2 END AS v,
            now() - interval '{DAYS} days' + (i - 1) * interval '{DAYS} days' / {PARTICIPANTS} AS entered_at,
            CASE WHEN i <= {VERSION_ONE} THEN i % 5 = 0 ELSE i % 60 >= 54 END AS yes,
            i > {VERSION_ONE} AND (i % 60 < 42 OR i % 60 BETWEEN 54 AND 56) AS big,
            (i * 7) % 10 < 3 AS goal
        FROM generate_series(1, {PARTICIPANTS}) i""",
        """ALTER TABLE bench_story ADD COLUMN age interval, ADD COLUMN exited boolean, ADD COLUMN stage text""",
        """UPDATE bench_story SET age = now() - entered_at,
            exited = goal AND NOT yes AND i % 3 = 0 AND now() - entered_at >= interval '1 day'""",
        # stage: where the participant is (active) or ended (completed/exited).
        """UPDATE bench_story SET stage = CASE
            WHEN yes THEN 'completed-yes'
            WHEN age < interval '1 day' THEN 'at-opened'
            WHEN exited THEN 'exited-wait'
            WHEN age < interval '2 days' THEN 'at-wait'
            ELSE 'completed-push' END""",
        f"""INSERT INTO journeys_participant (id, journey_id, version_id, contact_id, state, current_step_id,
            step_started_at, wake_at, binding_id, entry_key, entered_at, finished_at, exit_reason, goal_met_at,
            attempts, last_error)
        SELECT i, {journey_id}, CASE v WHEN 1 THEN {versions[1]} ELSE {versions[2]} END, contact_id,
            CASE WHEN stage LIKE 'completed%' THEN 'completed' WHEN stage = 'exited-wait' THEN 'exited'
                 ELSE 'active' END,
            CASE WHEN stage IN ('completed-yes', 'at-opened') THEN
                     CASE v WHEN 1 THEN {s["opened_1"]} ELSE {s["opened_2"]} END
                 WHEN stage IN ('exited-wait', 'at-wait') THEN
                     CASE v WHEN 1 THEN {s["wait_a_day_1"]} ELSE {s["wait_a_day_2"]} END
                 ELSE CASE v WHEN 1 THEN {s["final_push_1"]} ELSE {s["final_push_2"]} END END,
            entered_at,
            CASE WHEN stage = 'at-opened' THEN entered_at + interval '1 day'
                 WHEN stage = 'at-wait' THEN entered_at + interval '2 days' END,
            '', '', entered_at,
            CASE WHEN stage = 'completed-yes' THEN entered_at + interval '3 hours'
                 WHEN stage = 'completed-push' THEN entered_at + interval '2 days'
                 WHEN stage = 'exited-wait' THEN entered_at + interval '30 hours' END,
            CASE WHEN stage LIKE 'completed%' THEN 'completed' WHEN stage = 'exited-wait' THEN 'exit_trigger'
                 ELSE '' END,
            CASE WHEN goal AND age >= interval '1 day' THEN entered_at + interval '30 hours' END,
            0, ''
        FROM bench_story""",
        "SELECT setval(pg_get_serial_sequence('journeys_participant', 'id'), (SELECT max(id) FROM journeys_participant))",
        # Deliveries: the message steps each story reached.
        f"""CREATE UNLOGGED TABLE bench_message AS
        SELECT i, contact_id, entered_at, yes, CASE v WHEN 1 THEN {s["initial_email_1"]} ELSE {s["initial_email_2"]} END
            AS step_id, 'email' AS channel, {content["initial-email-reminder"]} AS content_id, interval '0' AS after
        FROM bench_story
        UNION ALL SELECT i, contact_id, entered_at, false, {big_text}, 'text', {content["second-text-reminder"]},
            interval '1 minute' FROM bench_story WHERE big
        UNION ALL SELECT i, contact_id, entered_at, false,
            CASE v WHEN 1 THEN {s["second_text_1"]} ELSE {s["second_text_2"]} END, 'text',
            {content["second-text-reminder"]}, interval '1 day' FROM bench_story WHERE NOT yes AND age >= interval '1 day'
        UNION ALL SELECT i, contact_id, entered_at, false,
            CASE v WHEN 1 THEN {s["final_push_1"]} ELSE {s["final_push_2"]} END, 'push',
            {content["final-push-notification"]}, interval '2 days' FROM bench_story WHERE stage = 'completed-push'""",
        """INSERT INTO journeys_delivery (participant_id, step_id, contact_id, channel, content_id, commercial, address,
            status, reason, provider_message_id, attempts, created_at, sent_at, delivered_at, opened_at, clicked_at,
            bounced_at, failed_at)
        SELECT i, step_id, contact_id, channel, content_id, true, 'address',
            CASE WHEN h < 10 AND NOT yes THEN 'blocked' WHEN h < 15 AND NOT yes THEN 'failed'
                 WHEN h < 35 AND NOT yes AND channel = 'email' THEN 'bounced'
                 WHEN yes AND h % 5 = 0 THEN 'clicked' WHEN yes THEN 'opened'
                 WHEN h < 900 THEN 'delivered' ELSE 'sent' END,
            CASE WHEN h < 6 AND NOT yes THEN 'unsubscribed' WHEN h < 10 AND NOT yes THEN 'no_address'
                 WHEN h < 15 AND NOT yes THEN '554 rejected' ELSE '' END,
            CASE WHEN h >= 15 OR yes THEN 'pm-' || i || '-' || step_id ELSE '' END,
            CASE WHEN h < 10 AND NOT yes THEN 0 ELSE 1 END,
            entered_at + after,
            CASE WHEN h >= 15 OR yes THEN entered_at + after + interval '2 seconds' END,
            CASE WHEN (h >= 35 AND h < 900) OR yes THEN entered_at + after + interval '1 minute' END,
            CASE WHEN yes THEN entered_at + after + interval '2 hours' END,
            CASE WHEN yes AND h % 5 = 0 THEN entered_at + after + interval '2 hours 1 minute' END,
            CASE WHEN h >= 15 AND h < 35 AND NOT yes AND channel = 'email' THEN entered_at + after + interval '1 minute' END,
            CASE WHEN h >= 10 AND h < 15 AND NOT yes THEN entered_at + after + interval '3 seconds' END
        FROM (SELECT *, (i * 31 + step_id) % 1000 AS h FROM bench_message) m""",
        # History: what the runtime writes for each story, step by step.
        f"""INSERT INTO journeys_participanthistory (participant_id, step_id, step_key, outcome, detail, at)
        SELECT i, NULL, '', 'entered', '{{}}'::jsonb, entered_at FROM bench_story
        UNION ALL SELECT m.i, m.step_id, '', CASE WHEN d.status = 'blocked' THEN 'blocked' ELSE 'sent' END, '{{}}',
            m.entered_at + m.after
            FROM bench_message m JOIN journeys_delivery d ON d.participant_id = m.i AND d.step_id = m.step_id
        UNION ALL SELECT i, {s["big_cart_2"]}, 'big-cart', 'path',
            CASE WHEN big THEN '{{"path": 0}}' ELSE '{{"path": "otherwise"}}' END::jsonb, entered_at
            FROM bench_story WHERE v = 2
        UNION ALL SELECT i, CASE v WHEN 1 THEN {s["opened_1"]} ELSE {s["opened_2"]} END, 'opened', 'waiting', '{{}}',
            entered_at FROM bench_story
        UNION ALL SELECT i, CASE v WHEN 1 THEN {s["opened_1"]} ELSE {s["opened_2"]} END, 'opened',
            CASE WHEN yes THEN 'yes' ELSE 'no' END, '{{}}', entered_at + interval '3 hours'
            FROM bench_story WHERE yes OR age >= interval '1 day'
        UNION ALL SELECT i, CASE v WHEN 1 THEN {s["wait_a_day_1"]} ELSE {s["wait_a_day_2"]} END, 'wait-a-day',
            'waiting', '{{}}', entered_at + interval '1 day' FROM bench_story WHERE NOT yes AND age >= interval '1 day'
        UNION ALL SELECT i, CASE v WHEN 1 THEN {s["wait_a_day_1"]} ELSE {s["wait_a_day_2"]} END, 'wait-a-day',
            'waited', '{{}}', entered_at + interval '2 days' FROM bench_story WHERE stage = 'completed-push'
        UNION ALL SELECT i, NULL, '', 'goal_met', '{{}}', entered_at + interval '30 hours'
            FROM bench_story WHERE goal AND age >= interval '1 day'
        UNION ALL SELECT p.id, p.current_step_id, '', p.state, '{{}}', p.finished_at
            FROM journeys_participant p WHERE p.journey_id = {journey_id} AND p.state <> 'active'""",
        "DROP TABLE bench_story",
        "DROP TABLE bench_message",
        "VACUUM ANALYZE",
    ]


# --- Measuring ------------------------------------------------------------------------------


def measure(path: str, params: dict, explain: bool) -> dict:
    import psycopg
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.login(username="bench", password="bench")
    assert client.get(path, params).status_code == 200  # warm: plans, templates, caches
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(path, params)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as captured:
        client.get(path, params)
    # A named cursor's DECLARE is replayed as its SELECT (the raw connection has no cursor).
    statements = [
        q["sql"].split(" FOR ", 1)[1] if q["sql"].startswith("DECLARE") else q["sql"] for q in captured.captured_queries
    ]
    raw_times = []
    with psycopg.connect(f"{SERVER}/{DATABASE}") as raw:
        for _ in range(RUNS + 1):  # the first run warms
            started = time.perf_counter()
            for sql in statements:
                cursor = raw.execute(sql)
                if cursor.description:
                    cursor.fetchall()
            raw_times.append(time.perf_counter() - started)
        raw_times.pop(0)
        raw.rollback()
        if explain:
            for sql in statements:
                if sql.lstrip().upper().startswith("SELECT") and "journeys_" in sql:
                    plan = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql).fetchall()
                    print("\n" + sql[:300] + "\n" + "\n".join(row[0] for row in plan))
            raw.rollback()
    page, rawsql = statistics.median(times) * 1000, statistics.median(raw_times) * 1000
    return {"page_ms": page, "raw_ms": rawsql, "ratio": page / rawsql, "queries": len(statements)}


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def page_ms(path: str, params: dict) -> float:
    from django.test import Client

    client = Client()
    client.login(username="bench", password="bench")
    times = [timed(lambda: client.get(path, params)) for _ in range(3)]
    return statistics.median(times)


def a_minute_of_activity() -> None:
    """What the engine and the tracking endpoints write in a busy minute, as they write it:
    opens (status, opened_at, updated_at) and goals (goal_met_at and a history row)."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE journeys_delivery SET status = 'opened', opened_at = %s, updated_at = %s WHERE id IN (
                SELECT d.id FROM journeys_delivery d JOIN journeys_participant p ON p.id = d.participant_id
                WHERE p.entered_at > %s AND d.status IN ('sent', 'delivered') ORDER BY random() LIMIT %s)""",
            [now, now, now - timedelta(days=3), ACTIVITY_OPENS],
        )
        cursor.execute(
            """WITH won AS (UPDATE journeys_participant SET goal_met_at = %s WHERE id IN (
                SELECT id FROM journeys_participant WHERE entered_at > %s AND goal_met_at IS NULL
                ORDER BY random() LIMIT %s) RETURNING id, current_step_id)
            INSERT INTO journeys_participanthistory (participant_id, step_id, step_key, outcome, detail, at)
            SELECT id, current_step_id, '', 'goal_met', '{}', %s FROM won""",
            [now, now - timedelta(days=3), ACTIVITY_GOALS, now],
        )


def refresh_figures() -> None:
    from django.utils import timezone

    from analytics.models import RollupState
    from analytics.rollup import refresh
    from analytics.sources import sources_for

    print("\n" + str(refresh()))
    now = timezone.now()
    sources = sources_for(now - timedelta(days=7), now)
    state = RollupState.objects.get()
    print(f"rollup refreshed at {state.refreshed_at:%H:%M:%S}; 7 days: {sources.live_hours} hours counted live")

    rebuilds = [timed(lambda: refresh(rebuild=True)) for _ in range(RUNS_REFRESH)]
    print(
        f"\nfull rebuild: median {statistics.median(rebuilds) / 1000:.1f} s of {RUNS_REFRESH} "
        f"({', '.join(f'{t / 1000:.1f}' for t in rebuilds)} s)"
    )
    print(
        "\n| run | journey page 7d, activity live | dashboard 7d, activity live | hours live | refresh | hours recounted |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for run in range(RUNS_REFRESH):
        a_minute_of_activity()
        now = timezone.now()
        live = sources_for(now - timedelta(days=7), now, journey_id=None).live_hours
        journey = page_ms("/analytics/journeys/abandoned-cart/", {"period": "7d"})
        dashboard = page_ms("/analytics/", {"period": "7d"})
        report = refresh()
        print(
            f"| {run + 1} | {journey:.0f} ms | {dashboard:.0f} ms | {live} | "
            f"{report.duration.total_seconds() * 1000:.0f} ms | {report.hours} |",
            flush=True,
        )


def counts() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        found = []
        for table in ("journeys_participant", "journeys_delivery", "journeys_participanthistory"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            found.append(f"{table.split('_')[1]}: {cursor.fetchone()[0]:,}")
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="drop the database and build the data again")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each query")
    parser.add_argument("--pages-only", action="store_true", help="skip the rebuild and activity rounds")
    args = parser.parse_args()
    if args.rebuild or not database_exists():
        create_database()
        setup_django()
        build_data()
    else:
        setup_django()
    print(counts())
    from analytics.rollup import refresh

    print(refresh())
    cases = [
        ("journey page", "/analytics/journeys/abandoned-cart/", {"period": "24h"}, 300),
        ("journey page", "/analytics/journeys/abandoned-cart/", {"period": "7d"}, 300),
        ("journey page", "/analytics/journeys/abandoned-cart/", {"period": "30d"}, 300),
        ("journey page", "/analytics/journeys/abandoned-cart/", {"period": "30d", "version": "2"}, 300),
        ("dashboard", "/analytics/", {"period": "24h"}, 500),
        ("dashboard", "/analytics/", {"period": "7d"}, 500),
        ("dashboard", "/analytics/", {"period": "30d"}, 500),
    ]
    print(f"\n| page | period | median of {RUNS} | raw PostgreSQL | ratio | queries | target |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for name, path, params, target in cases:
        result = measure(path, params, args.explain)
        period = " ".join(f"{k}={v}" for k, v in params.items())
        verdict = "met" if result["page_ms"] < target else "MISSED"
        print(
            f"| {name} | {period} | {result['page_ms']:.0f} ms | {result['raw_ms']:.0f} ms | "
            f"{result['ratio']:.2f} | {result['queries']} | < {target} ms {verdict} |",
            flush=True,
        )
    if not args.pages_only:
        refresh_figures()


if __name__ == "__main__":
    main()
