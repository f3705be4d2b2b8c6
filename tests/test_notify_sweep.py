"""The notification sweep follows a persisted cursor over the event log.

Nothing is lost after downtime (five days, more events than one batch), a
crash between the enqueue and the cursor update changes nothing, an event
whose transaction commits after a later event's is still notified, the work
per batch is bounded, and a database coming from revision 0001 starts where
the old two-day window stood. Real SQLite and PostgreSQL, real SMTP on
loopback; time is moved, never slept.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, insert, select

from config import Settings
from pipeline import notify as nt
from pipeline import scheduler as sch
from pipeline.context import App
from storage import Database
from storage import coordination as co
from storage import events as ev
from storage.models import Authority, Incident, IncidentEvent, OutboxMessage
from tests.helpers import FakeClock, free_port

T0 = datetime(2026, 11, 16, 3, 0, tzinfo=UTC)  # Monday 10:00 in Kemerovo (UTC+7)
ROOT = Path(__file__).resolve().parent.parent


def make_incident(s, email: str = "gkh@example.ru", title: str = "Нет отопления") -> tuple[Authority, Incident]:
    a = s.scalar(select(Authority).where(Authority.code == "min_housing_roads"))
    if a is None:
        a = Authority(region="kuzbass", code="min_housing_roads", name="Министерство ЖКХ", role="ministry", email=email)
        s.add(a)
        s.flush()
    # routed, no due dates: the deadline watch leaves it alone, only the sweep acts on its events
    inc = Incident(region="kuzbass", title=title, sector="housing", category="other", municipality="kemerovo",
                   state=ev.ROUTED, authority_id=a.id, created_at=T0, routed_at=T0)  # fmt: skip
    s.add(inc)
    s.flush()
    return a, inc


def add_event(s, inc: Incident, kind: str, at: datetime, **kw) -> IncidentEvent:
    e = IncidentEvent(incident_id=inc.id, at=at, actor=kw.pop("actor", "operator"), kind=kind, **kw)
    s.add(e)
    s.flush()
    return e


def personal(s, inc: Incident, a: Authority, i: int, at: datetime) -> IncidentEvent:
    """One of the kinds that e-mail people."""
    kind = [ev.REOPENED_EV, ev.REROUTED, ev.REMINDER, ev.ESCALATED][i % 4]
    data = {ev.REOPENED_EV: {"reason": "снова нет"}, ev.REROUTED: {"reason": "по территории"},
            ev.REMINDER: {"stage": "first_reply", "minutes_before": 60},
            ev.ESCALATED: {"stage": "first_reply", "level": 1, "role": "specialist"}}[kind]  # fmt: skip
    return add_event(s, inc, kind, at, authority_id=a.id, data=data)


def filler(s, inc: Incident, n: int, at: datetime) -> None:
    """``n`` events that notify nobody (posts joining the incident), written in bulk."""
    s.execute(insert(IncidentEvent), [{"incident_id": inc.id, "at": at, "actor": "system", "kind": ev.POST_ADDED, "data": {"post_id": i}} for i in range(n)])


def outbox_keys(db: Database) -> list[str]:
    with db.session() as s:
        return sorted(s.scalars(select(OutboxMessage.dedup_key)))


@pytest.fixture
def app(db_url):
    a = App(settings=Settings(database_url=db_url))
    a.ready_db()
    yield a
    a.db.dispose()


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.messages: list = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(message_from_bytes(envelope.content, policy=email_policy.default))
            return "250 OK"

    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    inbox.port = port
    yield inbox
    ctl.stop()


# --------------------------------------------------------------------------- downtime


def test_five_days_down_then_restart_sends_each_pending_notification_once(app, smtp):
    from pipeline.notify.channels import EmailSender

    clock = FakeClock(T0)
    sch.set_runtime(sch.Runtime(app, clock, senders={"email": EmailSender("127.0.0.1", smtp.port)}))
    db = app.db
    with db.session() as s:
        a, inc = make_incident(s)
        routed = add_event(s, inc, ev.ROUTED_EV, T0, actor="system", authority_id=a.id, data={})
    sch.job_deadlines()
    assert sch.job_deliver().sent == 1  # the scheduler runs normally

    # the scheduler is down for five days; the web application and the CLI keep writing events
    expected = {routed.id}
    with db.session() as s:
        a, inc = s.get(Authority, a.id), s.get(Incident, inc.id)
        for day in range(5):
            for i in range(3):
                e = personal(s, inc, a, day * 3 + i, T0 + timedelta(days=day, hours=2 + i))
                expected.add(e.id)
            filler(s, inc, 300, T0 + timedelta(days=day, hours=5))  # 1500 in all: more than one batch reads
        # one event notified in its own transaction, as the incident service does
        e = personal(s, inc, a, 1, T0 + timedelta(days=4, hours=12))
        nt.notify_event(s, app.region, e, T0 + timedelta(days=4, hours=12))
        expected.add(e.id)
        recent = personal(s, inc, a, 0, T0 + timedelta(days=5) - timedelta(minutes=30))
        expected.add(recent.id)
    clock.advance(days=5)

    sch.job_deadlines()  # the first pass after the restart
    stats = sch.job_deliver()
    assert stats.sent == len(expected) - 1 and stats.dead == 0
    for _ in range(3):  # later passes find nothing new
        clock.advance(minutes=1)
        sch.job_deadlines()
        assert sch.job_deliver().sent == 0
    keys = outbox_keys(db)
    assert sorted(int(k.split(":")[1]) for k in keys) == sorted(expected)  # every event once, by e-mail
    assert len(smtp.messages) == len(expected)
    ids = [m["X-CUR-Delivery"] for m in smtp.messages]
    assert len(set(ids)) == len(ids)
    # old events say they are late and when they happened; the one of half an hour ago does not
    late = [m for m in smtp.messages[1:] if m["Subject"].startswith("[с опозданием]")]
    assert len(late) == len(expected) - 2 == stats.late
    bodies = [m.get_content() for m in late]
    assert any("событие произошло 16.11.2026 12:00 (UTC+07:00)" in b for b in bodies)  # T0 + 2 h, region time
    assert all("уведомление задержано на" in b for b in bodies)
    with db.session() as s:
        cursor = co.get_cursor(s, nt.cursor_name(app.region.code))
        assert cursor.last_id == s.scalar(select(func.max(IncidentEvent.id))) and cursor.gaps == []


# --------------------------------------------------------------------------- crash safety


def _populate(db: Database, profile) -> None:
    with db.session() as s:
        a, inc = make_incident(s)
        add_event(s, inc, ev.ROUTED_EV, T0, actor="system", authority_id=a.id, data={})
        for i in range(6):
            personal(s, inc, a, i, T0 + timedelta(hours=i))
            filler(s, inc, 3, T0 + timedelta(hours=i))
        _, other = make_incident(s, title="Яма на дороге")
        add_event(s, other, ev.ROUTED_EV, T0, actor="system", authority_id=a.id, data={})


def _outbox(db: Database) -> list[tuple]:
    with db.session() as s:
        rows = s.execute(select(OutboxMessage.dedup_key, OutboxMessage.channel, OutboxMessage.recipient, OutboxMessage.subject,
                                OutboxMessage.body, OutboxMessage.payload, OutboxMessage.status, OutboxMessage.created_at))  # fmt: skip
        return sorted(tuple(r) for r in rows)


CRASHING_SWEEP = """
import os, sys
sys.path.insert(0, {root!r})
from datetime import datetime
from config import Settings
from pipeline import notify as nt
from pipeline.context import App
from storage import coordination as co

