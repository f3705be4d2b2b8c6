"""API tokens: the admin's /tokens page and `cur tokens list|revoke`; a revoked token is refused by the API at once."""

from __future__ import annotations

import os
import re
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from pipeline.accounts import tokens as api_tokens
from pipeline.accounts.passwords import hash_token
from storage import web_repo
from storage.models import ApiToken, AuditEntry
from tests.conftest import run_cur
from tests.test_web_security import add_users, csrf_of, login, make_ctx, page_csrf
from web.app import create_app

NOW = datetime.now(timezone.utc)
SHOWN = re.compile(r'<code class="secret" id="one-time-token">([^<]+)</code>')


@pytest.fixture
def site(db_url: str, seed_sample_once):
    app = make_ctx(db_url)
    seed_sample_once(app, NOW)
    with app.db.session() as s:
        auths = web_repo.authorities(s, app.region.code)
    a, b = auths[:2]
    add_users(app, [("adm", "admin", None), ("op", "operator", None), ("cur", "curator", None), ("an", "analyst", None), ("spec", "specialist", a.code)])
    yield {"app": app, "a": a.code, "b": b.code, "names": {x.code: x.name for x in auths}}
    app.db.dispose()


def issue(site, code: str, label: str | None = None) -> tuple[int, str]:
    with site["app"].db.session() as s:
        row, token = api_tokens.issue_token(s, site["app"].region.code, code, NOW, "test", label)
    return row.id, token


def token_row(site, token_id: int) -> ApiToken:
    with site["app"].db.session() as s:
        return s.get(ApiToken, token_id)


def audit_rows(site, action: str) -> list[AuditEntry]:
    with site["app"].db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


async def as_user(site, aiohttp_client, who: str):
    c = await aiohttp_client(create_app(site["app"]))
    assert (await login(c, who)).status == 303, who
    return c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- the web page


async def test_admin_issues_a_token_uses_it_and_revokes_it(site, aiohttp_client):
    adm = await as_user(site, aiohttp_client, "adm")
    page = await (await adm.get("/users")).text()
    assert 'href="/tokens"' in page  # nav and the users page link to it
    r = await adm.post("/tokens", data={"csrf_token": await page_csrf(adm, "/tokens"), "authority": site["a"], "label": "СЭД министерства"}, allow_redirects=False)
    assert r.status == 200
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer" and "Location" not in r.headers
    html = await r.text()
    token = SHOWN.search(html).group(1)
    assert token.startswith("cur_") and site["names"][site["a"]] in html and "один раз" in html
    with site["app"].db.session() as s:
        (t,) = s.scalars(select(ApiToken))
        assert t.token_hash == hash_token(token) and t.label == "СЭД министерства" and t.revoked_at is None
    token_id = t.id

    # the authority's system uses it
    api = await aiohttp_client(create_app(site["app"]))
    r = await api.get("/api/incidents", headers=bearer(token))
    assert r.status == 200 and (await r.json())["authority"] == site["a"]

    # the list shows it, without the token or its hash
    listing = await (await adm.get("/tokens")).text()
    row = re.search(rf'<tr class="" data-token="{token_id}">(.*?)</tr>', listing, re.S).group(1)
    assert site["names"][site["a"]] in row and "СЭД министерства" in row and "действует" in row and "Отозвать" in row
    assert token not in listing and t.token_hash not in listing

    # revoked from the page: the very next API request is refused
    r = await adm.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(listing)}, allow_redirects=False)
    assert r.status == 303 and "отозван" in unquote(r.headers["Location"])
    r = await api.get("/api/incidents", headers=bearer(token))
    assert r.status == 401 and "отозван" in (await r.json())["error"]
    r = await api.post("/api/incidents/1/state", headers=bearer(token), json={"action": "acknowledge"})
    assert r.status == 401
    listing = await (await adm.get("/tokens")).text()
    row = re.search(rf'<tr class="inactive" data-token="{token_id}">(.*?)</tr>', listing, re.S).group(1)
    assert "отозван" in row and "Отозвать" not in row

    # revoking again changes nothing and writes nothing
    revoked_at = token_row(site, token_id).revoked_at
    r = await adm.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(listing)}, allow_redirects=False)
    assert r.status == 303 and "уже был отозван" in unquote(r.headers["Location"])
    assert token_row(site, token_id).revoked_at == revoked_at

    # both actions are in the audit log, with the admin, the authority, the token number and the address; never the token
    (added,) = audit_rows(site, "token.add")
    (revoked,) = audit_rows(site, "token.revoke")
    for e in (added, revoked):
        assert e.actor == "adm" and e.target == f"authority:{site['a']}" and e.data["token_id"] == token_id and e.data.get("ip")
        assert token not in str(e.data) and t.token_hash not in str(e.data)
    assert added.data["label"] == "СЭД министерства"
    audit_page = await (await adm.get("/audit")).text()
    assert "token.revoke" in audit_page and token not in audit_page


