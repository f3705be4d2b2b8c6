"""REST API for authorities' back offices: ``Authorization: Bearer <token>``, one token per authority."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline import fakes, incidents
from pipeline.accounts import tokens as api_tokens
from pipeline.accounts.passwords import hash_token
from pipeline.errors import InvalidInput, Refused
from pipeline.official import page_figures
from pipeline.ratings import Period
from storage import fakes as fake_repo
from storage import web_repo
from storage.web_repo import NotFound, OutOfScope, Scope

from . import listfilters, paging, services
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
        return api_tokens.api_actor(self.authority.region, self.authority.code, self.request.app[CTX].region.code)

    @property
    def scope(self) -> Scope:
        return Scope.authority(self.authority.id)

    @property
    def profile(self) -> Any:
        """The profile of the token's authority's region (its time zone, calendar and authorities)."""
        return self.request.app[CTX].profile_of(self.authority.region)

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


IDEMPOTENCY_HEADER = "Idempotency-Key"


def _idempotency_key(request: web.Request) -> str | None:
    """The POST's Idempotency-Key (1–128 printable ASCII characters), None without one; ApiError if malformed."""
    if request.method != "POST" or IDEMPOTENCY_HEADER not in request.headers:
        return None
    key = request.headers[IDEMPOTENCY_HEADER].strip()
    if not 1 <= len(key) <= 128 or any(not ("!" <= ch <= "~") for ch in key):
        raise ApiError(400, "Заголовок Idempotency-Key — от 1 до 128 печатных символов ASCII без пробелов (например, UUID).")
    return key


def _nul_field(body: dict[str, Any]) -> str | None:
    """The first top-level field whose value (or key) holds a NUL character: PostgreSQL cannot store text with it."""
    def has_nul(v: Any) -> bool:
        if isinstance(v, str):
            return "\x00" in v
        if isinstance(v, dict):
            return any(has_nul(k) or has_nul(x) for k, x in v.items())
        if isinstance(v, list):
            return any(has_nul(x) for x in v)
        return False

    return next((k.replace("\x00", "") or "?" for k, v in body.items() if has_nul(k) or has_nul(v)), None)


def _request_hash(request: web.Request, body: dict[str, Any]) -> str:
    canon = json.dumps([request.method, request.path, body], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


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
            bad = _nul_field(body)
            if bad is not None:
                return json_error(400, f"Поле «{bad}» содержит недопустимый символ NUL (\\u0000).")
        try:
            key = _idempotency_key(request)
        except ApiError as e:
            return json_error(e.status, e.message)
        now = request.app[CLOCK]()
        db = request.app[CTX].db

        def work() -> tuple[int, Any, bool]:
            with db.session() as s:
                found = web_repo.token_for_api(s, hash_token(token))
                if found is None:
                    return 401, {"error": "Токен недействителен или отозван."}, False
                if api_tokens.use_is_stale(found.last_used_at, now):
                    # at most once a minute per token, in a transaction of its own: kept even if the action is refused
                    with db.session() as touch:
                        web_repo.touch_api_token(touch, found.token_id, now, api_tokens.LAST_USE_RESOLUTION)
                req_hash = _request_hash(request, body) if key else ""
                if key:
                    prev = web_repo.idempotent_answer(s, found.authority.id, key, now)
                    if prev is not None:
                        if prev.request_hash != req_hash:
                            return 422, {"error": "Этот Idempotency-Key уже использован для другого запроса: для нового действия нужен новый ключ."}, False
                        return prev.status, prev.body, True  # a retry: the first answer again, nothing redone
                try:
                    result = fn(ApiReq(request, s, found.authority, now, body))
                except ApiError as e:
                    return e.status, {"error": e.message}, False
                if key:
                    # in the action's own transaction: both are kept, or neither
                    web_repo.store_idempotent_answer(s, found.authority.id, key, req_hash, 200, result, now)
                return 200, result, False

        try:
            try:
                status, data, replayed = await asyncio.to_thread(work)
            except IntegrityError:
                if not key:
                    raise
                # the same key arrived twice at once: the other request's work is kept, this one's rolled back
                status, data, replayed = await asyncio.to_thread(work)
        except services.NotFoundError as e:
            return json_error(404, f"Не найдено: {e}")
        except services.ActionRefused as e:
            return json_error(409, f"Действие не выполнено: {e}")
        except services.ServiceUnavailable as e:
            return json_error(503, f"Служба недоступна: {e}")
        if status >= 400:
            return json_error(status, data["error"])
        resp = web.json_response(data, dumps=_dumps)
        if replayed:
            resp.headers["Idempotent-Replayed"] = "true"
        return resp

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
        "updated_at": _iso(inc.updated_at),
        "is_possible_fake": bool(inc.is_possible_fake),
        "merged_into_id": inc.merged_into_id,
        "answer_flag": inc.answer_flag,
    }




