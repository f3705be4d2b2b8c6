"""Keyset pagination of the API and of every HTML list: each row once, in order, filters and scope kept."""

from __future__ import annotations

import html as htmllib
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from pipeline.accounts.users import add_token
from pipeline.incidents import sync_authorities
from storage import PostRecord, content_hash, upsert_posts, web_repo
from storage.models import AuditEntry, Incident
from tests.test_web_security import add_users, csrf_of, login, make_ctx
from web.app import create_app
from web.formatting import next_due

NOW = datetime.now(timezone.utc).replace(microsecond=0)
OPEN = ("new", "routed", "acknowledged", "answered", "reopened")


def _incident(region: str, authority_id: int | None, n: int, **fields) -> Incident:
    """Incident number n of a crowd: deadlines repeat (ties), some have none, states vary."""
    due = None if n % 11 == 0 else NOW + timedelta(hours=(n * 7) % 23 - 5)
    values = dict(
        region=region, title=f"Инцидент {n}", sector=("housing", "roads", "energy")[n % 3], category=None, state=OPEN[n % 5],
        authority_id=authority_id, created_at=NOW - timedelta(minutes=n), first_reply_due=due,
        interim_due=due + timedelta(days=1) if due else None, final_due=due + timedelta(days=5) if due else None,
    )
    if n % 4 == 0 and due is not None:  # first reply done: the inbox orders by the interim deadline
        values["first_reply_at"] = due - timedelta(hours=1)
    values.update(fields)
    return Incident(**values)


def _seed_crowd(app) -> None:
    with app.db.session() as s:
        sync_authorities(s, app.region)
        auths = web_repo.authorities(s, app.region.code)
        a, b = auths[0], auths[1]
        region = app.region.code
        for n in range(1, 131):
            s.add(_incident(region, a.id, n))
        for n in range(1, 8):
            s.add(_incident(region, a.id, 500 + n, state="resolved" if n % 2 else "rejected"))
        for n in range(1, 46):
            s.add(_incident(region, b.id, 1000 + n))
        for n in range(1, 13):
            s.add(_incident(region, None, 2000 + n, state="new"))
        s.flush()
        keep = s.scalar(select(Incident.id).where(Incident.authority_id == a.id).order_by(Incident.id))
        gone = s.scalar(select(Incident).where(Incident.authority_id == a.id, Incident.id != keep).order_by(Incident.id))
        gone.merged_into_id = keep  # merged incidents are never listed


@pytest.fixture
def crowd(db_url: str, seeded_databases):
    """130 incidents of authority A (some closed, some merged), 45 of B, 12 unrouted; users and an API token each.

    The incidents are stored once per backend in a session and copied for each test (``seeded_databases``)."""
    app = make_ctx(db_url)
    seeded_databases.fill(db_url, ("crowd", app.region.code, NOW), lambda: _seed_crowd(app))
    with app.db.session() as s:
        auths = web_repo.authorities(s, app.region.code)
        a, b = auths[0], auths[1]
        region = app.region.code
        tokens = {"a": add_token(s, region, a.code, NOW, "test"), "b": add_token(s, region, b.code, NOW, "test")}
        ids = {"a": a.id, "b": b.id}
        codes = {"a": a.code, "b": b.code}
    add_users(app, [("op", "operator", None), ("cur", "curator", None), ("adm", "admin", None), ("spec_a", "specialist", codes["a"])])
    yield {"app": app, "tokens": tokens, "auth": ids, "codes": codes}
    app.db.dispose()


def _deadline_order(incs: list[Incident]) -> list[int]:
    far = datetime.max.replace(tzinfo=timezone.utc)

    def due(i: Incident) -> datetime | None:
        return i.first_reply_due or i.interim_due or i.final_due

    return [i.id for i in sorted(incs, key=lambda i: (due(i) is None, due(i) or far, -i.id))]


def expected(app, **where) -> list[Incident]:
    with app.db.session() as s:
        stmt = select(Incident).where(Incident.merged_into_id.is_(None))
        for k, v in where.items():
            stmt = stmt.where(v) if k.startswith("_") else stmt.where(getattr(Incident, k) == v)
        return list(s.scalars(stmt))


async def api_walk(client, token: str, first: str) -> tuple[list[int], list[dict]]:
    h = {"Authorization": f"Bearer {token}"}
    ids, pages, url = [], [], first
    while url:
        r = await client.get(url, headers=h)
        assert r.status == 200, await r.text()
        body = await r.json()
        pages.append(body)
        ids += [i["id"] for i in body["incidents"]]
        url = body["next"]
        assert len(pages) < 100
    return ids, pages


