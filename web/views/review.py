"""Review queue: operators confirm or correct the model's reading of flagged posts.

The page works without reloads: ``review.js`` sends each decision to ``POST /review/{post_id}`` with
``Accept: application/json`` (the CSRF token in ``X-CSRF-Token``), moves the focus to the next card at
once, and appends the next cards from ``GET /review/more``. ``POST /review/undo`` undoes the last
decision. Without JavaScript the same forms post and redirect back, as before.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web

from pipeline import incidents, search
from storage import analyses as qa
from storage import web_repo
from storage.web_repo import NotFound, OutOfScope

from .. import formatting, paging, services
from ..core import CLOCK, CTX, USER, Req, _audit_refused, page, parse_int, path_id, redirect
from .fakes import card_marks
from .fakes import panel as fake_panel
from .taxonomy import municipality_names, names, sector_names, valid_classification

DECISIONS = ("confirm", "correct", "not_problem", "merge", "fake")
URGENCIES = ("high", "normal")


@functools.cache
def _measure() -> Callable[[Any], float] | None:
    try:
        from nlp.classifier import uncertainty as measure
    except ImportError:
        return None
    return measure


def uncertainty(analysis: Any) -> float:
    """How unsure the model is about a post: the classifier's own measure when it has one."""
    measure = _measure()
    if measure is not None:
        try:
            return float(measure(analysis))
        except Exception:  # noqa: BLE001 - fall back to 1 - confidence on any signature mismatch
            pass
    return 1.0 - float(analysis.confidence if analysis.relevant else analysis.relevance_confidence)


def queue_key(entry: Any) -> tuple[int, float, datetime, int]:
    """Most urgent first, then least certain, then oldest; the post id makes the order total."""
    return (0 if entry.urgency == "high" else 1, -uncertainty(entry), entry.published_at, entry.post_id)


#: Cards on the first page; review.js asks for the next ones (``/review/more``) as the operator goes.
PAGE = 50
MORE = 30

# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """The queue's filters as they are in the URL (strings), and their meaning for the query."""

    values: dict[str, str]
    query: qa.QueueFilter

    @property
    def active(self) -> bool:
        return any(self.values.values())

    def url(self, path: str = "/review") -> str:
        q = {k: v for k, v in self.values.items() if v}
        return f"{path}?{urlencode(q)}" if q else path


FILTER_KEYS = ("q", "sector", "municipality", "urgency", "source", "from", "to", "fake")


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"Дата «{name}» должна быть в виде ГГГГ-ММ-ДД.") from None


def read_filters(req: Req) -> Filters:
    """The filters of the URL; unknown codes are a clear 400 in Russian."""
    qs = req.request.query
    v = {k: (qs.get(k) or "").strip() for k in FILTER_KEYS}
    profile = req.profile
    if v["sector"] and v["sector"] not in sector_names(profile):
        raise web.HTTPBadRequest(text="Неизвестное направление в фильтре.")
    if v["municipality"] and v["municipality"] not in municipality_names(profile):
        raise web.HTTPBadRequest(text="Неизвестный муниципалитет в фильтре.")
    if v["urgency"] and v["urgency"] not in URGENCIES:
        raise web.HTTPBadRequest(text="Срочность в фильтре: «срочно» или «обычная».")
    if len(v["q"]) > 200:
        raise web.HTTPBadRequest(text="Слишком длинный текст для поиска (не больше 200 знаков).")
    tz = profile.region.tz
    since_day, until_day = _day(v["from"], "с"), _day(v["to"], "по")
    since = datetime.combine(since_day, time(), tz) if since_day else None
    until = datetime.combine(until_day + timedelta(days=1), time(), tz) if until_day else None
    v["fake"] = "1" if v["fake"] else ""
    query = qa.QueueFilter(
        sector=v["sector"] or None, municipality=v["municipality"] or None, urgency=v["urgency"] or None,
        source=v["source"] or None, since=since, until=until, possible_fake=bool(v["fake"]),
        search=search.parse(v["q"]) if v["q"] else None, region=req.post_region,
    )
    return Filters(v, query)


def source_label(platform: str, key: str, title: str | None) -> str:
    """A source as people call it: its title, else the platform and the community or channel."""
    return formatting.source_label(platform, key, {(("telegram" if platform == "tgweb" else platform), key): title} if title else None)


# --------------------------------------------------------------------------- pages


