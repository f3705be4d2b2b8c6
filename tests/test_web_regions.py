"""The web in a deployment of two regions: a user of one region reads nothing of the other's, whatever the way in
(the page of an incident by id, lists, CSV, dashboard, report, review queue and its actions, API); a federal user
sees a summary of every region and picks the one the pages show; times are shown in the region's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from config import load_settings
from pipeline.accounts.users import add_token
from pipeline.context import App
from pipeline.incidents import ingest_analysis, sync_authorities
from storage import PostRecord, content_hash, upsert_posts, web_repo
from storage.models import Incident, Post, User
from storage.sources import get_or_create_source
from tests.test_web_security import PW_HASH, login, page_csrf
from web.app import create_app

NOW = datetime.now(timezone.utc).replace(microsecond=0)
#: Pskov's own posts (the project's texts): a sure problem, and one the model is unsure of
PSKOV_PROBLEM = "Во Пскове на Рижском проспекте третий день нет горячей воды в доме 16"
PSKOV_UNSURE = "На Октябрьском проспекте во Пскове опять темно во дворе, кто отвечает за фонари"


def _pskov(app: App) -> tuple[int, int]:
    """A Pskov incident and a Pskov post waiting for review; returns their ids."""
    profile = app.profile("pskov")
    with app.db.session() as s:
        sync_authorities(s, profile)
        src, _ = get_or_create_source(s, "vk", "wall", "pskov_live", url="https://vk.com/pskov_live")
        src.region = "pskov"
        s.flush()
        at = NOW - timedelta(hours=30)
        ids = upsert_posts(s, [PostRecord("vk", "pskov_live", "p1", at, PSKOV_PROBLEM, url="https://vk.com/wall-9_1"),
                               PostRecord("vk", "pskov_live", "p2", at, PSKOV_UNSURE, url="https://vk.com/wall-9_2")],
                           source_id=src.id).post_ids
        made = None
        for pid, text, unsure in ((ids[0], PSKOV_PROBLEM, False), (ids[1], PSKOV_UNSURE, True)):
            post = s.get_one(Post, pid)
            assert post.region == "pskov"
            a = web_repo.add_analysis(s, post_id=pid, model_version="sample-1", content_hash=content_hash(text), relevant=True,
                                      relevance_confidence=0.9, sector="housing", category="water_supply", urgency="normal",
                                      tone="negative", confidence=0.45 if unsure else 0.9, unsure=unsure, municipality="pskov",
                                      created_at=at)
            post.processed_at = at
            inc = ingest_analysis(s, profile, post, a, at + timedelta(minutes=5))
            made = made or (inc.id if inc is not None else None)
        assert made is not None
        return made, ids[1]


@pytest.fixture
def two(db_url: str, seed_sample_once):
    settings = load_settings(env={}).model_copy(update={"database_url": db_url, "secret_key": "test-secret-" + "k" * 20,
                                                        "regions": ["pskov"]})
    app = App(settings=settings)
    seed_sample_once(app, NOW)  # Kuzbass, the default region
    pskov_incident, pskov_post = _pskov(app)
    with app.db.session() as s:
        kuz = list(s.scalars(select(Incident.id).where(Incident.region == "kuzbass")))
        pskov_authority = s.get_one(Incident, pskov_incident).authority_id
        code = web_repo.authority_names(s, [pskov_authority])[pskov_authority].code
        for login_, role, region in (("op_k", "operator", "kuzbass"), ("op_p", "operator", "pskov"), ("fed", "curator", None),
                                     ("adm_p", "admin", "pskov")):
            web_repo.add_user(s, login_, PW_HASH, role, None).region = region
        web_repo.add_user(s, "spec_p", PW_HASH, "specialist", pskov_authority)
        token_p = add_token(s, "pskov", code, NOW, "test")
    yield {"app": app, "pskov_incident": pskov_incident, "pskov_post": pskov_post, "kuz": kuz, "token_p": token_p}
    app.db.dispose()


@pytest.fixture
async def client(two, aiohttp_client):
    return await aiohttp_client(create_app(two["app"]))


async def test_a_user_of_one_region_reads_nothing_of_another(two, client):
    inc = two["pskov_incident"]
    assert (await login(client, "op_k")).status == 303
    r = await client.get(f"/incidents/{inc}")
    assert r.status == 404  # not even its existence
    for path in ("/incidents", "/incidents?state=all", f"/incidents?q={inc}", "/incidents.csv", "/dashboard", "/review",
                 f"/reports/{NOW:%Y-%m}.html"):
        r = await client.get(path)
        assert r.status == 200, path
        text = await r.text()
        assert "Рижском" not in text and "Октябрьском" not in text and "Псков" not in text and "pskov_live" not in text, path
    assert f"/incidents/{inc}\"" not in await (await client.get("/incidents")).text()
    xlsx = await client.get(f"/reports/{NOW:%Y-%m}.xlsx")
    assert xlsx.status == 200
    # acting on the other region's post or incident by id is refused too
    token = await page_csrf(client, "/review")
    r = await client.post(f"/review/{two['pskov_post']}", data={"decision": "not_problem", "comment": "спам", "csrf_token": token},
                          headers={"Accept": "application/json"})
    assert r.status == 404
    r = await client.post(f"/incidents/{inc}/state", data={"action": "reject", "reason": "x", "csrf_token": token})
    assert r.status == 404
    assert (await client.get("/regions")).status == 404  # no summary of other regions for a user of one
    token = await page_csrf(client, "/review")
    assert (await client.post("/regions/pskov", data={"csrf_token": token})).status == 404
    client.session.cookie_jar.update_cookies({"cur_region": "pskov"})  # a forged choice changes nothing
    assert (await client.get(f"/incidents/{inc}")).status == 404


async def test_the_region_user_sees_their_own_region_in_its_time_zone(two, client):
    inc = two["pskov_incident"]
    assert (await login(client, "op_p")).status == 303
    r = await client.get(f"/incidents/{inc}")
    assert r.status == 200
    page = await r.text()
    with two["app"].db.session() as s:
        due = s.get_one(Incident, inc).first_reply_due
    moscow = due.astimezone(timezone(timedelta(hours=3))).strftime("%d.%m.%Y %H:%M")
    kuzbass = due.astimezone(timezone(timedelta(hours=7))).strftime("%d.%m.%Y %H:%M")
    assert moscow in page and kuzbass not in page
    listing = await (await client.get("/incidents")).text()
    assert f"/incidents/{inc}" in listing and not any(f"/incidents/{k}\"" in listing for k in two["kuz"])
    assert (await client.get(f"/incidents/{two['kuz'][0]}")).status == 404
    review = await (await client.get("/review")).text()
    assert "Октябрьском" in review and "Весенней" not in review and "фонари не горят" not in review
    report = await (await client.get(f"/reports/{NOW:%Y-%m}.html")).text()
    assert "Псковская область" in report and "Кузбасс" not in report


async def test_a_specialist_and_an_api_token_stay_in_their_authoritys_region(two, client):
    assert (await login(client, "spec_p")).status == 303
    assert (await client.get(f"/incidents/{two['pskov_incident']}")).status == 200
    assert (await client.get(f"/incidents/{two['kuz'][0]}")).status in (403, 404)
    headers = {"Authorization": f"Bearer {two['token_p']}"}
    r = await client.get("/api/incidents", headers=headers)
    assert r.status == 200
    ids = {i["id"] for i in (await r.json())["incidents"]}
    assert ids == {two["pskov_incident"]}
    assert (await client.get(f"/api/incidents/{two['kuz'][0]}", headers=headers)).status in (403, 404)


async def test_a_federal_user_sees_every_region_and_picks_one(two, client):
    assert (await login(client, "fed")).status == 303
    summary = await (await client.get("/regions")).text()
    assert "Кемеровская область" in summary and "Псковская область" in summary and "МСК (UTC+03:00)" in summary and "МСК+4 (UTC+07:00)" in summary
    # the lists show the default region until another is picked
    listing = await (await client.get("/incidents")).text()
    assert f"/incidents/{two['kuz'][0]}" in listing and f"/incidents/{two['pskov_incident']}\"" not in listing
    # an incident opened by id (a link in a notification) shows in its own region, times in its time zone
    r = await client.get(f"/incidents/{two['pskov_incident']}")
    assert r.status == 200
    page = await r.text()
    with two["app"].db.session() as s:
        due = s.get_one(Incident, two["pskov_incident"]).first_reply_due
    assert due.astimezone(timezone(timedelta(hours=3))).strftime("%d.%m.%Y %H:%M") in page and "Псковская область" in page
    # picking is a form with the session's CSRF token: a link or a form from another site changes nothing
    assert (await client.get("/regions/pskov", allow_redirects=False)).status == 405
    assert (await client.post("/regions/pskov", data={}, allow_redirects=False)).status == 403
    listing = await (await client.get("/incidents")).text()
    assert f"/incidents/{two['kuz'][0]}" in listing
    token = await page_csrf(client, "/regions")
    r = await client.post("/regions/pskov", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 303
    listing = await (await client.get("/incidents")).text()
    assert not any(f"/incidents/{k}\"" in listing for k in two["kuz"])
    assert (await client.post("/regions/atlantis", data={"csrf_token": token})).status == 404
    with two["app"].db.session() as s:
        assert s.scalar(select(User.region).where(User.login == "fed")) is None


async def test_an_admin_of_a_region_manages_that_regions_users_only(two, client):
    assert (await login(client, "adm_p")).status == 303
    with two["app"].db.session() as s:
        ids = {u.login: u.id for u in s.scalars(select(User))}
    listing = await (await client.get("/users")).text()
    assert "op_p" in listing and "spec_p" in listing  # their own region's, and their authority's region's
    assert "op_k" not in listing and "fed" not in listing
    assert (await client.get(f"/users/{ids['op_k']}")).status == 404
    assert (await client.get(f"/users/{ids['op_p']}")).status == 200
    token = await page_csrf(client, "/users")
    r = await client.post(f"/users/{ids['op_k']}/active", data={"active": "0", "csrf_token": token})
    assert r.status == 404
    r = await client.post(f"/users/{ids['fed']}/password", data={"csrf_token": token})
    assert r.status == 404
    r = await client.post("/users", data={"login": "new_p", "role": "operator", "csrf_token": token})
    assert r.status == 200
    with two["app"].db.session() as s:
        assert s.scalar(select(User.region).where(User.login == "new_p")) == "pskov"
        assert s.scalar(select(User.is_active).where(User.login == "op_k")) is True
    r = await client.get("/audit")
    assert r.status == 200
    audit = await r.text()
    assert "new_p" in audit  # this admin's own action
    assert "op_k" not in audit and "fed" not in audit  # nothing of other regions' people


async def test_a_federal_admin_reads_everyones_audit(two, client):
    assert (await login(client, "op_k")).status == 303
    assert (await login(client, "fed")).status == 303
    r = await client.get("/audit")
    assert r.status == 200
    audit = await r.text()
    assert "op_k" in audit and "fed" in audit


# --------------------------------------------------------------------------- roles: the target user's region


def _fed_admin(two) -> dict[str, int]:
    """A federal admin ``adm_f``; returns every login's id."""
    with two["app"].db.session() as s:
        web_repo.add_user(s, "adm_f", PW_HASH, "admin", None)
        return {u.login: u.id for u in s.scalars(select(User))}


