"""The users page: admins create accounts, reset passwords, (de)activate, change roles; everyone changes their own password."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import select

from pipeline.accounts import users as accounts
from storage import web_repo
from storage.models import AuditEntry, User
from tests.test_web_security import PASSWORD, add_users, csrf_of, login, make_ctx, page_csrf
from web.app import create_app

NOW = datetime.now(timezone.utc)
SHOWN = re.compile(r'<code class="secret" id="one-time-password">([^<]+)</code>')


@pytest.fixture
def site(db_url: str, seed_sample_once):
    app = make_ctx(db_url)
    seed_sample_once(app, NOW)
    with app.db.session() as s:
        auths = web_repo.authorities(s, app.region.code)
    codes = [a.code for a in auths[:2]]
    add_users(app, [("adm", "admin", None), ("adm2", "admin", None), ("op", "operator", None), ("cur", "curator", None), ("spec", "specialist", codes[0])])
    yield {"app": app, "codes": codes, "names": {a.code: a.name for a in auths}}
    app.db.dispose()


async def client_of(site, aiohttp_client, who: str | None = None, password: str = PASSWORD):
    c = await aiohttp_client(create_app(site["app"]))
    if who:
        r = await login(c, who, password)
        assert r.status == 303, who
    return c


def user(site, login: str) -> User:
    with site["app"].db.session() as s:
        return web_repo.user_by_login(s, login)


def audit_rows(site, action: str) -> list[AuditEntry]:
    with site["app"].db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def forced_to(location: str) -> str | None:
    """The page a redirect to /account/password will go on to (None: the home page)."""
    parts = urlsplit(location)
    assert parts.path == "/account/password", location
    return parse_qs(parts.query).get("next", [None])[0]


async def post_form(c, path: str, form_page: str, **data):
    token = await page_csrf(c, form_page)
    return await c.post(path, data={"csrf_token": token, **data}, allow_redirects=False)


async def test_only_admins_see_and_use_the_users_page(site, aiohttp_client):
    adm = await client_of(site, aiohttp_client, "adm")
    page = await (await adm.get("/users")).text()
    assert 'href="/users"' in page  # in the nav
    for login_name in ("adm", "adm2", "op", "cur", "spec"):
        assert f'data-login="{login_name}"' in page
    row = re.search(r'<tr class="" data-login="spec">(.*?)</tr>', page, re.S).group(1)
    assert "специалист" in row and site["names"][site["codes"][0]] in row and "активен" in row and "не входил" in row
    row = re.search(r'<tr class="" data-login="adm">(.*?)</tr>', page, re.S).group(1)
    assert NOW.astimezone(site["app"].region.region.tz).strftime("%d.%m.%Y") in row  # last sign-in: just now

    spec_id = user(site, "spec").id
    for who in ("op", "cur", "spec"):
        c = await client_of(site, aiohttp_client, who)
        home = await (await c.get("/dashboard")).text()
        assert 'href="/users"' not in home
        assert (await c.get("/users")).status == 403
        assert (await c.get(f"/users/{spec_id}")).status == 403
        token = csrf_of(home)
        for path, data in (("/users", {"login": "x1", "role": "admin"}), (f"/users/{spec_id}/password", {}), (f"/users/{spec_id}/active", {"active": "0"}),
                           (f"/users/{spec_id}/role", {"role": "admin"})):
            r = await c.post(path, data={"csrf_token": token, **data}, allow_redirects=False)
            assert r.status == 403, (who, path)
    assert user(site, "x1") is None and user(site, "spec").is_active and user(site, "spec").role == "specialist"


async def test_forms_need_the_csrf_token(site, aiohttp_client):
    adm = await client_of(site, aiohttp_client, "adm")
    spec_id = user(site, "spec").id
    for path, data in (("/users", {"login": "x2", "role": "operator"}), (f"/users/{spec_id}/active", {"active": "0"}), (f"/users/{spec_id}/password", {}),
                       (f"/users/{spec_id}/role", {"role": "operator"}), ("/account/password", {"current": PASSWORD, "new": "abcdefgh1234", "repeat": "abcdefgh1234"})):
        r = await adm.post(path, data=data, allow_redirects=False)
        assert r.status == 403 and "CSRF" in await r.text(), path
    assert user(site, "x2") is None and user(site, "spec").is_active


async def test_create_user_shows_the_password_once(site, aiohttp_client):
    adm = await client_of(site, aiohttp_client, "adm")
    r = await post_form(adm, "/users", "/users", login="petrova", full_name="Петрова А. В.", role="specialist", authority=site["codes"][1])
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    password = SHOWN.search(await r.text()).group(1)
    assert len(password) >= 16
    u = user(site, "petrova")
    assert u.role == "specialist" and u.full_name == "Петрова А. В." and u.password_hash.startswith("$argon2id$") and password not in u.password_hash
    assert u.must_change_password  # a generated password is temporary
    new = await client_of(site, aiohttp_client, "petrova", password)
    r = await new.get("/inbox", allow_redirects=False)
    assert r.status == 303 and forced_to(r.headers["Location"]) == "/inbox"
    r = await post_form(new, "/account/password", "/account/password?next=%2Finbox", current=password, new="petrova-own-1", repeat="petrova-own-1", next="/inbox")
    assert r.status == 303 and r.headers["Location"].startswith("/inbox?msg=")
    inbox = await (await new.get("/inbox")).text()
    assert site["names"][site["codes"][1]] in inbox
    (entry,) = audit_rows(site, "user.add")
    assert entry.actor == "adm" and entry.target == "user:petrova" and password not in str(entry.data)
    # the user list page never shows it again
    assert password not in await (await adm.get("/users")).text()

    # refused: specialist without authority, duplicate login, blank login, unknown role
    for data, words in (({"login": "nobody", "role": "specialist", "authority": ""}, "нужен орган власти"), ({"login": "petrova", "role": "operator"}, "уже есть"),
                        ({"login": "  ", "role": "operator"}, "логин пуст"), ({"login": "a b", "role": "operator"}, "пробел"), ({"login": "z", "role": "boss"}, "неизвестная роль"), ({"login": "z", "role": ""}, "выберите роль")):
        r = await post_form(adm, "/users", "/users", **data)
        page = await r.text()
        assert r.status == 400 and words in page and "Пользователь не создан" in page, data
        assert f'value="{data["login"]}"' in page  # the form keeps what was typed
    # an operator gets no authority even if one is chosen
    r = await post_form(adm, "/users", "/users", login="ivanov", role="operator", authority=site["codes"][1])
    assert r.status == 200 and user(site, "ivanov").authority_id is None


async def test_reset_password_ends_sessions(site, aiohttp_client):
    spec = await client_of(site, aiohttp_client, "spec")
    assert (await spec.get("/inbox")).status == 200
    adm = await client_of(site, aiohttp_client, "adm")
    spec_id = user(site, "spec").id
    r = await post_form(adm, f"/users/{spec_id}/password", f"/users/{spec_id}")
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    password = SHOWN.search(await r.text()).group(1)
    r = await spec.get("/inbox", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")
    assert (await login(await client_of(site, aiohttp_client), "spec")).status == 401  # old password
    assert user(site, "spec").must_change_password
    fresh = await client_of(site, aiohttp_client)
    r = await login(fresh, "spec", password)
    assert r.status == 303 and r.headers["Location"] == "/account/password"  # the reset password is temporary
    (entry,) = audit_rows(site, "user.password_reset")
    assert entry.actor == "adm" and entry.target == "user:spec" and password not in str(entry.data)
    history = await (await adm.get(f"/users/{spec_id}")).text()
    assert "user.password_reset" in history


async def test_deactivated_user_is_out_at_once(site, aiohttp_client):
    op = await client_of(site, aiohttp_client, "op")
    assert (await op.get("/review")).status == 200
    adm = await client_of(site, aiohttp_client, "adm")
    op_id = user(site, "op").id
    r = await post_form(adm, f"/users/{op_id}/active", f"/users/{op_id}", active="0")
    assert r.status == 303 and "отключена" in unquote(r.headers["Location"])
    # the open session stops on its very next request, for pages and forms alike
    r = await op.get("/review", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")
    assert (await op.post("/logout", data={}, allow_redirects=False)).status in (401, 403)
    assert (await login(await client_of(site, aiohttp_client), "op")).status == 401
    page = await (await adm.get("/users")).text()
    assert re.search(r'<tr class="inactive" data-login="op">.*?отключён', page, re.S)
    r = await post_form(adm, f"/users/{op_id}/active", f"/users/{op_id}", active="1")
    assert r.status == 303 and "включена" in unquote(r.headers["Location"])
    await client_of(site, aiohttp_client, "op")
    assert [e.action for e in audit_rows(site, "user.deactivate") + audit_rows(site, "user.activate")] == ["user.deactivate", "user.activate"]


async def test_admin_cannot_lock_themselves_out(site, aiohttp_client):
    adm = await client_of(site, aiohttp_client, "adm")
    me = user(site, "adm").id
    page = await (await adm.get(f"/users/{me}")).text()
    assert 'id="active-form"' not in page and 'id="role-form"' not in page  # no such buttons on one's own account
    token = csrf_of(page)
    r = await adm.post(f"/users/{me}/active", data={"csrf_token": token, "active": "0"}, allow_redirects=False)
    assert "собственную" in unquote(r.headers["Location"])
    r = await adm.post(f"/users/{me}/role", data={"csrf_token": token, "role": "operator"}, allow_redirects=False)
    assert "собственной" in unquote(r.headers["Location"])
    u = user(site, "adm")
    assert u.is_active and u.role == "admin"
    # the other admin can be deactivated; after that adm is the last one
    other = user(site, "adm2").id
    r = await adm.post(f"/users/{other}/active", data={"csrf_token": token, "active": "0"}, allow_redirects=False)
    assert "отключена" in unquote(r.headers["Location"])
    with site["app"].db.session() as s:
        assert web_repo.active_admin_ids(s, "admin") == [me]


def test_last_admin_survives_two_admins_demoting_each_other(site):
    """adm deactivates adm2 while adm2 deactivates adm: the second waits for the first and is refused."""
    app = site["app"]
    a, b = user(site, "adm").id, user(site, "adm2").id
    outcome: dict[str, object] = {}
    first_holds_lock = threading.Event()

    def second() -> None:
        first_holds_lock.wait(10)
        try:
            with app.db.session() as s:
                accounts.set_active(s, a, False, NOW, "adm2", b)
            outcome["second"] = "done"
        except accounts.AccountError as e:
            outcome["second"] = str(e)

    t = threading.Thread(target=second)
    t.start()
    with app.db.session() as s:
        accounts.set_active(s, b, False, NOW, "adm", a)
        first_holds_lock.set()
        t.join(1.0)  # the second is blocked on the lock while this transaction is open
        assert t.is_alive()
    t.join(30)
    assert "больше не администратор" in str(outcome["second"])
    with app.db.session() as s:
        assert web_repo.active_admin_ids(s, "admin") == [a]
    # the same race over the role: adm2 (reactivated) makes adm an operator while adm makes adm2 one
    with app.db.session() as s:
        accounts.set_active(s, b, True, NOW, "adm", a)
    outcome.clear()
    first_holds_lock.clear()

    def second_role() -> None:
        first_holds_lock.wait(10)
        try:
            with app.db.session() as s:
                accounts.change_role(s, app.region.code, a, "operator", None, NOW, "adm2", b, many_regions=False)
            outcome["second"] = "done"
        except accounts.AccountError as e:
            outcome["second"] = str(e)

    t = threading.Thread(target=second_role)
    t.start()
    with app.db.session() as s:
        accounts.change_role(s, app.region.code, b, "operator", None, NOW, "adm", a, many_regions=False)
        first_holds_lock.set()
        t.join(1.0)
        assert t.is_alive()
    t.join(30)
    assert "больше не администратор" in str(outcome["second"])
    with app.db.session() as s:
        assert web_repo.active_admin_ids(s, "admin") == [a]


async def test_change_role_and_authority_take_effect_at_once(site, aiohttp_client):
    a_code, b_code = site["codes"]
    spec = await client_of(site, aiohttp_client, "spec")
    assert site["names"][a_code] in await (await spec.get("/inbox")).text()
    adm = await client_of(site, aiohttp_client, "adm")
    spec_id = user(site, "spec").id
    r = await post_form(adm, f"/users/{spec_id}/role", f"/users/{spec_id}", role="specialist", authority=b_code)
    assert "Роль «spec»" in unquote(r.headers["Location"])
    inbox = await (await spec.get("/inbox")).text()  # same session, new authority
    assert site["names"][b_code] in inbox
    r = await post_form(adm, f"/users/{spec_id}/role", f"/users/{spec_id}", role="specialist", authority="")
    assert "нужен орган власти" in unquote(r.headers["Location"])
    r = await post_form(adm, f"/users/{spec_id}/role", f"/users/{spec_id}", role="curator", authority=b_code)
    u = user(site, "spec")
    assert u.role == "curator" and u.authority_id is None
    assert (await spec.get("/audit")).status == 200  # curators read the audit log
    changes = [e.data for e in audit_rows(site, "user.change")]
    assert changes == [{"role": ["specialist", "specialist"], "authority": [a_code, b_code]}, {"role": ["specialist", "curator"], "authority": [b_code, None]}]
    page = await (await adm.get(f"/users/{spec_id}")).text()
    assert "куратор" in page and "user.change" in page


async def test_own_password_change(site, aiohttp_client):
    cur = await client_of(site, aiohttp_client, "cur")
    other = await client_of(site, aiohttp_client, "cur")  # a second session of the same user
    for data, words in (({"current": "wrong-one", "new": "brand-new-pass", "repeat": "brand-new-pass"}, "Текущий пароль указан неверно"),
                        ({"current": PASSWORD, "new": "brand-new-pass", "repeat": "brand-new-pasz"}, "не совпадают"),
                        ({"current": PASSWORD, "new": "short", "repeat": "short"}, "не короче 12"),
                        ({"current": PASSWORD, "new": "eleven-char", "repeat": "eleven-char"}, "не короче 12 символов")):  # ASVS 2.1.1
        r = await post_form(cur, "/account/password", "/account/password", **data)
        assert r.status == 400 and words in await r.text()
    r = await post_form(cur, "/account/password", "/account/password", current=PASSWORD, new="brand-new-pass", repeat="brand-new-pass")
    assert r.status == 303 and "Пароль изменён" in unquote(r.headers["Location"])
    assert (await cur.get("/dashboard")).status == 200  # this session goes on with a fresh cookie
    r = await other.get("/dashboard", allow_redirects=False)
    assert r.status == 302  # the other one is over
    assert (await login(await client_of(site, aiohttp_client), "cur")).status == 401
    await client_of(site, aiohttp_client, "cur", "brand-new-pass")
    assert len(audit_rows(site, "password.change")) == 1 and len(audit_rows(site, "password.change_failed")) == 4


# --------------------------------------------------------------------------- forced password change


async def test_a_generated_password_must_be_replaced_before_anything_else(site, aiohttp_client):
    adm = await client_of(site, aiohttp_client, "adm")
    r = await post_form(adm, "/users", "/users", login="boss2", role="admin")
    password = SHOWN.search(await r.text()).group(1)
    r = await post_form(adm, "/tokens", "/tokens", authority=site["codes"][0])
    token = re.search(r'id="one-time-token">([^<]+)<', await r.text()).group(1)

    new = await client_of(site, aiohttp_client)
    r = await new.get("/login")
    r = await new.post("/login", data={"login": "boss2", "password": password, "csrf_token": csrf_of(await r.text()), "next": "/incidents?state=new"}, allow_redirects=False)
    assert r.status == 303 and forced_to(r.headers["Location"]) == "/incidents?state=new"
    page = await (await new.get(r.headers["Location"])).text()
    assert "временным паролем" in page and 'name="next" value="/incidents?state=new"' in page
    assert 'href="/incidents"' not in page and 'href="/users"' not in page and "Выйти" in page  # no nav, sign-out stays
    token_ = csrf_of(page)

    # every other page and form sends them back, and nothing is done (an admin's own rights included)
    for path in ("/", "/dashboard", "/incidents", "/review", "/inbox", "/users", "/tokens", "/audit", "/models", f"/users/{user(site, 'op').id}"):
        r = await new.get(path, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/account/password"), path
    r = await new.get("/users?cursor=x&y=1", allow_redirects=False)
    assert forced_to(r.headers["Location"]) == "/users?cursor=x&y=1"
    for path, data in (("/users", {"login": "sneaky", "role": "admin"}), (f"/users/{user(site, 'op').id}/active", {"active": "0"}), ("/tokens", {"authority": site["codes"][0]})):
        r = await new.post(path, data={"csrf_token": token_, **data}, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/account/password", path
    assert user(site, "sneaky") is None and user(site, "op").is_active and len(audit_rows(site, "token.add")) == 1

    # the API is not affected: tokens belong to authorities, not users
    api = await aiohttp_client(create_app(site["app"]))
    assert (await api.get("/api/incidents", headers={"Authorization": f"Bearer {token}"})).status == 200

    # a wrong temporary password is refused and they stay on the page
    r = await new.post("/account/password", data={"csrf_token": token_, "current": "wrong-pass-1", "new": "boss2-own-pass", "repeat": "boss2-own-pass", "next": "/incidents?state=new"})
    assert r.status == 400 and "Текущий пароль указан неверно" in await r.text()
    assert (await new.get("/users", allow_redirects=False)).status == 303
    # the right one: the flag is cleared, they go on to the page they asked for, everything is open
    r = await new.post("/account/password", data={"csrf_token": token_, "current": password, "new": "boss2-own-pass", "repeat": "boss2-own-pass", "next": "/incidents?state=new"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/incidents?state=new&msg=")
    assert "Пароль изменён" in unquote(r.headers["Location"])
    assert not user(site, "boss2").must_change_password
    assert (await new.get("/users")).status == 200
    assert 'href="/users"' in await (await new.get("/account/password")).text()
    entry = audit_rows(site, "password.change")[-1]
    assert entry.actor == "boss2" and entry.data.get("forced") is True
    # the next sign-in goes straight to the page asked for
    again = await client_of(site, aiohttp_client)
    assert (await login(again, "boss2", "boss2-own-pass")).headers["Location"] == "/"


async def test_sign_out_works_while_a_password_change_is_pending(site, aiohttp_client):
    with site["app"].db.session() as s:
        u = web_repo.user_by_login(s, "cur")
        web_repo.set_password(s, u, u.password_hash, must_change=True)
    c = await client_of(site, aiohttp_client, "cur")
    page = await (await c.get("/account/password")).text()
    r = await c.post("/logout", data={"csrf_token": csrf_of(page)}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/login")
    assert (await c.get("/account/password", allow_redirects=False)).status == 302  # signed out


async def test_sign_in_records_the_time_and_the_users_page_reads_it(site, aiohttp_client):
    at = datetime(2026, 3, 5, 9, 7, tzinfo=timezone.utc)
    c = await aiohttp_client(create_app(site["app"], clock=lambda: at))
    assert (await login(c, "op")).status == 303
    assert user(site, "op").last_login_at == at
    # a failed attempt changes nothing
    assert (await login(c, "op", "wrong-pass-1")).status == 401
    assert user(site, "op").last_login_at == at
    # a "login" entry in the audit log alone is not what the page shows (it reads the column)
    with site["app"].db.session() as s:
        web_repo.audit(s, "cur", "login", "cur", {}, at)
    adm = await client_of(site, aiohttp_client, "adm")
    page = await (await adm.get("/users")).text()
    shown = at.astimezone(site["app"].region.region.tz).strftime("%d.%m.%Y %H:%M")
    row = re.search(r'<tr class="" data-login="op">(.*?)</tr>', page, re.S).group(1)
    assert f'<td class="last-login">{shown}</td>' in row
    row = re.search(r'<tr class="" data-login="cur">(.*?)</tr>', page, re.S).group(1)
    assert "не входил" in row
    page = await (await adm.get(f"/users/{user(site, 'op').id}")).text()
    assert f'<dd class="last-login">{shown}</dd>' in page and "постоянный" in page
