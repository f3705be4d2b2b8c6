"""The review queue's endpoints through real HTTP: JSON decisions, reject reason, undo, filters,
read-only roles and scoping, and one definition of the queue shared with the processing report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from pipeline.process import process_pending
from storage import PostRecord, upsert_posts, web_repo
from storage import analyses as qa
from storage.models import AuditEntry, Incident, IncidentEvent, Post, ReviewDecision
from tests.test_web_security import add_users, csrf_of, login, make_ctx
from web.app import create_app

NOW = datetime.now(timezone.utc)
JSON = {"Accept": "application/json"}


@pytest.fixture
def app_ctx(db_url: str, seed_sample_once):
    app = make_ctx(db_url)
    seed_sample_once(app, NOW)
    add_users(app, [("op", "operator", None), ("op2", "operator", None), ("adm", "admin", None), ("cur", "curator", None), ("an", "analyst", None)])
    with app.db.session() as s:
        inc = s.scalar(select(Incident).where(Incident.authority_id.is_not(None)).order_by(Incident.id))
        code = web_repo.authority_names(s, [inc.authority_id])[inc.authority_id].code
    add_users(app, [("spec", "specialist", code)])
    yield app
    app.db.dispose()


async def signed_in(aiohttp_client, app, who: str):
    client = await aiohttp_client(create_app(app))
    assert (await login(client, who)).status == 303
    page = await client.get("/review" if who not in ("spec", "an") else "/incidents")
    client.csrf = csrf_of(await page.text())  # type: ignore[attr-defined]
    return client


def post_id_by_text(app, start: str) -> int:
    with app.db.session() as s:
        return s.scalar(select(Post.id).where(Post.text.like(start + "%")))


async def decide(client, post_id: int, **fields):
    r = await client.post(f"/review/{post_id}", data=fields, headers={**JSON, "X-CSRF-Token": client.csrf})
    return r.status, await r.json()


async def test_json_decision_and_undo_keep_history(app_ctx, aiohttp_client):
    op = await signed_in(aiohttp_client, app_ctx, "op")
    lamps = post_id_by_text(app_ctx, "не пойму куда писать")
    status, body = await decide(op, lamps, decision="confirm")
    assert status == 200 and body["ok"] and body["incident_id"] and "решение сохранено" in body["message"]
    incident_id, decision_id = body["incident_id"], body["decision_id"]
    html = await (await op.get("/review")).text()
    assert f'data-post-id="{lamps}"' not in html
    # a second decision on the same post (a double key press) is refused
    status, body = await decide(op, lamps, decision="fake")
    assert status == 409 and "уже принято" in body["error"]

    r = await op.post("/review/undo", data={"decision_id": str(decision_id)}, headers={**JSON, "X-CSRF-Token": op.csrf})
    body = await r.json()
    assert r.status == 200 and body["post_id"] == lamps and "отменено" in body["message"]
    html = await (await op.get("/review")).text()
    assert f'data-post-id="{lamps}"' in html  # back in the queue
    assert "(отменено)" in html
    with app_ctx.db.session() as s:
        d = s.get(ReviewDecision, decision_id)
        assert d is not None and d.reverted_at is not None and d.reverted_by == "op"  # the row stays
        assert web_repo.incident_of_post(s, lamps) is None
        kinds = [e.kind for e in s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id))]
        assert "review_undone" in kinds and "post_removed" in kinds and kinds[-1] == "rejected"
        assert s.get(Incident, incident_id).state == "rejected"
        audit = [a for a, in s.execute(select(AuditEntry.action).where(AuditEntry.actor == "op"))]
        assert "review.confirm" in audit and "review.undo" in audit
    # undone once; a second undo of the same decision is refused
    r = await op.post("/review/undo", data={"decision_id": str(decision_id)}, headers={**JSON, "X-CSRF-Token": op.csrf})
    assert r.status == 409 and "уже отменено" in (await r.json())["error"]
    # decided again after the undo: fine
    status, body = await decide(op, lamps, decision="correct", classification="improvement:street_lighting", urgency="high")
    assert status == 200


async def test_undo_without_id_takes_own_last_decision_only(app_ctx, aiohttp_client):
    op = await signed_in(aiohttp_client, app_ctx, "op")
    op2 = await signed_in(aiohttp_client, app_ctx, "op2")
    garage = post_id_by_text(app_ctx, "Продаю гараж")
    status, body = await decide(op, garage, decision="not_problem", comment="объявление")
    assert status == 200
    r = await op2.post("/review/undo", data={}, headers={**JSON, "X-CSRF-Token": op2.csrf})
    assert r.status == 409 and "Нечего отменять" in (await r.json())["error"]
    r = await op2.post("/review/undo", data={"decision_id": str(body["decision_id"])}, headers={**JSON, "X-CSRF-Token": op2.csrf})
    assert r.status == 403 and "только своё" in (await r.json())["error"]
    r = await op.post("/review/undo", data={}, headers={**JSON, "X-CSRF-Token": op.csrf})
    assert r.status == 200 and (await r.json())["post_id"] == garage


async def test_correct_undo_restores_the_class(app_ctx, aiohttp_client):
    op = await signed_in(aiohttp_client, app_ctx, "op")
    pipe = post_id_by_text(app_ctx, "На Молодёжной опять прорвало")
    status, body = await decide(op, pipe, decision="confirm")
    incident_id = body["incident_id"]
    # the same post, undone and corrected: a brand new incident of the corrected class
    await op.post("/review/undo", data={}, headers={**JSON, "X-CSRF-Token": op.csrf})
    status, body = await decide(op, pipe, decision="correct", classification="roads:road_surface", urgency="normal")
    assert status == 200
    with app_ctx.db.session() as s:
        inc = web_repo.incident_of_post(s, pipe)
        assert inc.sector == "roads" and inc.id != incident_id


async def test_reject_needs_a_reason_and_bad_values_are_refused_in_russian(app_ctx, aiohttp_client):
    op = await signed_in(aiohttp_client, app_ctx, "op")
    garage = post_id_by_text(app_ctx, "Продаю гараж")
    for fields, status, text in [
        ({"decision": "not_problem"}, 400, "Укажите причину"),
        ({"decision": "not_problem", "comment": "   "}, 400, "Укажите причину"),
        ({"decision": "maybe"}, 400, "Неизвестное решение"),
        ({"decision": "correct", "classification": "housing:nope"}, 400, "Неизвестные направление и категория"),
        ({"decision": "merge", "incident_id": ""}, 400, "укажите номер инцидента"),
        ({"decision": "merge", "incident_id": "99999999"}, 404, "Не найдено"),
    ]:
        got, body = await decide(op, garage, **fields)
        assert got == status and text in body["error"], (fields, body)
    got, body = await decide(op, 99999999, decision="confirm")
    assert got == 404 and "Пост не найден" in body["error"]
    with app_ctx.db.session() as s:
        assert s.scalar(select(ReviewDecision).where(ReviewDecision.post_id == garage)) is None


async def test_read_only_roles_get_no_actions_and_are_refused(app_ctx, aiohttp_client):
    lamps = post_id_by_text(app_ctx, "не пойму куда писать")
    cur = await signed_in(aiohttp_client, app_ctx, "cur")
    html = await (await cur.get("/review")).text()
    assert 'data-post-id="' in html
    assert "form" not in re.sub(r'<form method="(get|post)" action="/(review"|logout")', "", html).split("<main>")[1].split('id="queue"')[1]
    assert "Подтвердить" not in html and "<kbd>Enter</kbd>" not in html and "только для просмотра" in html
    for who in ("cur", "spec", "an"):
        client = cur if who == "cur" else await signed_in(aiohttp_client, app_ctx, who)
        status, body = await decide(client, lamps, decision="confirm")
        assert status == 403 and "Недостаточно прав" in body["error"], who
        r = await client.post("/review/undo", data={}, headers={**JSON, "X-CSRF-Token": client.csrf})
        assert r.status == 403
    with app_ctx.db.session() as s:
        assert s.scalar(select(ReviewDecision)) is None


async def test_a_post_of_another_region_cannot_be_decided(app_ctx, aiohttp_client):
    op = await signed_in(aiohttp_client, app_ctx, "op")
    lamps = post_id_by_text(app_ctx, "не пойму куда писать")
    pipe = post_id_by_text(app_ctx, "На Молодёжной опять прорвало")
    status, body = await decide(op, lamps, decision="confirm")
    await op.post("/review/undo", data={}, headers={**JSON, "X-CSRF-Token": op.csrf})
    with app_ctx.db.session() as s:
        other = s.get(Incident, body["incident_id"])
        other.region = "spb"  # an incident of another region (a database shared by two regions)
        from storage import incidents as q

        q.attach_post(s, other, lamps, NOW)
    status, body2 = await decide(op, lamps, decision="fake")
    assert status == 403 and "другого региона" in body2["error"]
    status, body3 = await decide(op, pipe, decision="merge", incident_id=str(body["incident_id"]))
    assert status == 403 and "другому региону" in body3["error"]


async def test_filters_and_more(app_ctx, aiohttp_client):
    op = await signed_in(aiohttp_client, app_ctx, "op")

    def ids(html: str) -> list[int]:
        return [int(x) for x in re.findall(r'data-post-id="(\d+)"', html)]

    everything = ids(await (await op.get("/review")).text())
    assert len(everything) == 6
    with app_ctx.db.session() as s:
        analyses = web_repo.latest_analyses(s, everything)
        posts = {p.id: p for p in s.scalars(select(Post).where(Post.id.in_(everything)))}
    for query, keep in [
        ("sector=housing", lambda i: analyses[i].sector == "housing"),
        ("urgency=high", lambda i: analyses[i].urgency == "high"),
        ("urgency=normal", lambda i: analyses[i].urgency != "high"),
        ("municipality=yurga", lambda i: analyses[i].municipality == "yurga"),
        ("source=vk%3A-100006", lambda i: posts[i].source_key == "vk:-100006"),
        ("q=" + "ОТОПЛЕНИЯ", lambda i: "отопления" in posts[i].text.lower()),
        ("q=" + "трубу", lambda i: "трубу" in posts[i].text),
        ("q=100%25", lambda i: False),
    ]:
        html = await (await op.get("/review?" + query)).text()
        got = ids(html)
        assert sorted(got) == sorted(i for i in everything if keep(i)), query
        assert f'<span class="count" id="review-count">{len(got)}</span>' in html and "из 6" in html
    today = NOW.astimezone(app_ctx.region.region.tz).date()
    html = await (await op.get(f"/review?from={today - timedelta(days=2)}&to={today}")).text()
    assert len(ids(html)) == 6
    html = await (await op.get(f"/review?to={today - timedelta(days=5)}")).text()
    assert ids(html) == []
    for bad in ("sector=nope", "urgency=soon", "from=2026-02-30", "municipality=atlantis"):
        r = await op.get("/review?" + bad)
        assert r.status == 400, bad
    # possible fake: the post's incident is marked
    lamps = post_id_by_text(app_ctx, "не пойму куда писать")
    assert ids(await (await op.get("/review?fake=1")).text()) == []
    with app_ctx.db.session() as s:
        from pipeline.incidents import mark_fake
        from storage import incidents as q

        inc = s.scalar(select(Incident).order_by(Incident.id))
        q.attach_post(s, inc, lamps, NOW)
        mark_fake(s, inc, "test", NOW)
    assert ids(await (await op.get("/review?fake=1")).text()) == [lamps]
    # or a mark of the fakes registry on the post itself (not once it is dismissed)
    garage = post_id_by_text(app_ctx, "Продаю гараж")
    with app_ctx.db.session() as s:
        from storage.models import FakeClaim, FakeMark

        claim = FakeClaim(claim="гаражи сносят", refutation="нет", claim_hash="x" * 64, added_by="test", created_at=NOW, updated_at=NOW)
        s.add(claim)
        s.flush()
        s.add(FakeMark(post_id=garage, claim_id=claim.id, score=0.9, lemma_score=0.9, vector_score=0.9, threshold=0.5, marked_at=NOW))
    assert sorted(ids(await (await op.get("/review?fake=1")).text())) == sorted([lamps, garage])
    with app_ctx.db.session() as s:
        s.scalar(select(FakeMark)).decision = "dismissed"
    assert ids(await (await op.get("/review?fake=1")).text()) == [lamps]
    # the next cards, as review.js asks for them: after the cursor, with the filters
    r = await op.get("/review/more?sector=housing")
    body = await r.json()
    assert sorted(ids(body["html"])) == sorted(i for i in everything if analyses[i].sector == "housing") and body["next"] == ""


async def test_taxonomy_is_sent_once(app_ctx, aiohttp_client):
    op = await signed_in(aiohttp_client, app_ctx, "op")
    html = await (await op.get("/review")).text()
    cards = html.count('<article class="card review')
    assert cards == 6
    profile = app_ctx.region
    some = profile.sectors[0].categories[0].name
    assert html.count(f"— {some}\"") == 1  # once, in the datalist
    assert html.count("<option") < 150 + 40  # the taxonomy once, plus the filters
    assert len(html.encode()) < 60_000


@dataclass
class Pred:
    relevant: bool
    relevance_confidence: float
    sector: str | None
    category: str | None
    urgency: str | None
    tone: str | None
    confidence: float
    unsure: bool
    model_version: str = "fake-1"


class FakeClassifier:
    """Relevant and sure, relevant and unsure, not relevant and unsure, not relevant: by the text's number."""

    def predict(self, texts, sectors=None, *, assume_relevant=None):
        out = []
        for t in texts:
            n = int(t.split("№")[1].split()[0])
            kind = n % 4
            out.append(Pred(kind in (0, 1), 0.9 if kind in (0, 3) else 0.5, "housing" if kind in (0, 1) else None,
                            "heating" if kind in (0, 1) else None, "normal", "negative", 0.9 if kind == 0 else 0.45, kind in (1, 2)))
        return out


