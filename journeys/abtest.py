"""The A/B test step's decision: which variant wins, and when.

The statistics are pure functions (a two-proportion z-test on `math.erfc`, no scipy). The
decision is written by one function, `check_test`, called by the periodic check
(`check_due_tests`, a django-q2 schedule every few minutes) and lazily when a participant
arrives at the step after `decide_after`. Two workers may check the same step at once: the
result row is locked (`select_for_update`) and the write is a conditional update from the
undecided states, so a test is decided once and a decision is never overwritten.

The rule: from `decide_after` after the step's version was published, and once every
variant has `min_per_variant` participants, the variant with the best metric wins when a
two-proportion z-test against the runner-up (the variant with the next best rate; with two
variants, the other one) gives a two-sided p < 0.05. If the best beats the runner-up, it
beats the variants below too at least as clearly in rate, so one test is made, not one per
pair (which would also need a correction for many comparisons).
"""

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.db.models.fields.json import KT

from .durations import describe_duration, parse_duration
from .models import (
    ABTestResult,
    ABTestState,
    Delivery,
    HistoryOutcome,
    JourneyStatus,
    JourneyVersion,
    ParticipantHistory,
    Step,
)

logger = logging.getLogger(__name__)

ALPHA = 0.05  # two-sided: the best variant is better at 95 %
CHECK_EVERY = timedelta(minutes=5)  # the schedule's interval (migration 0011)
# A participant arriving checks the test itself at most this often (the schedule may lag).
LAZY_CHECK_EVERY = timedelta(minutes=1)
METRICS = {"goal": "Goal reached", "open_rate": "Open rate", "click_rate": "Click rate"}
EMAIL_METRICS = ("open_rate", "click_rate")
# Opens and clicks are tracked on this content channel only (pixel and rewritten links).
TRACKED_CHANNEL = "email"


# --- Statistics (pure) ------------------------------------------------------------------------


