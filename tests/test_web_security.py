"""Web security: sessions, CSRF, login rate limit, roles, authority scoping in pages and API, OpenAPI."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from config import load_settings
from pipeline.accounts.users import add_token
from pipeline.context import App
from storage import web_repo
from storage.models import ApiToken, AuditEntry, Incident, Response, User
from tests.helpers import CHEAP_ARGON2
from web.app import create_app

NOW = datetime.now(timezone.utc)
PASSWORD = "correct-horse-1"
#: one real argon2id hash shared by the test users, at the suite's cheap costs: it is made at import,
#: before ``_cheap_argon2`` swaps the hasher, and every sign-in verifies it at the costs it carries
PW_HASH = PasswordHasher(**CHEAP_ARGON2).hash(PASSWORD)


def add_users(app: App, users: list[tuple[str, str, str | None]]) -> None:
    with app.db.session() as s:
        for login, role, code in users:
            auth = web_repo.authority_by_code(s, app.region.code, code) if code else None
            web_repo.add_user(s, login, PW_HASH, role, auth.id if auth else None)


def make_ctx(db_url: str) -> App:
    settings = load_settings(env={}).model_copy(update={"database_url": db_url, "secret_key": "test-secret-" + "k" * 20})
    return App(settings=settings)


@pytest.fixture
def world(db_url: str, seed_sample_once):
    """Sample posts and incidents, a user of every role, two specialists of different authorities."""
    app = make_ctx(db_url)
    seed_sample_once(app, NOW)
    with app.db.session() as s:
        incidents = list(s.scalars(select(Incident).where(Incident.authority_id.is_not(None)).order_by(Incident.id)))
        by_auth: dict[int, Incident] = {}
        for inc in incidents:
            by_auth.setdefault(inc.authority_id, inc)
        (auth_a, inc_a), (auth_b, inc_b) = list(by_auth.items())[:2]
        code_a = web_repo.authority_names(s, [auth_a])[auth_a].code
        code_b = web_repo.authority_names(s, [auth_b])[auth_b].code
        token_a = add_token(s, app.region.code, code_a, NOW, "test")
    add_users(app, [
        ("op", "operator", None), ("cur", "curator", None), ("an", "analyst", None), ("adm", "admin", None),
        ("spec_a", "specialist", code_a), ("spec_b", "specialist", code_b),
    ])
    yield {"app": app, "inc_a": inc_a.id, "inc_b": inc_b.id, "code_a": code_a, "code_b": code_b, "token_a": token_a, "auth_a": auth_a}
    app.db.dispose()


@pytest.fixture
async def client(world, aiohttp_client):
    return await aiohttp_client(create_app(world["app"]))


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


async def login(client, user: str, password: str = PASSWORD):
    page = await client.get("/login")
    token = csrf_of(await page.text())
    return await client.post("/login", data={"login": user, "password": password, "csrf_token": token, "next": "/"}, allow_redirects=False)


async def page_csrf(client, path: str) -> str:
    r = await client.get(path)
    assert r.status == 200, path
    return csrf_of(await r.text())


# --------------------------------------------------------------------------- sessions and passwords


async def test_passwords_are_argon2_and_cookie_flags(world, aiohttp_client):
    with world["app"].db.session() as s:
        hashes = list(s.scalars(select(User.password_hash)))
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(PASSWORD not in h for h in hashes)

    client = await aiohttp_client(create_app(world["app"]))
    r = await login(client, "op")
    assert r.status == 303
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and v.startswith("cur_session="))
    low = cookie.lower()
    assert "httponly" in low and "samesite=lax" in low and "secure" not in low

    # behind HTTPS the cookies also carry Secure (and a plain-HTTP client then cannot sign in)
    secure = await aiohttp_client(create_app(world["app"], secure_cookies=True))
    r = await secure.get("/login")
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and v.startswith("cur_login_csrf="))
    low = cookie.lower()
    assert "httponly" in low and "samesite=lax" in low and "secure" in low


async def test_pages_need_login_and_tampered_cookie_is_refused(client):
    r = await client.get("/review", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login?next=")
    assert (await login(client, "op", "wrong-password")).status == 401
    r = await login(client, "op")
    assert r.status == 303
    assert (await client.get("/review")).status == 200
    value = client.session.cookie_jar.filter_cookies(client.make_url("/"))["cur_session"].value
    payload, _, sig = value.rpartition(".")
    forged = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + sig
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"cur_session": forged}, response_url=client.make_url("/"))
    r = await client.get("/review", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")


async def test_login_next_is_local_only(client):
    page = await client.get("/login")
    token = csrf_of(await page.text())
    r = await client.post("/login", data={"login": "op", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/"


async def test_login_rate_limit(world, aiohttp_client):
    from tests.helpers import FakeClock

    # the limiter's clock stands still: the attempts are "at once" however long they take on a loaded machine
    client = await aiohttp_client(create_app(world["app"], clock=FakeClock(NOW).now))
    for _ in range(5):
        r = await login(client, "spec_a", "wrong-password")
        assert r.status == 401
        assert "Неверный логин или пароль" in await r.text()
    r = await login(client, "spec_a")  # even the right password is refused now
    assert r.status == 429
    assert "Слишком много неудачных попыток" in await r.text()
    # another login from the same address is not blocked
    assert (await login(client, "op")).status == 303
    with world["app"].db.session() as s:
        actions = [a for a, in s.execute(select(AuditEntry.action).where(AuditEntry.target == "spec_a"))]
    assert actions.count("login_failed") == 5 and "login_blocked" in actions


# --------------------------------------------------------------------------- CSRF


async def test_form_without_csrf_token_is_refused(client, world):
    await login(client, "spec_a")
    url = f"/incidents/{world['inc_a']}/answer"
    r = await client.post(url, data={"kind": "first_reply", "text": "Работаем"}, allow_redirects=False)
    assert r.status == 403
    assert "CSRF" in await r.text()
    r = await client.post(url, data={"kind": "first_reply", "text": "Работаем", "csrf_token": "forged"}, allow_redirects=False)
    assert r.status == 403
    with world["app"].db.session() as s:
        assert s.scalars(select(Response)).first() is None
    token = await page_csrf(client, f"/incidents/{world['inc_a']}")
    r = await client.post(url, data={"kind": "first_reply", "text": "Работаем", "csrf_token": token}, allow_redirects=False)
    assert r.status == 303
    with world["app"].db.session() as s:
        assert [x.text for x in s.scalars(select(Response))] == ["Работаем"]


async def test_login_form_without_csrf_is_refused(client):
    r = await client.post("/login", data={"login": "op", "password": PASSWORD}, allow_redirects=False)
    assert r.status == 403


# --------------------------------------------------------------------------- roles and scope


async def test_specialist_sees_and_changes_only_own_authority(client, world):
    await login(client, "spec_a")
    inbox = await (await client.get("/inbox")).text()
    assert f'data-incident-id="{world["inc_a"]}"' in inbox
    assert f'data-incident-id="{world["inc_b"]}"' not in inbox
    listing = await (await client.get("/incidents")).text()
    assert f'data-incident-id="{world["inc_b"]}"' not in listing
    r = await client.get(f"/incidents/{world['inc_b']}")
    assert r.status == 403
    assert "другому органу власти" in await r.text()
    assert (await client.get("/incidents/999999")).status == 404
    token = await page_csrf(client, f"/incidents/{world['inc_a']}")
    r = await client.post(f"/incidents/{world['inc_b']}/answer", data={"kind": "first_reply", "text": "чужой", "csrf_token": token}, allow_redirects=False)
    assert r.status == 403
    r = await client.post(f"/incidents/{world['inc_b']}/state", data={"action": "acknowledge", "csrf_token": token}, allow_redirects=False)
    assert r.status == 403
    # specialists do not manage incidents even their own
    r = await client.post(f"/incidents/{world['inc_a']}/reroute", data={"authority": world["code_b"], "reason": "x", "csrf_token": token}, allow_redirects=False)
    assert r.status == 403
    with world["app"].db.session() as s:
        assert s.scalars(select(Response)).first() is None
        assert s.get(Incident, world["inc_a"]).authority_id == world["auth_a"]
    assert (await client.get("/review")).status == 403
    assert (await client.get("/models")).status == 403


async def test_curator_sees_everything_but_cannot_act(client, world):
    await login(client, "cur")
    for path in ("/review", "/incidents", "/inbox", "/dashboard", "/models", "/audit", f"/incidents/{world['inc_b']}"):
        assert (await client.get(path)).status == 200, path
    page = await (await client.get(f"/incidents/{world['inc_a']}")).text()
    assert "Записать ответ" not in page and "Перенаправить" not in page
    token = csrf_of(page)
    r = await client.post(f"/incidents/{world['inc_a']}/answer", data={"kind": "first_reply", "text": "x", "csrf_token": token}, allow_redirects=False)
    assert r.status == 403
    r = await client.post("/review/1", data={"decision": "confirm", "csrf_token": token}, allow_redirects=False)
    assert r.status == 403
    r = await client.post("/models/rollback", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 403


async def test_analyst_sees_models_not_review(client):
    await login(client, "an")
    assert (await client.get("/models")).status == 200
    assert (await client.get("/review")).status == 403
    r = await client.get("/", allow_redirects=False)
    assert r.headers["Location"] == "/models"


# --------------------------------------------------------------------------- API


async def test_api_requires_token(client, world):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = await client.get("/api/incidents", headers=headers)
        assert r.status == 401
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
        body = await r.json()
        assert re.search("[а-я]", body["error"])
    r = await client.post(f"/api/incidents/{world['inc_a']}/responses", json={"kind": "first_reply", "text": "x"})
    assert r.status == 401


async def test_api_scoped_to_the_token_authority(client, world):
    h = {"Authorization": f"Bearer {world['token_a']}"}
    body = await (await client.get("/api/incidents", headers=h)).json()
    ids = {i["id"] for i in body["incidents"]}
    assert body["authority"] == world["code_a"] and world["inc_a"] in ids and world["inc_b"] not in ids
    r = await client.get(f"/api/incidents/{world['inc_b']}", headers=h)
    assert r.status == 403 and "error" in await r.json()
    r = await client.post(f"/api/incidents/{world['inc_b']}/responses", headers=h, json={"kind": "first_reply", "text": "x"})
    assert r.status == 403
    r = await client.post(f"/api/incidents/{world['inc_b']}/state", headers=h, json={"action": "acknowledge"})
    assert r.status == 403
    assert (await client.get("/api/incidents/999999", headers=h)).status == 404
    assert (await client.get("/api/nothing", headers=h)).status == 404
    with world["app"].db.session() as s:
        assert s.get(Incident, world["inc_b"]).state == "routed"
        assert s.scalars(select(Response)).first() is None


async def test_api_answer_and_state(client, world):
    h = {"Authorization": f"Bearer {world['token_a']}"}
    url = f"/api/incidents/{world['inc_a']}"
    r = await client.post(url + "/state", headers=h, json={"action": "acknowledge"})
    assert r.status == 200 and (await r.json())["state"] == "acknowledged"
    r = await client.post(url + "/responses", headers=h, json={"kind": "bogus", "text": "x"})
    assert r.status == 400 and "kind" in (await r.json())["error"]
    r = await client.post(url + "/responses", headers={**h, "Content-Type": "application/json"}, data="not json")
    assert r.status == 400
    r = await client.post(url + "/responses", headers=h, data="not json")  # text/plain
    assert r.status == 415
    r = await client.post(url + "/responses", headers=h, json={"kind": "first_reply", "text": "Бригада выехала", "author": "Иванов"})
    data = await r.json()
    assert r.status == 200 and data["state"] == "answered" and data["first_reply_at"]
    r = await client.post(url + "/state", headers=h, json={"action": "reject"})  # a reason is required: a client mistake, not a conflict
    assert r.status == 422 and "причин" in (await r.json())["error"]
    detail = await (await client.get(url, headers=h)).json()
    assert [x["text"] for x in detail["responses"]] == ["Бригада выехала"]
    assert detail["responses"][0]["channel"] == "api"
    with world["app"].db.session() as s:
        actors = {a for a, in s.execute(select(AuditEntry.actor).where(AuditEntry.action.like("api.%")))}
        assert actors == {f"api:{world['code_a']}"}
        assert s.scalars(select(ApiToken.token_hash)).first() != world["token_a"]


async def test_openapi_describes_every_route(client):
    r = await client.get("/api/openapi.json")
    spec = await r.json()
    assert spec["openapi"].startswith("3.")
    routes = set()
    for res in client.app.router.resources():
        info = res.get_info()
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/"):
            for route in res:
                routes.add((re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path), route.method.lower()))
    assert routes, "no API routes found"
    described = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert routes - {(p, "head") for p, _ in routes} <= described
    assert described <= routes | {(p, "head") for p, _ in routes}
    for p, ops in spec["paths"].items():
        for m, op in ops.items():
            assert op.get("responses"), (p, m)


def test_docs_roles_table_matches_permissions():
    from pipeline.accounts.roles import PERMISSIONS, ROLES

    doc = (Path(__file__).resolve().parent.parent / "docs" / "web.md").read_text(encoding="utf-8")
    seen = set()
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        perm = cells[0].split(" ")[0] if cells else ""
        if perm in PERMISSIONS and len(cells) == 1 + len(ROLES):
            granted = {role for role, cell in zip(ROLES, cells[1:]) if cell}
            assert granted == set(PERMISSIONS[perm]), perm
            seen.add(perm)
    assert seen == set(PERMISSIONS)
