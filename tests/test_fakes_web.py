"""The fakes page, the «возможный фейк» block of the review queue and of the incident page, confirm/dismiss, roles, CSRF, the API.

On SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from pipeline import fakes
from storage import web_repo
from storage.models import AuditEntry, FakeMark, Incident, IncidentPost
from tests.test_web_security import add_users, make_ctx
from tests.test_web_users import client_of, post_form

NOW = datetime.now(timezone.utc)
CLAIM = "В Мурманске вода из-под крана отравлена, пить её нельзя"


def seed_marks(app) -> dict:
    """A claim and two marks on posts of two open incidents of the sample."""
    with app.db.session() as s:
        c = fakes.add_claim(s, CLAIM, "Водоканал: вода в норме.", "https://example.org/r/1", "seed", NOW)
        links = list(s.scalars(select(IncidentPost).join(Incident, Incident.id == IncidentPost.incident_id)
                               .where(Incident.state.in_(("routed", "new")), Incident.merged_into_id.is_(None)).order_by(IncidentPost.post_id)))
        seen: dict[int, int] = {}
        for link in links:
            seen.setdefault(link.incident_id, link.post_id)
        (inc1, post1), (inc2, post2) = list(seen.items())[:2]
        for pid in (post1, post2):
            s.add(FakeMark(post_id=pid, claim_id=c.id, score=0.61, lemma_score=0.5, vector_score=0.72, threshold=0.45, origin="auto", marked_at=NOW))
        s.flush()
        marks = {m.post_id: m.id for m in s.scalars(select(FakeMark))}
        return {"claim": c.id, "inc1": inc1, "inc2": inc2, "mark1": marks[post1], "mark2": marks[post2]}


@pytest.fixture
def site(db_url: str, seed_sample_once):
    app = make_ctx(db_url)
    seed_sample_once(app, NOW)
    with app.db.session() as s:
        code = web_repo.authorities(s, app.region.code)[0].code
    add_users(app, [("op", "operator", None), ("cur", "curator", None), ("spec", "specialist", code), ("an", "analyst", None)])
    yield {"app": app, **seed_marks(app)}
    app.db.dispose()


async def test_registry_page_roles_csrf_and_audit(site, aiohttp_client):
    op = await client_of(site, aiohttp_client, "op")
    page = await (await op.get("/fakes")).text()
    assert 'href="/fakes"' in page and CLAIM in page and "Добавить утверждение" in page and "Порог сходства сейчас" in page
    assert "снижается на 0,05" in page  # the two-way tuning rule, said where the button is
    r = await op.post("/fakes", data={"claim": "Мост через Томь закроют на полгода", "refutation": "Нет."}, allow_redirects=False)
    assert r.status == 403  # no CSRF token
    r = await post_form(op, "/fakes", "/fakes", claim="Мост через Томь закроют на полгода", refutation="Администрация: не закроют.",
                        link="https://example.org/r/2")
    assert r.status == 303 and "добавлено в реестр" in unquote(r.headers["Location"])
    r = await post_form(op, "/fakes", "/fakes", claim="мост через томь закроют на  полгода", refutation="x")
    text = await r.text()
    assert r.status == 400 and "такое утверждение уже есть в реестре" in text and "мост через томь закроют на  полгода" in text  # the form keeps what was typed
    r = await post_form(op, "/fakes", "/fakes", claim="Вода отравлена", refutation="x")
    assert r.status == 400 and "не меньше трёх слов" in await r.text()

    cur = await client_of(site, aiohttp_client, "cur")
    page = await (await cur.get("/fakes")).text()
    assert CLAIM in page and "Добавить утверждение" not in page and "Подтвердить: фейк" not in page
    for who in ("spec",):
        c = await client_of(site, aiohttp_client, who)
        assert (await c.get("/fakes", allow_redirects=False)).status == 403
    an = await client_of(site, aiohttp_client, "an")
    assert (await an.get("/fakes")).status == 200
    with site["app"].db.session() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.action.like("fake_claim.%")).order_by(AuditEntry.id))]
    assert actions == ["fake_claim.add", "fake_claim.add"]  # the seed's and the operator's

    r = await post_form(op, f"/fakes/{site['claim']}/remove", "/fakes")
    assert r.status == 303
    r = await post_form(op, f"/fakes/{site['claim']}/remove", "/fakes")
    assert r.status == 303 and "уже снято с учёта" in unquote(r.headers["Location"])  # refused, said on the page


async def test_confirm_and_dismiss_from_the_review_queue_and_the_incident(site, aiohttp_client):
    op = await client_of(site, aiohttp_client, "op")
    queue = await (await op.get("/review")).text()
    assert 'id="fake-marks"' in queue and f'data-mark="{site["mark1"]}"' in queue and CLAIM in queue and "Подтвердить: фейк" in queue
    page = await (await op.get(f"/incidents/{site['inc1']}")).text()
    assert 'id="incident-fakes"' in page and CLAIM in page and "Водоканал: вода в норме." in page

    r = await post_form(op, f"/fakes/marks/{site['mark1']}", f"/incidents/{site['inc1']}", decision="confirm", back="incident")
    assert r.status == 303 and r.headers["Location"].startswith(f"/incidents/{site['inc1']}?")
    page = await (await op.get(f"/incidents/{site['inc1']}")).text()
    assert "подтверждено" in page and "возможный фейк" in page
    r = await post_form(op, f"/fakes/marks/{site['mark2']}", "/review", decision="dismiss", back="review")
    assert r.status == 303 and r.headers["Location"].startswith("/review?")
    r = await post_form(op, f"/fakes/marks/{site['mark2']}", "/review", decision="dismiss", back="review")
    assert r.status == 303 and "уже принято решение: отклонено" in unquote(r.headers["Location"])
    assert (await post_form(op, "/fakes/marks/999999", "/review", decision="confirm")).status == 404
    with site["app"].db.session() as s:
        assert s.get(Incident, site["inc1"]).is_possible_fake and not s.get(Incident, site["inc2"]).is_possible_fake
        assert {m.id: m.decision for m in s.scalars(select(FakeMark))} == {site["mark1"]: "confirmed", site["mark2"]: "dismissed"}
        assert s.scalars(select(FakeMark.decided_by)).all() == ["op", "op"]
    assert 'id="fake-marks"' not in await (await op.get("/review")).text()  # nothing waits any more

    cur = await client_of(site, aiohttp_client, "cur")  # curators look, never decide
    assert (await post_form(cur, f"/fakes/marks/{site['mark1']}", "/fakes", decision="dismiss")).status == 403


async def test_dismissing_clears_the_flag_a_confirmation_set_and_keeps_a_hand_set_one(site, aiohttp_client):
    op = await client_of(site, aiohttp_client, "op")
    inc1, inc2 = site["inc1"], site["inc2"]
    await post_form(op, f"/fakes/marks/{site['mark1']}", f"/incidents/{inc1}", decision="confirm", back="incident")
    page = await (await op.get(f"/incidents/{inc1}")).text()
    assert "Отменить: не фейк" in page and '<span class="badge red">возможный фейк</span>' in page
    # the operator changes their mind on the incident page: the flag goes, an event says why
    r = await post_form(op, f"/fakes/marks/{site['mark1']}", f"/incidents/{inc1}", decision="dismiss", back="incident")
    assert r.status == 303 and "снята" in unquote(r.headers["Location"])
    page = await (await op.get(f"/incidents/{inc1}")).text()
    assert '<span class="badge red">возможный фейк</span>' not in page and "снята отметка «возможный фейк»" in page
    assert "Всё же фейк" in page
    # a flag set by hand (the incident's «Возможный фейк» button) is the operator's: dismissing a mark keeps it
    r = await post_form(op, f"/incidents/{inc2}/fake", f"/incidents/{inc2}")
    assert r.status == 303
    await post_form(op, f"/fakes/marks/{site['mark2']}", "/review", decision="dismiss", back="review")
    with site["app"].db.session() as s:
        assert not s.get(Incident, inc1).is_possible_fake and s.get(Incident, inc2).is_possible_fake
        kinds = [e.kind for e in web_repo.incident_events(s, inc1) if "fake" in e.kind]
        assert kinds == ["marked_fake", "unmarked_fake"]
        cleared = [e for e in web_repo.incident_events(s, inc1) if e.kind == "unmarked_fake"][0]
        assert cleared.actor == "op" and cleared.data["mark_id"] == site["mark1"]
        assert [e.kind for e in web_repo.incident_events(s, inc2) if "fake" in e.kind] == ["marked_fake"]
        actions = [(a.action, (a.data or {}).get("before")) for a in s.scalars(select(AuditEntry).where(AuditEntry.action.like("fake_mark.%")).order_by(AuditEntry.id))]
    assert actions == [("fake_mark.confirm", None), ("fake_mark.dismiss", "confirmed"), ("fake_mark.dismiss", None)]


async def test_the_review_card_of_a_marked_post_names_the_claim(site, aiohttp_client):
    from storage import analyses as qa

    with site["app"].db.session() as s:
        queued = qa.review_queue_entries(s)[0].post_id
        s.add(FakeMark(post_id=queued, claim_id=site["claim"], score=0.52, lemma_score=0.4, vector_score=0.64, threshold=0.45, origin="auto", marked_at=NOW))
    op = await client_of(site, aiohttp_client, "op")
    page = await (await op.get("/review")).text()
    card = page[page.index(f'id="post-{queued}"'):]
    card = card[:card.index("</article>")]
    assert "возможный фейк" in card and f"утверждение №{site['claim']}" in card and CLAIM in card and "0,52" in card
    more = await (await op.get("/review/more")).json()  # the cards fetched as the operator goes carry the note too
    assert isinstance(more["html"], str)


async def test_api_for_back_offices(site, aiohttp_client):
    from tests.test_web_security import add_token
    from web.app import create_app

    app = site["app"]
    with app.db.session() as s:
        inc = s.get(Incident, site["inc1"])
        code = web_repo.authority_names(s, [inc.authority_id])[inc.authority_id].code
        token = add_token(s, app.region.code, code, NOW, "test")
    c = await aiohttp_client(create_app(app))
    h = {"Authorization": f"Bearer {token}"}
    r = await c.get("/api/fakes", headers=h)
    data = await r.json()
    assert r.status == 200 and data["threshold"] == pytest.approx(0.45) and [x["claim"] for x in data["claims"]] == [CLAIM]
    r = await c.post("/api/fakes", json={"claim": "Мост через Томь закроют на полгода", "refutation": "Не закроют.", "link": "https://example.org/r/2"}, headers=h)
    body = await r.json()
    assert r.status == 200 and body["added_by"] == f"api:{code}" and body["active"] is True
    r = await c.post("/api/fakes", json={"claim": "Мост через Томь закроют на полгода", "refutation": "x"}, headers=h)
    assert r.status == 409 and "уже есть в реестре" in (await r.json())["error"]
    for bad, words in (({"claim": "Два слова", "refutation": "x"}, "не меньше трёх слов"), ({"claim": "a b c d", "refutation": 5}, "«refutation» должно быть строкой"),
                       ({"claim": "a b c d", "refutation": "x", "link": "ftp://x"}, "http")):
        r = await c.post("/api/fakes", json=bad, headers=h)
        assert r.status == 400 and words in (await r.json())["error"], bad
    assert (await c.get("/api/fakes")).status == 401
    r = await c.get(f"/api/incidents/{site['inc1']}", headers=h)
    marks = (await r.json())["fake_marks"]
    assert r.status == 200 and marks and marks[0]["claim"] == CLAIM and marks[0]["decision"] is None and marks[0]["score"] == pytest.approx(0.61)
    with app.db.session() as s:
        row = s.scalars(select(AuditEntry).where(AuditEntry.action == "fake_claim.add", AuditEntry.actor == f"api:{code}")).one()
        assert row.data["via"] == "api"
