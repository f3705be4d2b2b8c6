"""Regression tests of the web/API holes found by the outside review (issue «Security, data safety and error hygiene»).

Each test here failed before its fix. Real aiohttp test server, real SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from storage import web_repo
from storage.models import User
from tests.test_web_security import NOW, csrf_of, login, world  # noqa: F401 - fixture
from web.app import create_app

EVIL_NEXT = ["/%09/evil.example/", "/\t/evil.example/", "/\n/x", "/\\evil.example", "//evil.example", "https://evil.example/", "/\r\nSet-Cookie:%20x=1", " /x", "/a b"]


# --------------------------------------------------------------------------- 1. open redirect


def _offsite(location: str) -> bool:
    cleaned = "".join(ch for ch in location if ch not in "\t\r\n").replace("\\", "/")
    return not cleaned.startswith("/") or cleaned.startswith("//")


async def test_sign_in_never_redirects_off_site(world, aiohttp_client):
    client = await aiohttp_client(create_app(world["app"]))
    for nxt in EVIL_NEXT:
        client.session.cookie_jar.clear()
        page = await client.get("/login?next=" + quote(nxt, safe=""))
        assert page.status == 200
        token = csrf_of(await page.text())
        r = await client.post("/login", data={"login": "op", "password": "correct-horse-1", "csrf_token": token, "next": nxt}, allow_redirects=False)
        assert r.status == 303, nxt
        assert r.headers["Location"] == "/", nxt
    # a local page with a query is kept
    client.session.cookie_jar.clear()
    page = await client.get("/login")
    token = csrf_of(await page.text())
    r = await client.post("/login", data={"login": "op", "password": "correct-horse-1", "csrf_token": token, "next": "/incidents?state=routed&sector=%D0%96"}, allow_redirects=False)
    assert r.headers["Location"] == "/incidents?state=routed&sector=%D0%96"


async def test_forced_password_change_never_redirects_off_site(world, aiohttp_client):
    app = world["app"]
    client = await aiohttp_client(create_app(app))
    passwords = ["correct-horse-1", "another-horse-2"]
    for i, nxt in enumerate(["/%09/evil.example/", "/\n/x", "/\\evil.example"]):
        with app.db.session() as s:
            u = s.scalar(select(User).where(User.login == "op"))
            web_repo.set_password(s, u, u.password_hash, must_change=True)
        client.session.cookie_jar.clear()
        current, new = passwords[i % 2], passwords[(i + 1) % 2]
        assert (await login(client, "op", current)).status == 303
        page = await client.get("/account/password?next=" + quote(nxt, safe=""))
        assert page.status == 200
        r = await client.post(
            "/account/password",
            data={"current": current, "new": new, "repeat": new, "csrf_token": csrf_of(await page.text()), "next": nxt},
            allow_redirects=False,
        )
        assert r.status == 303, nxt
        assert not _offsite(r.headers["Location"]), r.headers["Location"]
        assert r.headers["Location"].startswith("/review")  # the operator's home page


# --------------------------------------------------------------------------- 6. security headers


async def test_security_headers_on_every_response(world, aiohttp_client):
    client = await aiohttp_client(create_app(world["app"]))
    token = world["token_a"]
    anonymous = ["/login", "/static/app.css", "/static/app.js", "/no-such-page", "/api/openapi.json", "/api/incidents"]
    for path in anonymous:
        r = await client.get(path, allow_redirects=False)
        _check_headers(r, path)
    assert (await login(client, "op")).status == 303
    for path in ["/review", "/incidents", f"/incidents/{world['inc_a']}", "/dashboard", "/no-such-page", "/incidents/99999999999999999999"]:
        r = await client.get(path, allow_redirects=False)
        _check_headers(r, path)
        assert r.headers["Cache-Control"] == "no-store", path
        html = await r.text()
        assert "<script>" not in html and " onclick=" not in html and ' style="' not in html, path  # nothing the CSP would block
    r = await client.get(f"/api/incidents/{world['inc_a']}", headers={"Authorization": f"Bearer {token}"})
    _check_headers(r, "api")
    assert r.headers["Cache-Control"] == "no-store"
    # the stand-alone report keeps its own inline style, and nothing else
    r = await client.get("/reports/2025-11.html")
    assert r.status == 200
    csp = r.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "frame-ancestors 'none'" in csp and "style-src 'unsafe-inline'" in csp


def _check_headers(r, what: str) -> None:
    h = r.headers
    csp = h.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, what
    assert h.get("X-Frame-Options") == "DENY", what
    assert h.get("X-Content-Type-Options") == "nosniff", what
    assert h.get("Referrer-Policy") in ("same-origin", "no-referrer"), what
    assert h.get("Server") == "cur-monitor", what  # no aiohttp/Python versions
    if not what.startswith("/static/"):
        assert h.get("Cache-Control") == "no-store", what


# --------------------------------------------------------------------------- 11. errors: large numbers, Russian pages, 413, reject without reason

HUGE = ["99999999999999999999", "9223372036854775808", "18446744073709551616" * 3]


async def test_large_numbers_are_not_found_not_500(world, aiohttp_client):
    client = await aiohttp_client(create_app(world["app"]))
    token = {"Authorization": f"Bearer {world['token_a']}"}
    for n in HUGE:
        r = await client.get(f"/api/incidents/{n}", headers=token)
        assert r.status == 404, n
        assert (await r.json())["error"] == "Инцидент не найден."
        r = await client.post(f"/api/incidents/{n}/state", json={"action": "acknowledge"}, headers=token)
        assert r.status == 404, n
    assert (await login(client, "adm")).status == 303
    for path in ["/incidents/{n}", "/users/{n}", "/incidents?authority={n}", "/inbox?authority={n}", "/incidents?authority=%C2%B2"]:
        for n in HUGE:
            r = await client.get(path.format(n=n), allow_redirects=False)
            assert r.status in (200, 404), (path, n, r.status)
            text = await r.text()
            assert "Server got itself in trouble" not in text and "Traceback" not in text
            if r.status == 404:
                assert "Не найдено" in text and r.content_type == "text/html"
    odd = ["/dashboard?month=9999-13", "/dashboard?month=abc&period=99999999999999999999", "/reports/9999-99.html", "/reports/0000-00.xlsx",
           "/reports/2025-13.html", "/tokens?authority=99999999999999999999", "/tokens?state=zzz", "/review?cursor=AAAA", "/audit?cursor=x",
           "/users?cursor=eyJsIjoidXNlcnMiLCJmIjoiIiwiZCI6Im4iLCJrIjpbOTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5XX0", "/inbox?cursor=eyJ9",
           "/users/0", "/incidents/0", "/incidents?authority=-1"]  # fmt: skip
    for path in odd:
        r = await client.get(path, allow_redirects=False)
        assert r.status < 500, (path, r.status)
    page = await client.get("/review")
    csrf = csrf_of(await page.text())
    post_id = HUGE[0]
    r = await client.post(f"/review/{post_id}", data={"csrf_token": csrf, "decision": "confirm"}, allow_redirects=False)
    assert r.status == 404


async def test_errors_are_russian_pages_and_json(world, aiohttp_client):
    client = await aiohttp_client(create_app(world["app"]))
    token = {"Authorization": f"Bearer {world['token_a']}"}
    # a body over 2 MiB: 413 with a Russian message, JSON on the API, HTML on pages
    big = {"kind": "first_reply", "text": "я" * (1024 * 1024 + 10)}
    r = await client.post(f"/api/incidents/{world['inc_a']}/responses", json=big, headers=token)
    assert r.status == 413 and r.content_type == "application/json"
    assert "2 МиБ" in (await r.json())["error"]
    r = await client.post(f"/api/incidents/{world['inc_a']}/responses", data=b"kind=first_reply", headers={**token, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415 and "application/json" in (await r.json())["error"]
    assert (await login(client, "op")).status == 303
    page = await client.get(f"/incidents/{world['inc_a']}")
    csrf = csrf_of(await page.text())
    r = await client.post(f"/incidents/{world['inc_a']}/answer", data={"csrf_token": csrf, "kind": "first_reply", "text": "я" * (2 * 1024 * 1024)})
    assert r.status == 413 and r.content_type == "text/html"
    text = await r.text()
    assert "2 МиБ" in text and "Maximum request body size" not in text
    r = await client.delete("/incidents", headers={"X-CSRF-Token": csrf})
    assert r.status == 405 and "Этот адрес не принимает такой запрос" in await r.text()
    # reject without a reason: 422 naming the field, not a 409 "refused"
    for body in ({"action": "reject"}, {"action": "reject", "reason": "  "}):
        r = await client.post(f"/api/incidents/{world['inc_a']}/state", json=body, headers=token)
        assert r.status == 422, body
        assert "reason" in (await r.json())["error"]


# --------------------------------------------------------------------------- 5. sign-out and password change end the session on the server


def _session_cookie(client) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))["cur_session"].value


async def test_a_cookie_copied_before_sign_out_no_longer_works(world, aiohttp_client):
    app = create_app(world["app"])
    client = await aiohttp_client(app)
    assert (await login(client, "op")).status == 303
    copied = _session_cookie(client)
    page = await client.get("/review")
    r = await client.post("/logout", data={"csrf_token": csrf_of(await page.text())}, allow_redirects=False)
    assert r.status == 303
    thief = await aiohttp_client(app)
    thief.session.cookie_jar.update_cookies({"cur_session": copied}, response_url=thief.make_url("/"))
    r = await thief.get("/review", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")
    # signing in again works, with a new cookie
    assert (await login(client, "op")).status == 303
    assert (await client.get("/review", allow_redirects=False)).status == 200


async def test_own_password_change_ends_a_copied_cookie(world, aiohttp_client):
    app = create_app(world["app"])
    client = await aiohttp_client(app)
    assert (await login(client, "op")).status == 303
    copied = _session_cookie(client)
    page = await client.get("/account/password")
    r = await client.post("/account/password", data={"csrf_token": csrf_of(await page.text()), "current": "correct-horse-1", "new": "another-horse-2", "repeat": "another-horse-2"}, allow_redirects=False)
    assert r.status == 303
    assert (await client.get("/review", allow_redirects=False)).status == 200  # this browser goes on
    thief = await aiohttp_client(app)
    thief.session.cookie_jar.update_cookies({"cur_session": copied}, response_url=thief.make_url("/"))
    assert (await thief.get("/review", allow_redirects=False)).status == 302


def test_migrations_0004_session_generation_and_0006_idempotency(tmp_path, fresh_pg_url):
    from sqlalchemy import inspect, text

    from storage import Database

    for url in (f"sqlite:///{tmp_path / 'm.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade("0003")
        with db.engine.begin() as c:
            c.execute(text("INSERT INTO users (login, password_hash, role, is_active, must_change_password, created_at) VALUES ('old', 'x', 'operator', :t, :f, CURRENT_TIMESTAMP)"), {"t": True, "f": False})
        db.upgrade("0004")
        with db.engine.begin() as c:
            assert c.execute(text("SELECT session_generation FROM users WHERE login = 'old'")).scalar() == 0
        db.downgrade("0003")
        assert "session_generation" not in {c["name"] for c in inspect(db.engine).get_columns("users")}
        db.upgrade()
        db.upgrade()  # a second run changes nothing
        assert "session_generation" in {c["name"] for c in inspect(db.engine).get_columns("users")}
        # 0006: the idempotency table, one answer per (authority, key)
        assert "api_idempotency" in inspect(db.engine).get_table_names()
        db.downgrade("0005")
        assert "api_idempotency" not in inspect(db.engine).get_table_names()
        db.upgrade()
        assert {"uq_api_idempotency_authority_key"} <= {u["name"] for u in inspect(db.engine).get_unique_constraints("api_idempotency")}
        db.dispose()


# --------------------------------------------------------------------------- 3. reports and the dashboard are scoped


async def test_specialist_reports_and_dashboard_show_their_authority_only(world, aiohttp_client):
    import io

    from openpyxl import load_workbook

    from storage.models import Incident

    app = world["app"]
    with app.db.session() as s:
        inc_b = s.get(Incident, world["inc_b"])
        # a title to look for: B's incident is overdue three days later and listed in the region's report
        inc_b.title = "ЧУЖОЙ-ИНЦИДЕНТ-Б"
        title_b = inc_b.title
        total_a = s.scalar(select(func.count()).select_from(Incident).where(Incident.authority_id == world["auth_a"], Incident.merged_into_id.is_(None)))
        total_all = s.scalar(select(func.count()).select_from(Incident).where(Incident.merged_into_id.is_(None)))
    month = NOW.astimezone(app.region.region.tz).strftime("%Y-%m")
    later = NOW + timedelta(days=3)  # every first-reply deadline of the sample has passed
    op = await aiohttp_client(create_app(app, clock=lambda: later))
    spec = await aiohttp_client(create_app(app, clock=lambda: later))
    assert (await login(op, "op")).status == 303
    assert (await login(spec, "spec_a")).status == 303

    full = await (await op.get(f"/reports/{month}.html")).text()
    assert title_b in full  # the check below means something
    mine = await spec.get(f"/reports/{month}.html")
    assert mine.status == 200
    text = await mine.text()
    assert title_b not in text
    book = load_workbook(io.BytesIO(await (await spec.get(f"/reports/{month}.xlsx")).read()))
    cells = {str(c.value) for sh in book.worksheets for row in sh.iter_rows() for c in row if c.value is not None}
    assert title_b not in cells
    assert {str(c.value) for c in book["Рейтинг"]["B"][1:]} <= {world["code_a"]}
    book_all = load_workbook(io.BytesIO(await (await op.get(f"/reports/{month}.xlsx")).read()))
    assert title_b in {str(c.value) for row in book_all["Просроченные"].iter_rows() for c in row}

    dash = await (await spec.get("/dashboard?period=all")).text()
    assert f"{total_a} инцидентов" in dash
    assert total_a != total_all
    assert f"{total_all} инцидентов" in await (await op.get("/dashboard?period=all")).text()


# --------------------------------------------------------------------------- 4. the API's author is not the event log's actor


async def test_api_author_cannot_pose_as_another_actor(world, aiohttp_client):
    from storage.models import IncidentEvent, Response

    client = await aiohttp_client(create_app(world["app"]))
    h = {"Authorization": f"Bearer {world['token_a']}"}
    url = f"/api/incidents/{world['inc_a']}"
    r = await client.post(url + "/responses", headers=h, json={"kind": "first_reply", "text": "Бригада выехала", "author": "Губернатор"})
    assert r.status == 200
    with world["app"].db.session() as s:
        actors = {a for (a,) in s.execute(select(IncidentEvent.actor).where(IncidentEvent.incident_id == world["inc_a"], IncidentEvent.kind.like("answer_%")))}
        authors = {a for (a,) in s.execute(select(Response.author).where(Response.incident_id == world["inc_a"]))}
    assert actors == {f"api:{world['code_a']}"}
    assert authors == {"Губернатор"}  # kept as the answer's signature, shown as such
    detail = await (await client.get(url, headers=h)).json()
    assert [e["actor"] for e in detail["events"] if e["kind"].startswith("answer_")] == [f"api:{world['code_a']}"]
    for bad in ("x" * 129, "Иванова\nГубернатор"):
        r = await client.post(url + "/responses", headers=h, json={"kind": "interim", "text": "ещё", "author": bad})
        assert r.status == 400 and "author" in (await r.json())["error"]


# --------------------------------------------------------------------------- 9. ?msg= / ?err= show only what this server said


async def test_msg_and_err_from_a_link_are_not_shown(world, aiohttp_client):
    client = await aiohttp_client(create_app(world["app"]))
    bait = "Срочно: ваш пароль истёк, войдите на evil.example"
    for q in (f"msg={quote(bait)}", f"err={quote(bait)}", f"msg={quote(bait)}&fs=1.AAAA", f"err={quote(bait)}&fs=99999999999.x"):
        r = await client.get("/login?" + q)
        assert bait not in await r.text(), q
    assert (await login(client, "op")).status == 303
    for q in (f"msg={quote(bait)}", f"err={quote(bait)}"):
        assert bait not in await (await client.get("/review?" + q)).text(), q
    # a message this server put into a redirect is shown, once signed, and cannot be reused for another text
    page = await client.get(f"/incidents/{world['inc_a']}")
    r = await client.post(f"/incidents/{world['inc_a']}/answer", data={"csrf_token": csrf_of(await page.text()), "kind": "first_reply", "text": "Выехали"}, allow_redirects=False)
    assert r.status == 303
    location = r.headers["Location"]
    assert "fs=" in location
    assert "Ответ записан." in await (await client.get(location)).text()
    swapped = location.replace(quote("Ответ записан."), quote(bait))
    assert swapped != location and bait not in await (await client.get(swapped)).text()


# --------------------------------------------------------------------------- 7. Secure cookies from settings; client address behind a proxy


async def test_secure_cookies_come_from_the_settings(world, aiohttp_client):
    from config import load_settings

    settings = load_settings(env={"CUR_WEB_SECURE_COOKIES": "1", "CUR_WEB_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/24"})
    assert settings.web_secure_cookies is True and settings.web_trusted_proxies == ["127.0.0.1", "10.0.0.0/24"]
    app = world["app"]
    app.settings = app.settings.model_copy(update={"web_secure_cookies": True})
    client = await aiohttp_client(create_app(app))
    r = await client.get("/login")
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and v.startswith("cur_login_csrf="))
    assert "secure" in cookie.lower()
    assert "Strict-Transport-Security" in r.headers


async def test_forwarded_for_is_believed_only_from_trusted_proxies(world, aiohttp_client):
    from storage.models import AuditEntry

    app = world["app"]

    async def failed_from(client, login_name: str, headers: dict) -> str:
        page = await client.get("/login")
        await client.post("/login", data={"login": login_name, "password": "wrong-password", "csrf_token": csrf_of(await page.text())}, headers=headers)
        with app.db.session() as s:
            return s.scalars(select(AuditEntry).where(AuditEntry.target == login_name, AuditEntry.action == "login_failed").order_by(AuditEntry.id.desc())).first().data["ip"]

    direct = await aiohttp_client(create_app(app))
    assert await failed_from(direct, "op", {"X-Forwarded-For": "203.0.113.5"}) == "127.0.0.1"  # a client cannot choose its address
    proxied = await aiohttp_client(create_app(app, trusted_proxies=["127.0.0.1"]))
    assert await failed_from(proxied, "cur", {"X-Forwarded-For": "203.0.113.5"}) == "203.0.113.5"
    # a client's own X-Forwarded-For before the proxy's is not believed: the right-most untrusted hop is the client
    assert await failed_from(proxied, "an", {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}) == "203.0.113.7"
    assert await failed_from(proxied, "adm", {"X-Forwarded-For": "not-an-ip"}) == "127.0.0.1"


def test_cur_serve_behind_proxy_uses_forwarded_for(sqlite_url, tmp_path):
    import os
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from storage import Database
    from storage.models import AuditEntry
    from tests.conftest import CUR
    from tests.helpers import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
    env.update(CUR_DATABASE_URL=sqlite_url, PYTHONIOENCODING="utf-8", CUR_SECRET_KEY="k" * 32)
    port = free_port()
    proc = subprocess.Popen([CUR, "serve", "--port", str(port), "--behind-proxy", "--trusted-proxy", "127.0.0.1"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as resp:
                    page, cookie = resp.read().decode("utf-8"), resp.headers["Set-Cookie"].split(";")[0]
                break
            except (urllib.error.URLError, ConnectionError):
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail(f"cur serve did not start: {proc.stderr.read() if proc.poll() is not None else ''}")
                time.sleep(0.3)
        body = f"login=nobody&password=x&csrf_token={csrf_of(page)}".encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/login", data=body, headers={"Cookie": cookie, "X-Forwarded-For": "203.0.113.9"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 401
    finally:
        proc.terminate()
        out, errs = proc.communicate(timeout=20)
    assert "X-Forwarded-For" in out, errs
    db = Database(sqlite_url)
    with db.session() as s:
        assert [e.data["ip"] for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed"))] == ["203.0.113.9"]
    db.dispose()


# --------------------------------------------------------------------------- 8. the login limiter slows down, never locks out


async def test_login_limiter_slows_down_and_never_locks_out(world, aiohttp_client):
    from tests.helpers import FakeClock

    clock = FakeClock(NOW)
    app = create_app(world["app"], clock=clock.now, trusted_proxies=["127.0.0.1"])
    client = await aiohttp_client(app)

    async def attempt(login_name: str, password: str, ip: str = "198.51.100.1"):
        page = await client.get("/login")
        client.session.cookie_jar.clear_domain("cur_session")
        return await client.post("/login", data={"login": login_name, "password": password, "csrf_token": csrf_of(await page.text())},
                                 headers={"X-Forwarded-For": ip}, allow_redirects=False)  # fmt: skip

    for _ in range(5):
        assert (await attempt("spec_a", "wrong-password")).status == 401
        clock.advance(seconds=1)
    r = await attempt("spec_a", "correct-horse-1")
    assert r.status == 429 and int(r.headers["Retry-After"]) <= 2  # too early: not even checked
    assert "Повторите через" in await r.text()
    # the same from another address: the limit is per login, wherever the guesses come from
    assert (await attempt("spec_a", "correct-horse-1", ip="198.51.100.99")).status == 429
    clock.advance(seconds=3)
    assert (await attempt("spec_a", "correct-horse-1")).status == 303  # the real user is in after seconds, not 15 minutes
    # an attacker keeps guessing: each wait doubles up to a minute, never more
    for _ in range(12):
        r = await attempt("spec_a", "wrong-password")
        if r.status == 429:
            assert int(r.headers["Retry-After"]) <= 60
            clock.advance(seconds=int(r.headers["Retry-After"]))
            continue
        assert r.status == 401
    clock.advance(seconds=61)
    assert (await attempt("spec_a", "correct-horse-1")).status == 303

    # password spraying: one password over many logins from one address is slowed down too
    clock.advance(minutes=16)
    for i in range(20):
        assert (await attempt(f"user{i}", "Spring2026!", ip="192.0.2.50")).status == 401
    assert (await attempt("user-next", "Spring2026!", ip="192.0.2.50")).status == 429
    assert (await attempt("op", "correct-horse-1", ip="192.0.2.51")).status == 303  # other addresses are not affected


# --------------------------------------------------------------------------- 13. the API for back offices: spec, Idempotency-Key, updated_since


def test_openapi_is_typed_and_documents_every_status():
    from web.openapi import spec

    doc = spec()
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert len({op["operationId"] for _, _, op in ops}) == len(ops)  # every operation has its own id
    for path, method, op in ops:
        if method == "post":
            assert {"200", "400", "401", "403", "404", "409", "413", "415", "422", "500"} <= set(op["responses"]), path
            assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), path
            assert "example" in op["requestBody"]["content"]["application/json"]
    schemas = doc["components"]["schemas"]
    incident = schemas["Incident"]
    assert "merged_into_id" in incident["required"] and "updated_at" in incident["required"] and "example" in incident
    detail = schemas["IncidentDetail"]["allOf"][1]["properties"]
    assert {k: v["items"]["$ref"] for k, v in detail.items()} == {"posts": "#/components/schemas/Post", "responses": "#/components/schemas/Response", "events": "#/components/schemas/Event",
                                                                  "fake_marks": "#/components/schemas/FakeMark", "addresses": "#/components/schemas/Address"}
    for name in ("Post", "Response", "Event", "FakeMark", "FakeClaim", "Address"):
        assert schemas[name]["required"] and all("type" in p for p in schemas[name]["properties"].values()), name
    params = {p["name"]: p for p in doc["paths"]["/api/incidents"]["get"]["parameters"]}
    assert params["open"]["schema"]["enum"] == ["1", "0"] and "updated_since" in params


async def test_api_accepts_only_what_the_spec_says_and_syncs_by_updated_since(world, aiohttp_client):
    from tests.helpers import FakeClock

    clock = FakeClock(NOW)
    client = await aiohttp_client(create_app(world["app"], clock=clock.now))
    h = {"Authorization": f"Bearer {world['token_a']}"}
    for bad in ("true", "yes", "no", "2", ""):
        r = await client.get("/api/incidents", params={"open": bad}, headers=h)
        assert r.status == 400, bad
    r = await client.get("/api/incidents", params={"updated_since": "2026-12-01T09:00:00"}, headers=h)  # no time zone
    assert r.status == 400 and "updated_since" in (await r.json())["error"]
    everything = await (await client.get("/api/incidents", params={"open": "0", "limit": 200}, headers=h)).json()
    assert everything["incidents"] and all("merged_into_id" in i and "updated_at" in i for i in everything["incidents"])
    clock.advance(hours=1)
    mark = clock.now()
    r = await client.get("/api/incidents", params={"updated_since": mark.isoformat()}, headers=h)
    assert r.status == 200 and (await r.json())["incidents"] == []  # nothing changed since
    clock.advance(minutes=1)
    r = await client.post(f"/api/incidents/{world['inc_a']}/state", json={"action": "acknowledge"}, headers=h)
    assert r.status == 200
    r = await client.get("/api/incidents", params={"updated_since": mark.isoformat()}, headers=h)
    page = await r.json()
    assert r.status == 200 and [i["id"] for i in page["incidents"]] == [world["inc_a"]]
    r = await client.get("/api/incidents", params={"updated_since": mark.strftime("%Y-%m-%dT%H:%M:%SZ")}, headers=h)
    assert [i["id"] for i in (await r.json())["incidents"]] == [world["inc_a"]]


async def test_idempotency_key_makes_retries_safe(world, aiohttp_client):
    import asyncio

    from storage.models import Response

    client = await aiohttp_client(create_app(world["app"]))
    h = {"Authorization": f"Bearer {world['token_a']}"}
    url = f"/api/incidents/{world['inc_a']}"
    # a retried acknowledge gets the first answer again, not a 409
    first = await client.post(url + "/state", json={"action": "acknowledge"}, headers={**h, "Idempotency-Key": "ack-1"})
    again = await client.post(url + "/state", json={"action": "acknowledge"}, headers={**h, "Idempotency-Key": "ack-1"})
    assert first.status == again.status == 200
    assert await first.json() == await again.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert (await client.post(url + "/state", json={"action": "acknowledge"}, headers=h)).status == 409  # without a key: a real conflict
    # a retried answer is stored once, also when the retries arrive at the same moment
    body = {"kind": "first_reply", "text": "Бригада выехала"}
    answers = await asyncio.gather(*(client.post(url + "/responses", json=body, headers={**h, "Idempotency-Key": "answer-1"}) for _ in range(4)))
    assert [r.status for r in answers] == [200] * 4
    with world["app"].db.session() as s:
        assert [r.text for r in s.scalars(select(Response).where(Response.incident_id == world["inc_a"]))] == ["Бригада выехала"]
    # the same key for another request is refused; a malformed key too
    r = await client.post(url + "/responses", json={**body, "text": "Другой ответ"}, headers={**h, "Idempotency-Key": "answer-1"})
    assert r.status == 422 and "Idempotency-Key" in (await r.json())["error"]
    r = await client.post(url + "/responses", json=body, headers={**h, "Idempotency-Key": "с пробелом и кириллицей"})
    assert r.status == 400
    # keys belong to the authority: another authority's token with the same key is not answered from it
    with world["app"].db.session() as s:
        from pipeline.accounts.users import add_token

        token_b = add_token(s, world["app"].region.code, world["code_b"], NOW, "b")
    r = await client.post(f"/api/incidents/{world['inc_b']}/state", json={"action": "acknowledge"}, headers={"Authorization": f"Bearer {token_b}", "Idempotency-Key": "ack-1"})
    assert r.status == 200 and (await r.json())["id"] == world["inc_b"]


async def test_nul_characters_are_refused_not_500(world, aiohttp_client):
    """PostgreSQL cannot hold NUL in text: a query, a form or a JSON body with one is a Russian 400, never a 500."""
    client = await aiohttp_client(create_app(world["app"]))
    h = {"Authorization": f"Bearer {world['token_a']}"}
    r = await client.post(f"/api/incidents/{world['inc_a']}/responses", json={"kind": "first_reply", "text": "бригада\x00выехала"}, headers=h)
    assert r.status == 400 and "text" in (await r.json())["error"]
    r = await client.get("/api/incidents", params={"state": "routed\x00"}, headers=h)
    assert r.status == 400 and "state" in (await r.json())["error"]
    page = await client.get("/login")
    r = await client.post("/login", data={"login": "op\x00", "password": "x", "csrf_token": csrf_of(await page.text())})
    assert r.status == 400 and "NUL" in await r.text()
    assert (await login(client, "op")).status == 303
    r = await client.get("/incidents", params={"state": "\x00", "sector": "\x00"})
    assert r.status == 400 and "NUL" in await r.text()
    page = await client.get(f"/incidents/{world['inc_a']}")
    r = await client.post(f"/incidents/{world['inc_a']}/answer", data={"csrf_token": csrf_of(await page.text()), "kind": "first_reply", "text": "a\x00b"})
    assert r.status == 400 and "text" in await r.text()
