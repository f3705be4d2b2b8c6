"""Notifications: outbox idempotency, real SMTP, a fake Telegram Bot API, signed webhooks with backoff.

Servers are real and listen on 127.0.0.1: aiosmtpd for e-mail, aiohttp for
the Bot API and the webhook receiver. Time is moved, never slept.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiohttp import web
from sqlalchemy import func, select

from config import Settings
from pipeline.notify import (
    RetryPolicy,
    adeliver_due,
    deliver_due,
    enqueue,
    notify_event,
    notify_recent,
    senders_from_settings,
)
from pipeline.notify.channels import (
    ChannelError,
    EmailSender,
    TelegramSender,
    WebhookSender,
    sign,
)
from storage import PostRecord, upsert_posts
from storage import events as ev
from storage.models import (
    Authority,
    Incident,
    IncidentEvent,
    IncidentPost,
    OutboxMessage,
    Post,
)
from tests.helpers import free_port

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # Friday 10:00 in Kemerovo (UTC+7)
SECRET = "s3cr3t-webhook-key"


def make_authority(s, code: str, role: str = "ministry", **contacts) -> Authority:
    a = Authority(region="kuzbass", code=code, name=f"Орган {code}", role=role, **contacts)
    s.add(a)
    s.flush()
    return a


def make_routed_incident(s, authority: Authority, at: datetime = T0) -> tuple[Incident, IncidentEvent]:
    due = {"first_reply": at + timedelta(hours=8), "interim": at + timedelta(hours=24), "final": at + timedelta(days=9)}
    inc = Incident(
        region="kuzbass", title="Нет отопления в доме на ул. Весенней, 5", sector="housing", category="other",
        municipality="kemerovo", urgency="normal", state=ev.ROUTED, authority_id=authority.id, created_at=at,
        routed_at=at, first_reply_due=due["first_reply"], interim_due=due["interim"], final_due=due["final"],
    )  # fmt: skip
    s.add(inc)
    s.flush()
    e = IncidentEvent(
        incident_id=inc.id, at=at, actor="system", kind=ev.ROUTED_EV, from_state=ev.NEW, to_state=ev.ROUTED,
        authority_id=authority.id, data={"rule": 0, "due": {k: v.isoformat() for k, v in due.items()}},
    )  # fmt: skip
    s.add(e)
    s.flush()
    return inc, e


def add_event(s, inc: Incident, kind: str, at: datetime, **kw) -> IncidentEvent:
    e = IncidentEvent(incident_id=inc.id, at=at, actor=kw.pop("actor", "system"), kind=kind, **kw)
    s.add(e)
    s.flush()
    return e


# --------------------------------------------------------------------------- outbox basics


def test_enqueue_is_idempotent_per_dedup_key(db):
    with db.session() as s:
        m1, c1 = enqueue(s, "email", "a@x.ru", "Тема", "Текст", {}, "k1", now=T0)
        m2, c2 = enqueue(s, "email", "b@x.ru", "Другая", "Текст", {}, "k1", now=T0)
        assert (c1, c2) == (True, False) and m1.id == m2.id
    with db.session() as s:
        assert s.scalar(select(func.count(OutboxMessage.id))) == 1
        with pytest.raises(ValueError, match="unknown channel"):
            enqueue(s, "sms", "1", "", "", {}, "k2", now=T0)


def test_retry_policy_backs_off_exponentially_and_spans_a_day():
    p = RetryPolicy()
    assert [p.delay(n).total_seconds() / 60 for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert p.span() == timedelta(minutes=1 + 2 + 4 + 8 + 16 + 32 + 25 * 60) >= timedelta(hours=24)


def test_notify_event_enqueues_once_per_channel_and_recipient(db, profile):
    with db.session() as s:
        a = make_authority(s, "min_housing_roads", email="gkh@example.ru", telegram_chat_id="-100500", webhook_url="http://127.0.0.1:9/h")
        inc, e = make_routed_incident(s, a)
        made = notify_event(s, profile, e, T0)
        assert sorted(m.channel for m in made) == ["email", "telegram", "webhook"]
        assert notify_event(s, profile, e, T0) == []  # the same event again: nothing new
        # the scheduler's sweep over recent events adds nothing either
        assert notify_recent(s, profile, T0 + timedelta(minutes=1)) == 0
        # a status change reaches the back-office webhook only
        ack = add_event(s, inc, ev.ACKNOWLEDGED_EV, T0 + timedelta(minutes=5), from_state=ev.ROUTED, to_state=ev.ACKNOWLEDGED)
        assert notify_recent(s, profile, T0 + timedelta(minutes=6)) == 1
        msg = s.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key.like(f"ev:{ack.id}:%")))
        assert msg.channel == "webhook" and msg.payload["event"] == "acknowledged"
        assert "принят в работу" in msg.subject


def test_escalation_goes_to_the_role_of_the_level(db, profile):
    with db.session() as s:
        ministry = make_authority(s, "min_housing_roads", email="gkh@example.ru")
        block_head = make_authority(s, "head_housing_roads", role="sector_head", email="block@example.ru")
        make_authority(s, "curator", role="curator", email="curator@example.ru")
        inc, _ = make_routed_incident(s, ministry)
        late = T0 + timedelta(hours=11)
        e2 = add_event(s, inc, ev.ESCALATED, late, authority_id=block_head.id, data={"stage": "first_reply", "level": 2, "role": "sector_head"})
        e4 = add_event(s, inc, ev.ESCALATED, late, data={"stage": "first_reply", "level": 4, "role": "curator"})
        to2 = notify_event(s, profile, e2, late)
        to4 = notify_event(s, profile, e4, late)
        assert [m.recipient for m in to2] == ["block@example.ru"]
        assert [m.recipient for m in to4] == ["curator@example.ru"]
        assert "уровень эскалации 2" in to2[0].subject and "первичный ответ" in to2[0].subject
        # the due time is shown in the region's time zone (UTC+7)
        assert "20.11.2026 18:00 (UTC+07:00)" in to2[0].body



def test_escalation_without_recipient_goes_where_the_deadline_watch_sends_it(db, profile):
    """An escalation to ``sector_head`` of an incident whose sector has no block goes to the ЦУР head,
    as the deadline watch decides (``escalation_authority``), not to some block's head."""
    from pipeline.incidents import escalation_recipient

    with db.session() as s:
        ministry = make_authority(s, "min_housing_roads", email="gkh@example.ru")
        make_authority(s, "head_housing_roads", role="sector_head", email="block@example.ru")
        make_authority(s, "head", role="head", email="head@example.ru")
        inc, _ = make_routed_incident(s, ministry)
        inc.sector = None  # no sector: no block
        late = T0 + timedelta(hours=11)
        e = add_event(s, inc, ev.ESCALATED, late, data={"stage": "first_reply", "level": 2, "role": "sector_head"})
        assert escalation_recipient(s, profile, inc, "sector_head") == "head"
        assert [m.recipient for m in notify_event(s, profile, e, late)] == ["head@example.ru"]