LIST_PARAMS = ("state", "open", "updated_since", "limit", "cursor", *(p for p in listfilters.PARAMS if p != "state"))


def _since(value: str | None) -> datetime | None:
    """``updated_since``: an ISO 8601 time with its offset (``2026-12-01T09:00:00+07:00`` or ``…Z``)."""
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise ApiError(400, "Параметр updated_since — время ISO 8601 с часовым поясом, например 2026-12-01T09:00:00+07:00 (знак + в адресе — %2B) или 2026-12-01T02:00:00Z.")
    return t.astimezone(timezone.utc)


@endpoint
def list_incidents(req: ApiReq) -> Any:
    """The token's authority's incidents, nearest deadline first, one page at a time (keyset cursor)."""
    q = req.request.query
    unknown = sorted(set(q) - set(LIST_PARAMS))
    if unknown:
        raise ApiError(400, f"Неизвестный параметр запроса: {', '.join(unknown)}. Возможные: {', '.join(LIST_PARAMS)}.")
    state = q.get("state") or None
    if state is not None and state not in INCIDENT_STATES:
        raise ApiError(400, f"Параметр state должен быть одним из: {', '.join(INCIDENT_STATES)}.")
    updated_since = _since(q.get("updated_since"))
    # with updated_since (syncing) every change counts, closed incidents too, unless open=1 is asked for
    open_value = q.get("open", "0" if updated_since is not None else "1")
    if open_value not in ("1", "0"):
        raise ApiError(400, "Параметр open должен быть 1 или 0.")
    open_only = open_value == "1"
    # the list filters of the web pages (web/listfilters.py); the token's authority is forced by its scope
    lf = listfilters.parse(q, restricted=True)
    if lf.errors:
        raise ApiError(400, " ".join(lf.errors))
    extra = lf.params(drop=("state",))
    lf_kwargs = {k: v for k, v in lf.storage_kwargs(req.profile.region.tz, req.now).items() if k != "state"}
    order = lf.order or "deadline"
    filters = {"state": state, "open": open_value, "updated_since": updated_since.isoformat() if updated_since else None, **extra}
    try:
        limit = paging.parse_limit(q.get("limit"))
        pg = paging.fetch(
            "api.incidents", filters, q.get("cursor"),
            lambda **kw: web_repo.incident_page(req.s, req.scope, limit=limit, order=order, state=state, open_only=open_only, updated_since=updated_since, **lf_kwargs, **kw),
        )
    except paging.CursorError as e:
        raise ApiError(400, str(e)) from None
    cursor = paging.encode("api.incidents", filters, pg.last_key) if pg.has_next and pg.last_key is not None else None
    nxt = None
    if cursor is not None:
        params = {"state": state, "open": open_value, "updated_since": q.get("updated_since"), **extra, "limit": limit, "cursor": cursor}
        nxt = "/api/incidents?" + urlencode({k: v for k, v in params.items() if v is not None})
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
    posts = web_repo.incident_posts(req.s, inc.id)
    data["posts"] = [
        {"id": p.id, "platform": p.platform, "url": p.url, "published_at": _iso(p.published_at), "text": p.text}
        for p, _ in posts
    ]
    data["addresses"] = incidents.address_list(inc.details, (p.text for p, _ in posts))
    data["responses"] = [{"kind": r.kind, "text": r.text, "author": r.author, "channel": r.channel, "at": _iso(r.at),
                          "quality": r.quality, "quality_confidence": r.quality_confidence, "quality_review": bool(r.quality_review),
                          "counted": bool(r.counted)} for r in web_repo.incident_responses(req.s, inc.id)]
    data["events"] = [{"kind": e.kind, "at": _iso(e.at), "actor": e.actor, "from_state": e.from_state, "to_state": e.to_state} for e in web_repo.incident_events(req.s, inc.id)]
    data["fake_marks"] = [{"post_id": m.post_id, "claim_id": c.id, "claim": c.claim, "refutation": c.refutation, "link": c.link,
                           "score": round(float(m.score), 4), "decision": m.decision} for m, c, _p in fake_repo.marks_of_incident(req.s, inc.id)]
    return data


