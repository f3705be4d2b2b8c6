"""Delivery when two deliverers overlap (a scheduler taking over from a stalled one) and after downtime.

* a long pass stops claiming before its claims could lapse under a second deliverer;
* an outcome is recorded only while the claim that sent it still stands;
* a webhook delivered hours after its event carries ``late`` and the delay.

Real SQLite and PostgreSQL, real HTTP on loopback.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from aiohttp import web
from sqlalchemy import select

from pipeline.notify import RetryPolicy, adeliver_due, deliver_due, enqueue
from pipeline.notify.channels import WebhookSender
from storage import outbox as box
from storage.models import OutboxMessage

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
SECRET = "takeover-secret"


class SlowReceiver:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.ids: list[str] = []
        self.docs: list[dict] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(self.delay)
        self.ids.append(request.headers["X-CUR-Delivery"])
        self.docs.append(json.loads(body))
        return web.Response(status=204)

    def app(self) -> web.Application:
        a = web.Application()
        a.router.add_post("/hook", self.handle)
        return a


def _enqueue(db, url: str, n: int, event_at: datetime, now: datetime = T0) -> None:
    with db.session() as s:
        for i in range(n):
            enqueue(s, "webhook", url, f"Тема {i}", "Текст", {"event": "routed", "event_at": event_at.isoformat()}, f"t:{i}", now=now)


async def test_a_long_pass_stops_claiming_before_a_second_deliverer_could_reclaim(db, aiohttp_server):
    receiver = SlowReceiver(0.1)
    server = await aiohttp_server(receiver.app())
    _enqueue(db, str(server.make_url("/hook")), 20, T0)
    policy = RetryPolicy(lease=timedelta(seconds=1))  # a pass claims for half a lease: 0.5 s here
    senders = {"webhook": WebhookSender(SECRET, timeout=5)}
    first = asyncio.ensure_future(adeliver_due(db, T0, senders, policy))
    await asyncio.sleep(1.2)
    # a second deliverer (the scheduler that took over) starts when the first pass's early claims have lapsed
    second = await adeliver_due(db, T0 + timedelta(seconds=1.2), senders, policy)
    a = await first
    now = T0 + timedelta(seconds=2)
    for _ in range(10):  # later passes deliver the rest
        await adeliver_due(db, now, senders, policy)
        now += timedelta(seconds=1)
    assert len(receiver.ids) == len(set(receiver.ids)) == 20  # every message, none twice
    assert 0 < a.sent < 20 and a.deferred == 20 - a.sent  # the first pass left the rest to later passes
    assert second.sent > 0


def test_an_outcome_is_recorded_only_while_its_claim_stands(db):
    with db.session() as s:
        enqueue(s, "email", "a@example.ru", "Тема", "Текст", {}, "k", now=T0)
        msg_id = s.scalar(select(OutboxMessage.id))
    first_lease = T0 + timedelta(minutes=5)
    with db.session() as s:
        assert box.claim(s, msg_id, T0, first_lease) is not None
    with db.session() as s:  # the first claimant stalled past its lease; another deliverer claims the message
        assert box.claim(s, msg_id, T0 + timedelta(minutes=4), T0 + timedelta(minutes=9)) is None  # not yet
        second_lease = T0 + timedelta(minutes=11)
        assert box.claim(s, msg_id, T0 + timedelta(minutes=6), second_lease) is not None
    with db.session() as s:  # the stalled one comes back: its outcome is not recorded over the new claim
        assert box.mark_failed(s, msg_id, "timeout", None, claimed_until=first_lease) is False
        assert box.mark_sent(s, msg_id, T0 + timedelta(minutes=7), claimed_until=first_lease) is False
    with db.session() as s:
        m = s.get(OutboxMessage, msg_id)
        assert (m.status, m.attempts, m.next_attempt_at) == ("pending", 0, second_lease)
        assert box.mark_sent(s, msg_id, T0 + timedelta(minutes=7), claimed_until=second_lease) is True
    with db.session() as s:
        m = s.get(OutboxMessage, msg_id)
        assert (m.status, m.attempts) == ("sent", 1)


def test_a_webhook_delivered_hours_after_its_event_says_it_is_late(db):
    from fakes.server import serve  # tests/ is on sys.path (rootdir conftest)

    receiver = SlowReceiver(0)
    with serve(receiver.app()) as srv:
        kem = timezone(timedelta(hours=7))
        _enqueue(db, f"{srv.url}/hook", 1, (T0 - timedelta(hours=5)).astimezone(kem))
        with db.session() as s:
            enqueue(s, "webhook", f"{srv.url}/hook", "Свежее", "Текст", {"event": "routed", "event_at": T0.isoformat()}, "fresh", now=T0)
        stats = deliver_due(db, T0 + timedelta(minutes=1), {"webhook": WebhookSender(SECRET, timeout=5)})
    assert (stats.sent, stats.late) == (2, 1)
    late = [d for d in receiver.docs if d.get("late")]
    assert len(late) == 1 and late[0]["delay_minutes"] == 5 * 60 + 1
    assert "с опозданием 1" in str(stats)