def test_queue_count_is_what_processing_reports(sqlite_url):
    """«на проверку оператору» of ``cur process`` is the queue's count (the issue saw 274 vs 22)."""
    app = make_ctx(sqlite_url)
    records = [PostRecord(platform="vk", source_key="vk:-5", external_id=f"x{n}", published_at=NOW - timedelta(minutes=n),
                          text=f"Сообщение №{n} про отопление в доме {n}", url=None, author=None) for n in range(40)]
    with app.db.session() as s:
        upsert_posts(s, records)
    report = process_pending(app, NOW, classifier=FakeClassifier(), batch_size=7)
    assert report.processed == 40 and report.relevant == 20
    with app.db.session() as s:
        assert report.unsure == qa.review_queue_count(s) == len(qa.review_queue_entries(s)) == 20
        assert "на проверку оператору: 20" in str(report)
        # relevant and sure posts went straight into incidents: they are not in the queue
        entries = {e.post_id for e in qa.review_queue_entries(s)}
        analyses = web_repo.latest_analyses(s, list(entries))
        assert all(a.unsure for a in analyses.values())
        # a decision takes a post out of both; an undo puts it back
        first = min(entries)
    from pipeline.incidents import apply_review, undo_review

    with app.db.session() as s:
        d = apply_review(s, first, "not_problem", "op", NOW, comment="нет")
        assert qa.review_queue_count(s) == 19
        undo_review(s, d.id, "op", NOW)
        assert qa.review_queue_count(s) == 20
    app.db.dispose()


