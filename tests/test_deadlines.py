"""Working-time arithmetic on the real Russian calendar (the `holidays` package) and deadline rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest

from config import load_configuration
from config.schema import DeadlinePolicy, WorkingTime
from pipeline.deadlines import (
    add_working_days,
    add_working_hours,
    compute_deadlines,
    escalation_times,
    reminder_times,
    select_rule,
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
    due = add_working_hours(local(2026, 5, 8, 15, 0), 8, WT, KEM)  # 3 h on Friday, 5 h on Tuesday
    assert due.astimezone(KEM) == local(2026, 5, 12, 14, 0)


def test_transferred_working_saturday_is_worked():
    # Friday 19 Feb 2027 17:00: 1 h on Friday, then Saturday 20 Feb is a working day by decree
    due = add_working_hours(local(2027, 2, 19, 17, 0), 8, WT, KEM)
    assert due.astimezone(KEM) == local(2027, 2, 20, 16, 0)


def test_new_year_holidays_are_skipped_whole():
    # 31 Dec 2026 is a transferred day off, 1–8 Jan holidays, 9–10 Jan weekend
    due = add_working_hours(local(2026, 12, 30, 17, 0), 8, WT, KEM)
    assert due.astimezone(KEM) == local(2027, 1, 11, 16, 0)


def test_working_hours_edges():
    assert add_working_hours(local(2026, 11, 18, 7, 0), 1, WT, KEM).astimezone(KEM) == local(2026, 11, 18, 10, 0)
    assert add_working_hours(local(2026, 11, 18, 10, 0), 8, WT, KEM).astimezone(KEM) == local(2026, 11, 18, 18, 0)
    assert add_working_hours(local(2026, 11, 18, 10, 0), 0, WT, KEM).astimezone(KEM) == local(2026, 11, 18, 10, 0)
    # 3 Nov 2026 (Tue) 17:00 + 2 h: 4 Nov (Wed) is Unity Day
    assert add_working_hours(local(2026, 11, 3, 17, 0), 2, WT, KEM).astimezone(KEM) == local(2026, 11, 5, 10, 0)
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
    # interim: 24 calendar hours (Sat 9 May 18:30) would come before the first reply: raised to it
    assert d.interim == d.first_reply
    # final: 7 working days after the interim due (Tue 12 May 17:00)
    assert d.final.astimezone(KEM) == local(2026, 5, 21, 17, 0)


def test_interim_keeps_its_calendar_hours_on_weekdays(policy):
    routed = local(2026, 11, 16, 10, 0)  # Monday
    d = compute_deadlines(policy, KEM, "normal", routed)
    assert d.first_reply.astimezone(KEM) == local(2026, 11, 16, 18, 0)
    assert d.interim == routed + timedelta(hours=24)


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
