"""Review queue: operators confirm or correct the model's reading of flagged posts."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Callable

from aiohttp import web

from pipeline import incidents
from storage import web_repo

from .. import paging, services
from ..core import Req, page, parse_int, path_id, redirect
from .taxonomy import names, valid_classification

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


#: Posts shown on one page (each carries the whole taxonomy in its form).
PAGE = 40


@page("review.view")
def queue(req: Req) -> web.StreamResponse:
    # The order comes from the classifier's uncertainty measure, so the queue is ordered here, in
    # Python, over the key columns of every waiting post (no cap); only one page is read in full.
    entries = sorted(web_repo.review_queue_entries(req.s), key=queue_key)
    try:
        pg = paging.fetch("review", {}, req.request.query.get("cursor"), lambda **kw: paging.python_page(entries, queue_key, limit=PAGE, **kw))
    except paging.CursorError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    found = web_repo.review_rows(req.s, [e.post_id for e in pg.items])
    rows = [(*found[e.post_id], -queue_key(e)[1]) for e in pg.items if e.post_id in found]
    recent = web_repo.review_decisions(req.s, 20)
    return req.render("review.html", rows=rows, total=pg.total, pager=paging.pager(req.request.path, "review", {}, pg), recent=recent, **names(req))


@page("review.act")
def decide(req: Req) -> web.StreamResponse:
    post_id = path_id(req.request, "post_id")
    f = req.form
    decision = f.get("decision", "")
    if decision not in DECISIONS:
        raise web.HTTPBadRequest(text=f"Неизвестное решение «{decision}».")
    found = web_repo.post_with_analysis(req.s, post_id)
    if found is None:
        raise web.HTTPNotFound(text="Пост не найден.")
    _post, analysis = found
    sector = category = urgency = None
    if decision in ("confirm", "correct"):
        sector, _, category = (f.get("classification") or "").partition(":")
        urgency = f.get("urgency") or (analysis.urgency if analysis else None)
        if decision == "correct" and not valid_classification(req.app_ctx.region, sector, category):
            return redirect("/review", err=f"Неизвестные направление и категория: «{f.get('classification', '')}».")
        if urgency is not None and urgency not in URGENCIES:
            return redirect("/review", err=f"Неизвестная срочность «{urgency}».")
        if decision == "confirm" and analysis is not None:
            sector, category = analysis.sector, analysis.category
    incident_id = None
    if decision == "merge":
        incident_id = parse_int((f.get("incident_id") or "").strip())
        if incident_id is None:
            return redirect("/review", err="Для объединения укажите номер инцидента.")
        req.incident(incident_id)  # must exist
    comment = (f.get("comment") or "").strip() or None
    services.call(
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
        profile=req.app_ctx.region,
    )
    req.audit(f"review.{decision}", f"post:{post_id}", sector=sector, category=category, urgency=urgency, incident_id=incident_id)
    inc = web_repo.incident_of_post(req.s, post_id)
    tail = f" Инцидент №{inc.id}." if inc is not None and decision != "not_problem" else ""
    return redirect("/review", msg=f"Пост {post_id}: решение сохранено.{tail}")


def setup(app: web.Application) -> None:
    app.router.add_get("/review", queue)
    app.router.add_post("/review/{post_id:\\d+}", decide)
