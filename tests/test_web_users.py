"""The users page: admins create accounts, reset passwords, (de)activate, change roles; everyone changes their own password."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from storage import web_repo
from storage.models import AuditEntry, User
from tests.test_web_security import PASSWORD, add_users, csrf_of, login, make_ctx, page_csrf
from web import accounts
from web.app import create_app
from web.sample import seed_sample

NOW = datetime.now(timezone.utc)
SHOWN = re.compile(r'<code class="secret" id="one-time-password">([^<]+)</code>')


@pytest.fixture
def site(db_url: str):
    app = make_ctx(db_url)
    seed_sample(app, NOW)
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
                       (f"/users/{spec_id}/role", {"role": "operator"}), ("/account/password", {"current": PASSWORD, "new": "abcdefgh1", "repeat": "abcdefgh1"})):
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
    new = await client_of(site, aiohttp_client, "petrova", password)
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
    await client_of(site, aiohttp_client, "spec", password)
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
                accounts.change_role(s, app.region.code, a, "operator", None, NOW, "adm2", b)
            outcome["second"] = "done"
        except accounts.AccountError as e:
            outcome["second"] = str(e)

    t = threading.Thread(target=second_role)
    t.start()
    with app.db.session() as s:
        accounts.change_role(s, app.region.code, b, "operator", None, NOW, "adm", a)
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
                        ({"current": PASSWORD, "new": "short", "repeat": "short"}, "не короче 8")):
        r = await post_form(cur, "/account/password", "/account/password", **data)
        assert r.status == 400 and words in await r.text()
    r = await post_form(cur, "/account/password", "/account/password", current=PASSWORD, new="brand-new-pass", repeat="brand-new-pass")
    assert r.status == 303 and "Пароль изменён" in unquote(r.headers["Location"])
    assert (await cur.get("/dashboard")).status == 200  # this session goes on with a fresh cookie
    r = await other.get("/dashboard", allow_redirects=False)
    assert r.status == 302  # the other one is over
    assert (await login(await client_of(site, aiohttp_client), "cur")).status == 401
    await client_of(site, aiohttp_client, "cur", "brand-new-pass")
    assert len(audit_rows(site, "password.change")) == 1 and len(audit_rows(site, "password.change_failed")) == 3
