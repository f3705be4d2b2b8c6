"""Working-time arithmetic on the real Russian calendar (the `holidays` package) and deadline rules."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest

from config import load_configuration
from config.schema import DeadlinePolicy, WorkingTime
from pipeline.deadlines import (
    add_working_days,
    add_working_hours,
    calendar_for,
    calendar_notes,
    compute_deadlines,
    escalation_times,
    order_conflicts,
    reminder_times,
    select_rule,
    working_hours_of,
    working_seconds_between,
)

KEM = ZoneInfo("Asia/Novokuznetsk")  # Kuzbass, UTC+7
WT = WorkingTime()  # Mon–Fri 09:00–18:00, RU calendar


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=KEM)


@pytest.fixture(scope="module")
def policy() -> DeadlinePolicy:
    return load_configuration().regions["kuzbass"].deadlines


def test_the_calendar_used_is_the_packages_real_one():
    ru = holidays.RU(years=[2026, 2027])
    assert date(2026, 5, 11) in ru  # Victory Day observed on Monday
    assert date(2026, 5, 8).isoweekday() == 5  # the Friday before it
    assert date(2027, 2, 20) in ru.weekend_workdays  # a transferred working Saturday


def test_friday_evening_before_a_holiday_counts_only_working_time():
    # Friday 8 May 2026, 18:30: after hours; Sat–Sun weekend, Mon 11 May a public holiday
    due = add_working_hours(local(2026, 5, 8, 18, 30), 8, WT, KEM)
    assert due.astimezone(KEM) == local(2026, 5, 12, 17, 0)
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)  # stored in UTC


def test_friday_afternoon_carries_the_rest_into_the_next_working_day():
    # Friday 8 May 2026 is the eve of Victory Day (Saturday 9 May): a short day to 17:00,
    # so 2 h on Friday and 6 h on Tuesday 12 May
    due = add_working_hours(local(2026, 5, 8, 15, 0), 8, WT, KEM)
    assert due.astimezone(KEM) == local(2026, 5, 12, 15, 0)
    # an ordinary Friday keeps its full day: 3 h on Friday 13 Nov 2026, 5 h on Monday
    assert add_working_hours(local(2026, 11, 13, 15, 0), 8, WT, KEM).astimezone(KEM) == local(2026, 11, 16, 14, 0)


def test_transferred_working_saturday_is_worked():
    # Friday 19 Feb 2027 17:00: 1 h on Friday, then Saturday 20 Feb is a working day by decree
    # (a short one, 09:00-17:00: its day off went to Mon 22 Feb, the eve of 23 Feb)
    due = add_working_hours(local(2027, 2, 19, 17, 0), 8, WT, KEM)
    assert due.astimezone(KEM) == local(2027, 2, 20, 16, 0)
    due = add_working_hours(local(2027, 2, 19, 17, 0), 9, WT, KEM)  # 1 h + all 8 h of Saturday
    assert due.astimezone(KEM) == local(2027, 2, 20, 17, 0)
    due = add_working_hours(local(2027, 2, 19, 17, 0), 10, WT, KEM)  # ... + 1 h on Wed 24 Feb (22-23 Feb off)
    assert due.astimezone(KEM) == local(2027, 2, 24, 10, 0)


def test_new_year_holidays_are_skipped_whole():
    # 31 Dec 2026 is a transferred day off, 1–8 Jan holidays, 9–10 Jan weekend
    due = add_working_hours(local(2026, 12, 30, 17, 0), 8, WT, KEM)
    assert due.astimezone(KEM) == local(2027, 1, 11, 16, 0)


def test_working_hours_edges():
    assert add_working_hours(local(2026, 11, 18, 7, 0), 1, WT, KEM).astimezone(KEM) == local(2026, 11, 18, 10, 0)
    assert add_working_hours(local(2026, 11, 18, 10, 0), 8, WT, KEM).astimezone(KEM) == local(2026, 11, 18, 18, 0)
    assert add_working_hours(local(2026, 11, 18, 10, 0), 0, WT, KEM).astimezone(KEM) == local(2026, 11, 18, 10, 0)
    # 3 Nov 2026 (Tue) 16:00 + 2 h: the eve of Unity Day (Wed 4 Nov) ends at 17:00
    assert add_working_hours(local(2026, 11, 3, 16, 0), 2, WT, KEM).astimezone(KEM) == local(2026, 11, 5, 10, 0)
    with pytest.raises(ValueError):
        add_working_hours(datetime(2026, 11, 18, 10, 0), 1, WT, KEM)  # naive time refused


def test_working_days_keep_the_position_in_the_day():
    # Tue 10 Nov 2026 10:00 + 7 working days = Thu 19 Nov 10:00 (no holidays in between)
    assert add_working_days(local(2026, 11, 10, 10, 0), 7, WT, KEM).astimezone(KEM) == local(2026, 11, 19, 10, 0)


def test_working_seconds_between_is_the_inverse():
    start = local(2026, 5, 8, 15, 0)
    end = add_working_hours(start, 8, WT, KEM)
    assert working_seconds_between(start, end, WT, KEM) == 8 * 3600
    assert working_seconds_between(end, start, WT, KEM) == -8 * 3600


def test_rules_naming_the_urgency_win(policy):
    assert select_rule(policy, "first_reply", "high").clock == "calendar"
    assert select_rule(policy, "first_reply", "normal").clock == "working"
    assert select_rule(policy, "first_reply", None).urgency is None


def test_urgent_first_reply_is_four_calendar_hours(policy):
    routed = local(2026, 5, 8, 22, 0)  # Friday night before the holiday
    d = compute_deadlines(policy, KEM, "high", routed)
    assert d.first_reply.astimezone(KEM) == local(2026, 5, 9, 2, 0)


def test_friday_evening_deadlines_of_every_stage(policy):
    routed = local(2026, 5, 8, 18, 30)
    d = compute_deadlines(policy, KEM, "normal", routed)
    assert d.first_reply.astimezone(KEM) == local(2026, 5, 12, 17, 0)  # 8 working hours
    # interim: 9 working hours, one hour after the first reply (the clock stopped over the weekend)
    assert d.interim.astimezone(KEM) == local(2026, 5, 12, 18, 0)
    # final: 7 working days after the interim due (Tue 12 May, end of the day)
    assert d.final.astimezone(KEM) == local(2026, 5, 21, 18, 0)
    # nothing needed the guard: the rules themselves are in order
    assert compute_deadlines(policy, KEM, "normal", routed, clamp=False) == d


def test_interim_is_24_hours_after_routing_on_an_ordinary_working_day(policy):
    routed = local(2026, 11, 16, 10, 0)  # Monday
    d = compute_deadlines(policy, KEM, "normal", routed)
    assert d.first_reply.astimezone(KEM) == local(2026, 11, 16, 18, 0)
    assert d.interim == routed + timedelta(hours=24)  # the 2018 norm, on working time


def test_final_counts_from_the_actual_interim_answer(policy):
    routed = local(2026, 11, 16, 10, 0)
    interim_at = local(2026, 11, 16, 12, 0)
    d = compute_deadlines(policy, KEM, "normal", routed, interim_at=interim_at)
    assert d.final.astimezone(KEM) == local(2026, 11, 25, 12, 0)


def test_reminder_and_escalation_schedules(policy):
    due = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
    assert reminder_times(due, [60, 15]) == [(60, due - timedelta(minutes=60)), (15, due - timedelta(minutes=15))]
    esc = escalation_times(due, policy)
    assert [(lvl, role) for lvl, role, _ in esc] == [(1, "specialist"), (2, "sector_head"), (3, "head"), (4, "curator")]
    assert esc[1][2] == due + timedelta(hours=2)


# --------------------------------------------------------------------------- shortened pre-holiday days


def test_the_package_tells_holidays_from_moved_days_off():
    """Art. 95 shortens the eve of a holiday of art. 112 only; holidays.RU marks the other days off."""
    en = holidays.RU(years=[2025, 2026], language="en_US")
    cal = calendar_for(WT)
    # a decree moved the day off of Sunday 5 Jan 2025 to Wednesday 31 Dec 2025
    assert en[date(2025, 12, 31)] == "Day off (substituted from 01/05/2025)"
    assert not cal.is_working_day(date(2025, 12, 31)) and not cal.is_public_holiday(date(2025, 12, 31))
    # 8 Mar 2026 is a Sunday: the day off is observed on Monday 9 Mar (art. 112 part 2)
    assert en[date(2026, 3, 9)] == "International Women's Day (observed)"
    assert not cal.is_working_day(date(2026, 3, 9)) and not cal.is_public_holiday(date(2026, 3, 9))
    assert cal.is_public_holiday(date(2026, 3, 8)) and cal.is_public_holiday(date(2026, 1, 8))


FULL, SHORT, OFF = (time(9), time(18)), (time(9), time(17)), None

#: (day, its working hours, why) — every date checked against holidays.RU 0.109
PRE_HOLIDAY_DAYS = [
    # 2025
    (date(2025, 12, 30), FULL, "Tue; 31 Dec 2025 is a day off moved from Sun 5 Jan by decree, not a holiday"),
    (date(2025, 3, 7), SHORT, "Fri; 8 Mar 2025 is a Saturday, the day right before it is this working Friday"),
    (date(2025, 4, 30), SHORT, "Wed, eve of 1 May (Thu)"),
    (date(2025, 6, 11), SHORT, "Wed, eve of Russia Day (Thu 12 Jun)"),
    (date(2025, 11, 3), OFF, "Mon; the day off of Sat 1 Nov was moved here, the eve of Unity Day"),
    (date(2025, 11, 1), SHORT, "Sat worked by decree; lasts as long as Mon 3 Nov would have: the eve of 4 Nov"),
    (date(2025, 5, 7), FULL, "Wed; 8 May 2025 is a day off moved from 23 Feb, not a holiday"),
    # 2026
    (date(2026, 12, 30), FULL, "Wed; 31 Dec 2026 is a day off moved from Sun 4 Jan by decree"),
    (date(2026, 3, 7), OFF, "Saturday"),
    (date(2026, 3, 6), FULL, "Fri; 8 Mar 2026 is a Sunday, the day before it is a Saturday; observed Mon 9 Mar is no holiday"),
    (date(2026, 4, 30), SHORT, "Thu, eve of 1 May (Fri)"),
    (date(2026, 5, 8), SHORT, "Fri, eve of Victory Day (Sat 9 May)"),
    (date(2026, 6, 11), SHORT, "Thu, eve of Russia Day (Fri 12 Jun)"),
    (date(2026, 11, 3), SHORT, "Tue, eve of Unity Day (Wed 4 Nov)"),
    (date(2026, 2, 20), FULL, "Fri; 23 Feb 2026 is a Monday, the day before it a Sunday"),
    # 2027
    (date(2027, 12, 30), FULL, "Thu; 31 Dec 2027 is a day off moved from Sun 3 Jan by decree"),
    (date(2027, 3, 7), OFF, "Sunday"),
    (date(2027, 3, 5), FULL, "Fri; 8 Mar 2027 is a Monday, the day before it a Sunday"),
    (date(2027, 4, 30), SHORT, "Fri, eve of 1 May (Sat)"),
    (date(2027, 6, 11), SHORT, "Fri, eve of Russia Day (Sat 12 Jun; observed Mon 14 Jun)"),
    (date(2027, 11, 3), SHORT, "Wed, eve of Unity Day (Thu 4 Nov)"),
    (date(2027, 2, 20), SHORT, "Sat worked by decree; its day off went to Mon 22 Feb, the eve of 23 Feb"),
    (date(2027, 2, 22), OFF, "Mon, the day off moved from Sat 20 Feb"),
]


@pytest.mark.parametrize("day,hours,why", PRE_HOLIDAY_DAYS, ids=[d.isoformat() for d, _, _ in PRE_HOLIDAY_DAYS])
def test_pre_holiday_days_are_one_hour_shorter(day, hours, why):
    assert working_hours_of(day, WT) == hours, why


@pytest.mark.parametrize("year,days,hours", [(2023, 247, 1973), (2024, 248, 1979), (2025, 247, 1972)])
def test_annual_norm_of_the_official_production_calendar(year, days, hours):
    """The 40-hour-week norms the Ministry of Labour's production calendars publish.

    Counted with 8-hour days (09:00-17:00): every short day takes one hour off.
    """
    wt = WorkingTime(end=time(17, 0))
    cal = calendar_for(wt)
    n_days = sum(cal.is_working_day(date(year, 1, 1) + timedelta(days=i)) for i in range((date(year + 1, 1, 1) - date(year, 1, 1)).days))
    assert n_days == days
    assert working_seconds_between(local(year, 1, 1), local(year + 1, 1, 1), wt, KEM) == hours * 3600


def test_a_short_eve_moves_working_hour_deadlines():
    # Thu 30 Apr 2026 ends at 17:00; 1 May (Fri) and the weekend are off
    assert add_working_hours(local(2026, 4, 30, 9, 0), 8, WT, KEM).astimezone(KEM) == local(2026, 4, 30, 17, 0)
    assert add_working_hours(local(2026, 4, 30, 16, 30), 1, WT, KEM).astimezone(KEM) == local(2026, 5, 4, 9, 30)
    # after 17:00 on the eve nothing counts until Monday 4 May
    assert add_working_hours(local(2026, 4, 30, 17, 15), 1, WT, KEM).astimezone(KEM) == local(2026, 5, 4, 10, 0)
    assert working_seconds_between(local(2026, 4, 30, 9, 0), local(2026, 5, 4, 9, 0), WT, KEM) == 8 * 3600


def test_working_days_keep_the_time_of_day_across_short_days():
    # Tue 28 Apr 2026 10:00 + 7 working days: 29 Apr, 30 Apr (short), 4-8 May (8 May short) -> Fri 8 May 10:00;
    # counting 7 x 9 working hours instead would land two hours late
    assert add_working_days(local(2026, 4, 28, 10, 0), 7, WT, KEM).astimezone(KEM) == local(2026, 5, 8, 10, 0)
    # a time past the short day's end is cut to it; a start outside working time counts from a day's end
    assert add_working_days(local(2026, 4, 29, 17, 30), 1, WT, KEM).astimezone(KEM) == local(2026, 4, 30, 17, 0)
    assert add_working_days(local(2026, 4, 30, 20, 0), 1, WT, KEM).astimezone(KEM) == local(2026, 5, 4, 18, 0)
    assert add_working_days(local(2026, 5, 4, 9, 0), 1, WT, KEM).astimezone(KEM) == local(2026, 5, 4, 18, 0)
    # half a day is half of a full day in working hours
    assert add_working_days(local(2026, 11, 16, 10, 0), 1.5, WT, KEM).astimezone(KEM) == local(2026, 11, 17, 14, 30)


# --------------------------------------------------------------------------- regional and operator days


def test_regional_days_off_working_days_and_short_days():
    # Tatarstan: Ураза-байрам on Fri 20 Mar 2026 is a day off by the republic's decree
    # (the federal calendar does not know it); Thu 17:00 + 2 working hours
    start = local(2026, 3, 19, 17, 0)
    assert add_working_hours(start, 2, WT, KEM).astimezone(KEM) == local(2026, 3, 20, 10, 0)
    tatarstan = WorkingTime(extra_days_off=[date(2026, 3, 20)])
    assert add_working_hours(start, 2, tatarstan, KEM).astimezone(KEM) == local(2026, 3, 23, 10, 0)
    # its eve shortened too: Thursday ends at 17:00
    eve = WorkingTime(extra_days_off=[date(2026, 3, 20)], short_days=[date(2026, 3, 19)])
    assert working_hours_of(date(2026, 3, 19), eve) == SHORT
    assert add_working_hours(start, 2, eve, KEM).astimezone(KEM) == local(2026, 3, 23, 11, 0)
    # a working Saturday by the governor's order
    saturday = WorkingTime(extra_days_off=[date(2026, 3, 20)], extra_working_days=[date(2026, 3, 21)])
    assert working_hours_of(date(2026, 3, 21), saturday) == FULL
    assert add_working_hours(start, 2, saturday, KEM).astimezone(KEM) == local(2026, 3, 21, 10, 0)
    # an operator can open a federal day off too (a ЦУР on duty on 2 Jan)
    duty = WorkingTime(extra_working_days=[date(2027, 1, 2)])
    assert add_working_hours(local(2026, 12, 30, 17, 0), 2, duty, KEM).astimezone(KEM) == local(2027, 1, 2, 10, 0)


def test_operator_days_that_change_nothing_are_noted():
    wt = WorkingTime(
        extra_days_off=[date(2026, 5, 9), date(2026, 3, 20)],  # Victory Day is off already
        extra_working_days=[date(2026, 3, 18)],  # a Wednesday is worked anyway
        short_days=[date(2026, 3, 21)],  # a Saturday has no hours to shorten
    )
    assert calendar_notes(wt) == [
        ("extra_days_off", date(2026, 5, 9)),
        ("extra_working_days", date(2026, 3, 18)),
        ("short_days", date(2026, 3, 21)),
    ]
    assert calendar_notes(WT) == []


# --------------------------------------------------------------------------- policy coherence


def _with_rule(policy: DeadlinePolicy, index: int, **rule) -> DeadlinePolicy:
    data = policy.model_dump(mode="json")
    data["rules"][index] = rule
    return DeadlinePolicy.model_validate(data)


def _interim_index(policy: DeadlinePolicy) -> int:
    return next(i for i, r in enumerate(policy.rules) if r.stage.value == "interim" and r.urgency is None)


def test_the_shipped_policy_keeps_the_stages_in_order_every_hour_of_a_year(policy):
    starts = [datetime(2026, 1, 1, tzinfo=KEM) + timedelta(hours=h) for h in range(0, 366 * 24, 1)]
    assert order_conflicts(policy, KEM, starts) == []


def test_a_calendar_interim_after_a_working_first_reply_is_found_and_clamped(policy):
    """The old default: interim 24 calendar hours after routing, first reply 8 working hours."""
    old = _with_rule(policy, _interim_index(policy), stage="interim", hours=24, clock="calendar", after="routed")
    conflicts = order_conflicts(old, KEM)
    assert [(c.urgency, c.earlier, c.later) for c in conflicts] == [("normal", "first_reply", "interim")]
    c = conflicts[0]
    assert c.later_due < c.earlier_due and 0 < c.count < c.checked
    # the Friday evening before the May holidays: the unclamped rules put the interim answer on Saturday
    routed = local(2026, 5, 8, 18, 30)
    raw = compute_deadlines(old, KEM, "normal", routed, clamp=False)
    assert raw.interim.astimezone(KEM) == local(2026, 5, 9, 18, 30)
    assert raw.first_reply.astimezone(KEM) == local(2026, 5, 12, 17, 0)
    # the guard still raises it to the first reply
    assert compute_deadlines(old, KEM, "normal", routed).interim == raw.first_reply
    # counted after the first reply instead, the same 24 calendar hours are always in order
    chained = _with_rule(policy, _interim_index(policy), stage="interim", hours=24, clock="calendar", after="first_reply")
    assert order_conflicts(chained, KEM) == []
