"""Sign-in, sign-out, the session and CSRF middlewares and the login rate limit."""

from __future__ import annotations

import asyncio
import hmac
import math
import secrets
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable
from urllib.parse import unquote, urlsplit

from aiohttp import web

from pipeline.accounts.passwords import verify_password
from storage import web_repo

from .core import CLOCK, CODEC, CTX, LOGIN_CSRF, SECURE, SESSION, USER, CurrentUser, client_ip, redirect, render
from .sessions import COOKIE_NAME, MAX_AGE, SessionCodec, password_fingerprint

LOGIN_CSRF_COOKIE = "cur_login_csrf"
#: Login limiter: failures within the window are counted per login (from any address) and per address
#: (over every login: password spraying). Past a free allowance, each further attempt must wait a delay after
#: the latest failure that doubles with every failure, up to a cap: an attacker gets a few guesses a minute,
#: the real user waits at most MAX_DELAY and is never locked out. Counted from the audit log, so the limit
#: holds across restarts and several server processes.
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5  # per login, free
MAX_ADDRESS_FAILURES = 20  # per address, free
BASE_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(seconds=60)


def _wait(failures: list[datetime], allowance: int, now: datetime) -> timedelta:
    """How long the next attempt must still wait, given the failure times in the window."""
    extra = len(failures) - allowance
    if extra < 0 or not failures:
        return timedelta(0)
    delay = min(BASE_DELAY * (2 ** min(extra, 16)), MAX_DELAY)
    return max(timedelta(0), max(failures) + delay - now)

PUBLIC_PATHS = ("/login", "/static/", "/favicon.ico", "/healthz")
#: Where a user who must replace an admin-generated password is sent, and what else they may do meanwhile.
PASSWORD_PATH = "/account/password"
ALLOWED_BEFORE_PASSWORD_CHANGE = (PASSWORD_PATH, "/logout")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _load_user(db: Any, session_user_id: int, pw: str) -> CurrentUser | None:
    with db.session() as s:
        u = web_repo.user_by_id(s, session_user_id)
        if u is None or not u.is_active or password_fingerprint(u.password_hash, u.session_generation or 0) != pw:
            return None
        auth_name = None
        region = u.region
        if u.authority_id is not None:
            a = web_repo.authority_names(s, [u.authority_id]).get(u.authority_id)
            auth_name = a.name if a else None
            region = a.region if a else region  # a specialist works in their authority's region
        return CurrentUser(u.id, u.login, u.role, u.authority_id, u.full_name, auth_name, bool(u.must_change_password),
                           region)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if path.startswith("/api/") or path == "/api" or any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC_PATHS):
        return await handler(request)
    codec: SessionCodec = request.app[CODEC]
    now: datetime = request.app[CLOCK]()
    data = codec.read(request.cookies.get(COOKIE_NAME), now)
    user = None
    if data is not None:
        user = await asyncio.to_thread(_load_user, request.app[CTX].db, data.user_id, data.pw)
    if user is None:
        if request.method == "GET":
            nxt = request.raw_path if request.path != "/" else ""  # percent-encoded, as safe_next wants
            raise web.HTTPFound("/login" + (f"?next={_quote(nxt)}" if nxt else ""))
        raise web.HTTPUnauthorized(text="Требуется вход в систему.")
    request[USER] = user
    request[SESSION] = data
    if user.must_change_password and path not in ALLOWED_BEFORE_PASSWORD_CHANGE:
        raise web.HTTPSeeOther(password_change_url(request.raw_path if request.method == "GET" else ""))
    return await handler(request)


def password_change_url(nxt: str) -> str:
    """``/account/password``, remembering the local page to go on to once the password is set."""
    nxt = safe_next(nxt) if nxt else "/"
    return PASSWORD_PATH + (f"?next={_quote(nxt)}" if nxt != "/" else "")


def _quote(s: str) -> str:
    from urllib.parse import quote

    return quote(s, safe="")


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state-changing form must carry the session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
        return await handler(request)
    if request.path == "/login":
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    else:
        session = request.get(SESSION)
        expected = session.csrf if session else None
    form = await request.post()
    sent = form.get("csrf_token") or request.headers.get("X-CSRF-Token")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise web.HTTPForbidden(text="Форма устарела или отправлена не с этого сайта (нет CSRF-токена). Обновите страницу и повторите.")
    return await handler(request)


def _set_cookie(resp: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int | None) -> None:
    resp.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Lax", secure=request.app[SECURE])