def _bound(two, login_: str) -> tuple[str | None, str | None, str | None]:
    """(role, the authority's region, the user's own region) of an account."""
    with two["app"].db.session() as s:
        u = s.scalar(select(User).where(User.login == login_))
        assert u is not None
        a = web_repo.authority_names(s, [u.authority_id]).get(u.authority_id) if u.authority_id else None
        return u.role, a.region if a else None, u.region


async def test_a_federal_admin_binds_a_user_to_an_authority_of_the_users_own_region(two, client):
    """The admin's page shows Kuzbass (the default region); the Pskov operator made a specialist with a code both
    regions have gets Pskov's authority, never Kuzbass's (whose incidents they would then read)."""
    ids = _fed_admin(two)
    assert (await login(client, "adm_f")).status == 303
    page = await (await client.get(f"/users/{ids['op_p']}")).text()
    assert 'value="curator"' in page and 'value="min_coal"' not in page  # the form offers Pskov's authorities
    token = await page_csrf(client, "/users")
    # a code only Kuzbass has (a forged field): refused, nothing changes
    r = await client.post(f"/users/{ids['op_p']}/role", data={"role": "specialist", "authority": "min_coal", "csrf_token": token},
                          allow_redirects=False)
    assert r.status == 303 and "Роль не изменена" in unquote(r.headers["Location"]) and "pskov" in unquote(r.headers["Location"])
    assert _bound(two, "op_p") == ("operator", None, "pskov")
    r = await client.post(f"/users/{ids['op_p']}/role", data={"role": "specialist", "authority": "curator", "csrf_token": token},
                          allow_redirects=False)
    assert r.status == 303 and "Роль «op_p»" in unquote(r.headers["Location"])
    assert _bound(two, "op_p") == ("specialist", "pskov", "pskov")
    # a federal user has no region to look the authority up in: refused, naming the field
    r = await client.post(f"/users/{ids['fed']}/role", data={"role": "specialist", "authority": "curator", "csrf_token": token},
                          allow_redirects=False)
    assert "поле «Регион»" in unquote(r.headers["Location"])
    assert _bound(two, "fed") == ("curator", None, None)
    # a Pskov specialist (region of their authority) made an operator stays a Pskov operator, not a federal one
    r = await client.post(f"/users/{ids['spec_p']}/role", data={"role": "operator", "csrf_token": token}, allow_redirects=False)
    assert "Роль «spec_p»" in unquote(r.headers["Location"])
    assert _bound(two, "spec_p") == ("operator", None, "pskov")