# --------------------------------------------------------------------------- API


async def test_api_walks_every_incident_once_in_deadline_order(crowd, aiohttp_client):
    app = crowd["app"]
    client = await aiohttp_client(create_app(app))
    ids, pages = await api_walk(client, crowd["tokens"]["a"], "/api/incidents?limit=7")
    want = _deadline_order(expected(app, authority_id=crowd["auth"]["a"], _open=Incident.state.in_(OPEN)))
    assert len(want) == 129  # 130 open, one merged
    assert ids == want
    assert all(p["total"] == 129 and p["limit"] == 7 for p in pages)
    assert [len(p["incidents"]) for p in pages] == [7] * 18 + [3]
    assert pages[-1]["next"] is None and pages[-1]["next_cursor"] is None

    # default page size is 50; filters are kept in `next`
    ids, pages = await api_walk(client, crowd["tokens"]["a"], "/api/incidents?open=0&state=resolved&limit=2")
    assert all("state=resolved" in p["next"] and "open=0" in p["next"] for p in pages[:-1])
    assert sorted(ids) == sorted(i.id for i in expected(app, authority_id=crowd["auth"]["a"], state="resolved"))
    ids, pages = await api_walk(client, crowd["tokens"]["a"], "/api/incidents?open=0")
    assert [len(p["incidents"]) for p in pages] == [50, 50, 36] and len(set(ids)) == 136


async def test_api_paging_is_stable_while_incidents_arrive(crowd, aiohttp_client):
    app = crowd["app"]
    client = await aiohttp_client(create_app(app))
    h = {"Authorization": f"Bearer {crowd['tokens']['a']}"}
    first = await (await client.get("/api/incidents?limit=20", headers=h)).json()
    seen = [i["id"] for i in first["incidents"]]
    last_due = datetime.fromisoformat(first["incidents"][-1]["first_reply_due"])
    # new incidents arrive between two page requests: one sorts before the position reached, one at it, one after
    with app.db.session() as s:
        region = app.region.code
        early = _incident(region, crowd["auth"]["a"], 9001, first_reply_due=NOW - timedelta(days=3), interim_due=None, final_due=None, first_reply_at=None)
        tie = _incident(region, crowd["auth"]["a"], 9002, first_reply_due=last_due, interim_due=None, final_due=None, first_reply_at=None)
        late = _incident(region, crowd["auth"]["a"], 9003, first_reply_due=NOW + timedelta(days=30), interim_due=None, final_due=None, first_reply_at=None)
        s.add_all([early, tie, late])
        s.flush()
        new = {"early": early.id, "tie": tie.id, "late": late.id}
    rest, _ = await api_walk(client, crowd["tokens"]["a"], first["next"])
    walked = seen + rest
    assert len(walked) == len(set(walked)), "an incident was served twice"
    before = _deadline_order(expected(app, authority_id=crowd["auth"]["a"], _open=Incident.state.in_(OPEN), _old=Incident.id.not_in(list(new.values()))))
    assert [i for i in walked if i not in new.values()] == before, "an incident was skipped or moved"
    # the newest id sorts first among equal deadlines, i.e. before the position reached: not served in this walk
    assert new["early"] not in walked and new["tie"] not in walked and new["late"] in walked


async def test_api_rejects_bad_paging_parameters(crowd, aiohttp_client):
    client = await aiohttp_client(create_app(crowd["app"]))
    h = {"Authorization": f"Bearer {crowd['tokens']['a']}"}
    for query, word in (("limit=0", "limit"), ("limit=201", "limit"), ("limit=abc", "limit"), ("cursor=%%%", "cursor"),
                        ("cursor=eyJ4IjoxfQ", "cursor"), ("state=bogus", "state"), ("open=maybe", "open"), ("page=2", "page")):
        r = await client.get(f"/api/incidents?{query}", headers=h)
        assert r.status == 400, query
        assert word in (await r.json())["error"], query
    body = await (await client.get("/api/incidents?limit=200", headers=h)).json()
    assert len(body["incidents"]) == 129 and body["next"] is None
    # a cursor is valid only with the filters it was issued for
    first = await (await client.get("/api/incidents?limit=5&open=0", headers=h)).json()
    r = await client.get(f"/api/incidents?limit=5&open=1&cursor={first['next_cursor']}", headers=h)
    assert r.status == 400 and "фильтр" in (await r.json())["error"]