# --------------------------------------------------------------------------- e-mail over real SMTP


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


def test_email_reaches_a_real_smtp_server(db, profile):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        with db.session() as s:
            a = make_authority(s, "min_housing_roads", email="gkh@example.ru")
            inc, e = make_routed_incident(s, a)
            upsert_posts(s, [PostRecord(platform="vk", source_key="vk:-1", external_id=str(n), published_at=T0 - timedelta(minutes=n),
                                        text=f"нет отопления {n}", url=f"https://vk.com/wall-1_{n}" if n < 3 else None) for n in range(4)])  # fmt: skip
            for post_id in s.scalars(select(Post.id)):
                s.add(IncidentPost(post_id=post_id, incident_id=inc.id, added_at=T0))
            s.flush()
            notify_event(s, profile, e, T0)
        settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="cur@kuzbass.example.ru")
        stats = deliver_due(db, T0, senders_from_settings(settings))
        assert stats.sent == 1 and stats.dead == 0
        assert deliver_due(db, T0 + timedelta(minutes=5), senders_from_settings(settings)).sent == 0
    finally:
        ctl.stop()
    assert len(inbox.messages) == 1
    rcpt, raw = inbox.messages[0]
    assert rcpt == ["gkh@example.ru"]
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["Subject"].startswith("Новый инцидент №")
    assert mail["Subject"].endswith(": ЖКХ, Кемеровский городской округ (г. Кемерово)")  # sector and municipality names of the region profile
    body = mail.get_content()
    assert "Кому: Орган min_housing_roads" in body
    assert "Публикаций: 4" in body
    assert "  https://vk.com/wall-1_2\n  https://vk.com/wall-1_1\n  https://vk.com/wall-1_0\n" in body  # earliest first
    assert "первичный ответ — до 20.11.2026 18:00 (UTC+07:00)" in body
    assert mail["X-CUR-Delivery"].isdigit()


