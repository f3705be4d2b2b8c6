"""Ratings of authorities, computed only from the incident event log.

Everything here is derived from ``incident_events`` (kinds in
``storage/events.py``) plus the due dates recorded in the data of each
``routed`` / ``rerouted`` event, so anyone with the log can recompute it.
The formula and the definition of each term are published in docs/ratings.md.

The unit of account is an *assignment*: the span during which one authority
held an incident, opened by a ``routed`` or ``rerouted`` event naming it and
closed by the next ``rerouted`` event. Answers, resolutions, reopenings and
grades count for the authority holding the incident when they happen.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from pipeline.errors import InvalidInput
from storage import events as ev
from storage import reporting as rq
from storage.models import IncidentEvent

STAGES = ("first_reply", "interim", "final")
ANSWER_KINDS = (ev.ANSWER_FIRST, ev.ANSWER_INTERIM, ev.ANSWER_FINAL)

#: Weights of the composite score (docs/ratings.md). Terms without data are
#: left out and the remaining weights renormalised. The answer-quality term took 0.15 and the
#: five older weights (0.30, 0.20, 0.20, 0.15, 0.15) were scaled by 0.85, so a score without
#: answer readings is exactly what it was before.
WEIGHTS = {"on_time": 0.255, "answered": 0.17, "resolved": 0.17, "not_reopened": 0.1275, "grade": 0.1275, "substantive": 0.15}


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) of UTC instants, with a Russian label."""

    start: datetime
    end: datetime
    label: str

    @classmethod
    def month(cls, month: str, tz: ZoneInfo) -> "Period":
        """``YYYY-MM`` with the month's boundaries in the region's time zone."""
        try:
            y, m = (int(x) for x in month.split("-"))
            start_local = datetime(y, m, 1, tzinfo=tz)
        except ValueError:
            raise InvalidInput(f"месяц {month!r} нужно указать в виде ГГГГ-ММ, например 2026-11") from None
        end_local = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=tz)
        return cls(start_local.astimezone(timezone.utc), end_local.astimezone(timezone.utc), f"{MONTHS[m - 1]} {y}")


MONTHS = [
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
]  # fmt: skip


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------- assignments from the log


@dataclass
class Assignment:
    incident_id: int
    authority_id: int
    start: datetime
    due: dict[str, datetime | None]
    end: datetime | None = None
    #: earliest answer of any kind (the first reply); interim: interim or final; final: final
    answered: dict[str, datetime | None] = field(default_factory=lambda: dict.fromkeys(STAGES))
    resolved_at: datetime | None = None
    reopened: bool = False
    grades: list[float] = field(default_factory=list)
    #: quality reading of each answer given during the assignment (response id → reading; a
    #: person's review replaces the classifier's)
    answer_quality: dict[int, str] = field(default_factory=dict)

    def reply_minutes(self) -> float | None:
        t = self.answered["first_reply"]
        return (t - self.start).total_seconds() / 60 if t else None

    def stage_status(self, stage: str, as_of: datetime) -> str:
        """``on_time`` | ``late`` | ``pending`` | ``no_deadline``.

        ``pending``: no answer and the deadline had not passed by ``as_of`` — or
        by the time the incident was rerouted away, whichever is earlier (an
        authority is not blamed for a deadline that fell after it lost the incident).
        """
        due, at = self.due.get(stage), self.answered[stage]
        if due is None:
            return "no_deadline" if at is None else "on_time"
        if at is not None:
            return "on_time" if at <= due else "late"
        until = min(as_of, self.end) if self.end is not None else as_of
        return "late" if due < until else "pending"

    def missed(self, as_of: datetime) -> list[str]:
        return [s for s in STAGES if self.stage_status(s, as_of) == "late"]


def _due(data: dict[str, Any], previous: dict[str, datetime | None] | None) -> dict[str, datetime | None]:
    raw = (data or {}).get("due")
    if not raw and previous is not None:
        return dict(previous)  # a reroute without new due dates keeps the old ones
    raw = raw or {}
    return {s: parse_time(raw.get(s)) for s in STAGES}


def _note_quality(a: Assignment, data: dict[str, Any] | None) -> None:
    data = data or {}
    rid, reading = data.get("response_id"), data.get("quality")
    if isinstance(rid, int) and isinstance(reading, str) and rid not in a.answer_quality:
        a.answer_quality[rid] = reading


def assignments_from_events(events: Iterable[IncidentEvent], as_of: datetime) -> list[Assignment]:
    """Replay the events (any order; sorted here by time, then id) up to ``as_of``."""
    out: list[Assignment] = []
    current: dict[int, Assignment] = {}
    for e in sorted(events, key=lambda e: (e.at, e.id or 0)):
        if e.at > as_of:
            break
        cur = current.get(e.incident_id)
        if e.kind in (ev.ROUTED_EV, ev.REROUTED) and e.authority_id is not None:
            if cur is not None:
                cur.end = e.at
            new = Assignment(e.incident_id, e.authority_id, e.at, _due(e.data, cur.due if cur else None))
            out.append(new)
            current[e.incident_id] = new
            continue
        if cur is None:
            continue
        if e.kind in ANSWER_KINDS or e.kind == ev.ANSWER_FLAGGED:
            _note_quality(cur, e.data)
        if e.kind == ev.ANSWER_REVIEWED and isinstance((e.data or {}).get("response_id"), int):
            rid = e.data["response_id"]
            for a in out:  # the answer may belong to an earlier assignment of the incident
                if a.incident_id == e.incident_id and rid in a.answer_quality:
                    a.answer_quality[rid] = str(e.data.get("to"))
        if e.kind in ANSWER_KINDS:
            stages = {ev.ANSWER_FIRST: ("first_reply",), ev.ANSWER_INTERIM: ("first_reply", "interim"),
                      ev.ANSWER_FINAL: ("first_reply", "interim", "final")}[e.kind]  # fmt: skip
            for s in stages:
                if cur.answered[s] is None:
                    cur.answered[s] = e.at
        elif e.kind == ev.RESOLVED_EV and cur.resolved_at is None:
            cur.resolved_at = e.at
        elif e.kind == ev.REOPENED_EV and cur.resolved_at is not None:
            cur.reopened = True
        elif e.kind == ev.GRADED:
            grade = (e.data or {}).get("grade")
            if isinstance(grade, (int, float)) and 1 <= grade <= 5:
                cur.grades.append(float(grade))
    return out


