"""Deadlines in working time: pure functions, the clock is always passed in.

Working time is the region's working days and hours (``WorkingTime``) in the
region's time zone, minus Russian public holidays and transferred days off,
plus transferred working Saturdays, all as the ``holidays`` package lists
them (``holidays.RU(...)`` and its ``weekend_workdays``), then the region's
own ``extra_days_off`` / ``extra_working_days`` on top.

Shortened days (Labour Code art. 95): a working day immediately before a
non-working public holiday of art. 112 part 1 (1–8 Jan, 23 Feb, 8 Mar,
1 May, 9 May, 12 Jun, 4 Nov) ends one hour early. The days off that
``holidays.RU`` adds on top of those (a holiday falling on a weekend moved to
Monday, «… (выходной)» / "(observed)"; a day off moved by government decree,
«Выходной (перенесено с …)» / "Day off (substituted from …)") are days off,
not holidays: the day before them is not shortened. They are told apart by
the package's structure, not by their names: ``observed=False`` drops the
first kind, the package's substitution table (``special_public_holidays``,
4- or 5-tuples) lists the second. A working Saturday made so by a decree
lasts as long as the weekday its day off moved to (art. 95, on transferred
days off): 1 Nov 2025 is a short day because its day off went to 3 Nov, the
eve of Unity Day. The region's ``short_days`` add more (the eve of a
regional holiday).

* ``add_working_hours(start, hours, wt, tz)`` counts only working time:
  a post routed on Friday at 17:00 with 8 working hours left is due on the
  next working day at 16:00 (9:00–18:00 days).
* ``add_working_days(start, days, ...)`` steps ``days`` whole working days
  keeping the time of day (a start outside working time counts from the end
  of the last working day before it); a fraction of a day is that share of a
  full working day in working hours.
* ``calendar`` rules add plain hours (``4 h`` for urgent posts).

``compute_deadlines`` turns a ``DeadlinePolicy`` into the three due times of
an incident; ``order_conflicts`` finds start times for which a policy's rules
put a later stage before an earlier one (``cur config check`` warns);
``reminder_times`` and ``escalation_times`` give the schedules
``pipeline.incidents.check_deadlines`` acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable, NamedTuple
from zoneinfo import ZoneInfo

import holidays

from config.schema import DeadlinePolicy, DeadlineRule, WorkingTime

__all__ = [
    "SAMPLE_FORTNIGHTS",
    "STAGES",
    "Deadlines",
    "OrderConflict",
    "WorkCalendar",
    "add_working_hours",
    "add_working_days",
    "add_rule",
    "calendar_for",
    "calendar_notes",
    "compute_deadlines",
    "escalation_times",
    "order_conflicts",
    "reminder_times",
    "sample_starts",
    "select_rule",
    "working_seconds_between",
]

STAGES = ("first_reply", "interim", "final")
#: Never search further than this for the next working moment (guards bad calendars).
_MAX_DAYS = 3660
#: How much Labour Code art. 95 takes off a pre-holiday working day.
SHORTENING = timedelta(hours=1)


class _Year(NamedTuple):
    days_off: frozenset[date]  # every day off the package lists (holidays, observed, substituted)
    workdays: frozenset[date]  # transferred working Saturdays and Sundays
    holidays: frozenset[date]  # non-working public holidays of art. 112 part 1 only
    moved: dict[date, date]  # working weekend day -> the weekday its day off moved to


def _substitutions(cal: holidays.HolidayBase, year: int) -> list[tuple[date, date]]:
    """(day off, the day it was moved from) of the package's decree table for ``year``."""
    raw = getattr(cal, "special_public_holidays", {}).get(year, ())
    entries = (raw,) if raw and isinstance(raw[0], int) else raw
    out = []
    for entry in entries:
        if len(entry) >= 4:  # (to_month, to_day, from_month, from_day[, from_year]); 3-tuples are named one-offs
            to_month, to_day, from_month, from_day, *rest = entry
            out.append((date(year, to_month, to_day), date(rest[0] if rest else year, from_month, from_day)))
    return out


