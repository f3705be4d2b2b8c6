"""The aiohttp application: ``create_app(app_ctx, clock=None)``."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape

from pipeline.accounts import passwords, roles
from storage.types import utcnow

from . import api, auth, formatting, views
from .core import CLOCK, CODEC, CTX, JINJA, SECURE, TRUSTED_PROXIES, USER, render, sign_flash, trusted_networks
from .sessions import SessionCodec
from .views import tokens as token_views

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

ERROR_TITLES = {
    400: "Неверный запрос",
    401: "Требуется вход",
    403: "Доступ запрещён",
    404: "Не найдено",
    405: "Метод не поддерживается",
    409: "Действие не выполнено",
    413: "Слишком большой запрос",
    415: "Неподдерживаемый формат",
    422: "Неверные данные",
    429: "Слишком много запросов",
    500: "Внутренняя ошибка",
    503: "Служба недоступна",
}
#: aiohttp's own English texts ("Maximum request body size … exceeded", "405: Method Not Allowed") are replaced by these
ERROR_TEXTS = {
    404: "Такой страницы нет.",
    405: "Этот адрес не принимает такой запрос.",
    413: "Тело запроса больше 2 МиБ: сократите текст или отправьте частями.",
    415: "Неподдерживаемый тип содержимого: ожидается application/json.",
    500: "Внутренняя ошибка сервера. Ошибка записана в журнал; повторите позже или сообщите администратору.",
}
#: The request body limit (aiohttp's ``client_max_size``): a larger body is refused with 413.
MAX_BODY = 2 * 1024 * 1024

#: Pages: scripts and styles only from /static/ (no inline script, no eval), no framing, forms only to this site.
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
SERVER_NAME = "cur-monitor"


def _jinja(app_ctx: Any) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    tz = app_ctx.region.region.tz

    @pass_context
    def local(context: Any, v: Any, fmt: str = "%d.%m.%Y %H:%M") -> str:
        """A stored UTC time in the time zone of the region the page shows (``region`` of the page's context)."""
        region = context.get("region")
        return formatting.local_time(v, region.region.tz if region is not None else tz, fmt)

    env.filters["local"] = local
    env.filters["countdown"] = formatting.countdown
    env.filters["minutes"] = lambda v: "—" if v is None else formatting.human_delta(timedelta(minutes=float(v)))
    env.filters["http_url"] = lambda u: u if isinstance(u, str) and u.lower().startswith(("http://", "https://")) else None
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * float(v):.0f}%"
    env.filters["shorten"] = formatting.shorten
    env.globals.update(
        URGENCY=formatting.URGENCY_NAMES,
        STATES=formatting.STATE_NAMES,
        EVENTS=formatting.EVENT_NAMES,
        KINDS=formatting.RESPONSE_KINDS,
        DECISIONS=formatting.DECISION_NAMES,
        PLATFORMS=formatting.PLATFORM_NAMES,
        ROLE_NAMES=roles.ROLE_NAMES,
        QUALITY=formatting.QUALITY_NAMES,
        CUE_NAMES=formatting.CUE_NAMES,
        ANSWER_FLAGS=formatting.ANSWER_FLAG_NAMES,
        next_due=formatting.next_due,
        late_stages=formatting.late_stages,
        overdue_stages=formatting.overdue_stages,
        iso=lambda d: d.isoformat() if d else "",
    )
    return env


def _error_message(e: web.HTTPException) -> str:
    text = e.text or ""
    if _is_ours(text):
        return text
    return ERROR_TEXTS.get(e.status) or ERROR_TITLES.get(e.status, "Ошибка")


def _is_ours(text: str) -> bool:
    """Our messages are Russian; aiohttp's are English."""
    return any("а" <= ch <= "я" or "А" <= ch <= "Я" for ch in text)


def error_response(request: web.Request, status: int, message: str) -> web.StreamResponse:
    if request.path.startswith("/api/") or request.path == "/api":
        return api.json_error(status, message)
    return render(request, "error.html", status=status, user=request.get(USER), title=ERROR_TITLES.get(status, "Ошибка"), message=message)


@web.middleware
async def error_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Every error as a Russian page (or JSON under /api/); an unexpected exception is logged and becomes a 500 without a trace."""
    try:
        bad = next((k for k, v in request.query.items() if "\x00" in k or "\x00" in v), None)
        if bad is not None:  # no filter of ours can hold it, and PostgreSQL refuses it in a query
            raise web.HTTPBadRequest(text=f"Параметр «{bad.replace(chr(0), '')}» содержит недопустимый символ NUL.")
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        resp = error_response(request, e.status, _error_message(e))
        for name in ("WWW-Authenticate", "Allow", "Retry-After"):
            if name in e.headers:
                resp.headers[name] = e.headers[name]
        return resp
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(request, 500, ERROR_TEXTS[500])


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, static files and errors included (aiohttp's on_response_prepare)."""
    sign_flash(request, response)
    h = response.headers
    h["Server"] = SERVER_NAME  # no versions
    h.setdefault("Content-Security-Policy", CSP)
    h["X-Frame-Options"] = "DENY"
    h["X-Content-Type-Options"] = "nosniff"
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    if not request.path.startswith("/static/"):
        # pages and API answers carry personal data: never kept by the browser or a proxy
        h["Cache-Control"] = "no-store"
        h.setdefault("Pragma", "no-cache")
    if request.secure or request.app[SECURE]:
        h.setdefault("Strict-Transport-Security", "max-age=31536000")


async def healthz(request: web.Request) -> web.StreamResponse:
    """``GET /healthz``: 200 with ``{"status": "ok", …}`` when the database answers and its schema is current, else 503.

    No login (load balancers and monitoring call it), no URL, host or secret in the answer.
    """
    from pipeline.health import health

    ok, body = await asyncio.to_thread(health, request.app[CTX])
    return web.json_response(body, status=200 if ok else 503)


def create_app(
    app_ctx: Any, clock: Callable[[], datetime] | None = None, secure_cookies: bool | None = None, trusted_proxies: Any = None
) -> web.Application:
    """The web application over ``app_ctx`` (a pipeline.context.App); ``clock`` returns aware UTC times.

    ``secure_cookies`` defaults to the ``web_secure_cookies`` setting (``CUR_WEB_SECURE_COOKIES``);
    ``trusted_proxies`` (addresses or networks) are the reverse proxies whose ``X-Forwarded-For`` names the client.
    """
    app = web.Application(middlewares=[error_middleware, auth.session_middleware, auth.csrf_middleware], client_max_size=MAX_BODY)
    app[CTX] = app_ctx
    passwords.dummy_hash()  # the timing defence for unknown logins holds from the first request
    app[CLOCK] = clock or utcnow
    app[JINJA] = _jinja(app_ctx)
    secret = app_ctx.settings.secret_key
    if not secret:
        log.warning("secret_key is not set: sessions will not survive a restart (set CUR_SECRET_KEY)")
        secret = secrets.token_hex(32)
    app[CODEC] = SessionCodec(secret.encode("utf-8"))
    app[SECURE] = bool(app_ctx.settings.web_secure_cookies if secure_cookies is None else secure_cookies)
    app[TRUSTED_PROXIES] = trusted_networks(trusted_proxies)
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/login", auth.login_page)
    app.router.add_post("/login", auth.login_submit)
    app.router.add_post("/logout", auth.logout)
    app.router.add_static("/static/", HERE / "static", name="static")
    views.setup(app)
    token_views.setup(app)  # /tokens: API tokens of authorities (admins)
    api.setup(app)
    return app