def claim_json(c: Any) -> dict[str, Any]:
    return {"id": c.id, "claim": c.claim, "refutation": c.refutation, "link": c.link, "added_by": c.added_by,
            "created_at": _iso(c.created_at), "active": bool(c.is_active)}


@endpoint
def list_fake_claims(req: ApiReq) -> Any:
    return {"threshold": fakes.current_threshold(req.s), "claims": [claim_json(c) for c in fakes.list_claims(req.s)]}


@endpoint
def add_fake_claim(req: ApiReq) -> Any:
    link = req.body.get("link")
    try:
        c = fakes.add_claim(req.s, req.body.get("claim"), req.body.get("refutation"), link, req.actor, req.now, via="api")
    except InvalidInput as e:
        raise ApiError(400, f"{str(e)[:1].upper()}{str(e)[1:]}.") from None
    except Refused as e:
        raise ApiError(409, f"Действие не выполнено: {e}") from None
    return claim_json(c)


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
        authority_code=req.authority.code, profile=req.profile, actor=req.actor,
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
    services.change_state(req.s, inc, action, req.actor, req.now, reason, req.profile)
    req.audit(f"api.{action}", f"incident:{inc.id}", reason=reason)
    return incident_json(inc)


ALERT_PARAMS = ("state", "limit")


@endpoint
def list_alerts(req: ApiReq) -> Any:
    """Emerging problems (pipeline.alerts), newest first: open, closed or all; all of them for the ЦУР head's token,
    those about the token authority's incidents for another."""
    from pipeline.alerts import alert_list

    q = req.request.query
    unknown = sorted(set(q) - set(ALERT_PARAMS))
    if unknown:
        raise ApiError(400, f"Неизвестный параметр запроса: {', '.join(unknown)}. Возможные: {', '.join(ALERT_PARAMS)}.")
    state = q.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise ApiError(400, "Параметр state должен быть одним из: open, closed, all.")
    try:
        limit = paging.parse_limit(q.get("limit"))
    except paging.CursorError as e:
        raise ApiError(400, str(e)) from None
    # alerts are the ЦУР head's: the head's token sees all of them, another authority's token those
    # about its own incidents only
    scope = None if req.authority.role == "head" else req.scope
    rows = alert_list(req.s, req.profile, state=None if state == "all" else state, limit=limit, scope=scope)
    return {"alerts": [{**{k: v for k, v in a.items() if k not in ("series", "events", "posts")},
                        "opened_at": _iso(a["opened_at"]), "closed_at": _iso(a["closed_at"]),
                        "updated_at": _iso(a["updated_at"]), "posts": len(a["posts"]),
                        "events": [{"kind": e["kind"], "at": _iso(e["at"])} for e in a["events"]]} for a in rows]}


@endpoint
def official_pages(req: ApiReq) -> Any:
    """The published rating «ведение официальных страниц» for a month (pipeline/official.py, docs/ratings.md)."""
    q = req.request.query
    unknown = sorted(set(q) - {"month"})
    if unknown:
        raise ApiError(400, f"Неизвестный параметр запроса: {', '.join(unknown)}. Возможный: month.")
    profile = req.profile
    tz = profile.region.tz
    month = q.get("month") or req.now.astimezone(tz).strftime("%Y-%m")
    try:
        period = Period.month(month, tz)
    except InvalidInput as e:
        raise ApiError(400, str(e)) from None
    rows = page_figures(req.s, profile, period, req.now)
    return {"month": month, "authority": req.authority.code, "rows": [r.as_dict() for r in rows]}


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(spec(), dumps=_dumps)


async def not_found(request: web.Request) -> web.Response:
    return json_error(404, "Нет такого метода API.")


ROUTES = [
    ("GET", "/api/incidents", list_incidents),
    ("GET", "/api/incidents/{incident_id:\\d+}", get_incident),
    ("POST", "/api/incidents/{incident_id:\\d+}/responses", post_response),
    ("POST", "/api/incidents/{incident_id:\\d+}/state", change_state),
    ("GET", "/api/alerts", list_alerts),
    ("GET", "/api/fakes", list_fake_claims),
    ("POST", "/api/fakes", add_fake_claim),
    ("GET", "/api/official-pages", official_pages),
]


def setup(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
