"""The aiohttp application: ``create_app(app_ctx, clock=None)``."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from storage.types import utcnow

from . import api, auth, formatting, roles, views
from .core import CLOCK, CODEC, CTX, JINJA, SECURE, USER, render
from .sessions import SessionCodec
from .views import tokens as token_views

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

ERROR_TITLES = {400: "Неверный запрос", 401: "Требуется вход", 403: "Доступ запрещён", 404: "Не найдено", 405: "Метод не поддерживается", 429: "Слишком много запросов"}


def _jinja(app_ctx: Any) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    tz = app_ctx.region.region.tz
    env.filters["local"] = lambda v, fmt="%d.%m.%Y %H:%M": formatting.local_time(v, tz, fmt)
    env.filters["countdown"] = formatting.countdown
    env.filters["minutes"] = lambda v: "—" if v is None else formatting.human_delta(timedelta(minutes=float(v)))
    env.filters["http_url"] = lambda u: u if isinstance(u, str) and u.lower().startswith(("http://", "https://")) else None
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * float(v):.0f}%"
    env.globals.update(
        URGENCY=formatting.URGENCY_NAMES,
        STATES=formatting.STATE_NAMES,
        EVENTS=formatting.EVENT_NAMES,
        KINDS=formatting.RESPONSE_KINDS,
        DECISIONS=formatting.DECISION_NAMES,
        PLATFORMS=formatting.PLATFORM_NAMES,
        ROLE_NAMES=roles.ROLE_NAMES,
        next_due=formatting.next_due,
        iso=lambda d: d.isoformat() if d else "",
    )
    return env


@web.middleware
async def error_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        message = e.text if e.text and not e.text.startswith(str(e.status)) else ERROR_TITLES.get(e.status, e.reason)
        if request.path.startswith("/api/"):
            return api.json_error(e.status, message)
        if USER not in request:
            return web.Response(text=message, status=e.status, content_type="text/plain", charset="utf-8")
        return render(request, "error.html", status=e.status, user=request[USER], title=ERROR_TITLES.get(e.status, "Ошибка"), message=message)


def create_app(app_ctx: Any, clock: Callable[[], datetime] | None = None, secure_cookies: bool = False) -> web.Application:
    """The web application over ``app_ctx`` (a pipeline.context.App); ``clock`` returns aware UTC times."""
    app = web.Application(middlewares=[error_middleware, auth.session_middleware, auth.csrf_middleware], client_max_size=2 * 1024 * 1024)
    app[CTX] = app_ctx
    app[CLOCK] = clock or utcnow
    app[JINJA] = _jinja(app_ctx)
    secret = app_ctx.settings.secret_key
    if not secret:
        log.warning("secret_key is not set: sessions will not survive a restart (set CUR_SECRET_KEY)")
        secret = secrets.token_hex(32)
    app[CODEC] = SessionCodec(secret.encode("utf-8"))
    app[SECURE] = secure_cookies
    app.router.add_get("/login", auth.login_page)
    app.router.add_post("/login", auth.login_submit)
    app.router.add_post("/logout", auth.logout)
    app.router.add_static("/static/", HERE / "static", name="static")
    views.setup(app)
    token_views.setup(app)  # /tokens: API tokens of authorities (admins)
    api.setup(app)
    return app
