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


_STAGES = (("first_reply", "first_reply_due", "first_reply_at"), ("interim", "interim_due", "interim_at"), ("final", "final_due", "final_at"))


def late_stages(incident) -> list[str]:
    """Stages answered after their deadline («с опозданием»)."""
    out = []
    for stage, due_attr, done_attr in _STAGES:
        due, done = getattr(incident, due_attr), getattr(incident, done_attr)
        if due is not None and done is not None and done > due:
            out.append(stage)
    return out


def overdue_stages(incident, now: datetime) -> list[str]:
    """Stages of an open incident not done whose deadline has passed."""
    if incident.state in ("resolved", "rejected") or incident.merged_into_id is not None:
        return []
    return [stage for stage, due_attr, done_attr in _STAGES if getattr(incident, due_attr) is not None and getattr(incident, done_attr) is None and getattr(incident, due_attr) < now]


def shorten(text: str | None, width: int = 80, empty: str = "без названия") -> str:
    """``text`` cut to ``width`` characters at a word boundary with «…» (never mid-word unless one word is longer)."""
    text = " ".join((text or "").split())
    if not text:
        return empty
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:—-–") + "…"
