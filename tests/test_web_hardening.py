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