async def test_api_cursor_gives_no_access_to_another_authority(crowd, aiohttp_client):
    client = await aiohttp_client(create_app(crowd["app"]))
    a_ids, a_pages = await api_walk(client, crowd["tokens"]["a"], "/api/incidents?limit=10")
    # B's token replays A's cursors: positions only, B's own incidents only
    for page in a_pages[:-1]:
        r = await client.get(page["next"], headers={"Authorization": f"Bearer {crowd['tokens']['b']}"})
        body = await r.json()
        assert r.status == 200 and body["authority"] == crowd["codes"]["b"]
        assert not set(i["id"] for i in body["incidents"]) & set(a_ids)
    b_ids, _ = await api_walk(client, crowd["tokens"]["b"], "/api/incidents?limit=10")
    assert len(b_ids) == 45 and not set(b_ids) & set(a_ids)


async def test_openapi_documents_paging(client_openapi):
    op = client_openapi["paths"]["/api/incidents"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert {"state", "open", "limit", "cursor"} <= set(params)
    assert params["limit"]["schema"]["maximum"] == 200 and params["limit"]["schema"]["default"] == 50
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    props = client_openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert {"next", "next_cursor", "total", "incidents"} <= set(props)
    assert "400" in op["responses"]


@pytest.fixture
async def client_openapi(crowd, aiohttp_client):
    client = await aiohttp_client(create_app(crowd["app"]))
    return await (await client.get("/api/openapi.json")).json()


# --------------------------------------------------------------------------- HTML lists


def row_ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-incident-id="(\d+)"', page)]


def link(page: str, cls: str) -> str | None:
    m = re.search(rf'<a class="{cls}" rel="\w+" href="([^"]+)"', page)
    return htmllib.unescape(m.group(1)) if m else None


async def html_walk(client, first: str, rows=row_ids) -> tuple[list, list[str]]:
    got, pages, url = [], [], first
    while url:
        r = await client.get(url)
        assert r.status == 200, url
        page = await r.text()
        pages.append(page)
        got += rows(page)
        url = link(page, "next")
        assert len(pages) < 50
    return got, pages


async def test_incident_list_pages_keep_filters(crowd, aiohttp_client):
    app = crowd["app"]
    client = await aiohttp_client(create_app(app))
    await login(client, "op")
    ids, pages = await html_walk(client, "/incidents")
    assert ids == _deadline_order(expected(app))
    assert len(pages) == 4 and len(ids) == 193
    assert "Назад" in pages[1] and "Дальше" in pages[1] and "показано 50 из 193" in pages[0]
    assert '<span class="prev off">' in pages[0] and '<span class="next off">' in pages[-1]
    # «Назад» from page 3 gives page 2 again, row for row
    back = await (await client.get(link(pages[2], "prev"))).text()
    assert row_ids(back) == row_ids(pages[1])
    back = await (await client.get(link(back, "prev"))).text()
    assert row_ids(back) == row_ids(pages[0]) and '<span class="prev off">' in back

    ids, pages = await html_walk(client, f"/incidents?authority={crowd['auth']['a']}")
    assert len(pages) == 3 and all(f"authority={crowd['auth']['a']}" in link(p, "next") for p in pages[:-1])
    assert ids == _deadline_order(expected(app, authority_id=crowd["auth"]["a"]))
    ids, pages = await html_walk(client, "/incidents?sector=roads&state=")
    assert len(pages) == 2 and "sector=roads" in link(pages[0], "next")
    assert ids == _deadline_order(expected(app, sector="roads"))
    # a cursor made for other filters is refused with a clear message
    nxt = link(pages[0], "next")
    r = await client.get(nxt.replace("sector=roads", "sector=energy"))
    assert r.status == 400 and "других фильтров" in await r.text()


async def test_inbox_pages_in_next_deadline_order(crowd, aiohttp_client):
    app = crowd["app"]
    client = await aiohttp_client(create_app(app))
    await login(client, "cur")
    ids, pages = await html_walk(client, "/inbox")
    incs = expected(app, _open=Incident.state.in_(OPEN), _routed=Incident.authority_id.is_not(None))
    far = datetime.max.replace(tzinfo=timezone.utc)
    want = [i.id for i in sorted(incs, key=lambda i: (next_due(i, NOW)[1] or far, i.id))]
    assert ids == want and len(ids) == 129 + 45
    assert f"показано 50 из {len(want)}" in pages[0]


async def test_specialist_pages_hold_only_own_authority(crowd, aiohttp_client):
    app = crowd["app"]
    client = await aiohttp_client(create_app(app))
    await login(client, "spec_a")
    own = {i.id for i in expected(app, authority_id=crowd["auth"]["a"])}
    for first in ("/incidents", "/inbox", f"/incidents?authority={crowd['auth']['b']}", f"/inbox?authority={crowd['auth']['b']}"):
        ids, pages = await html_walk(client, first)
        assert set(ids) <= own, first
        assert len(ids) == len(set(ids))
    ids, _ = await html_walk(client, "/incidents")
    assert set(ids) == own
    # an operator's cursor deep into the full list shows the specialist nothing of another authority
    op = await aiohttp_client(create_app(app))
    await login(op, "op")
    _, op_pages = await html_walk(op, "/incidents")
    for p in op_pages[:-1]:
        page = await (await client.get(link(p, "next"))).text()
        assert set(row_ids(page)) <= own


async def test_review_queue_pages(crowd, aiohttp_client):
    from nlp.classifier import uncertainty

    app = crowd["app"]
    records = [PostRecord(platform="vk", source_key="vk:-1", external_id=f"p{n}", published_at=NOW - timedelta(minutes=n % 17), text=f"Жалоба номер {n}", url=None, author=None) for n in range(95)]
    with app.db.session() as s:
        upsert_posts(s, records)
        for n in range(95):
            post = web_repo.post_by_key(s, "vk", "vk:-1", f"p{n}")
            conf = (0.35, 0.5, 0.62, 0.8)[n % 4]  # ties in uncertainty and publication time: the post id decides
            web_repo.add_analysis(s, post_id=post.id, model_version="t", content_hash=content_hash(post.text), relevant=n % 9 != 0, relevance_confidence=conf,
                                  sector="housing", category="heating", urgency="high" if n % 10 == 0 else "normal", tone="negative", confidence=conf,
                                  unsure=True, municipality=None, created_at=NOW)  # the queue: unsure posts
    client = await aiohttp_client(create_app(app))
    await login(client, "op")
    ids, pages = await html_walk(client, "/review", rows=lambda p: [int(x) for x in re.findall(r'data-post-id="(\d+)"', p)])
    assert len(pages) == 2 and len(ids) == 95 and len(set(ids)) == 95
    with app.db.session() as s:
        entries = {e.post_id: e for e in web_repo.review_queue_entries(s)}
    key = [(0 if entries[i].urgency == "high" else 1, -uncertainty(entries[i]), entries[i].published_at, i) for i in ids]
    assert key == sorted(key)
    assert '<span class="count" id="review-count">95</span>' in pages[0]
    # a decision on page 1 does not disturb the way forward
    first = pages[0]
    first_on_1 = int(re.search(r'data-post-id="(\d+)"', first).group(1))
    r = await client.post(f"/review/{first_on_1}", data={"decision": "not_problem", "comment": "реклама", "csrf_token": csrf_of(first)}, allow_redirects=False)
    assert r.status == 303
    page2 = await (await client.get(link(first, "next"))).text()
    assert re.findall(r'data-post-id="(\d+)"', page2) == re.findall(r'data-post-id="(\d+)"', pages[1])


async def test_audit_log_pages(crowd, aiohttp_client):
    app = crowd["app"]
    with app.db.session() as s:
        for n in range(260):
            web_repo.audit(s, "tester", "test.step", f"post:{n}", {"n": n}, NOW - timedelta(seconds=n // 3))  # three entries a second: ties
    client = await aiohttp_client(create_app(app))
    await login(client, "adm")
    steps, pages = await html_walk(client, "/audit", rows=lambda p: [int(x) for x in re.findall(r"<td>пост №(\d+)</td>", p)])
    assert len(pages) == 3
    with app.db.session() as s:
        order = [int(t.split(":")[1]) for t in s.scalars(select(AuditEntry.target).where(AuditEntry.action == "test.step").order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))]
    assert steps == order and len(steps) == 260
    back = await (await client.get(link(pages[2], "prev"))).text()
    assert re.findall(r"<td>пост №(\d+)</td>", back) == re.findall(r"<td>пост №(\d+)</td>", pages[1])
