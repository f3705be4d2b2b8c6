"""REST API for authorities' back offices: ``Authorization: Bearer <token>``, one token per authority."""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from pipeline import incidents
from pipeline.accounts import tokens as api_tokens
from pipeline.accounts.passwords import hash_token
from storage import web_repo
from storage.web_repo import NotFound, OutOfScope, Scope

from . import paging, services
from .core import CLOCK, CTX, client_ip, parse_int
from .openapi import STATES as INCIDENT_STATES
from .openapi import spec

RESPONSE_KINDS = ("first_reply", "interim", "final")
STATE_ACTIONS = ("acknowledge", "resolve", "reject")
#: responses.author is VARCHAR(128)
AUTHOR_MAX = 128


def json_error(status: int, message: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="cur"'} if status == 401 else None
    return web.json_response({"error": message}, status=status, headers=headers, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class ApiReq:
    request: web.Request
    s: Session
    authority: Any
    now: datetime
    body: dict[str, Any]

    @property
    def actor(self) -> str:
        return f"api:{self.authority.code}"

    @property
    def scope(self) -> Scope:
        return Scope.authority(self.authority.id)

    def incident(self) -> Any:
        try:
            incident_id = parse_int(self.request.match_info.get("incident_id"))
            if incident_id is None:
                raise NotFound
            return web_repo.scoped_incident(self.s, self.scope, incident_id)
        except NotFound:
            raise ApiError(404, "Инцидент не найден.") from None
        except OutOfScope:
            raise ApiError(403, "Инцидент направлен другому органу власти.") from None

    def audit(self, action: str, target: str, **data: Any) -> None:
        data.setdefault("ip", client_ip(self.request))
        web_repo.audit(self.s, self.actor, action, target, data, self.now)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def endpoint(fn: Callable[[ApiReq], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
    @functools.wraps(fn)
    async def wrapped(request: web.Request) -> web.Response:
        token = _bearer(request)
        if token is None:
            return json_error(401, "Нужен заголовок Authorization: Bearer <токен>.")
        body: dict[str, Any] = {}
        if request.method == "POST":
            if request.content_type != "application/json":
                return json_error(415, "Тело запроса должно быть JSON с заголовком Content-Type: application/json.")
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
                return json_error(400, "Тело запроса должно быть объектом JSON.")
            if not isinstance(body, dict):
                return json_error(400, "Тело запроса должно быть объектом JSON.")
        now = request.app[CLOCK]()
        db = request.app[CTX].db

        def work() -> tuple[int, Any]:
            with db.session() as s:
                found = web_repo.token_for_api(s, hash_token(token))
                if found is None:
                    return 401, {"error": "Токен недействителен или отозван."}
                if api_tokens.use_is_stale(found.last_used_at, now):
                    # at most once a minute per token, in a transaction of its own: kept even if the action is refused
                    with db.session() as touch:
                        web_repo.touch_api_token(touch, found.token_id, now, api_tokens.LAST_USE_RESOLUTION)
                try:
                    return 200, fn(ApiReq(request, s, found.authority, now, body))
                except ApiError as e:
                    return e.status, {"error": e.message}

        try:
            status, data = await asyncio.to_thread(work)
        except services.NotFoundError as e:
            return json_error(404, f"Не найдено: {e}")
        except services.ActionRefused as e:
            return json_error(409, f"Действие не выполнено: {e}")
        except services.ServiceUnavailable as e:
            return json_error(503, f"Служба недоступна: {e}")
        if status >= 400:
            return json_error(status, data["error"])
        return web.json_response(data, dumps=_dumps)

    return wrapped


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def incident_json(inc: Any) -> dict[str, Any]:
    return {
        "id": inc.id,
        "title": inc.title,
        "state": inc.state,
        "sector": inc.sector,
        "category": inc.category,
        "municipality": inc.municipality,
        "urgency": inc.urgency,
        "created_at": _iso(inc.created_at),
        "routed_at": _iso(inc.routed_at),
        "first_reply_due": _iso(inc.first_reply_due),
        "interim_due": _iso(inc.interim_due),
        "final_due": _iso(inc.final_due),
        "first_reply_at": _iso(inc.first_reply_at),
        "interim_at": _iso(inc.interim_at),
        "final_at": _iso(inc.final_at),
        "resolved_at": _iso(inc.resolved_at),
        "is_possible_fake": inc.is_possible_fake,
    }




@endpoint
def list_incidents(req: ApiReq) -> Any:
    """The token's authority's incidents, nearest deadline first, one page at a time (keyset cursor)."""
    q = req.request.query
    unknown = sorted(set(q) - {"state", "open", "limit", "cursor"})
    if unknown:
        raise ApiError(400, f"Неизвестный параметр запроса: {', '.join(unknown)}. Возможные: state, open, limit, cursor.")
    state = q.get("state") or None
    if state is not None and state not in INCIDENT_STATES:
        raise ApiError(400, f"Параметр state должен быть одним из: {', '.join(INCIDENT_STATES)}.")
    open_value = q.get("open", "1")
    if open_value not in ("1", "0", "true", "false", "yes", "no"):
        raise ApiError(400, "Параметр open должен быть 1 или 0.")
    open_only = open_value in ("1", "true", "yes")
    filters = {"state": state, "open": "1" if open_only else "0"}
    try:
        limit = paging.parse_limit(q.get("limit"))
        pg = paging.fetch(
            "api.incidents", filters, q.get("cursor"),
            lambda **kw: web_repo.incident_page(req.s, req.scope, limit=limit, state=state, open_only=open_only, **kw),
        )
    except paging.CursorError as e:
        raise ApiError(400, str(e)) from None
    cursor = paging.encode("api.incidents", filters, pg.last_key) if pg.has_next and pg.last_key is not None else None
    nxt = None
    if cursor is not None:
        nxt = "/api/incidents?" + urlencode({k: v for k, v in {"state": state, "open": filters["open"], "limit": limit, "cursor": cursor}.items() if v is not None})
    return {
        "authority": req.authority.code,
        "total": pg.total,
        "limit": limit,
        "incidents": [incident_json(i) for i in pg.items],
        "next_cursor": cursor,
        "next": nxt,
    }


@endpoint
def get_incident(req: ApiReq) -> Any:
    inc = req.incident()
    data = incident_json(inc)
    data["posts"] = [
        {"id": p.id, "platform": p.platform, "url": p.url, "published_at": _iso(p.published_at), "text": p.text}
        for p, _ in web_repo.incident_posts(req.s, inc.id)
    ]
    data["responses"] = [{"kind": r.kind, "text": r.text, "author": r.author, "channel": r.channel, "at": _iso(r.at)} for r in web_repo.incident_responses(req.s, inc.id)]
    data["events"] = [{"kind": e.kind, "at": _iso(e.at), "actor": e.actor, "from_state": e.from_state, "to_state": e.to_state} for e in web_repo.incident_events(req.s, inc.id)]
    return data


def _text(body: dict[str, Any], name: str, required: bool = True) -> str | None:
    v = body.get(name)
    if not required and (v is None or (isinstance(v, str) and not v.strip())):
        return None
    if not required and not isinstance(v, str):
        raise ApiError(400, f"Поле «{name}» должно быть строкой.")
    if not isinstance(v, str) or not v.strip():
        raise ApiError(400, f"Поле «{name}» обязательно и должно быть непустой строкой.")
    return v.strip()


@endpoint
def post_response(req: ApiReq) -> Any:
    inc = req.incident()
    kind = _text(req.body, "kind")
    if kind not in RESPONSE_KINDS:
        raise ApiError(400, f"Поле «kind» должно быть одним из: {', '.join(RESPONSE_KINDS)}.")
    text = _text(req.body, "text")
    # the back office may name who signed the answer (kept with the answer); the event log's actor is always the token's authority
    author = _text(req.body, "author", required=False)
    if author is not None and (len(author) > AUTHOR_MAX or any(ord(ch) < 32 or ord(ch) == 127 for ch in author)):
        raise ApiError(400, f"Поле «author» — не длиннее {AUTHOR_MAX} символов, без управляющих символов.")
    services.call(
        incidents.record_response, req.s, inc, kind, text, author or req.actor, "api", req.now,
        authority_code=req.authority.code, profile=req.request.app[CTX].region, actor=req.actor,
    )
    req.audit("api.answer", f"incident:{inc.id}", kind=kind)
    return incident_json(inc)


@endpoint
def change_state(req: ApiReq) -> Any:
    inc = req.incident()
    action = _text(req.body, "action")
    if action not in STATE_ACTIONS:
        raise ApiError(400, f"Поле «action» должно быть одним из: {', '.join(STATE_ACTIONS)}.")
    reason = _text(req.body, "reason", required=False)
    if action == "reject" and reason is None:
        raise ApiError(422, "Для отклонения укажите причину: поле «reason» (непустая строка).")
    services.change_state(req.s, inc, action, req.actor, req.now, reason, req.request.app[CTX].region)
    req.audit(f"api.{action}", f"incident:{inc.id}", reason=reason)
    return incident_json(inc)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(spec(), dumps=_dumps)


async def not_found(request: web.Request) -> web.Response:
    return json_error(404, "Нет такого метода API.")


ROUTES = [
    ("GET", "/api/incidents", list_incidents),
    ("GET", "/api/incidents/{incident_id:\\d+}", get_incident),
    ("POST", "/api/incidents/{incident_id:\\d+}/responses", post_response),
    ("POST", "/api/incidents/{incident_id:\\d+}/state", change_state),
]


def setup(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