def die(session, state, now):
    session.flush()  # the outbox rows are written in the open transaction...
    os._exit(3)      # ...and the process dies before the cursor moves and anything commits

co.save_cursor = die
app = App(settings=Settings(database_url={url!r}))
nt.notify_pending(app.ready_db(), app.region, datetime.fromisoformat({now!r}))
"""


def test_a_crash_between_enqueue_and_cursor_update_then_rerun_gives_the_same_outbox(db_url, profile, tmp_path):
    now = T0 + timedelta(days=1)
    reference = Database(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.upgrade()
    _populate(reference, profile)
    nt.notify_pending(reference, profile, now)  # uninterrupted
    expected = _outbox(reference)
    assert len(expected) == 8  # two routings and six personal events, one e-mail each

    db = Database(db_url)
    _populate(db, profile)
    with db.session() as s:  # one event was already notified in its own transaction (committed)
        first = s.scalar(select(IncidentEvent).where(IncidentEvent.kind == ev.ROUTED_EV).order_by(IncidentEvent.id))
        nt.notify_event(s, profile, first, now)
    script = CRASHING_SWEEP.format(root=str(ROOT), url=db_url, now=now.isoformat())
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert len(_outbox(db)) == 1  # the crashed pass left nothing behind
    with db.session() as s:
        assert (co.get_cursor(s, nt.cursor_name(profile.code)) or co.CursorState("", 0, [])).last_id == 0
    nt.notify_pending(db, profile, now)  # the rerun
    assert _outbox(db) == expected
    nt.notify_pending(db, profile, now + timedelta(minutes=1))
    assert _outbox(db) == expected
    db.dispose()
    reference.dispose()


def test_an_event_that_fails_to_render_is_retried_without_holding_back_the_others(db, profile, monkeypatch, caplog):
    with db.session() as s:
        a, inc = make_incident(s)
        bad = add_event(s, inc, ev.REOPENED_EV, T0, authority_id=a.id, data={"reason": "x"})
        good = add_event(s, inc, ev.ESCALATED, T0, authority_id=a.id, data={"stage": "first_reply", "level": 1, "role": "specialist"})
    real = nt.render

    def broken(template, **ctx):
        if ctx["event"].id == bad.id:
            raise RuntimeError("template server is down")
        return real(template, **ctx)

    monkeypatch.setattr(nt.messages, "render", broken)
    with caplog.at_level(logging.ERROR, logger="pipeline.notify"):
        assert nt.notify_pending(db, profile, T0).enqueued == 1
    assert outbox_keys(db) == [f"ev:{good.id}:email:min_housing_roads"]
    assert "retried on the next pass" in caplog.text
    monkeypatch.setattr(nt.messages, "render", real)
    assert nt.notify_pending(db, profile, T0 + timedelta(minutes=1)).enqueued == 1
    assert len(outbox_keys(db)) == 2
    with db.session() as s:
        assert co.get_cursor(s, nt.cursor_name(profile.code)).gaps == []


# --------------------------------------------------------------------------- late commits


def test_an_event_committed_after_a_later_one_is_still_notified(db_url, profile, caplog):
    db = Database(db_url)
    with db.session() as s:
        a, inc = make_incident(s)
        inc_id, a_id = inc.id, a.id
        add_event(s, inc, ev.ROUTED_EV, T0, actor="system", authority_id=a.id, data={})
    nt.notify_pending(db, profile, T0)
    slow = db.sessions()
    slow.begin()
    if db.engine.dialect.name == "postgresql":
        # a long transaction takes its id and time first and commits last
        early = IncidentEvent(incident_id=inc_id, at=T0 + timedelta(minutes=1), actor="operator", kind=ev.REOPENED_EV,
                              authority_id=a_id, data={"reason": "долгая транзакция"})  # fmt: skip
        slow.add(early)
        slow.flush()
        with db.session() as s:
            later = add_event(s, s.get(Incident, inc_id), ev.ESCALATED, T0 + timedelta(minutes=2), authority_id=a_id,
                              data={"stage": "first_reply", "level": 1, "role": "specialist"})  # fmt: skip
        assert early.id < later.id
    else:
        # SQLite has one writer at a time: the same order of ids is made by hand
        with db.session() as s:
            top = s.scalar(select(func.max(IncidentEvent.id)))
            later = add_event(s, s.get(Incident, inc_id), ev.ESCALATED, T0 + timedelta(minutes=2), id=top + 2, authority_id=a_id,
                              data={"stage": "first_reply", "level": 1, "role": "specialist"})  # fmt: skip
        early = IncidentEvent(id=top + 1, incident_id=inc_id, at=T0 + timedelta(minutes=1), actor="operator", kind=ev.REOPENED_EV,
                              authority_id=a_id, data={"reason": "долгая транзакция"})  # fmt: skip
    result = nt.notify_pending(db, profile, T0 + timedelta(minutes=3))
    assert result.enqueued == 1 and result.last_id == later.id and result.waiting == 1
    slow.add(early)
    slow.commit()
    slow.close()
    result = nt.notify_pending(db, profile, T0 + timedelta(hours=3))
    assert result.enqueued == 1 and result.waiting == 0
    assert f"ev:{early.id}:email:min_housing_roads" in outbox_keys(db)

    # an id that never commits (rolled back) is waited for a day, then given up with a log line
    gone = db.sessions()
    gone.begin()
    gone.add(IncidentEvent(incident_id=inc_id, at=T0, actor="operator", kind=ev.REOPENED_EV, data={}))
    gone.flush()
    gone.rollback()
    gone.close()
    with db.session() as s:
        top = s.scalar(select(func.max(IncidentEvent.id)))
        ids = {"id": top + 2} if db.engine.dialect.name == "sqlite" else {}  # SQLite would reuse the id
        add_event(s, s.get(Incident, inc_id), ev.POST_ADDED, T0, data={}, **ids)
    assert nt.notify_pending(db, profile, T0 + timedelta(hours=4)).waiting == 1
    assert nt.notify_pending(db, profile, T0 + timedelta(hours=20)).waiting == 1
    with caplog.at_level(logging.WARNING, logger="pipeline.notify"):
        assert nt.notify_pending(db, profile, T0 + timedelta(hours=29)).waiting == 0
    assert "given up" in caplog.text
    db.dispose()


# --------------------------------------------------------------------------- bounded work


def test_each_batch_does_bounded_work_and_the_backlog_is_worked_off(db, profile):
    with db.session() as s:
        a, inc = make_incident(s)
        for i in range(23):
            personal(s, inc, a, i, T0)
            filler(s, inc, 10, T0)
    passes = []
    while True:
        r = nt.notify_pending(db, profile, T0, batches=1, scan=50, render=5)
        passes.append(r)
        assert r.events <= 5 and r.scanned <= 50
        if r.caught_up:
            break
        assert len(passes) < 100
    assert sum(r.events for r in passes) == 23
    assert len(outbox_keys(db)) == 23
    # one scheduler pass (up to 20 batches) catches up on the same backlog at once
    with db.session() as s:
        for i in range(23):
            personal(s, s.get(Incident, inc.id), s.get(Authority, a.id), i, T0)
    r = nt.notify_pending(db, profile, T0, scan=50, render=5)
    assert r.caught_up and r.events == 23


# --------------------------------------------------------------------------- upgrade from 0001


def test_upgrade_from_0001_starts_the_cursor_where_the_two_day_window_stood(tmp_path, fresh_pg_url, profile):
    now = datetime.now(UTC)
    for url in (f"sqlite:///{tmp_path / 'old.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade("0001")
        a, inc = make_incident_at_0001(db)
        with db.session() as s:
            old = add_event(s, inc, ev.REOPENED_EV, now - timedelta(days=30), authority_id=a.id, data={"reason": "давно"})
            fresh = add_event(s, inc, ev.REOPENED_EV, now - timedelta(days=1), authority_id=a.id, data={"reason": "вчера"})
            s.add(IncidentEvent(incident_id=inc.id, at=now - timedelta(days=1), actor="x", kind=ev.POST_ADDED, data={}))
        db.upgrade()
        assert db.current_revision() >= "0002"  # head: later migrations keep the cursor
        with db.session() as s:
            cursor = co.get_cursor(s, "notify:kuzbass")
            assert cursor.last_id == old.id and cursor.gaps == []
        r = nt.notify_pending(db, profile, now)
        # the event of yesterday (inside the old window) is notified; a month-old one is not sent a month late
        assert r.enqueued == 1 and outbox_keys(db) == [f"ev:{fresh.id}:email:min_housing_roads"]
        db.downgrade("0001")
        assert {"event_cursors", "scheduler_leases"}.isdisjoint(_tables(db))
        db.upgrade()
        db.dispose()


def make_incident_at_0001(db: Database) -> tuple[SimpleNamespace, SimpleNamespace]:
    """``make_incident`` on a database still at 0001: only the columns 0001 has (the models are newer)."""
    from sqlalchemy import Boolean, column, table

    from storage.types import JSONType, UTCDateTime

    auth = table("authorities", column("region"), column("code"), column("name"), column("role"), column("email"),
                 column("details", JSONType))  # fmt: skip
    inc = table("incidents", column("region"), column("title"), column("sector"), column("category"),
                column("municipality"), column("urgency"), column("state"), column("authority_id"),
                column("created_at", UTCDateTime()), column("updated_at", UTCDateTime()), column("routed_at", UTCDateTime()),
                column("escalation_level"), column("is_possible_fake", Boolean()), column("details", JSONType))  # fmt: skip
    with db.engine.begin() as c:
        c.execute(insert(auth).values(region="kuzbass", code="min_housing_roads", name="Министерство ЖКХ", role="ministry",
                                      email="gkh@example.ru", details={}))  # fmt: skip
        a_id = c.execute(select(func.max(Authority.id))).scalar()
        c.execute(insert(inc).values(region="kuzbass", title="Нет отопления", sector="housing", category="other",
                                     municipality="kemerovo", urgency="normal", state=ev.ROUTED, authority_id=a_id,
                                     created_at=T0, updated_at=T0, routed_at=T0, escalation_level=0,
                                     is_possible_fake=False, details={}))  # fmt: skip
        i_id = c.execute(select(func.max(Incident.id))).scalar()
    return SimpleNamespace(id=a_id), SimpleNamespace(id=i_id)


def _tables(db: Database) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(db.engine).get_table_names())


def test_upgrade_to_0002_rerun_after_a_crash_midway_gives_the_same_database(tmp_path, fresh_pg_url):
    """SQLite commits each CREATE TABLE at once: a crash after the first one leaves it behind at 0001.

    The rerun must skip it and finish exactly like an uninterrupted upgrade.
    """
    from storage.models import Base

    now = datetime.now(UTC)
    for url in (f"sqlite:///{tmp_path / 'crash.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade("0001")
        a, inc = make_incident_at_0001(db)
        with db.session() as s:
            add_event(s, inc, ev.REOPENED_EV, now - timedelta(hours=5), authority_id=a.id, data={"reason": "вчера"})
        Base.metadata.tables["event_cursors"].create(db.engine)  # what the crashed run left behind
        assert db.current_revision() == "0001"
        db.upgrade()
        assert db.current_revision() >= "0002"
        assert {"event_cursors", "scheduler_leases"} <= _tables(db)
        with db.session() as s:
            cursor = co.get_cursor(s, "notify:kuzbass")
            assert cursor is not None and cursor.gaps == []
        db.upgrade()  # and a second run changes nothing
        with db.session() as s:
            assert co.get_cursor(s, "notify:kuzbass").last_id == cursor.last_id
        db.dispose()