def load_assignments(session: Session, region: str, period: Period, as_of: datetime | None = None) -> list[Assignment]:
    """Assignments opened within ``period``, replayed up to ``as_of`` (default: the period's end)."""
    as_of = min(as_of or period.end, period.end)
    events = rq.events_of_incidents_opened(session, region, (ev.ROUTED_EV, ev.REROUTED), period.start, period.end, as_of)
    return [a for a in assignments_from_events(events, as_of) if period.start <= a.start < period.end]


# --------------------------------------------------------------------------- figures


def _share(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class Figures:
    """The rating terms of a group of assignments (docs/ratings.md)."""

    routed: int = 0
    replied: int = 0
    first_reply_decided: int = 0
    first_reply_on_time: int = 0
    answered_final: int = 0
    resolved: int = 0
    reopened: int = 0
    overdue: int = 0
    median_reply_minutes: float | None = None
    grades: list[float] = field(default_factory=list)
    #: answers with a quality reading, and those read substantive
    answers_read: int = 0
    answers_substantive: int = 0

    @property
    def on_time_share(self) -> float | None:
        return _share(self.first_reply_on_time, self.first_reply_decided)

    @property
    def answered_share(self) -> float | None:
        return _share(self.answered_final, self.routed)

    @property
    def resolved_share(self) -> float | None:
        return _share(self.resolved, self.routed)

    @property
    def reopened_share(self) -> float | None:
        return _share(self.reopened, self.resolved)

    @property
    def has_data(self) -> bool:
        """Anything to rate: a first-reply deadline reached (or met), a final answer, a resolution or a grade.

        An authority whose incidents are all still within their deadlines scores 0 on the completeness terms
        without having failed anything: it gets no place in a ranking («нет данных»).
        """
        return bool(self.first_reply_decided or self.answered_final or self.resolved or self.grades or self.answers_read)

    @property
    def substantive_share(self) -> float | None:
        return _share(self.answers_substantive, self.answers_read)

    @property
    def not_substantive(self) -> int:
        return self.answers_read - self.answers_substantive

    @property
    def mean_grade(self) -> float | None:
        return sum(self.grades) / len(self.grades) if self.grades else None

    @property
    def score(self) -> float | None:
        terms = {
            "on_time": self.on_time_share,
            "answered": self.answered_share,
            "resolved": self.resolved_share,
            "not_reopened": None if self.reopened_share is None else 1 - self.reopened_share,
            "grade": None if self.mean_grade is None else (self.mean_grade - 1) / 4,
            "substantive": self.substantive_share,
        }
        used = {k: v for k, v in terms.items() if v is not None}
        if not used:
            return None
        return 100 * sum(WEIGHTS[k] * v for k, v in used.items()) / sum(WEIGHTS[k] for k in used)


def figures(assignments: Iterable[Assignment], as_of: datetime) -> Figures:
    f = Figures()
    minutes = []
    for a in assignments:
        f.routed += 1
        m = a.reply_minutes()
        if m is not None:
            f.replied += 1
            minutes.append(m)
        status = a.stage_status("first_reply", as_of)
        if status in ("on_time", "late"):
            f.first_reply_decided += 1
            f.first_reply_on_time += status == "on_time"
        f.answered_final += a.answered["final"] is not None
        f.resolved += a.resolved_at is not None
        f.reopened += a.reopened
        f.overdue += bool(a.missed(as_of))
        f.grades += a.grades
        f.answers_read += len(a.answer_quality)
        f.answers_substantive += sum(q == "substantive" for q in a.answer_quality.values())
    f.median_reply_minutes = statistics.median(minutes) if minutes else None
    return f


@dataclass
class AuthorityRating:
    rank: int
    code: str
    name: str
    figures: Figures


def rate(session: Session, region: str, period: Period, as_of: datetime | None = None) -> list[AuthorityRating]:
    """Authorities that held incidents opened in the period, best score first."""
    as_of = min(as_of or period.end, period.end)
    groups: dict[int, list[Assignment]] = defaultdict(list)
    for a in load_assignments(session, region, period, as_of):
        groups[a.authority_id].append(a)
    names = rq.authorities_of_region(session, region)
    rows = [(names[k].code if k in names else str(k), names[k].name if k in names else "?", figures(v, as_of)) for k, v in groups.items()]
    rows.sort(key=lambda r: (-(r[2].score if r[2].score is not None else -1), -r[2].routed, r[0]))
    return [AuthorityRating(i + 1, code, name, f) for i, (code, name, f) in enumerate(rows)]


def as_of_for(period: Period, now: datetime) -> datetime:
    return min(period.end, now)


def hours(td: timedelta) -> float:
    return td.total_seconds() / 3600