def test_undo_puts_back_what_each_decision_changed(app_ctx):
    """Undo on posts already in incidents: a correction's class, a fake mark, a post taken out."""
    from pipeline.incidents import apply_review, undo_review
    from pipeline.incidents.common import IncidentError

    profile = app_ctx.region
    with app_ctx.db.session() as s:
        incs = list(s.scalars(select(Incident).where(Incident.authority_id.is_not(None)).order_by(Incident.id)))
        a, b = incs[0], incs[1]
    with app_ctx.db.session() as s:
        from storage import incidents as q

        a = s.get(Incident, a.id)
        post_a = q.post_ids_of(s, a.id)[0]
        before = (a.sector, a.category, a.urgency, a.authority_id)
        d = apply_review(s, post_a, "correct", "op", NOW, sector="roads", category="road_surface", urgency="high", profile=profile)
        assert (a.sector, a.category, a.urgency) == ("roads", "road_surface", "high")
        undo_review(s, d.id, "op", NOW, profile=profile)
        assert (a.sector, a.category, a.urgency, a.authority_id) == before
        with pytest.raises(IncidentError, match="уже отменено"):
            undo_review(s, d.id, "op", NOW, profile=profile)

        d = apply_review(s, post_a, "fake", "op", NOW, comment="бот", profile=profile)
        assert a.is_possible_fake
        undo_review(s, d.id, "op", NOW, profile=profile)
        assert not a.is_possible_fake

        b = s.get(Incident, b.id)
        post_b = q.post_ids_of(s, b.id)[0]
        d = apply_review(s, post_b, "not_problem", "op", NOW, comment="нет", profile=profile)
        assert q.incident_of_post(s, post_b) is None and b.state == "rejected"  # its only post left
        with pytest.raises(IncidentError, match="уже закрыт"):
            undo_review(s, d.id, "op", NOW, profile=profile)
        kinds = [e.kind for e in s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == a.id).order_by(IncidentEvent.id))]
        assert kinds.count("review_undone") == 2 and kinds.count("reclassified") == 2
