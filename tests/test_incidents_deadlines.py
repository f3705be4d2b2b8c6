"""Deadlines of real incidents with a moved clock: working time, reminders, escalation once per level."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from pipeline import incidents as svc
from pipeline.deadlines import compute_deadlines
from storage import PostRecord, upsert_posts
from storage import events as ev
from storage import incidents as q
from storage.models import Incident, OutboxMessage, Post
from tests.helpers import A

KEM = ZoneInfo("Asia/Novokuznetsk")


def make(s, profile, at: datetime, urgency: str = "normal", n: int = 1) -> Incident:
    res = upsert_posts(s, [PostRecord("vk", "-100001", f"d{n}", at, "Новокузнецк Кирова 12 нет отопления")])
    return svc.ingest_analysis(s, profile, s.get(Post, res.post_ids[0]), A(urgency=urgency), at)


def test_incident_routed_friday_evening_before_a_holiday_is_due_in_working_time(db, profile):
    routed = datetime(2026, 5, 8, 18, 30, tzinfo=KEM)  # Fri; Mon 11 May 2026 is a public holiday
    with db.session() as s:
        inc_id = make(s, profile, routed).id
    with db.session() as s:  # read back from the database
        inc = s.get(Incident, inc_id)
        assert inc.routed_at == routed
        assert inc.first_reply_due.astimezone(KEM) == datetime(2026, 5, 12, 17, 0, tzinfo=KEM)
        # interim: 9 working hours, one after the first reply; final: 7 working days after the interim
        assert inc.interim_due.astimezone(KEM) == datetime(2026, 5, 12, 18, 0, tzinfo=KEM)
        assert inc.final_due.astimezone(KEM) == datetime(2026, 5, 21, 18, 0, tzinfo=KEM)
        routed_ev = [e for e in q.events_of(s, inc_id) if e.kind == ev.ROUTED_EV][0]
        assert routed_ev.data["due"]["first_reply"] == inc.first_reply_due.isoformat()
        # nothing is due over the long weekend
        t = routed
        while t < datetime(2026, 5, 12, 15, 0, tzinfo=KEM):
            assert svc.check_deadlines(s, profile, t) == []
            t += timedelta(hours=3)


def test_urgent_incident_is_due_in_four_calendar_hours(db, profile):
    routed = datetime(2026, 5, 8, 22, 0, tzinfo=KEM)
    with db.session() as s:
        inc = make(s, profile, routed, urgency="high")
        assert inc.first_reply_due == routed + timedelta(hours=4)


def test_overdue_incident_escalates_once_per_level_not_once_per_check(db, profile):
    start = datetime(2026, 11, 16, 10, 0, tzinfo=KEM)  # Monday
    with db.session() as s:
        inc_id = make(s, profile, start).id
        due = s.get(Incident, inc_id).first_reply_due
    assert due.astimezone(KEM) == datetime(2026, 11, 16, 18, 0, tzinfo=KEM)  # 8 working hours
    actions = []
    t = start
    while t <= due + timedelta(hours=30):  # the scheduler checks every 5 minutes for 54 hours
        with db.session() as s:
            actions += svc.check_deadlines(s, profile, t)
            actions += svc.check_deadlines(s, profile, t)  # a second scheduler at the same moment
        t += timedelta(minutes=5)
    reminders = [a for a in actions if a.kind == "reminder"]
    escalations = [a for a in actions if a.kind == "escalation"]
    assert [(a.minutes_before, a.stage) for a in reminders] == [(60, "first_reply"), (15, "first_reply")]
    assert [(a.level, a.role, a.recipient) for a in escalations] == [
        (1, "specialist", "adm_novokuznetsk"),
        (2, "sector_head", "head_housing_roads"),
        (3, "head", "head"),
        (4, "curator", "curator"),
    ]
    offsets = [int((a.data["overdue_minutes"])) for a in escalations]
    assert offsets == [0, 120, 480, 1440]
    with db.session() as s:
        inc = s.get(Incident, inc_id)
        esc_events = q.events_of(s, inc_id, [ev.ESCALATED])
        assert [(e.data["level"], e.actor) for e in esc_events] == [(1, "system"), (2, "system"), (3, "system"), (4, "system")]
        assert inc.escalation_level == 4
        assert len(q.events_of(s, inc_id, [ev.REMINDER])) == 2
        # part B's outbox got one e-mail per escalation level (the profile has e-mail addresses)
        mails = s.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == inc_id, OutboxMessage.channel == "email")).all()
        escalated_to = sorted(m.recipient for m in mails if m.dedup_key.split(":")[1] in {str(e.id) for e in esc_events})
        assert len(escalated_to) == 4


def test_checks_after_a_long_pause_escalate_every_missed_level_once(db, profile):
    start = datetime(2026, 11, 16, 10, 0, tzinfo=KEM)
    with db.session() as s:
        inc_id = make(s, profile, start).id
    late = start + timedelta(days=5)
    with db.session() as s:
        first = svc.check_deadlines(s, profile, late)
    with db.session() as s:
        again = svc.check_deadlines(s, profile, late + timedelta(minutes=1))
    assert [(a.stage, a.level) for a in first] == [("first_reply", 1), ("first_reply", 2), ("first_reply", 3), ("first_reply", 4)]
    assert again == []  # no reminders after the deadline and no level twice
    del inc_id


def test_an_answer_stops_the_chain_and_the_next_stage_is_watched(db, profile):
    start = datetime(2026, 11, 16, 10, 0, tzinfo=KEM)
    with db.session() as s:
        inc = make(s, profile, start)
        svc.check_deadlines(s, profile, inc.first_reply_due + timedelta(minutes=1))  # level 1 of the first reply
        svc.record_response(s, inc, "first_reply", "Приняли в работу, бригада выедет сегодня до 18:00", "spec", "web", inc.first_reply_due + timedelta(minutes=30), profile=profile)
        assert svc.check_deadlines(s, profile, inc.first_reply_due + timedelta(hours=3)) == []  # first reply chain stopped
        # the interim answer (9 working hours after routing: Tuesday 10:00) falls due next: its own chain starts at level 1
        after = svc.check_deadlines(s, profile, inc.interim_due + timedelta(minutes=1))
        assert [(a.stage, a.level) for a in after] == [("interim", 1)]
        svc.record_response(s, inc, "final", "Отопление дали", "spec", "web", inc.first_reply_due + timedelta(hours=4), profile=profile)
        assert svc.check_deadlines(s, profile, inc.first_reply_due + timedelta(days=30)) == []


def test_rerouting_restarts_the_chain_for_the_new_authority(db, profile):
    start = datetime(2026, 11, 16, 10, 0, tzinfo=KEM)
    with db.session() as s:
        inc = make(s, profile, start)
        t = inc.first_reply_due + timedelta(hours=3)
        assert [a.level for a in svc.check_deadlines(s, profile, t)] == [1, 2]
        svc.reroute(s, inc, "capital_repair_fund", "head", "капремонт", t, profile=profile)
        assert svc.check_deadlines(s, profile, t + timedelta(minutes=5)) == []
        later = svc.check_deadlines(s, profile, inc.first_reply_due)
        assert [(a.level, a.recipient) for a in later] == [(1, "capital_repair_fund")]


def test_pre_holiday_short_day_and_a_regional_day_off_move_the_due_times(db, profile):
    # Thu 19 Mar 2026 14:00, 8 working hours. In Kuzbass: 4 h on Thursday, 4 h on Friday -> Fri 20 Mar 13:00.
    # A republic whose Ураза-байрам (Fri 20 Mar) is a day off, with its eve shortened, sets these in
    # its profile's deadlines: 3 h on Thursday (to 17:00), 5 h on Monday -> Mon 23 Mar 14:00.
    routed = datetime(2026, 3, 19, 14, 0, tzinfo=KEM)
    federal = compute_deadlines(profile.deadlines, KEM, "normal", routed)
    assert federal.first_reply.astimezone(KEM) == datetime(2026, 3, 20, 13, 0, tzinfo=KEM)
    wt = profile.deadlines.working_time.model_copy(update={"extra_days_off": [date(2026, 3, 20)], "short_days": [date(2026, 3, 19)]})
    republic = dataclasses.replace(profile, deadlines=profile.deadlines.model_copy(update={"working_time": wt}))
    with db.session() as s:
        inc_id = make(s, republic, routed, n=1).id
    with db.session() as s:
        inc = s.get(Incident, inc_id)
        assert inc.first_reply_due.astimezone(KEM) == datetime(2026, 3, 23, 14, 0, tzinfo=KEM)
        assert inc.interim_due.astimezone(KEM) == datetime(2026, 3, 23, 15, 0, tzinfo=KEM)
        # the republic's scheduler sends nothing before Monday's reminder
        t = routed
        while t < datetime(2026, 3, 23, 13, 0, tzinfo=KEM):
            assert svc.check_deadlines(s, republic, t) == []
            t += timedelta(hours=2)
        assert [(a.kind, a.minutes_before) for a in svc.check_deadlines(s, republic, datetime(2026, 3, 23, 13, 0, tzinfo=KEM))] == [("reminder", 60)]
    # the eve of Victory Day (Fri 8 May 2026) ends at 17:00: 16:00 + 8 working hours is Tue 12 May 16:00
    with db.session() as s:
        inc = make(s, profile, datetime(2026, 5, 8, 16, 0, tzinfo=KEM), n=2)
        assert inc.first_reply_due.astimezone(KEM) == datetime(2026, 5, 12, 16, 0, tzinfo=KEM)
