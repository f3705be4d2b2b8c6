"""Regression tests of the web/API holes found by the outside review (issue «Security, data safety and error hygiene»).

Each test here failed before its fix. Real aiohttp test server, real SQLite and PostgreSQL.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from storage import web_repo
from storage.models import User
from tests.test_web_security import csrf_of, login, world  # noqa: F401 - fixture
from web.app import create_app

EVIL_NEXT = ["/%09/evil.example/", "/\t/evil.example/", "/\n/x", "/\\evil.example", "//evil.example", "https://evil.example/", "/\r\nSet-Cookie:%20x=1", " /x", "/a b"]


# --------------------------------------------------------------------------- 1. open redirect


def _offsite(location: str) -> bool:
    cleaned = "".join(ch for ch in location if ch not in "\t\r\n").replace("\\", "/")
    return not cleaned.startswith("/") or cleaned.startswith("//")


async def test_sign_in_never_redirects_off_site(world, aiohttp_client):  # noqa: F811
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


async def test_forced_password_change_never_redirects_off_site(world, aiohttp_client):  # noqa: F811
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


async def test_security_headers_on_every_response(world, aiohttp_client):  # noqa: F811
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


async def test_large_numbers_are_not_found_not_500(world, aiohttp_client):  # noqa: F811
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
    page = await client.get("/review")
    csrf = csrf_of(await page.text())
    post_id = HUGE[0]
    r = await client.post(f"/review/{post_id}", data={"csrf_token": csrf, "decision": "confirm"}, allow_redirects=False)
    assert r.status == 404


async def test_errors_are_russian_pages_and_json(world, aiohttp_client):  # noqa: F811
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