def _cards(req: Req, filters: Filters, cursor: str | None, limit: int) -> tuple[list[Any], paging.Page[Any] | Any]:
    # The order comes from the classifier's uncertainty measure, so the queue is ordered here, in
    # Python, over the key columns of every waiting post; only the cards shown are read in full.
    entries = sorted(qa.review_queue_entries(req.s, filters.query), key=queue_key)
    try:
        pg = paging.fetch("review", filters.values, cursor, lambda **kw: paging.python_page(entries, queue_key, limit=limit, **kw))
    except paging.CursorError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    found = qa.review_rows(req.s, [e.post_id for e in pg.items])
    titles = {key: title for _platform, key, title in qa.review_sources(req.s, req.post_region)} if found else {}
    rows = [(*found[e.post_id], -queue_key(e)[1], source_label(found[e.post_id][0].platform, found[e.post_id][0].source_key, titles.get(found[e.post_id][0].source_key)))
            for e in pg.items if e.post_id in found]
    return rows, pg


def _next_cursor(filters: Filters, pg: Any) -> str:
    if pg.has_next and pg.last_key is not None:
        return paging.encode("review", filters.values, pg.last_key)
    return ""


def _taxonomy(profile: Any) -> list[dict[str, str]]:
    """Every sector:category once for the page (the type-ahead's list)."""
    return [{"code": f"{s.code}:{c.code}", "name": f"{s.name} — {c.name}"} for s in profile.sectors for c in s.categories]


@page("review.view")
def queue(req: Req) -> web.StreamResponse:
    filters = read_filters(req)
    rows, pg = _cards(req, filters, req.request.query.get("cursor"), PAGE)
    total_all = qa.review_queue_count(req.s, qa.QueueFilter(region=req.post_region)) if filters.active else pg.total
    recent = web_repo.review_decisions(req.s, 20)
    sources = [(key, source_label(platform, key, title)) for platform, key, title in qa.review_sources(req.s, req.post_region)]
    return req.render(
        "review.html", rows=rows, total=pg.total, total_all=total_all, next_cursor=_next_cursor(filters, pg),
        pager=paging.pager(req.request.path, "review", filters.values, pg), recent=recent, filters=filters,
        taxonomy=_taxonomy(req.profile), sources=sources, can_act=req.user.can("review.act"), **names(req),
        **fake_panel(req), **card_marks(req, rows),  # «возможный фейк» marks (web/views/fakes.py, _fake_marks.html, _fake_card_note.html)
    )


@page("review.view")
def more(req: Req) -> web.StreamResponse:
    """The next cards after ``cursor`` (JSON: the cards' HTML and the cursor after them)."""
    filters = read_filters(req)
    rows, pg = _cards(req, filters, req.request.query.get("cursor"), MORE)
    html = req.render("_review_cards.html", rows=rows, can_act=req.user.can("review.act"), **names(req), **card_marks(req, rows)).text or ""
    return web.json_response({"html": html, "next": _next_cursor(filters, pg)})


# --------------------------------------------------------------------------- decisions