class WorkCalendar:
    """Working days of one country calendar and weekday set, with the operator's own days."""

    def __init__(
        self,
        weekdays: Iterable[int],
        country: str = "RU",
        extra_days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        short_days: Iterable[date] = (),
    ):
        self.weekdays = frozenset(weekdays)
        self.country = country
        self.extra_days_off = frozenset(extra_days_off)
        self.extra_working_days = frozenset(extra_working_days)
        self.short_days = frozenset(short_days)
        self._years: dict[int, _Year] = {}

    def _year(self, year: int) -> _Year:
        got = self._years.get(year)
        if got is None:
            cal = holidays.country_holidays(self.country, years=year)
            plain = holidays.country_holidays(self.country, years=year, observed=False)
            subs = _substitutions(cal, year)
            workdays = frozenset(d for d in getattr(cal, "weekend_workdays", ()) if d.year == year)
            all_workdays = set(getattr(cal, "weekend_workdays", ()))
            got = _Year(
                days_off=frozenset(cal.keys()),
                workdays=workdays,
                holidays=frozenset(d for d in plain.keys() if d.year == year) - {to for to, _ in subs},
                moved={frm: to for to, frm in subs if frm in all_workdays},
            )
            self._years[year] = got
        return got

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        if day in self.extra_days_off:
            return False
        y = self._year(day.year)
        if day in y.workdays:
            return True  # a transferred working Saturday
        if day in y.days_off:
            return False
        return day.isoweekday() in self.weekdays

    def is_public_holiday(self, day: date) -> bool:
        """A non-working public holiday of Labour Code art. 112 part 1 (not a moved day off)."""
        return day in self._year(day.year).holidays

    def is_short_day(self, day: date) -> bool:
        """A working day one hour shorter: a pre-holiday day (art. 95) or one of ``short_days``."""
        if not self.is_working_day(day):
            return False
        if day in self.short_days or self.is_public_holiday(day + timedelta(days=1)):
            return True
        # a decree's working Saturday lasts as long as the weekday its day off moved to
        for year in (day.year - 1, day.year, day.year + 1):
            moved_to = self._year(year).moved.get(day)
            if moved_to is not None:
                return self.is_public_holiday(moved_to + timedelta(days=1))
        return False

    def next_working_day(self, day: date) -> date:
        return self._step(day, 1)

    def prev_working_day(self, day: date) -> date:
        return self._step(day, -1)

    def _step(self, day: date, direction: int) -> date:
        for _ in range(_MAX_DAYS):
            day += timedelta(days=direction)
            if self.is_working_day(day):
                return day
        raise ValueError("no working day within ten years: check the working-time settings")


@lru_cache(maxsize=32)
def _calendar(
    weekdays: tuple[int, ...], country: str, off: tuple[date, ...], work: tuple[date, ...], short: tuple[date, ...]
) -> WorkCalendar:
    return WorkCalendar(weekdays, country, off, work, short)


def calendar_for(wt: WorkingTime) -> WorkCalendar:
    return _calendar(
        tuple(sorted(wt.weekdays)), wt.calendar,
        tuple(sorted(wt.extra_days_off)), tuple(sorted(wt.extra_working_days)), tuple(sorted(wt.short_days)),
    )


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass times with a time zone")
    return moment.astimezone(tz).replace(tzinfo=None)


