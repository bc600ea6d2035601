"""The journey report as JSON (the API) and as CSV rows (the exports): pure functions."""

from typing import Any

from journeys.models import BlockReason

from .figures import JourneyReport, MessageFigures, StepFigures

# Every block reason appears in the JSON and CSV, with 0 when it did not happen, so that a
# reader's columns do not depend on the data.
BLOCK_REASONS = [*BlockReason.values, "participant_left"]


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == int(value) else value


def blocked_by_reason(messages: MessageFigures) -> dict[str, int]:
    reasons = dict.fromkeys(BLOCK_REASONS, 0)
    reasons.update(messages.blocked)
    return reasons


def messages_json(messages: MessageFigures) -> dict[str, Any]:
    return {
        "channel": messages.channel,
        "sent": messages.sent,
        "delivered": messages.delivered,
        "opened": messages.opened,
        "clicked": messages.clicked,
        "bounced": messages.bounced,
        "blocked": blocked_by_reason(messages),
        "failed": messages.failed,
        "queued": messages.queued,
        "held": messages.held,
        "expired": messages.expired,
    }


def step_json(step: StepFigures) -> dict[str, Any]:
    return {
        "id": step.key,
        "type": step.kind,
        "inflow": step.inflow,
        "processing": step.processing,
        "processed": step.processed,
        "exited": step.exited,
        "exit_reasons": dict(sorted(step.exit_reasons.items())),
        "completed": step.completed,
        "paths": {p.key: p.count for p in step.paths},
        "messages": messages_json(step.messages) if step.messages is not None else None,
    }


def report_json(report: JourneyReport, period_name: str) -> dict[str, Any]:
    """The shape of GET /api/v1/journeys/KEY/analytics (docs/api.md)."""
    cohort = report.cohort
    data: dict[str, Any] = {
        "journey": cohort.journey.key,
        "period": {
            "name": period_name,
            "since": cohort.since.isoformat(),
            "until": cohort.until.isoformat(),
            "version": cohort.version.number if cohort.version is not None else None,
            "bucket": cohort.bucket,
        },
        "entered": report.entered,
        "active": report.active,
        "completed": report.completed,
        "exited": report.exited,
        "goal_met": report.goal_met,
        "goal_percent": report.goal_percent,
        "goal_target_percent": _number(report.goal_target_percent),
        "steps": [step_json(step) for step in report.steps],
        "entries_over_time": [
            {"at": b.at.isoformat(), "entered": b.entered, "goal_met": b.goal_met} for b in report.entries_over_time
        ],
        "ab_tests": [ab_test_json(test) for test in report.ab_tests],
    }
    if report.holdout is not None:  # only for a journey with a holdout group (docs/api.md)
        data["holdout"] = report.holdout.as_dict()
    return data


def ab_test_json(test: dict[str, Any]) -> dict[str, Any]:
    """An A/B test's state, its decision and its per-variant figures (rates as fractions 0-1)."""

    def when(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    decision = ("winner", "p_value", "p_text", "z", "decided_at", "decision_counts")
    return {
        **{k: v for k, v in test.items() if k not in (*decision, "decide_at", "last_checked_at")},
        "decide_at": when(test["decide_at"]),
        "last_checked_at": when(test["last_checked_at"]),
        "decision": {
            "winner": test["winner"],
            "p_value": test["p_value"],
            "z": test["z"],
            "decided_at": when(test["decided_at"]),
            "counts": test["decision_counts"],
        },
    }


STEP_COLUMNS = [
    "step",
    "type",
    "path",
    "inflow",
    "processing",
    "processed",
    "exited",
    "exit_trigger",
    "stopped",
    "completed",
    "paths",
]


def step_rows(report: JourneyReport) -> list[list[Any]]:
    rows: list[list[Any]] = [STEP_COLUMNS]
    for step in report.steps:
        rows.append(
            [
                step.key,
                step.kind,
                step.branch_label,
                step.inflow,
                step.processing,
                step.processed,
                step.exited,
                step.exit_reasons.get("exit_trigger", 0),
                step.exit_reasons.get("stopped", 0),
                step.completed,
                "; ".join(f"{p.label}: {p.count}" for p in step.paths),
            ]
        )
    return rows


MESSAGE_COLUMNS = [
    "step",
    "channel",
    "content",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "failed",
    "queued",
    "held",
    "expired",
    "blocked",
    *(f"blocked_{reason}" for reason in BLOCK_REASONS),
    "open_rate",
    "click_rate",
]


def message_rows(report: JourneyReport) -> list[list[Any]]:
    rows: list[list[Any]] = [MESSAGE_COLUMNS]
    for step in report.steps:
        m = step.messages
        if m is None:
            continue
        blocked = blocked_by_reason(m)
        rows.append(
            [
                step.key,
                m.channel,
                m.content,
                m.sent,
                m.delivered,
                m.opened,
                m.clicked,
                m.bounced,
                m.failed,
                m.queued,
                m.held,
                m.expired,
                m.blocked_total,
                *(blocked[reason] for reason in BLOCK_REASONS),
                "" if m.open_rate is None else m.open_rate,
                "" if m.click_rate is None else m.click_rate,
            ]
        )
    return rows


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# `=HYPERLINK(...)` in a content or branch name would run on the analyst's machine.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would read as a formula, quoted with a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