async def test_unreachable_smtp_is_retried_later(db, profile):
    with db.session() as s:
        a = make_authority(s, "min_housing_roads", email="gkh@example.ru")
        _, e = make_routed_incident(s, a)
        notify_event(s, profile, e, T0)
    stats = await adeliver_due(db, T0, {"email": EmailSender("127.0.0.1", free_port(), timeout=5)})
    assert (stats.sent, stats.retried) == (0, 1)
    with db.session() as s:
        m = s.scalar(select(OutboxMessage))
        assert m.status == "pending" and m.attempts == 1 and m.next_attempt_at == T0 + timedelta(minutes=1)
        assert "SMTP" in m.last_error


# --------------------------------------------------------------------------- Telegram Bot API


async def test_telegram_message_goes_to_the_bot_api(db, profile, aiohttp_server):
    got = []

    async def send_message(request: web.Request) -> web.Response:
        got.append((request.match_info["token"], await request.json()))
        return web.json_response({"ok": True, "result": {"message_id": len(got)}})

    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", send_message)
    server = await aiohttp_server(app)
    with db.session() as s:
        a = make_authority(s, "min_housing_roads", telegram_chat_id="-1001234")
        _, e = make_routed_incident(s, a)
        notify_event(s, profile, e, T0)
    senders = {"telegram": TelegramSender("123:ABC", str(server.make_url("")))}
    stats = await adeliver_due(db, T0, senders)
    assert stats.sent == 1
    token, data = got[0]
    assert token == "123:ABC" and data["chat_id"] == "-1001234"
    assert data["text"].startswith("Новый инцидент №") and "Кемерово" in data["text"]


async def test_telegram_refusal_is_permanent(db, profile, aiohttp_server):
    async def send_message(request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "description": "Bad Request: chat not found"}, status=400)

    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", send_message)
    server = await aiohttp_server(app)
    with db.session() as s:
        a = make_authority(s, "min_housing_roads", telegram_chat_id="-1")
        _, e = make_routed_incident(s, a)
        notify_event(s, profile, e, T0)
    stats = await adeliver_due(db, T0, {"telegram": TelegramSender("t", str(server.make_url("")))})
    assert stats.dead == 1
    with db.session() as s:
        m = s.scalar(select(OutboxMessage))
        assert m.status == "dead" and "chat not found" in m.last_error


# --------------------------------------------------------------------------- webhooks