class Refusal(Exception):
    """A decision the page refuses before the domain sees it: HTTP status and a Russian message."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def _decide(req: Req, post_id: int) -> dict[str, Any]:
    f = req.form
    decision = f.get("decision", "")
    if decision not in DECISIONS:
        raise Refusal(400, f"Неизвестное решение «{decision}».")
    found = web_repo.post_with_analysis(req.s, post_id)
    if found is None:
        raise Refusal(404, "Пост не найден.")
    _post, analysis = found
    if not req.sees_post(_post):
        raise Refusal(404, "Пост не найден.")  # another region's: not even its existence is told
    current = web_repo.incident_of_post(req.s, post_id)
    if current is not None and current.region != req.region_code:
        raise Refusal(403, "Пост относится к инциденту другого региона: решать по нему нельзя.")
    if qa.decision_in_force_for(req.s, post_id) is not None:
        raise Refusal(409, "По этому посту решение уже принято. Обновите страницу очереди.")
    sector = category = urgency = None
    if decision in ("confirm", "correct"):
        sector, _, category = (f.get("classification") or "").partition(":")
        urgency = f.get("urgency") or (analysis.urgency if analysis else None)
        if decision == "correct" and not valid_classification(req.profile, sector, category):
            raise Refusal(400, f"Неизвестные направление и категория: «{f.get('classification', '')}». Выберите их из списка.")
        if urgency is not None and urgency not in URGENCIES:
            raise Refusal(400, f"Неизвестная срочность «{urgency}».")
        if decision == "confirm" and analysis is not None:
            sector, category = analysis.sector, analysis.category
    comment = (f.get("comment") or "").strip() or None
    if decision == "not_problem" and comment is None:
        raise Refusal(400, "Укажите причину: почему это не проблема.")
    incident_id = None
    if decision == "merge":
        incident_id = parse_int((f.get("incident_id") or "").strip())
        if incident_id is None:
            raise Refusal(400, "Для объединения укажите номер инцидента.")
        target = req.incident(incident_id)  # must exist and be in the reader's scope
        if target.region != req.region_code:
            raise Refusal(403, f"Инцидент №{incident_id} относится к другому региону.")
    d = services.call(
        incidents.apply_review,
        req.s,
        post_id,
        decision,
        req.user.login,
        req.now,
        sector=sector or None,
        category=category or None,
        urgency=urgency,
        incident_id=incident_id,
        comment=comment,
        profile=req.profile,
    )
    req.audit(f"review.{decision}", f"post:{post_id}", sector=sector, category=category, urgency=urgency, incident_id=incident_id)
    inc = web_repo.incident_of_post(req.s, post_id)
    tail = f" Инцидент №{inc.id}." if inc is not None and decision != "not_problem" else ""
    return {"ok": True, "post_id": post_id, "decision_id": d.id, "incident_id": inc.id if inc is not None else None,
            "message": f"Пост {post_id}: решение сохранено.{tail}"}


def _undo(req: Req) -> dict[str, Any]:
    raw = (req.form.get("decision_id") or "").strip()
    if raw:
        decision_id = parse_int(raw)
        d = qa.review_decision(req.s, decision_id) if decision_id is not None else None
        if d is None:
            raise Refusal(404, "Решение не найдено.")
    else:
        d = qa.last_decision_of(req.s, req.user.login)
        if d is None:
            raise Refusal(409, "Нечего отменять: ваших решений в силе нет.")
    if d.reviewer != req.user.login and req.user.role != "admin":
        raise Refusal(403, "Отменить можно только своё решение.")
    undone = web_repo.post_with_analysis(req.s, d.post_id)
    if undone is not None and not req.sees_post(undone[0]):
        raise Refusal(404, "Решение не найдено.")
    current = web_repo.incident_of_post(req.s, d.post_id)
    if current is not None and current.region != req.region_code:
        raise Refusal(403, "Пост относится к инциденту другого региона.")
    services.call(incidents.undo_review, req.s, d.id, req.user.login, req.now, profile=req.profile)
    req.audit("review.undo", f"post:{d.post_id}", decision_id=d.id, decision=d.decision)
    return {"ok": True, "post_id": d.post_id, "decision_id": d.id,
            "message": f"Решение по посту {d.post_id} отменено: пост вернулся в очередь."}


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _json_error(status: int, text: str) -> web.Response:
    return web.json_response({"ok": False, "error": text}, status=status)


def _action(fn: Callable[[Req], dict[str, Any]]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A decision endpoint: JSON for review.js (``Accept: application/json``), a redirect for a plain form.

    Only roles with ``review.act`` may call it (403 otherwise); one transaction; a refusal changes nothing.
    """

    async def handler(request: web.Request) -> web.StreamResponse:
        as_json = _wants_json(request)
        user = request[USER]
        if not user.can("review.act"):
            text = "Недостаточно прав: очередь проверки открыта вам только для просмотра."
            if as_json:
                return _json_error(403, text)
            raise web.HTTPForbidden(text=text)
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        if any("\x00" in v for v in form.values()):
            return _json_error(400, "Поле содержит недопустимый символ NUL.") if as_json else redirect("/review", err="Поле содержит недопустимый символ NUL.")
        now = request.app[CLOCK]()
        db = request.app[CTX].db

        def work() -> dict[str, Any]:
            with db.session() as s:
                return fn(Req(request, s, user, now, form))

        try:
            out = await asyncio.to_thread(work)
        except Refusal as e:
            return _json_error(e.status, e.text) if as_json else redirect("/review", err=e.text)
        except NotFound:
            return _json_error(404, "Не найдено.") if as_json else redirect("/review", err="Не найдено.")
        except OutOfScope:
            return _json_error(403, "Этот инцидент вне вашей области.") if as_json else redirect("/review", err="Этот инцидент вне вашей области.")
        except (services.ActionRefused, services.ServiceUnavailable) as e:
            await asyncio.to_thread(_audit_refused, db, user, request, now, str(e))
            status = 409 if isinstance(e, services.ActionRefused) else 503
            text = f"Действие не выполнено: {e}"
            return _json_error(status, text) if as_json else redirect("/review", err=text)
        if as_json:
            return web.json_response(out)
        return redirect("/review", msg=out["message"])

    return handler


async def decide(request: web.Request) -> web.StreamResponse:
    post_id = path_id(request, "post_id")
    return await _action(lambda req: _decide(req, post_id))(request)


undo = _action(_undo)


def setup(app: web.Application) -> None:
    app.router.add_get("/review", queue)
    app.router.add_get("/review/more", more)
    app.router.add_post("/review/undo", undo)
    app.router.add_post("/review/{post_id:\\d+}", decide)