def two_proportion_z(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> tuple[float, float]:
    """The pooled two-proportion z statistic of A against B and its two-sided p-value.

    z > 0 when A's rate is higher. Without trials on a side, or with no variance at all (both
    0 % or both 100 %), there is no evidence: (0.0, 1.0)."""
    if trials_a <= 0 or trials_b <= 0:
        return 0.0, 1.0
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    error = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    if error == 0:
        return 0.0, 1.0
    z = (successes_a / trials_a - successes_b / trials_b) / error
    return z, two_sided_p(z)


def two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z: erfc(|z| / √2)."""
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class VariantCount:
    variant: str
    participants: int
    successes: int  # goals met, emails opened or clicked
    trials: int  # participants (goal) or emails sent (open/click rate)

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    def as_dict(self) -> dict:
        rate = self.rate
        return {**asdict(self), "rate": None if rate is None else round(rate, 6)}


@dataclass(frozen=True)
class Verdict:
    state: str
    message: str
    winner: int | None = None  # the variant's index
    z: float | None = None
    p_value: float | None = None


def decide(counts: Sequence[VariantCount], min_per_variant: int, *, due: bool, due_at: datetime) -> Verdict:
    """The decision for these counts (pure): collecting, undecided or the winner's index."""
    if not due:
        return Verdict(ABTestState.COLLECTING, f"collecting until {due_at:%Y-%m-%d %H:%M} UTC")
    short = [c for c in counts if c.participants < min_per_variant]
    if short:
        have = ", ".join(f"{c.variant}: {c.participants}" for c in counts)
        return Verdict(
            ABTestState.COLLECTING, f"collecting: waiting for {min_per_variant} participants per variant ({have})"
        )
    ranked = sorted(range(len(counts)), key=lambda i: (-(counts[i].rate or 0.0), i))
    best, runner_up = counts[ranked[0]], counts[ranked[1]]
    z, p = two_proportion_z(best.successes, best.trials, runner_up.successes, runner_up.trials)
    if z > 0 and p < ALPHA:
        return Verdict(
            ABTestState.DECIDED,
            f"{best.variant} wins against {runner_up.variant}: p = {p:.3g}",
            winner=ranked[0],
            z=z,
            p_value=p,
        )
    return Verdict(
        ABTestState.UNDECIDED,
        f"undecided: p = {p:.2g}, checking again every {describe_duration(CHECK_EVERY)}",
        z=z,
        p_value=p,
    )


# --- Counting (the database) --------------------------------------------------------------


def settings_of(step: Step) -> tuple[str, timedelta, int]:
    """The step's metric, decide_after and min_per_variant."""
    settings = step.settings or {}
    return (
        settings.get("metric", "goal"),
        parse_duration(settings.get("decide_after", "3d")),
        int(settings.get("min_per_variant", 100)),
    )


def due_at(step: Step) -> datetime | None:
    """When the test may be decided: decide_after after its version was published."""
    published_at = step.version.published_at
    return None if published_at is None else published_at + settings_of(step)[1]


def variant_steps(step: Step) -> list[list[int]]:
    """The ids of the message steps whose opens and clicks are tracked (email) on each
    variant's path (at any depth)."""
    from .steps import kind_of

    rows = Step.objects.filter(version_id=step.version_id).values_list("pk", "parent_id", "path", "kind")
    children: dict[int, list[tuple[int, str, str]]] = {}
    for pk, parent_id, path, kind in rows:
        if parent_id is not None:
            children.setdefault(parent_id, []).append((pk, path, kind))

    def emails_under(steps: list[tuple[int, str, str]]) -> list[int]:
        found = []
        for pk, _, kind in steps:
            if kind_of(kind).channel == TRACKED_CHANNEL:
                found.append(pk)
            found.extend(emails_under(children.get(pk, [])))
        return found

    return [emails_under([s for s in children.get(step.pk, []) if s[1] == str(i)]) for i in range(len(step.paths))]


def count_variants(step: Step) -> list[VariantCount]:
    """Participants of each variant and the metric's successes and trials: one grouped query
    for the participants (and goals), one for the emails' deliveries."""
    metric = settings_of(step)[0]
    taken = (
        ParticipantHistory.objects.filter(step=step, outcome=HistoryOutcome.PATH)
        .annotate(variant=KT("detail__path"))
        .values("variant")
        .annotate(n=Count("pk"), met=Count("pk", filter=Q(participant__goal_met_at__isnull=False)))
        .order_by()
    )
    people = {str(row["variant"]): row for row in taken}
    emails = _email_figures(variant_steps(step)) if metric in EMAIL_METRICS else {}
    counts = []
    for index, variant in enumerate(step.paths):
        participants = people.get(str(index), {}).get("n", 0)
        if metric == "goal":
            successes, trials = people.get(str(index), {}).get("met", 0), participants
        else:
            figures = emails.get(index, {})
            trials, successes = figures.get("sent", 0), figures.get("opened" if metric == "open_rate" else "clicked", 0)
        counts.append(VariantCount(variant.get("name", f"Variant {index + 1}"), participants, successes, trials))
    return counts


def _email_figures(emails_by_variant: list[list[int]]) -> dict[int, dict]:
    """Sent, opened (or clicked: a click is an open) and clicked per variant."""
    steps = [When(step_id__in=ids, then=Value(index)) for index, ids in enumerate(emails_by_variant) if ids]
    if not steps:
        return {}
    rows = (
        Delivery.objects.filter(step_id__in=[pk for ids in emails_by_variant for pk in ids], sent_at__isnull=False)
        .annotate(variant=Case(*steps, output_field=IntegerField()))
        .values("variant")
        .annotate(
            sent=Count("pk"),
            opened=Count("pk", filter=Q(opened_at__isnull=False) | Q(clicked_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        )
        .order_by()
    )
    return {row["variant"]: row for row in rows}


# --- The one writer -------------------------------------------------------------------------


def check_test(step: Step, now: datetime, *, wait: bool = True) -> ABTestResult:
    """Look at the test again and record where it stands; a decided test stays decided.

    `wait=False` (a participant arriving): when another transaction is checking the test
    right now, do not wait for it (PostgreSQL's SKIP LOCKED) and answer the row as read."""
    with transaction.atomic():
        result, _ = ABTestResult.objects.get_or_create(step=step)
        skip = not wait and connection.features.has_select_for_update_skip_locked
        locked = ABTestResult.objects.select_for_update(skip_locked=skip).filter(pk=result.pk).first()
        if locked is None:
            return result
        result = locked
        if result.state == ABTestState.DECIDED:
            return result
        min_per_variant = settings_of(step)[2]
        due = due_at(step)
        counts = count_variants(step)
        verdict = decide(counts, min_per_variant, due=due is not None and now >= due, due_at=due or now)
        fields = {
            "state": verdict.state,
            "message": verdict.message[:300],
            "p_value": verdict.p_value,
            "z": verdict.z,
            "counts": [c.as_dict() for c in counts],
            "last_checked_at": now,
        }
        if verdict.winner is not None:
            fields |= {"winner_path": verdict.winner, "winner": counts[verdict.winner].variant, "decided_at": now}
        # Conditional: a decision another worker wrote in the meantime is kept (SQLite has no
        # row locks, so the lock above is not enough there).
        ABTestResult.objects.filter(pk=result.pk).exclude(state=ABTestState.DECIDED).update(**fields)
        result.refresh_from_db()
    if result.state == ABTestState.DECIDED and result.decided_at == now:
        logger.info("A/B test %s decided: %s", step.key, result.message)
    return result


def winner_on_arrival(step: Step, now: datetime) -> int | None:
    """The winner's path index for a participant arriving now, or None (assign at random).

    Before decide_after there is nothing to read (no query). After it, a participant
    arriving checks the test itself when nobody did in the last minute, so a lagging schedule
    does not hold the winner back; a failing check is logged and the participant goes on at
    random (the schedule tries again)."""
    due = due_at(step)
    if due is None or now < due:
        return None
    result = ABTestResult.objects.filter(step=step).first()
    if result is not None and result.state == ABTestState.DECIDED:
        return result.winner_path
    if result is not None and result.last_checked_at is not None and now - result.last_checked_at < LAZY_CHECK_EVERY:
        return None
    try:
        result = check_test(step, now, wait=False)
    except Exception:
        logger.exception("checking the A/B test of step %s on arrival failed", step.pk)
        return None
    return result.winner_path if result.state == ABTestState.DECIDED else None


def check_due_tests(now: datetime) -> int:
    """The periodic check: every undecided test of a live journey whose time has come.
    Returns how many were decided now. One failing test does not stop the others."""
    steps = (
        Step.objects.filter(
            kind="ab_test", version__published_at__isnull=False, version__journey__status=JourneyStatus.LIVE
        )
        .exclude(ab_test_result__state=ABTestState.DECIDED)
        .select_related("version")
    )
    decided = 0
    for step in steps:
        due = due_at(step)
        if due is None or now < due:
            continue
        try:
            result = check_test(step, now)
        except Exception:
            logger.exception("checking the A/B test of step %s failed", step.pk)
            continue
        decided += result.state == ABTestState.DECIDED and result.decided_at == now
    return decided


# --- Reading, for the designer, the analytics and the API --------------------------------


def ab_test_summary(step: Step, now: datetime) -> dict:
    """What the reports show for one ab_test step: the live per-variant figures, the state
    and the decision (the stored result; "collecting" before any check)."""
    metric, decide_after, min_per_variant = settings_of(step)
    result = ABTestResult.objects.filter(step=step).first()
    counts = count_variants(step)
    due = due_at(step)
    if result is None:
        state, message = str(ABTestState.COLLECTING), ""
        if due is not None and now < due:
            message = f"collecting until {due:%Y-%m-%d %H:%M} UTC"
        elif due is None:
            message = "collecting once the journey is published"
        else:
            message = "collecting: not checked yet"
    else:
        state, message = result.state, result.message
    return {
        "step": step.key,
        "metric": metric,
        "metric_label": METRICS.get(metric, metric),
        "decide_after": describe_duration(decide_after),
        "min_per_variant": min_per_variant,
        "decide_at": due,
        "state": state,
        "message": message,
        "winner": result.winner if result and result.state == ABTestState.DECIDED else None,
        "p_value": result.p_value if result else None,
        "p_text": f"{result.p_value:.3g}" if result and result.p_value is not None else "",
        "z": result.z if result else None,
        "decided_at": result.decided_at if result else None,
        "last_checked_at": result.last_checked_at if result else None,
        "decision_counts": result.counts if result else [],
        "variants": [
            {
                **c.as_dict(),
                "rate_percent": None if c.rate is None else round(100 * c.rate, 1),
                "percent": p.get("percent"),
                "winner": bool(result and result.winner_path == i),
            }
            for i, (c, p) in enumerate(zip(counts, step.paths, strict=False))
        ],
    }


def ab_test_states(version: JourneyVersion | None, now: datetime) -> dict[str, str]:
    """One line per A/B test step of a published version, by step key, for the canvas
    ("decided: A wins against B: p = 0.003", "collecting until …"). A draft has none."""
    if version is None or version.published_at is None:
        return {}
    states = {}
    for step in Step.objects.filter(version=version, kind="ab_test").select_related("version", "ab_test_result"):
        result = getattr(step, "ab_test_result", None)
        if result is None:
            due = due_at(step)
            states[step.key] = f"collecting until {due:%Y-%m-%d %H:%M} UTC" if due and now < due else "collecting"
        elif result.state == ABTestState.DECIDED:
            states[step.key] = f"decided: {result.message}"
        else:
            states[step.key] = result.message or str(result.state)
    return states