def _aware(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(timezone.utc)


def _day_bounds(day: date, wt: WorkingTime, cal: WorkCalendar) -> tuple[datetime, datetime]:
    """Start and end of the working hours of ``day`` (the end an hour earlier on a short day)."""
    start, end = datetime.combine(day, wt.start), datetime.combine(day, wt.end)
    if cal.is_short_day(day):
        end = max(start, end - SHORTENING)
    return start, end


def working_hours_of(day: date, wt: WorkingTime) -> tuple[time, time] | None:
    """Local start and end of the working hours of ``day``; None on a day off."""
    cal = calendar_for(wt)
    if not cal.is_working_day(day):
        return None
    start, end = _day_bounds(day, wt, cal)
    return start.time(), end.time()


def _working_day_seconds(wt: WorkingTime) -> float:
    return (datetime.combine(date.min, wt.end) - datetime.combine(date.min, wt.start)).total_seconds()


def _normalise(cur: datetime, wt: WorkingTime, cal: WorkCalendar) -> datetime:
    """The first working moment at or after ``cur`` (local wall time)."""
    day = cur.date()
    if cal.is_working_day(day):
        start, end = _day_bounds(day, wt, cal)
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
        _, end = _day_bounds(cur.date(), wt, cal)
        room = end - cur
        if remaining <= room:
            return _aware(cur + remaining, tz)
        remaining -= room
        cur = end


def add_working_days(start: datetime, days: float, wt: WorkingTime, tz: ZoneInfo) -> datetime:
    """``days`` working days after ``start``.

    Whole days keep the time of day: Tuesday 10:00 + 7 working days is 10:00
    of the seventh working day after, whatever the length of the days between
    (a pre-holiday day is one hour shorter, still one day). A start outside
    working time (or at a day's start) counts from the end of the last working
    day before it, so the result is the end of a working day. On a day whose
    hours end earlier the time is cut to its end. A fraction of a day is that
    share of a full working day, in working hours.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    cal = calendar_for(wt)
    cur = _local(start, tz)
    whole = int(days)
    if whole:
        day = cur.date()
        elapsed: timedelta | None = None  # None: at the end of ``day``'s working hours
        day_start, day_end = _day_bounds(day, wt, cal)
        if not cal.is_working_day(day) or cur <= day_start:
            day = cal.prev_working_day(day)
        elif cur < day_end:
            elapsed = cur - day_start
        for _ in range(whole):
            day = cal.next_working_day(day)
        day_start, day_end = _day_bounds(day, wt, cal)
        cur = day_end if elapsed is None else min(day_start + elapsed, day_end)
    result = _aware(cur, tz)
    fraction = days - whole
    if fraction:
        result = add_working_hours(result, fraction * _working_day_seconds(wt) / 3600.0, wt, tz)
    return result


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
        _, end = _day_bounds(cur.date(), wt, cal)
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
    clamp: bool = True,
) -> Deadlines:
    """Due times of every stage.

    A rule counting ``after: first_reply`` or ``after: interim`` starts from
    the time that answer was given, or, until it is, from that stage's own
    due time (so the final deadline is known from the start and moves when
    the interim answer comes early or late).

    A later stage is never due before an earlier one: with ``clamp`` (the
    default) its due time is raised to the earlier stage's if the rules say
    otherwise. The shipped policy never needs that; it is a guard for a
    region's own rules, which ``cur config check`` warns about
    (``order_conflicts`` computes with ``clamp=False``).
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
        if clamp and value is not None and i > 0 and STAGES[i - 1] not in resolving:
            before = stage_due(STAGES[i - 1])
            if before is not None and value < before:
                value = before
        resolving.discard(stage)
        due[stage] = value
        return value

    return Deadlines(*(stage_due(s) for s in STAGES))


#: Where ``order_conflicts`` looks by default: every hour of two fortnights of
#: the Russian calendar with the longest breaks in working time. 28 Apr – 11 May
#: 2026: the short 30 Apr, 1 May on a Friday, the short 8 May, Victory Day on a
#: Saturday observed on Monday 11 May. 28 Dec 2026 – 10 Jan 2027: 31 Dec a
#: transferred day off, then eleven days off in a row (1–8 Jan holidays, the
#: 9–10 Jan weekend). A rule mixing a calendar clock with a working one goes
#: wrong first over the longest break, and no regional day off makes a longer one.
SAMPLE_FORTNIGHTS: tuple[date, ...] = (date(2026, 4, 28), date(2026, 12, 28))


def sample_starts(tz: ZoneInfo, first_days: Iterable[date] = SAMPLE_FORTNIGHTS, days: int = 14) -> list[datetime]:
    """Every local hour of ``days`` days from each of ``first_days``, as aware times."""
    out = []
    for first in first_days:
        base = datetime.combine(first, time(0, 0), tzinfo=tz)
        out += [base + timedelta(hours=h) for h in range(days * 24)]
    return out


@dataclass(frozen=True)
class OrderConflict:
    """A later stage due before an earlier one for some start times (the first such start kept)."""

    urgency: str
    earlier: str
    later: str
    start: datetime
    earlier_due: datetime
    later_due: datetime
    count: int
    checked: int


def order_conflicts(
    policy: DeadlinePolicy, tz: ZoneInfo, starts: Iterable[datetime] | None = None,
    urgencies: Iterable[str] = ("high", "normal"),
) -> list[OrderConflict]:
    """Where the rules, unclamped, put a stage before the one it follows.

    For every urgency and every start (routing) time, the due times of the
    stages are computed as if nothing was answered yet; each pair of
    consecutive stages out of order is reported once per urgency, with the
    first start that shows it and how many starts do.
    """
    starts = list(starts) if starts is not None else sample_starts(tz)
    out = []
    for urgency in urgencies:
        found: dict[tuple[str, str], list] = {}
        for start in starts:
            d = compute_deadlines(policy, tz, urgency, start, clamp=False)
            for earlier, later in zip(STAGES, STAGES[1:]):
                a, b = d.get(earlier), d.get(later)
                if a is not None and b is not None and b < a:
                    hit = found.setdefault((earlier, later), [start, a, b, 0])
                    hit[3] += 1
        for (earlier, later), (start, a, b, n) in found.items():
            out.append(OrderConflict(urgency, earlier, later, start, a, b, n, len(starts)))
    return out


def calendar_notes(wt: WorkingTime) -> list[tuple[str, date]]:
    """The operator's days that change nothing, as (list name, day).

    A day off that the country calendar already gives, a working day that is
    one anyway, a short day that is not a working day: harmless, but most
    likely a wrong date.
    """
    country = WorkCalendar(wt.weekdays, wt.calendar)
    own = calendar_for(wt)
    notes = [("extra_days_off", d) for d in wt.extra_days_off if not country.is_working_day(d)]
    notes += [("extra_working_days", d) for d in wt.extra_working_days if country.is_working_day(d)]
    notes += [("short_days", d) for d in wt.short_days if not own.is_working_day(d)]
    return notes


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
    cal = calendar_for(wt)
    if not cal.is_working_day(cur.date()):
        return False
    start, end = _day_bounds(cur.date(), wt, cal)
    return start <= cur < end
