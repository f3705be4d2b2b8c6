"""Deadlines in working time: pure functions, the clock is always passed in.

Working time is the region's working days and hours (``WorkingTime``) in the
region's time zone, minus Russian public holidays and transferred days off,
plus transferred working Saturdays, all as the ``holidays`` package lists
them (``holidays.RU(...)`` and its ``weekend_workdays``).

* ``add_working_hours(start, hours, wt, tz)`` counts only working time:
  a post routed on Friday at 17:00 with 8 working hours left is due on the
  next working day at 16:00 (9:00–18:00 days).
* ``add_working_days(start, days, ...)`` is ``days`` whole working days of
  ``end - start`` hours each, i.e. the same working-time position ``days``
  working days later.
* ``calendar`` rules add plain hours (``4 h`` for urgent posts).

``compute_deadlines`` turns a ``DeadlinePolicy`` into the three due times of
an incident; ``reminder_times`` and ``escalation_times`` give the schedules
``pipeline.incidents.check_deadlines`` acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterable
from zoneinfo import ZoneInfo

import holidays

from config.schema import DeadlinePolicy, DeadlineRule, WorkingTime

__all__ = [
    "STAGES",
    "Deadlines",
    "WorkCalendar",
    "add_working_hours",
    "add_working_days",
    "add_rule",
    "compute_deadlines",
    "escalation_times",
    "reminder_times",
    "select_rule",
    "working_seconds_between",
]

STAGES = ("first_reply", "interim", "final")
#: Never search further than this for the next working moment (guards bad calendars).
_MAX_DAYS = 3660


class WorkCalendar:
    """Working days of one country calendar and weekday set."""

    def __init__(self, weekdays: Iterable[int], country: str = "RU"):
        self.weekdays = frozenset(weekdays)
        self.country = country
        self._years: dict[int, tuple[frozenset[date], frozenset[date]]] = {}

    def _year(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        got = self._years.get(year)
        if got is None:
            cal = holidays.country_holidays(self.country, years=year)
            workdays = frozenset(d for d in getattr(cal, "weekend_workdays", ()) if d.year == year)
            got = (frozenset(cal.keys()), workdays)
            self._years[year] = got
        return got

    def is_working_day(self, day: date) -> bool:
        days_off, workdays = self._year(day.year)
        if day in workdays:
            return True  # a transferred working Saturday
        if day in days_off:
            return False
        return day.isoweekday() in self.weekdays

    def next_working_day(self, day: date) -> date:
        for _ in range(_MAX_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError("no working day within ten years: check the working-time settings")


@lru_cache(maxsize=16)
def _calendar(weekdays: tuple[int, ...], country: str) -> WorkCalendar:
    return WorkCalendar(weekdays, country)


def calendar_for(wt: WorkingTime) -> WorkCalendar:
    return _calendar(tuple(sorted(wt.weekdays)), wt.calendar)


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass times with a time zone")
    return moment.astimezone(tz).replace(tzinfo=None)


def _aware(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(timezone.utc)


def _day_bounds(day: date, wt: WorkingTime) -> tuple[datetime, datetime]:
    return datetime.combine(day, wt.start), datetime.combine(day, wt.end)


def _working_day_seconds(wt: WorkingTime) -> float:
    return (datetime.combine(date.min, wt.end) - datetime.combine(date.min, wt.start)).total_seconds()


def _normalise(cur: datetime, wt: WorkingTime, cal: WorkCalendar) -> datetime:
    """The first working moment at or after ``cur`` (local wall time)."""
    day = cur.date()
    if cal.is_working_day(day):
        start, end = _day_bounds(day, wt)
        if cur < start:
            return start
        if cur < end:
            return cur
    day = cal.next_working_day(day)
    return datetime.combine(day, wt.start)


def add_working_hours(start: datetime, hours: float, wt: WorkingTime, tz: ZoneInfo) -> datetime:
    """``start`` plus ``hours`` of working time, as an aware UTC datetime."""
    if hours < 0:
        raise ValueError("hours must not be negative")
    cal = calendar_for(wt)
    cur = _local(start, tz)
    remaining = timedelta(hours=hours)
    if remaining == timedelta(0):
        return _aware(cur, tz)
    while True:
        cur = _normalise(cur, wt, cal)
        _, end = _day_bounds(cur.date(), wt)
        room = end - cur
        if remaining <= room:
            return _aware(cur + remaining, tz)
        remaining -= room
        cur = end


def add_working_days(start: datetime, days: float, wt: WorkingTime, tz: ZoneInfo) -> datetime:
    """``days`` working days of ``end - start`` hours each after ``start``."""
    return add_working_hours(start, days * _working_day_seconds(wt) / 3600.0, wt, tz)


def working_seconds_between(a: datetime, b: datetime, wt: WorkingTime, tz: ZoneInfo) -> float:
    """Working time between two moments in seconds (negative if ``b < a``)."""
    if b < a:
        return -working_seconds_between(b, a, wt, tz)
    cal = calendar_for(wt)
    cur, stop = _local(a, tz), _local(b, tz)
    total = 0.0
    while cur < stop:
        cur = _normalise(cur, wt, cal)
        if cur >= stop:
            break
        _, end = _day_bounds(cur.date(), wt)
        total += (min(end, stop) - cur).total_seconds()
        cur = end
    return total


def select_rule(policy: DeadlinePolicy, stage: str, urgency: str | None) -> DeadlineRule | None:
    """The rule of ``stage`` for ``urgency``: one naming the urgency wins over one that does not."""
    generic = None
    for rule in policy.rules:
        if rule.stage.value != stage:
            continue
        if rule.urgency is not None and urgency is not None and rule.urgency.value == urgency:
            return rule
        if rule.urgency is None and generic is None:
            generic = rule
    return generic


def add_rule(start: datetime, rule: DeadlineRule, wt: WorkingTime, tz: ZoneInfo) -> datetime:
    """``start`` plus the rule's amount on the rule's clock."""
    if rule.clock == "calendar":
        amount = timedelta(hours=rule.hours) if rule.hours is not None else timedelta(days=rule.days or 0)
        return start.astimezone(timezone.utc) + amount
    if rule.hours is not None:
        return add_working_hours(start, rule.hours, wt, tz)
    return add_working_days(start, rule.days or 0, wt, tz)


@dataclass(frozen=True)
class Deadlines:
    first_reply: datetime | None
    interim: datetime | None
    final: datetime | None

    def get(self, stage: str) -> datetime | None:
        return getattr(self, stage)

    def as_dict(self) -> dict[str, str | None]:
        return {s: (d.isoformat() if d else None) for s in STAGES for d in [self.get(s)]}


def compute_deadlines(
    policy: DeadlinePolicy,
    tz: ZoneInfo,
    urgency: str | None,
    routed_at: datetime,
    first_reply_at: datetime | None = None,
    interim_at: datetime | None = None,
) -> Deadlines:
    """Due times of every stage.

    A later stage is never due before an earlier one: its due time is raised
    to the earlier stage's if the rules say otherwise. A rule counting ``after: first_reply`` or ``after: interim`` starts from
    the time that answer was given, or, until it is, from that stage's own
    due time (so the final deadline is known from the start and moves when
    the interim answer comes early or late).
    """
    done = {"routed": routed_at, "first_reply": first_reply_at, "interim": interim_at}
    due: dict[str, datetime | None] = {}
    resolving: set[str] = set()

    def anchor(name: str) -> datetime | None:
        if name == "routed":
            return routed_at
        if done.get(name) is not None:
            return done[name]
        return stage_due(name)

    def stage_due(stage: str) -> datetime | None:
        if stage in due:
            return due[stage]
        if stage in resolving:
            raise ValueError(f"deadline rules form a cycle at stage {stage!r}")
        resolving.add(stage)
        rule = select_rule(policy, stage, urgency)
        value = None
        if rule is not None:
            start = anchor(rule.after)
            value = add_rule(start, rule, policy.working_time, tz) if start is not None else None
        i = STAGES.index(stage)
        if value is not None and i > 0 and STAGES[i - 1] not in resolving:
            # a later stage is never due before the earlier one (24 calendar hours for the
            # interim answer vs. 8 working hours for the first reply over a long weekend)
            before = stage_due(STAGES[i - 1])
            if before is not None and value < before:
                value = before
        resolving.discard(stage)
        due[stage] = value
        return value

    return Deadlines(*(stage_due(s) for s in STAGES))


def reminder_times(due: datetime, minutes: Iterable[int]) -> list[tuple[int, datetime]]:
    """(minutes before, when) of each reminder, earliest first."""
    return sorted(((m, due - timedelta(minutes=m)) for m in set(minutes)), key=lambda x: x[1])


def escalation_times(due: datetime, policy: DeadlinePolicy) -> list[tuple[int, str, datetime]]:
    """(level 1.., role, when) of each escalation level after a missed deadline."""
    return [(i + 1, lvl.role, due + timedelta(hours=lvl.after_hours)) for i, lvl in enumerate(policy.escalation)]


def local_day_is_working(day: date, wt: WorkingTime) -> bool:
    return calendar_for(wt).is_working_day(day)


def in_working_time(moment: datetime, wt: WorkingTime, tz: ZoneInfo) -> bool:
    cur = _local(moment, tz)
    start, end = _day_bounds(cur.date(), wt)
    return calendar_for(wt).is_working_day(cur.date()) and start <= cur < end

