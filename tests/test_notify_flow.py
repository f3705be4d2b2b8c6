"""End to end with the incident service (part A): route, check deadlines on a moving clock, notify.

An incident routed on a Friday morning misses its first-reply deadline; the
deadline check runs every 10 minutes for two days while the authorities'
webhook receiver is down around the deadline. Every reminder and every
escalation level is notified once, to the right role, with a valid signature.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp import web
from sqlalchemy import select, update

from pipeline.notify import adeliver_due, notify_recent
from pipeline.notify.channels import WebhookSender, sign
from storage import events as ev
from storage.models import Authority, Incident, IncidentEvent, OutboxMessage

incidents = pytest.importorskip("pipeline.incidents")

SECRET = "flow-secret"
ROUTED_AT = datetime(2025, 11, 21, 3, 0, tzinfo=timezone.utc)  # Friday 10:00 in Kemerovo


async def test_reminders_and_each_escalation_level_reach_the_webhook_once(db, profile, aiohttp_server):
    received: list[tuple[dict, bytes]] = []
    state = {"up": True}

    async def hook(request: web.Request) -> web.Response:
        if not state["up"]:
            return web.Response(status=503)
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    url = str(server.make_url("/hook"))

    with db.session() as s:
        incidents.sync_authorities(s, profile)
        s.execute(update(Authority).where(Authority.region == "kuzbass").values(webhook_url=url, email=None))
        inc = Incident(region="kuzbass", title="Нет отопления", sector="housing", category="other", municipality="kemerovo",
                       urgency="normal", state=ev.NEW, created_at=ROUTED_AT)  # fmt: skip
        s.add(inc)
        s.flush()
        incidents.route_incident(s, profile, inc, "system", ROUTED_AT)
        inc_id, due = inc.id, inc.first_reply_due
        routed_to = s.get(Authority, inc.authority_id).code
    assert due is not None and due > ROUTED_AT

    senders = {"webhook": WebhookSender(SECRET, timeout=5)}
    now = ROUTED_AT
    while now <= ROUTED_AT + timedelta(days=2):
        state["up"] = not (due - timedelta(minutes=30) <= now < due + timedelta(minutes=30))
        with db.session() as s:
            incidents.check_deadlines(s, profile, now)
            notify_recent(s, profile, now)
        await adeliver_due(db, now, senders)
        now += timedelta(minutes=10)

    with db.session() as s:
        evs = list(s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == inc_id).order_by(IncidentEvent.id)))
        msgs = list(s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook")))
    escalations = [e for e in evs if e.kind == ev.ESCALATED]
    levels = [e.data["level"] for e in escalations]
    assert levels == [1, 2, 3, 4], levels  # once per level, in order (specialist, block head, ЦУР head, curator)
    reminders = [e for e in evs if e.kind == ev.REMINDER]
    assert reminders  # at least one reminder before the deadline

    assert {m.status for m in msgs} == {"sent"}
    docs = []
    for headers, body in received:
        assert headers["X-CUR-Signature"] == sign(SECRET, body)
        docs.append(json.loads(body))
    ids = [d["delivery_id"] for d in docs]
    assert len(ids) == len(set(ids)) == len(msgs)  # every notification, once
    by_event = {}
    for d in docs:
        by_event.setdefault(d["event_id"], []).append(d["authority"]["code"])
    (routed_ev,) = [e for e in evs if e.kind == ev.ROUTED_EV]
    assert by_event[routed_ev.id] == [routed_to]
    expected_role = {"specialist": routed_to, "sector_head": "head_housing_roads", "head": "head", "curator": "curator"}
    for e in escalations:
        assert by_event[e.id] == [expected_role[e.data["role"]]], e.data
    for e in reminders:
        assert by_event[e.id] == [routed_to]