class Receiver:
    """A back-office webhook endpoint: records deliveries, can answer 503."""

    def __init__(self):
        self.up = True
        self.hits = 0
        self.received: list[tuple[dict, bytes, dict]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if not self.up:
            return web.Response(status=503, text="maintenance")
        body = await request.read()
        self.received.append((dict(request.headers), body, json.loads(body)))
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        return app


async def test_webhook_receiver_down_for_an_hour_gets_everything_once(db, profile, aiohttp_server):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    with db.session() as s:
        a = make_authority(s, "min_housing_roads", webhook_url=url)
        inc, e = make_routed_incident(s, a)
        notify_event(s, profile, e, T0)
        r = add_event(s, inc, ev.REMINDER, T0 + timedelta(hours=7), authority_id=a.id, data={"stage": "first_reply", "minutes_before": 60})
        x = add_event(s, inc, ev.ESCALATED, T0 + timedelta(hours=8), authority_id=a.id, data={"stage": "first_reply", "level": 1, "role": "specialist"})
        ack = add_event(s, inc, ev.ACKNOWLEDGED_EV, T0 + timedelta(hours=8, minutes=1), from_state=ev.ROUTED, to_state=ev.ACKNOWLEDGED)
    senders = {"webhook": WebhookSender(SECRET, timeout=5)}
    start = T0 + timedelta(hours=8, minutes=2)
    with db.session() as s:
        assert notify_recent(s, profile, start) == 3  # reminder, escalation, acknowledged; routed was already queued

    receiver = Receiver()
    server = None
    outcome = []
    for minute in range(150):
        now = start + timedelta(minutes=minute)
        if minute == 30:  # the host comes back but the application answers 503 for another half hour
            receiver.up = False
            server = await aiohttp_server(receiver.app(), port=port)
        if minute == 60:
            receiver.up = True
        stats = await adeliver_due(db, now, senders)
        outcome.append(stats.sent)
        with db.session() as s:  # every pass of the scheduler also sweeps recent events again
            assert notify_recent(s, profile, now) == 0
    assert server is not None
    assert sum(outcome) == 4 and sum(outcome[:60]) == 0
    ids = [h["X-CUR-Delivery"] for h, _, _ in receiver.received]
    assert len(ids) == len(set(ids)) == 4  # each once
    kinds = sorted(doc["event"] for _, _, doc in receiver.received)
    assert kinds == sorted(["routed", "reminder_sent", "escalated", "acknowledged"])
    for headers, body, doc in receiver.received:
        assert headers["X-CUR-Signature"] == sign(SECRET, body)
        assert str(doc["delivery_id"]) == headers["X-CUR-Delivery"]
        assert doc["incident"]["id"] == inc.id
        assert doc["incident"]["first_reply_due"] == "2026-11-20T18:00:00+07:00"
    assert receiver.hits > 4  # the 503s were real attempts
    with db.session() as s:
        msgs = list(s.scalars(select(OutboxMessage)))
        assert {m.status for m in msgs} == {"sent"}
        assert all(m.attempts >= 2 for m in msgs)  # failed while the receiver was down
        assert {m.dedup_key.split(":")[1] for m in msgs} == {str(e.id), str(r.id), str(x.id), str(ack.id)}


async def test_crash_after_send_resends_after_the_lease_with_the_same_delivery_id(db, profile, aiohttp_server):
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())

    class CrashOnce(WebhookSender):
        crashed = False

        async def send(self, env):
            await super().send(env)
            if not CrashOnce.crashed:
                CrashOnce.crashed = True
                raise RuntimeError("process killed after the send, before the commit")

    with db.session() as s:
        a = make_authority(s, "min_housing_roads", webhook_url=str(server.make_url("/hook")))
        _, e = make_routed_incident(s, a)
        notify_event(s, profile, e, T0)
    senders = {"webhook": CrashOnce(SECRET)}
    with pytest.raises(RuntimeError):
        await adeliver_due(db, T0, senders)
    with db.session() as s:
        m = s.scalar(select(OutboxMessage))
        assert m.status == "pending" and m.attempts == 0
        assert m.next_attempt_at == T0 + RetryPolicy().lease  # claimed: nobody else sends it meanwhile
    assert (await adeliver_due(db, T0 + timedelta(minutes=1), senders)).sent == 0
    assert (await adeliver_due(db, T0 + RetryPolicy().lease, senders)).sent == 1
    assert (await adeliver_due(db, T0 + timedelta(hours=1), senders)).sent == 0
    ids = [h["X-CUR-Delivery"] for h, _, _ in receiver.received]
    assert len(ids) == 2 and len(set(ids)) == 1  # at least once; the receiver can drop the repeat


async def test_webhook_dead_after_max_attempts_and_on_client_error(db, profile, aiohttp_server):
    receiver = Receiver()
    receiver.up = False
    server = await aiohttp_server(receiver.app())
    with db.session() as s:
        a = make_authority(s, "min_housing_roads", webhook_url=str(server.make_url("/hook")))
        b = make_authority(s, "min_social", webhook_url=str(server.make_url("/missing")))
        make_routed_incident(s, a)
        make_routed_incident(s, b)
        notify_recent(s, profile, T0)
    senders = {"webhook": WebhookSender(SECRET)}
    policy = RetryPolicy(max_attempts=3)
    now = T0
    for _ in range(10):
        await adeliver_due(db, now, senders, policy)
        now += timedelta(hours=1)
    with db.session() as s:
        by_url = {m.recipient.rsplit("/", 1)[1]: m for m in s.scalars(select(OutboxMessage))}
        assert by_url["hook"].status == "dead" and by_url["hook"].attempts == 3 and "503" in by_url["hook"].last_error
        assert by_url["missing"].status == "dead" and by_url["missing"].attempts == 1 and "404" in by_url["missing"].last_error


