"""Ratings replayed from the event log: assignments, deadline status, the published score formula."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pipeline.ratings import WEIGHTS, Period, assignments_from_events, figures, rate
from storage import events as ev
from storage.models import Authority, Incident, IncidentEvent

T0 = datetime(2026, 11, 9, 2, 0, tzinfo=timezone.utc)  # Monday 09:00 in Kemerovo
KEM = ZoneInfo("Asia/Novokuznetsk")


def E(kind, at, incident=1, authority=None, data=None, id_=None):
    return IncidentEvent(id=id_, incident_id=incident, at=at, actor="t", kind=kind, authority_id=authority, data=data or {})


def due(at: datetime, first=8, interim=24, final=24 * 9) -> dict:
    return {"due": {"first_reply": (at + timedelta(hours=first)).isoformat(), "interim": (at + timedelta(hours=interim)).isoformat(),
                    "final": (at + timedelta(hours=final)).isoformat()}}  # fmt: skip


def test_month_period_uses_the_region_time_zone():
    p = Period.month("2026-11", KEM)
    assert p.start == datetime(2026, 10, 31, 17, 0, tzinfo=timezone.utc)
    assert p.end == datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc)
    assert p.label == "ноябрь 2026"
    assert Period.month("2026-12", KEM).end == datetime(2026, 12, 31, 17, 0, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="ГГГГ-ММ"):
        Period.month("11.2026", KEM)


def test_answers_count_for_the_authority_holding_the_incident():
    events = [
        E(ev.ROUTED_EV, T0, authority=10, data=due(T0)),
        E(ev.REROUTED, T0 + timedelta(hours=2), authority=20, data={"from_authority_id": 10, "reason": "не наш"}),
        E(ev.ANSWER_FIRST, T0 + timedelta(hours=3)),
        E(ev.ANSWER_FINAL, T0 + timedelta(days=2)),
        E(ev.RESOLVED_EV, T0 + timedelta(days=2, hours=1)),
        E(ev.REOPENED_EV, T0 + timedelta(days=4)),
        E(ev.GRADED, T0 + timedelta(days=5), data={"grade": 4}),
        E(ev.GRADED, T0 + timedelta(days=5), data={"grade": 9}),  # out of range: ignored
    ]
    first, second = assignments_from_events(reversed(events), as_of=T0 + timedelta(days=30))
    assert (first.authority_id, second.authority_id) == (10, 20)
    assert first.end == second.start == T0 + timedelta(hours=2)
    assert first.answered["first_reply"] is None
    # a reroute without new due dates keeps the old ones
    assert second.due["first_reply"] == T0 + timedelta(hours=8)
    # the old holder lost the incident before its deadline: not blamed
    assert first.stage_status("first_reply", T0 + timedelta(days=30)) == "pending"
    assert second.reply_minutes() == 60
    assert second.stage_status("first_reply", T0 + timedelta(days=30)) == "on_time"
    # the final answer covers the interim stage too, but after its deadline
    assert second.stage_status("interim", T0 + timedelta(days=30)) == "late"
    assert second.reopened and second.resolved_at == T0 + timedelta(days=2, hours=1)
    assert second.grades == [4.0]


def test_deadline_status_depends_on_the_time_of_reckoning():
    (a,) = assignments_from_events([E(ev.ROUTED_EV, T0, authority=1, data=due(T0))], as_of=T0 + timedelta(hours=5))
    assert a.stage_status("first_reply", T0 + timedelta(hours=5)) == "pending"
    assert a.stage_status("first_reply", T0 + timedelta(hours=8)) == "pending"  # the due moment itself is still in time
    assert a.stage_status("first_reply", T0 + timedelta(hours=9)) == "late"
    # events after the time of reckoning are not replayed
    (b,) = assignments_from_events([E(ev.ROUTED_EV, T0, authority=1, data=due(T0)), E(ev.ANSWER_FIRST, T0 + timedelta(hours=6))], as_of=T0 + timedelta(hours=5))
    assert b.answered["first_reply"] is None


def test_score_follows_the_published_formula():
    # one on-time reply, one late, one unanswered past its deadline; one final answer, one resolution, grade 5
    evs = []
    for i, reply_h in enumerate([2, 10, None], start=1):
        evs.append(E(ev.ROUTED_EV, T0, incident=i, authority=1, data=due(T0)))
        if reply_h is not None:
            evs.append(E(ev.ANSWER_FIRST, T0 + timedelta(hours=reply_h), incident=i))
    evs += [E(ev.ANSWER_FINAL, T0 + timedelta(days=1), incident=1), E(ev.RESOLVED_EV, T0 + timedelta(days=1), incident=1),
            E(ev.GRADED, T0 + timedelta(days=2), incident=1, data={"grade": 5})]  # fmt: skip
    as_of = T0 + timedelta(days=20)
    f = figures(assignments_from_events(evs, as_of), as_of)
    assert (f.routed, f.replied, f.first_reply_decided, f.first_reply_on_time) == (3, 2, 3, 1)
    assert f.median_reply_minutes == 360
    expected = 100 * (0.30 * (1 / 3) + 0.20 * (1 / 3) + 0.20 * (1 / 3) + 0.15 * 1 + 0.15 * 1)  # weights scaled by 0.85 with no readings: same
    assert f.score == pytest.approx(expected)
    # without grades and resolutions the remaining weights are renormalised
    g = figures(assignments_from_events(evs[:5], as_of), as_of)
    assert g.mean_grade is None and g.reopened_share is None
    on_time, answered, resolved = 1 / 3, 0, 0
    assert g.score == pytest.approx(100 * (0.30 * on_time + 0.20 * answered + 0.20 * resolved) / 0.70)
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_rate_ranks_authorities_of_the_region_from_the_database(db):
    with db.session() as s:
        good = Authority(region="kuzbass", code="min_health", name="Минздрав", role="ministry")
        slow = Authority(region="kuzbass", code="min_social", name="Минсоцзащиты", role="ministry")
        other = Authority(region="altai", code="min_health", name="Минздрав АК", role="ministry")
        s.add_all([good, slow, other])
        s.flush()
        for auth, region, reply_h in [(good, "kuzbass", 1), (slow, "kuzbass", 20), (other, "altai", 1)]:
            inc = Incident(region=region, sector="healthcare", state="answered", authority_id=auth.id)
            s.add(inc)
            s.flush()
            s.add(E(ev.ROUTED_EV, T0, incident=inc.id, authority=auth.id, data=due(T0)))
            s.add(E(ev.ANSWER_FIRST, T0 + timedelta(hours=reply_h), incident=inc.id))
    with db.session() as s:
        rows = rate(s, "kuzbass", Period.month("2026-11", KEM))
    assert [(r.rank, r.code) for r in rows] == [(1, "min_health"), (2, "min_social")]
    assert rows[0].figures.on_time_share == 1 and rows[1].figures.on_time_share == 0
    with db.session() as s:
        assert rate(s, "kuzbass", Period.month("2026-10", KEM)) == []