async def test_revoking_one_token_leaves_the_others(site, aiohttp_client):
    first, t1 = issue(site, site["a"], "old")
    _, t2 = issue(site, site["a"], "new")
    _, t3 = issue(site, site["b"])
    adm = await as_user(site, aiohttp_client, "adm")
    r = await adm.post(f"/tokens/{first}/revoke", data={"csrf_token": await page_csrf(adm, "/tokens")}, allow_redirects=False)
    assert r.status == 303
    api = await aiohttp_client(create_app(site["app"]))
    assert (await api.get("/api/incidents", headers=bearer(t1))).status == 401
    assert (await (await api.get("/api/incidents", headers=bearer(t2))).json())["authority"] == site["a"]
    assert (await (await api.get("/api/incidents", headers=bearer(t3))).json())["authority"] == site["b"]


async def test_list_filters_and_never_shows_secrets(site, aiohttp_client):
    ids, secrets = {}, []
    for code, label in ((site["a"], "первый"), (site["a"], "второй"), (site["b"], "<b>чужой</b>")):
        i, tok = issue(site, code, label)
        ids[label], secrets = i, [*secrets, tok, hash_token(tok)]
    with site["app"].db.session() as s:
        api_tokens.revoke_token(s, site["app"].region.code, ids["первый"], NOW, "test")
    adm = await as_user(site, aiohttp_client, "adm")
    for query, expected in (("", {"первый", "второй", "<b>чужой</b>"}), (f"?authority={site['a']}", {"первый", "второй"}),
                            ("?state=active", {"второй", "<b>чужой</b>"}), (f"?authority={site['a']}&state=revoked", {"первый"})):
        page = await (await adm.get("/tokens" + query)).text()
        shown = {label for label, i in ids.items() if f'data-token="{i}"' in page}
        assert shown == expected, query
        assert not any(x in page for x in secrets), query
    page = await (await adm.get("/tokens")).text()
    assert "&lt;b&gt;чужой&lt;/b&gt;" in page  # labels are escaped
    for query, words in (("?authority=nope", "nope"), ("?state=lost", "state"), ("?cursor=zzz", "cursor")):
        r = await adm.get("/tokens" + query)
        assert r.status == 400 and words in await r.text(), query


async def test_issue_mistakes_are_refused(site, aiohttp_client):
    adm = await as_user(site, aiohttp_client, "adm")
    for data, words in (({"authority": ""}, "выберите орган власти"), ({"authority": "nope"}, "«nope»"), ({"authority": site["a"], "label": "x" * 256}, "длиннее 255")):
        r = await adm.post("/tokens", data={"csrf_token": await page_csrf(adm, "/tokens"), **data}, allow_redirects=False)
        page = await r.text()
        assert r.status == 400 and "Токен не выпущен" in page and words in page, data
        assert not SHOWN.search(page)
    with site["app"].db.session() as s:
        assert s.scalars(select(ApiToken)).first() is None
    assert audit_rows(site, "token.add") == []
    for number in ("99999", "9" * 25):  # unknown, and past any id column
        r = await adm.post(f"/tokens/{number}/revoke", data={"csrf_token": await page_csrf(adm, "/tokens")}, allow_redirects=False)
        assert r.status == 303 and f"№ {number}" in unquote(r.headers["Location"])


