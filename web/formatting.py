"""Jinja filters: local times, countdowns, labels of codes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline import timefmt
from pipeline.labels import ANSWER_FLAG_NAMES, DECISION_NAMES, EVENT_NAMES, PLATFORM_NAMES, STATE_NAMES  # noqa: F401  (re-exported to templates)
from pipeline.labels import STAGE_NAMES as RESPONSE_KINDS  # noqa: F401
from pipeline.quality_names import CUE_NAMES, QUALITY_NAMES  # noqa: F401  (re-exported to templates)

URGENCY_NAMES = {"high": "срочно", "normal": "обычная", "low": "низкая"}


def local_time(value: datetime | None, tz: ZoneInfo, fmt: str = timefmt.DATE_TIME) -> str:
    return timefmt.local(value, tz, fmt)


def human_delta(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} дн")
    if hours:
        parts.append(f"{hours} ч")
    if not days:
        parts.append(f"{mins} мин")
    return " ".join(parts)


def countdown(due: datetime | None, now: datetime) -> str:
    if due is None:
        return "—"
    delta = due - now
    if delta.total_seconds() >= 0:
        return f"осталось {human_delta(delta)}"
    return f"просрочено на {human_delta(delta)}"


def next_due(incident, now: datetime) -> tuple[str | None, datetime | None]:
    """The earliest deadline of a stage not yet done, for an open incident: (stage, due)."""
    if incident.state in ("resolved", "rejected") or incident.merged_into_id is not None:
        return None, None
    pending = [
        (due, stage)
        for stage, due, done in (
            ("first_reply", incident.first_reply_due, incident.first_reply_at),
            ("interim", incident.interim_due, incident.interim_at),
            ("final", incident.final_due, incident.final_at),
        )
        if due is not None and done is None
    ]
    if not pending:
        return None, None
    due, stage = min(pending)
    return stage, due