async def test_an_admin_of_a_region_cannot_change_the_role_of_another_regions_user(two, client):
    ids = _fed_admin(two)
    assert (await login(client, "adm_p")).status == 303
    token = await page_csrf(client, "/users")
    for target in ("op_k", "fed", "adm_f"):
        r = await client.post(f"/users/{ids[target]}/role", data={"role": "specialist", "authority": "curator", "csrf_token": token})
        assert r.status == 404, target
    assert _bound(two, "op_k") == ("operator", None, "kuzbass") and _bound(two, "adm_f") == ("admin", None, None)


def test_the_pipeline_looks_the_authority_up_in_the_target_users_region(two):
    from pipeline.accounts.users import AccountError, change_role, create_user

    ids = _fed_admin(two)
    app = two["app"]
    with app.db.session() as s:  # a Kuzbass-only code for a Pskov operator, whatever the caller passes
        with pytest.raises(AccountError, match="pskov"):
            change_role(s, "kuzbass", ids["op_p"], "specialist", "min_coal", NOW, "adm_f", ids["adm_f"], many_regions=True)
    with app.db.session() as s:  # an admin of Pskov cannot reach a Kuzbass user through the pipeline either
        with pytest.raises(AccountError, match="такого пользователя нет"):
            change_role(s, "kuzbass", ids["op_k"], "analyst", None, NOW, "adm_p", ids["adm_p"], many_regions=True, admin_region="pskov")
    with app.db.session() as s:  # a user created for Pskov gets a Pskov authority, never the region the page shows
        with pytest.raises(AccountError, match="региона пользователя"):
            create_user(s, "kuzbass", "spec_new", "specialist", "curator", NOW, "adm_f", user_region="pskov")
    with app.db.session() as s:
        user, _ = create_user(s, "pskov", "spec_new", "specialist", "curator", NOW, "adm_f", user_region="pskov")
        assert web_repo.authority_names(s, [user.authority_id])[user.authority_id].region == "pskov"
    assert _bound(two, "op_k") == ("operator", None, "kuzbass") and _bound(two, "op_p") == ("operator", None, "pskov")