async def test_the_list_pages(site, aiohttp_client):
    with site["app"].db.session() as s:
        for n in range(53):
            api_tokens.issue_token(s, site["app"].region.code, site["a"], NOW + timedelta(seconds=n // 2), "test", f"t{n}")  # pairs share a time
        api_tokens.issue_token(s, site["app"].region.code, site["b"], NOW, "test", "other")
    adm = await as_user(site, aiohttp_client, "adm")
    url, seen = f"/tokens?authority={site['a']}", []
    while url:
        page = await (await adm.get(url)).text()
        seen += [int(i) for i in re.findall(r'data-token="(\d+)"', page)]
        m = re.search(r'<a class="next" rel="next" href="([^"]+)"', page)
        url = m.group(1).replace("&amp;", "&") if m else None
    with site["app"].db.session() as s:
        expected = [t.id for t in sorted(s.scalars(select(ApiToken).where(ApiToken.label != "other")), key=lambda t: (t.created_at, t.id), reverse=True)]
    assert seen == expected and len(seen) == 53


async def test_only_admins_reach_the_tokens_page(site, aiohttp_client):
    token_id, token = issue(site, site["a"])
    for who in ("op", "cur", "an", "spec"):
        c = await as_user(site, aiohttp_client, who)
        home = await (await c.get("/dashboard")).text()
        assert 'href="/tokens"' not in home
        assert (await c.get("/tokens")).status == 403
        csrf = csrf_of(home)
        assert (await c.post("/tokens", data={"csrf_token": csrf, "authority": site["a"]}, allow_redirects=False)).status == 403, who
        assert (await c.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf}, allow_redirects=False)).status == 403, who
    # an admin without the CSRF token is refused too
    adm = await as_user(site, aiohttp_client, "adm")
    for path, data in (("/tokens", {"authority": site["a"]}), (f"/tokens/{token_id}/revoke", {})):
        r = await adm.post(path, data=data, allow_redirects=False)
        assert r.status == 403 and "CSRF" in await r.text(), path
    with site["app"].db.session() as s:
        assert [t.id for t in s.scalars(select(ApiToken))] == [token_id]
    assert token_row(site, token_id).revoked_at is None
    assert audit_rows(site, "token.revoke") == []
    anon = await aiohttp_client(create_app(site["app"]))
    r = await anon.get("/tokens", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")
    assert (await anon.get("/api/incidents", headers=bearer(token))).status == 200


def test_two_revocations_at_once_write_one_entry(site):
    """Two admins revoke the same token at the same moment: one revokes it, the other is told it already was."""
    app = site["app"]
    token_id, _ = issue(site, site["a"])
    region = app.region.code
    first_holds_lock = threading.Event()
    outcome: dict[str, object] = {}

    def second() -> None:
        first_holds_lock.wait(10)
        with app.db.session() as s:
            outcome["second"] = api_tokens.revoke_token(s, region, token_id, NOW + timedelta(seconds=5), "adm2")

    t = threading.Thread(target=second)
    t.start()
    with app.db.session() as s:
        first = api_tokens.revoke_token(s, region, token_id, NOW, "adm")
        first_holds_lock.set()
        t.join(1.0)  # the second waits for this transaction
        assert t.is_alive()
    t.join(30)
    assert first.now_revoked and not outcome["second"].now_revoked
    assert outcome["second"].row.revoked_at == NOW == token_row(site, token_id).revoked_at
    assert [e.actor for e in audit_rows(site, "token.revoke")] == ["adm"]


# --------------------------------------------------------------------------- the CLI


async def test_cli_lists_and_revokes(site, cur, aiohttp_client):
    a1, t1 = issue(site, site["a"], "СЭД")
    a2, t2 = issue(site, site["a"])
    b1, t3 = issue(site, site["b"], "портал")
    api = await aiohttp_client(create_app(site["app"]))  # a running server, in this process
    assert (await api.get("/api/incidents", headers=bearer(t1))).status == 200

    # revoke by number (another process): the server refuses the token at the next request
    r = cur("tokens", "revoke", str(a1))
    assert r.returncode == 0 and f"№ {a1}" in r.stdout and "отозван" in r.stdout, r.stderr
    assert (await api.get("/api/incidents", headers=bearer(t1))).status == 401
    assert (await api.get("/api/incidents", headers=bearer(t2))).status == 200

    # again: nothing changes, still success; an unknown number fails, named, and revokes none of the others given with it
    r = cur("tokens", "revoke", str(a1))
    assert r.returncode == 0 and "уже был отозван" in r.stdout
    r = cur("tokens", "revoke", str(b1), "99999")
    assert r.returncode != 0 and "№ 99999" in r.stderr and "ничего не отозвано" in r.stderr
    assert token_row(site, b1).revoked_at is None

    # every token of one authority
    r = cur("tokens", "revoke", "--authority", site["a"], "--all")
    assert r.returncode == 0 and f"№ {a2}" in r.stdout and ": 1 " in r.stdout, r.stdout + r.stderr
    assert (await api.get("/api/incidents", headers=bearer(t2))).status == 401
    assert (await api.get("/api/incidents", headers=bearer(t3))).status == 200

    # the list: number, authority, label, issued, state — never a token or its hash
    r = cur("tokens", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("№\tорган власти")
    rows = {int(line.split("\t")[0]): line.split("\t") for line in lines[1:]}
    assert set(rows) == {a1, a2, b1}
    assert rows[a1][1:3] == [site["a"], "СЭД"] and rows[a2][2] == "—" and rows[b1][1:3] == [site["b"], "портал"]
    assert lines[0].split("\t")[4:] == ["последнее использование", "состояние"]
    assert rows[a1][5].startswith("отозван ") and rows[a2][5].startswith("отозван ") and rows[b1][5] == "действует"
    local = NOW.astimezone(site["app"].region.region.tz).strftime("%d.%m.%Y")
    assert all(row[3].startswith(local) for row in rows.values())
    # each was used by the API (before its revocation): the day of that use
    assert rows[a1][4].startswith(local) and rows[b1][4].startswith(local) and rows[a2][4].startswith(local)
    for secret in (t1, t2, t3, hash_token(t1), hash_token(t2), hash_token(t3)):
        assert secret not in r.stdout + r.stderr

    revoked = audit_rows(site, "token.revoke")
    assert sorted(e.data["token_id"] for e in revoked) == sorted([a1, a2])
    assert all(e.actor.startswith("cli") and e.target == f"authority:{site['a']}" for e in revoked)


def test_cli_usage_mistakes(sqlite_url: str, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
    env.update(CUR_DATABASE_URL=sqlite_url, PYTHONIOENCODING="utf-8")
    for args, words in ((["revoke"], "укажите номер"), (["revoke", "--authority", "x"], "--all"), (["revoke", "1", "--authority", "x", "--all"], "не то и другое"),
                        (["revoke", "--authority", "no_such", "--all"], "«no_such»"), (["list", "--authority", "no_such"], "«no_such»")):
        r = run_cur(["tokens", *args], env=env, cwd=tmp_path)
        assert r.returncode != 0 and words in r.stderr, (args, r.stderr)


# --------------------------------------------------------------------------- last use


class Clock:
    """The application's clock, moved by the test."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def token_writes(engine) -> list[str]:
    """Every write of ``api_tokens.last_used_at`` the database is sent from now on (a real listener on the engine)."""
    from sqlalchemy import event

    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS SET LAST_USED_AT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    return seen


async def test_the_api_records_last_use_at_most_once_a_minute(site, aiohttp_client):
    token_id, token = issue(site, site["a"], "СЭД")
    other_id, _ = issue(site, site["b"])
    t0 = datetime(2026, 11, 20, 8, 30, 15, tzinfo=timezone.utc)
    clock = Clock(t0)
    api = await aiohttp_client(create_app(site["app"], clock=clock))
    writes = token_writes(site["app"].db.engine)

    assert token_row(site, token_id).last_used_at is None
    assert (await api.get("/api/incidents", headers=bearer(token))).status == 200
    assert token_row(site, token_id).last_used_at == t0 and len(writes) == 1
    # a busy minute: twenty requests (reads and a refused write among them), no further write
    for i in range(20):
        clock.at = t0 + timedelta(seconds=2 * i + 1)
        if i % 5 == 0:
            r = await api.post("/api/incidents/999999/state", headers=bearer(token), json={"action": "acknowledge"})
            assert r.status == 404
        else:
            assert (await api.get("/api/incidents", headers=bearer(token))).status == 200
    clock.at = t0 + timedelta(seconds=59)
    assert (await api.get("/api/incidents", headers=bearer(token))).status == 200
    assert token_row(site, token_id).last_used_at == t0 and len(writes) == 1
    # a minute after the recorded use: recorded again
    clock.at = t0 + timedelta(seconds=60)
    assert (await api.get("/api/incidents", headers=bearer(token))).status == 200
    assert token_row(site, token_id).last_used_at == t0 + timedelta(seconds=60) and len(writes) == 2
    assert token_row(site, other_id).last_used_at is None  # the other token was not used
    # a bad or revoked token records nothing
    with site["app"].db.session() as s:
        api_tokens.revoke_token(s, site["app"].region.code, token_id, t0, "test")
    clock.at = t0 + timedelta(hours=1)
    assert (await api.get("/api/incidents", headers=bearer(token))).status == 401
    assert (await api.get("/api/incidents", headers=bearer("cur_nonsense"))).status == 401
    assert token_row(site, token_id).last_used_at == t0 + timedelta(seconds=60) and len(writes) == 2

    # the admin sees it on /tokens, in local time; the unused one says so
    adm = await as_user(site, aiohttp_client, "adm")
    listing = await (await adm.get("/tokens")).text()
    assert "Последнее использование" in listing
    shown = (t0 + timedelta(seconds=60)).astimezone(site["app"].region.region.tz).strftime("%d.%m.%Y %H:%M")
    row = re.search(rf'<tr class="inactive" data-token="{token_id}">(.*?)</tr>', listing, re.S).group(1)
    assert f'<td class="last-used">{shown}</td>' in row
    row = re.search(rf'<tr class="" data-token="{other_id}">(.*?)</tr>', listing, re.S).group(1)
    assert '<td class="last-used">не использовался</td>' in row


async def test_dormant_tokens_are_listed_on_their_own(site, cur, aiohttp_client):
    now = datetime.now(timezone.utc)
    clock = Clock(now - timedelta(days=40))
    api = await aiohttp_client(create_app(site["app"], clock=clock))
    old_id, old = issue(site, site["a"], "старый")
    never_id, _ = issue(site, site["a"], "не подключён")
    _, fresh = issue(site, site["b"], "рабочий")
    gone_id, gone = issue(site, site["b"], "отозванный")
    for t in (old, fresh, gone):
        assert (await api.get("/api/incidents", headers=bearer(t))).status == 200
    clock.at = now - timedelta(days=2)
    assert (await api.get("/api/incidents", headers=bearer(fresh))).status == 200
    with site["app"].db.session() as s:
        api_tokens.revoke_token(s, site["app"].region.code, gone_id, now, "test")

    adm = await as_user(site, aiohttp_client, "adm")
    listing = await (await adm.get("/tokens?state=dormant")).text()
    assert sorted(int(i) for i in re.findall(r'data-token="(\d+)"', listing)) == sorted([old_id, never_id])
    assert 'value="dormant" selected' in listing and "не использовались 30 дней" in listing
    assert (await adm.get("/tokens?state=sleepy")).status == 400

    r = cur("tokens", "list", "--dormant")
    assert r.returncode == 0, r.stderr
    rows = {int(line.split("\t")[0]): line.split("\t") for line in r.stdout.splitlines()[1:]}
    assert set(rows) == {old_id, never_id}
    assert rows[never_id][4] == "не использовался"
    assert rows[old_id][4].startswith((now - timedelta(days=40)).astimezone(site["app"].region.region.tz).strftime("%d.%m.%Y"))
    assert "минуты" in r.stderr
    r = cur("tokens", "list", "--dormant", "--authority", site["b"])
    assert r.returncode == 0 and r.stdout.strip() == "Таких токенов нет."