def test_channels_without_configuration_are_left_pending(db, profile):
    with db.session() as s:
        a = make_authority(s, "min_housing_roads", telegram_chat_id="-1", webhook_url="http://127.0.0.1:9/x")
        _, e = make_routed_incident(s, a)
        notify_event(s, profile, e, T0)
    stats = deliver_due(db, T0, senders_from_settings(Settings()))  # no bot token, no webhook secret
    assert (stats.sent, stats.skipped) == (0, 2)
    with pytest.raises(ValueError):
        WebhookSender("")
    assert isinstance(ChannelError("x"), Exception)


def test_cli_delivers_and_reports_the_queue(db, profile, cur, cur_env):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    now = datetime.now(UTC)
    try:
        with db.session() as s:
            a = make_authority(s, "min_housing_roads", email="gkh@example.ru", webhook_url="http://127.0.0.1:9/h")
            make_routed_incident(s, a, at=now - timedelta(minutes=5))
        cur_env.update(CUR_SMTP_HOST="127.0.0.1", CUR_SMTP_PORT=str(port), CUR_WEBHOOK_SECRET=SECRET)
        r = cur("notify", "deliver")
        assert r.returncode == 0, r.stderr
        # the routed event is swept into the queue; e-mail goes out, the webhook port is closed
        assert "Поставлено в очередь: 2; отправлено 1, отложено для повтора 1" in r.stdout
        assert "webhook http://127.0.0.1:9/h" in r.stderr
    finally:
        ctl.stop()
    assert [rcpt for rcpt, _ in inbox.messages] == [["gkh@example.ru"]]
    r = cur("notify", "status")
    assert r.returncode == 0, r.stderr
    assert "Ожидают отправки: 1, отправлено: 1, не доставлено: 0." in r.stdout
    assert "Повторяются после ошибки:" in r.stdout and "webhook → http://127.0.0.1:9/h (попыток 1" in r.stdout


async def test_two_deliverers_never_send_the_same_message_twice(db, profile, aiohttp_server):
    import asyncio

    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    with db.session() as s:
        for i in range(6):
            a = make_authority(s, f"auth_{i}", webhook_url=str(server.make_url("/hook")))
            _, e = make_routed_incident(s, a)
            notify_event(s, profile, e, T0)
    senders = {"webhook": WebhookSender(SECRET)}
    a, b = await asyncio.gather(adeliver_due(db, T0, senders), adeliver_due(db, T0, senders))
    assert a.sent + b.sent == 6
    ids = [h["X-CUR-Delivery"] for h, _, _ in receiver.received]
    assert len(ids) == len(set(ids)) == 6


async def test_a_receiver_that_is_down_costs_one_attempt_per_pass_and_holds_up_nobody(db, profile, aiohttp_server):
    down, up = Receiver(), Receiver()
    down.up = False
    s_down, s_up = await aiohttp_server(down.app()), await aiohttp_server(up.app())
    with db.session() as s:
        a = make_authority(s, "min_housing_roads", webhook_url=str(s_down.make_url("/hook")))
        b = make_authority(s, "min_social", webhook_url=str(s_up.make_url("/hook")))
        for auth in (a, b):
            inc, e = make_routed_incident(s, auth)
            notify_event(s, profile, e, T0)
            for k in (1, 2):
                r = add_event(s, inc, ev.REMINDER, T0, authority_id=auth.id, data={"stage": "first_reply", "minutes_before": 60 // k})
                notify_event(s, profile, r, T0)
    stats = await adeliver_due(db, T0, {"webhook": WebhookSender(SECRET)})
    assert (stats.sent, stats.retried, stats.deferred) == (3, 1, 2)
    assert len(up.received) == 3 and down.hits == 1
    assert "ждут следующего прохода 2" in str(stats)


def test_an_unflushed_event_gets_its_own_dedup_key(db, profile):
    with db.session() as s:
        a = make_authority(s, "min_housing_roads", email="gkh@example.ru")
        inc, _ = make_routed_incident(s, a)
        keys = []
        for minutes in (60, 15):
            e = IncidentEvent(incident_id=inc.id, at=T0, actor="system", kind=ev.REMINDER, authority_id=a.id,
                              data={"stage": "first_reply", "minutes_before": minutes})  # fmt: skip
            s.add(e)  # not flushed: no id yet
            (msg,) = notify_event(s, profile, e, T0)
            keys.append(msg.dedup_key)
            assert msg.dedup_key == f"ev:{e.id}:email:min_housing_roads"
        assert keys[0] != keys[1]
