"""Emerging problems on SQLite and PostgreSQL with a moved clock: a burst raises exactly one alert,
a steady background raises none."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from pipeline.alerts import check_emerging, poisson_tail
from pipeline.incidents import ingest_analysis, sync_authorities
from storage import alerts as aq
from storage.models import OutboxMessage
from storage.models_alerts import Alert, AlertEvent
from tests.helpers import A, FakeClock, add_post

START = datetime(2026, 10, 1, 0, 0, tzinfo=timezone.utc)
TEXTS = [
    "Новокузнецк, ул. Кирова {n} — нет отопления, батареи холодные",
    "В Новокузнецке на Садовой {n} не топят, в квартире +16",
    "Новокузнецк, отопления нет по адресу Мира {n}, УК молчит",
]


def test_poisson_tail():
    assert poisson_tail(0, 2.0) == 1.0
    assert poisson_tail(5, 1.0) == pytest.approx(0.0036598, rel=1e-4)
    assert poisson_tail(1, 0.5) == pytest.approx(1 - 2.718281828 ** -0.5, rel=1e-9)
    assert poisson_tail(40, 1.0) < 1e-40
    assert poisson_tail(3, 30.0) == pytest.approx(1.0, abs=1e-9)


class Feed:
    """Posts arrive when the clock passes their time; every hour the check runs."""

    def __init__(self, db, profile, schedule: list[datetime]):
        self.db, self.profile = db, profile
        self.pending = sorted(schedule)
        self.n = 0

    def until(self, now: datetime) -> None:
        with self.db.session() as s:
            while self.pending and self.pending[0] <= now:
                at = self.pending.pop(0)
                self.n += 1
                post = add_post(s, TEXTS[self.n % 3].format(n=self.n), at, source=f"-{self.n % 7 + 1}")
                ingest_analysis(s, self.profile, post, A(), at)

    def run(self, clock: FakeClock, end: datetime, step: timedelta = timedelta(hours=1)) -> list:
        reports = []
        while clock.now() < end:
            clock.advance(seconds=step.total_seconds())
            self.until(clock.now())
            with self.db.session() as s:
                reports.append(check_emerging(s, self.profile, clock.now()))
        return reports


def _background(days: int, per_day: int) -> list[datetime]:
    return [START + timedelta(days=d, hours=2 + i * 24 / per_day) for d in range(days) for i in range(per_day)]


BURST_AT = START + timedelta(days=30, hours=3)
BURST = [BURST_AT + timedelta(minutes=25 * i) for i in range(14)]  # 14 posts in under 6 h


def _burst(db, profile, until: datetime) -> list:
    with db.session() as s:
        sync_authorities(s, profile)
    feed = Feed(db, profile, _background(30, 1) + BURST)
    feed.until(START + timedelta(days=29))  # history, no checks
    clock = FakeClock(START + timedelta(days=29))
    return feed.run(clock, until)


def test_a_burst_opens_exactly_one_alert(db, profile):
    burst = BURST
    reports = _burst(db, profile, START + timedelta(days=33))

    assert sum(len(r.opened) for r in reports) == 1
    with db.session() as s:
        (alert,) = s.scalars(select(Alert)).all()
        assert (alert.municipality, alert.sector, alert.category) == ("novokuznetsk", "housing", "heating")
        assert alert.state == aq.CLOSED and alert.closed_at is not None  # the window moved past the burst
        assert alert.opened_at <= burst[-1] + timedelta(hours=1)
        assert alert.count >= 5 and alert.p_value < 0.001 and 0.9 < alert.expected < 1.2  # ~29 posts in 28 days
        assert len(alert.details["posts"]) >= alert.count
        assert alert.details["incidents"] and len(alert.details["series"]) == 30
        kinds = [e.kind for e in s.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id))]
        assert kinds[0] == "opened" and kinds[-1] == "closed" and kinds.count("opened") == 1
        assert set(kinds[1:-1]) <= {"grown"}
        # the ЦУР head is told once per channel
        msgs = s.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key.like(f"alert:{alert.id}:%"))).all()
        assert msgs and all("Возникающая проблема" in m.subject for m in msgs)
        assert len({m.channel for m in msgs}) == len(msgs)


def test_a_steady_background_raises_none(db, profile):
    with db.session() as s:
        sync_authorities(s, profile)
    feed = Feed(db, profile, _background(40, 3))
    feed.until(START + timedelta(days=29))
    clock = FakeClock(START + timedelta(days=29))
    reports = feed.run(clock, START + timedelta(days=40), step=timedelta(hours=6))
    assert sum(len(r.opened) for r in reports) == 0
    with db.session() as s:
        assert s.scalars(select(Alert)).all() == []


async def test_the_alert_in_the_cli_api_dashboard_and_report(db_url, db, profile, cur, aiohttp_client):
    from pipeline.accounts import tokens as api_tokens
    from pipeline.reports import build_report, render_html
    from tests.test_web_security import add_users, login, make_ctx
    from web.app import create_app

    reports = _burst(db, profile, BURST[-1] + timedelta(hours=2))  # still open
    assert sum(len(r.opened) for r in reports) == 1
    with db.session() as s:
        (alert,) = s.scalars(select(Alert)).all()
        assert alert.state == aq.OPEN
        title = "Новокузнецкий городской округ"

    app = make_ctx(db_url)
    try:
        with app.db.session() as s:
            _, token = api_tokens.issue_token(s, app.region.code, "head", datetime.now(timezone.utc), "test", "back office")
        add_users(app, [("cur", "curator", None)])
        client = await aiohttp_client(create_app(app))
        auth = {"Authorization": f"Bearer {token}"}
        (a,) = (await (await client.get("/api/alerts", headers=auth)).json())["alerts"]
        assert a["id"] == alert.id and a["state"] == "open" and a["count"] >= 5 and a["incidents"]
        assert a["events"][0]["kind"] == "opened" and a["posts"] >= a["count"]
        # another authority's token sees only the alerts about its own incidents
        from storage.models import Authority, Incident

        with app.db.session() as s:
            owner = s.scalars(select(Authority.code).join(Incident, Incident.authority_id == Authority.id)
                              .where(Incident.id.in_(a["incidents"]))).first()
            _, owner_token = api_tokens.issue_token(s, app.region.code, owner, datetime.now(timezone.utc), "test", "owner")
            _, other_token = api_tokens.issue_token(s, app.region.code, "head_education", datetime.now(timezone.utc), "test", "other")
        assert owner and owner != "head_education"
        (mine,) = (await (await client.get("/api/alerts", headers={"Authorization": f"Bearer {owner_token}"})).json())["alerts"]
        assert mine["id"] == alert.id and set(mine["incidents"]) <= set(a["incidents"])
        assert (await (await client.get("/api/alerts", headers={"Authorization": f"Bearer {other_token}"})).json())["alerts"] == []
        assert (await (await client.get("/api/alerts?state=closed", headers=auth)).json())["alerts"] == []
        assert (await client.get("/api/alerts?state=maybe", headers=auth)).status == 400
        assert (await client.get("/api/alerts")).status == 401
        assert (await login(client, "cur")).status == 303
        page = await (await client.get("/dashboard")).text()
        assert 'id="alerts"' in page and title in page and "Постов о проблеме по дням" in page
        r = cur("alerts")
        assert r.returncode == 0 and f"№{alert.id} " in r.stdout and "действует" in r.stdout and "открыт" in r.stdout, r.stdout
        r = cur("alerts", "--check", "--now", (BURST[-1] + timedelta(days=3)).isoformat())
        assert r.returncode == 0 and "закрыто 1" in r.stdout, r.stdout
        assert "Возникающих проблем нет" in cur("alerts").stdout
        assert "закрыт" in cur("alerts", "--all").stdout

        (a,) = (await (await client.get("/api/alerts?state=all", headers=auth)).json())["alerts"]
        assert a["state"] == "closed" and a["events"][-1]["kind"] == "closed"
    finally:
        app.db.dispose()

    with db.session() as s:
        rep = build_report(s, profile, "2026-10", START + timedelta(days=40))
        assert [x.alert_id for x in rep.alerts] == [alert.id]
        html = render_html(rep)
        assert "Возникающие проблемы" in html and title in html