def set_session_cookie(resp: web.StreamResponse, request: web.Request, cookie: str) -> None:
    """Put a freshly issued session cookie on the response (sign-in, own password change)."""
    _set_cookie(resp, request, COOKIE_NAME, cookie, int(MAX_AGE.total_seconds()))


async def login_page(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    request[LOGIN_CSRF] = token
    resp = render(request, "login.html", user=None, next=request.query.get("next", ""), error=None, login="")
    _set_cookie(resp, request, LOGIN_CSRF_COOKIE, token, 3600)
    return resp


def safe_next(value: str) -> str:
    """``value`` if it is a path of this site, else ``/``.

    Browsers drop tabs and newlines from URLs and read a backslash as ``/``,
    so ``/<TAB>/evil.example`` or ``/<backslash>evil.example`` would leave the
    site, and a newline cannot go into a ``Location`` header at all. Only printable ASCII
    without spaces or backslashes is accepted (non-ASCII must arrive
    percent-encoded), the value must start with one ``/`` and carry no scheme
    or host.
    """
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return "/"
    if any(not ("!" <= ch <= "~") or ch == "\\" for ch in value):
        return "/"
    if value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    # the same checks once more on the decoded path: ``/%09/host`` or ``/%5Chost`` must not become an off-site URL
    # in any client that decodes before resolving
    path = unquote(parts.path)
    if path.startswith("//") or any(not (" " < ch != "\x7f") or ch == "\\" for ch in path):
        return "/"
    return value


def _attempt_login(db: Any, login: str, password: str, ip: str, now: datetime) -> tuple[str, Any]:
    """('limited'|'bad'|'ok', data): data is the seconds to wait when limited, else
    (user id, password hash, must change password, session generation)."""
    with db.session() as s:
        since = now - FAILURE_WINDOW
        by_login = [at for at, _ in web_repo.audit_times(s, "login_failed", since, target=login)]
        by_address = [at for at, d in web_repo.audit_times(s, "login_failed", since) if d.get("ip") == ip]
        wait = max(_wait(by_login, MAX_FAILURES, now), _wait(by_address, MAX_ADDRESS_FAILURES, now))
        if wait > timedelta(0):
            # the password is not even checked: a guess made too early is neither right nor wrong
            seconds = max(1, math.ceil(wait.total_seconds()))
            web_repo.audit(s, login, "login_blocked", login, {"ip": ip, "wait": seconds}, now)
            return "limited", seconds
        u = web_repo.user_by_login(s, login)
        ok = verify_password(u.password_hash if u else None, password) and u is not None and u.is_active
        if not ok or u is None:
            web_repo.audit(s, login or "?", "login_failed", login, {"ip": ip}, now)
            return "bad", None
        web_repo.record_login(s, u, now)
        web_repo.audit(s, u.login, "login", u.login, {"ip": ip}, now)
        return "ok", (u.id, u.password_hash, bool(u.must_change_password), u.session_generation or 0)


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if any(isinstance(v, str) and "\x00" in v for v in form.values()):
        raise web.HTTPBadRequest(text="Форма входа содержит недопустимый символ NUL.")
    login = str(form.get("login", "")).strip()
    password = str(form.get("password", ""))
    nxt = safe_next(str(form.get("next", "") or "/"))
    now = request.app[CLOCK]()
    outcome, data = await asyncio.to_thread(_attempt_login, request.app[CTX].db, login, password, client_ip(request), now)
    if outcome != "ok":
        request[LOGIN_CSRF] = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        error = (
            f"Слишком много неудачных попыток входа. Повторите через {data} с."
            if outcome == "limited"
            else "Неверный логин или пароль."
        )
        resp = render(request, "login.html", status=429 if outcome == "limited" else 401, user=None, next=nxt, error=error, login=login)
        if outcome == "limited":
            resp.headers["Retry-After"] = str(data)
        return resp
    user_id, pw_hash, must_change, generation = data
    cookie, _ = request.app[CODEC].issue(user_id, pw_hash, now, generation)
    resp = redirect(password_change_url(nxt) if must_change else nxt)
    set_session_cookie(resp, request, cookie)
    resp.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    return resp


async def logout(request: web.Request) -> web.StreamResponse:
    user: CurrentUser = request[USER]
    now = request.app[CLOCK]()

    def work() -> None:
        with request.app[CTX].db.session() as s:
            web_repo.end_sessions(s, user.id)  # this cookie, and any copy of it, is refused from now on
            web_repo.audit(s, user.login, "logout", user.login, {"ip": client_ip(request)}, now)

    await asyncio.to_thread(work)
    resp = redirect("/login", msg="Вы вышли из системы.")
    resp.del_cookie(COOKIE_NAME, path="/")
    return resp
