"""Pages and actions through real HTTP: review queue order and decisions, reroute, dashboard, reports, models, audit."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from storage import web_repo
from storage.models import AuditEntry, Incident, Post, ReviewDecision
from tests.test_web_security import add_users, csrf_of, login, make_ctx
from web.app import create_app

NOW = datetime.now(timezone.utc)


@pytest.fixture
def app_ctx(db_url: str, seed_sample_once):
    app = make_ctx(db_url)
    seed_sample_once(app, NOW)
    add_users(app, [("op", "operator", None), ("adm", "admin", None), ("an", "analyst", None), ("cur", "curator", None)])
    yield app
    app.db.dispose()


@pytest.fixture
async def op(app_ctx, aiohttp_client):
    client = await aiohttp_client(create_app(app_ctx))
    assert (await login(client, "op")).status == 303
    return client


def post_id_by_text(app, start: str) -> int:
    with app.db.session() as s:
        return s.scalar(select(Post.id).where(Post.text.like(start + "%")))


async def decide(client, post_id: int, **fields):
    page = await client.get("/review")
    data = {"csrf_token": csrf_of(await page.text()), **fields}
    r = await client.post(f"/review/{post_id}", data=data, allow_redirects=False)
    assert r.status == 303
    return unquote(r.headers["Location"])


async def test_review_queue_order(op, app_ctx):
    html = await (await op.get("/review")).text()
    cards = re.findall(r'<article class="card review ?(urgent)?" tabindex="0" data-post-id="(\d+)"', html)
    assert len(cards) >= 5
    urgent = [bool(u) for u, _ in cards]
    assert urgent == sorted(urgent, reverse=True), "urgent posts must come first"
    confidences = [int(c) for c in re.findall(r"уверенность (\d+)%", html)]
    with app_ctx.db.session() as s:
        analyses = web_repo.latest_analyses(s, [int(pid) for _, pid in cards])
    relevant_normal = [round(100 * analyses[int(pid)].confidence) for u, pid in cards if not u and analyses[int(pid)].relevant]
    assert relevant_normal == sorted(relevant_normal), "least certain first within the same urgency"
    assert len(confidences) == len(cards)


async def test_review_decisions(op, app_ctx):
    garage = post_id_by_text(app_ctx, "Продаю гараж")
    loc = await decide(op, garage, decision="not_problem")
    assert "Укажите причину" in loc  # reject needs a reason
    loc = await decide(op, garage, decision="not_problem", comment="объявление о продаже")
    assert "решение сохранено" in loc
    html = await (await op.get("/review")).text()
    assert f'data-post-id="{garage}"' not in html

    lamps = post_id_by_text(app_ctx, "не пойму куда писать")
    loc = await decide(op, lamps, decision="correct", classification="improvement:no_such_category", urgency="normal")
    assert "Неизвестные направление и категория" in loc
    loc = await decide(op, lamps, decision="confirm")
    assert "Инцидент №" in loc
    with app_ctx.db.session() as s:
        inc = web_repo.incident_of_post(s, lamps)
        assert inc is not None and inc.sector == "improvement" and inc.authority_id is not None
        target = inc.id

    pipe = post_id_by_text(app_ctx, "На Молодёжной опять прорвало")
    loc = await decide(op, pipe, decision="merge", incident_id=str(target))
    assert "решение сохранено" in loc
    loc = await decide(op, post_id_by_text(app_ctx, "Говорят завод"), decision="merge", incident_id="")
    assert "укажите номер инцидента" in loc
    with app_ctx.db.session() as s:
        assert web_repo.incident_of_post(s, pipe).id == target
        decisions = {d.post_id: d.decision for d in s.scalars(select(ReviewDecision))}
        assert decisions == {garage: "not_problem", lamps: "confirm", pipe: "merge"}
        actions = [a for a, in s.execute(select(AuditEntry.action).where(AuditEntry.actor == "op"))]
        assert {"review.not_problem", "review.confirm", "review.merge"} <= set(actions)


async def test_operator_reroutes_and_the_inbox_follows(op, app_ctx, aiohttp_client):
    with app_ctx.db.session() as s:
        inc = s.scalar(select(Incident).where(Incident.authority_id.is_not(None)).order_by(Incident.id))
        old = web_repo.authority_names(s, [inc.authority_id])[inc.authority_id]
        new = next(a for a in web_repo.authorities(s, app_ctx.region.code) if a.id != old.id and a.role == "ministry")
        incident_id, old_code, new_code = inc.id, old.code, new.code
    add_users(app_ctx, [("old_spec", "specialist", old_code), ("new_spec", "specialist", new_code)])
    page = await op.get(f"/incidents/{incident_id}")
    token = csrf_of(await page.text())
    r = await op.post(f"/incidents/{incident_id}/reroute", data={"authority": new_code, "reason": "", "csrf_token": token}, allow_redirects=False)
    assert "Укажите причину" in unquote(r.headers["Location"])
    r = await op.post(f"/incidents/{incident_id}/reroute", data={"authority": new_code, "reason": "не их полномочия", "csrf_token": token}, allow_redirects=False)
    assert "перенаправлен" in unquote(r.headers["Location"])
    page = await (await op.get(f"/incidents/{incident_id}")).text()
    assert "перенаправлен" in page and new.name in page

    for login_name, sees in (("old_spec", False), ("new_spec", True)):
        c = await aiohttp_client(create_app(app_ctx))
        await login(c, login_name)
        inbox = await (await c.get("/inbox")).text()
        assert (f'data-incident-id="{incident_id}"' in inbox) is sees
        assert (await c.get(f"/incidents/{incident_id}")).status == (200 if sees else 403)


async def test_refused_action_is_explained(op, app_ctx):
    with app_ctx.db.session() as s:
        incident_id = s.scalar(select(Incident.id).where(Incident.authority_id.is_not(None)).order_by(Incident.id))
    page = await op.get(f"/incidents/{incident_id}")
    token = csrf_of(await page.text())
    r = await op.post(f"/incidents/{incident_id}/state", data={"action": "reject", "reason": "", "csrf_token": token}, headers={"Referer": f"/incidents/{incident_id}"}, allow_redirects=False)
    assert r.status == 303 and "Действие не выполнено" in unquote(r.headers["Location"])
    with app_ctx.db.session() as s:
        assert s.get(Incident, incident_id).state == "routed"
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "refused")) is not None


async def test_dashboard_and_reports(app_ctx, aiohttp_client):
    client = await aiohttp_client(create_app(app_ctx))
    await login(client, "cur")
    html = await (await client.get("/dashboard?period=all")).text()
    with app_ctx.db.session() as s:
        total = len(list(s.scalars(select(Incident).where(Incident.merged_into_id.is_(None)))))
        muni = s.scalar(select(Incident.municipality).where(Incident.municipality.is_not(None)))
    assert f"{total} инцидентов" in html
    assert 'class="chart heatmap"' in html
    name = next(m.name for m in app_ctx.region.region.municipalities if m.code == muni)
    assert name[:20] in html
    month = NOW.astimezone(app_ctx.region.region.tz).strftime("%Y-%m")
    r = await client.get(f"/reports/{month}.xlsx")
    assert r.status == 200 and (await r.read())[:2] == b"PK"
    assert "attachment" in r.headers["Content-Disposition"]
    r = await client.get(f"/reports/{month}.html")
    assert r.status == 200 and "<html" in (await r.text()).lower()
    assert (await client.get("/reports/2026-13.html")).status == 400
    with app_ctx.db.session() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "report.download", AuditEntry.actor == "cur")) is not None


async def test_models_page_and_audit(app_ctx, aiohttp_client, tmp_path):
    from tests.helpers import models_dir_with

    root = models_dir_with(tmp_path / "models", [("v1", "2026-11-01T10:00:00+00:00", {"test": {"score": 0.7, "sector": {"macro_f1": 0.6}}}),
                                                 ("v2", "2026-11-20T10:00:00+00:00", {"test": {"score": 0.75}})], ["v2"])
    app_ctx.settings = app_ctx.settings.model_copy(update={"models_dir": root})
    an = await aiohttp_client(create_app(app_ctx))
    await login(an, "an")
    html = await (await an.get("/models")).text()
    assert 'data-version="v1"' in html and 'data-version="v2"' in html
    assert re.search(r'<tr class="active" data-version="v2">', html)
    assert "0,700" in html and "0,600" in html  # Russian decimal comma
    r = await an.post("/models/activate", data={"version": "v9", "csrf_token": csrf_of(html)}, allow_redirects=False)
    assert "Нет версии" in unquote(r.headers["Location"])
    adm = await aiohttp_client(create_app(app_ctx))
    await login(adm, "adm")
    audit = await (await adm.get("/audit")).text()
    assert "вход в систему" in audit and "an" in audit


async def test_only_http_links_to_originals(op, app_ctx):
    post_id = post_id_by_text(app_ctx, "Продаю гараж")
    with app_ctx.db.session() as s:
        s.get(Post, post_id).url = "javascript:alert(1)"
    html = await (await op.get("/review")).text()
    assert f'data-post-id="{post_id}"' in html
    assert "javascript:alert" not in html
