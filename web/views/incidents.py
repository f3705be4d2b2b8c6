"""Incident list, incident page, sector-block inbox and the actions on an incident."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from pipeline import cells, incidents
from pipeline.quality_names import QUALITY_NAMES
from pipeline.routing import route
from storage import web_repo

from .. import formatting, listfilters, paging, services
from ..core import Req, int_field, page, path_id, redirect
from ..formatting import RESPONSE_KINDS as STAGE_NAMES
from ..formatting import STATE_NAMES, URGENCY_NAMES, late_stages, local_time, next_due, overdue_stages
from .fakes import incident_marks
from .taxonomy import names

RESPONSE_KINDS = ("first_reply", "interim", "final")
#: state action -> (service function, permission)
STATE_ACTIONS = {
    "acknowledge": ("acknowledge", "incidents.answer"),
    "resolve": ("resolve", "incidents.answer"),
    "reject": ("reject", "incidents.manage"),
    "reopen": ("reopen", "incidents.manage"),
}


def _routing_explanation(req: Req, incident: Any) -> str | None:
    """Why the incident goes where it does: the routing service's explanation, else the stored rule."""
    try:
        decision = route(req.profile_of(incident), incident.sector, incident.category, incident.municipality, incident.urgency)
    except Exception:  # noqa: BLE001 - an explanation must never break the page
        return incident.routing_rule
    return decision.explanation


#: rows on one page of the incident list and the inbox
PAGE_SIZE = 50
#: rows of a CSV of a list view at most
CSV_LIMIT = 20000


def _filters(req: Req) -> listfilters.ListFilters:
    return listfilters.parse(req.request.query, restricted=req.scope.restricted)


def _page(req: Req, list_name: str, f: listfilters.ListFilters, default_order: str, **query: Any) -> tuple[Any, Any]:
    """One page of the scope's incidents and its navigation (filters kept in the links)."""
    params = f.params()
    kwargs = {**f.storage_kwargs(req.profile.region.tz, req.now), **query}
    try:
        pg = paging.fetch(
            list_name, params, req.request.query.get("cursor"),
            lambda **kw: web_repo.incident_page(req.s, req.scope, limit=PAGE_SIZE, order=f.order or default_order, **kw, **kwargs),
        )
    except paging.CursorError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    return pg, paging.pager(req.request.path, list_name, params, pg)


def _source_name(req: Req, key: str) -> str:
    """A source as people call it: its title, else the platform and the community or channel."""
    found = web_repo.source_of_key(req.s, key)
    if found is None:
        return formatting.source_label("", key)
    platform, title = found
    return title or formatting.source_label(platform, key)


def _list_context(req: Req, f: listfilters.ListFilters, csv_path: str) -> dict[str, Any]:
    params = f.params()
    return {
        "source_name": _source_name(req, f.get("source")) if f.get("source") else None,
        "filters": f,
        "selected_authority": f.authority,
        "csv_url": csv_path + ("?" + urlencode(params) if params else ""),
        "URGENCIES": URGENCY_NAMES,
        "SORTS": listfilters.SORT_NAMES,
        "filter_err": " ".join(f.errors) or None,
        "restricted": req.scope.restricted,
        **names(req),
    }


@page("incidents.view")
def incident_list(req: Req) -> web.StreamResponse:
    f = _filters(req)
    pg, nav = _page(req, "incidents", f, "deadline")
    return req.render("incidents.html", incidents=pg.items, pager=nav, **_list_context(req, f, "/incidents.csv"))


#: what the inbox holds whatever the filters: open incidents routed to an authority
INBOX_QUERY = {"open_only": True, "routed_only": True}


@page("inbox.view")
def inbox(req: Req) -> web.StreamResponse:
    # a specialist's scope is their authority whatever the query says; others may pick one
    f = _filters(req)
    pg, nav = _page(req, "inbox", f, "next_due", **INBOX_QUERY)
    return req.render("inbox.html", incidents=pg.items, pager=nav, **_list_context(req, f, "/inbox.csv"))


CSV_FIELDS = ["№", "Суть", "Направление", "Категория", "Муниципалитет", "Орган власти", "Срочность", "Состояние", "Открыт", "Ближайший срок", "Этап", "Просрочено", "Ответы с опозданием", "Адрес"]


def csv_row(req: Req) -> Any:
    """A function making the CSV row of an incident of the region ``req`` looks at (names and times of that region)."""
    ctx = names(req)
    tz = req.profile.region.tz
    base = f"{req.request.scheme}://{req.request.host}"

    def row(i: Any) -> dict[str, Any]:
        stage, due = next_due(i, req.now)
        auth = ctx["AUTHORITIES"].get(i.authority_id)
        return {
            "№": i.id,
            "Суть": i.title or "",
            "Направление": ctx["SECTORS"].get(i.sector, i.sector or ""),
            "Категория": ctx["CATEGORIES"].get((i.sector, i.category), i.category or ""),
            "Муниципалитет": ctx["MUNICIPALITIES"].get(i.municipality, i.municipality or ""),
            "Орган власти": auth.name if auth else "",
            "Срочность": URGENCY_NAMES.get(i.urgency, i.urgency or ""),
            "Состояние": STATE_NAMES.get(i.state, i.state),
            "Открыт": local_time(i.created_at, tz),
            "Ближайший срок": local_time(due, tz) if due else "",
            "Этап": STAGE_NAMES.get(stage, stage) if stage else "",
            "Просрочено": ", ".join(STAGE_NAMES.get(x, x) for x in overdue_stages(i, req.now)),
            "Ответы с опозданием": ", ".join(STAGE_NAMES.get(x, x) for x in late_stages(i)),
            "Адрес": f"{base}/incidents/{i.id}",
        }

    return row


def csv_response(req: Req, name: str, rows: Any, fields: list[str]) -> web.StreamResponse:
    """Rows (dicts) as a CSV download Excel opens as UTF-8; every cell made safe (``pipeline.cells``)."""
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads the file as UTF-8 only with the BOM
    cells.write_csv(out, rows, fields)
    day = req.now.astimezone(req.profile.region.tz).strftime("%Y-%m-%d")
    return web.Response(
        body=out.getvalue().encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{day}.csv"', "Cache-Control": "no-store"},
    )


def _csv(req: Req, name: str, default_order: str, **query: Any) -> web.StreamResponse:
    """The list view as CSV: the same filters and scope, every row (up to CSV_LIMIT), cells made safe."""
    f = _filters(req)
    if f.errors:
        raise web.HTTPBadRequest(text=" ".join(f.errors))
    kwargs = {**f.storage_kwargs(req.profile.region.tz, req.now), **query}
    rows = web_repo.incident_rows(req.s, req.scope, order=f.order or default_order, limit=CSV_LIMIT, **kwargs)
    row = csv_row(req)
    return csv_response(req, name, (row(i) for i in rows), CSV_FIELDS)


@page("incidents.view")
def incident_list_csv(req: Req) -> web.StreamResponse:
    return _csv(req, "incidents", "deadline")


@page("inbox.view")
def inbox_csv(req: Req) -> web.StreamResponse:
    return _csv(req, "inbox", "next_due", **INBOX_QUERY)


@page("incidents.view")
def incident_page(req: Req) -> web.StreamResponse:
    inc = req.incident(path_id(req.request, "incident_id"))
    ctx = names(req)
    posts = web_repo.incident_posts(req.s, inc.id)
    return req.render(
        "incident.html",
        inc=inc,
        posts=posts,
        addresses=incidents.address_list(inc.details, (p.text for p, _ in posts)),
        events=web_repo.incident_events(req.s, inc.id),
        responses=web_repo.incident_responses(req.s, inc.id),
        assignments=web_repo.incident_assignments(req.s, inc.id),
        routing=_routing_explanation(req, inc),
        authority=ctx["AUTHORITIES"].get(inc.authority_id),
        **incident_marks(req, inc.id),
        **ctx,
    )


def _back(inc: Any) -> str:
    return f"/incidents/{inc.id}"


@page("incidents.answer")
def answer(req: Req) -> web.StreamResponse:
    inc = req.incident(path_id(req.request, "incident_id"))
    kind = req.form.get("kind", "")
    text = (req.form.get("text") or "").strip()
    if kind not in RESPONSE_KINDS:
        return redirect(_back(inc), err=f"Неизвестный вид ответа «{kind}».")
    if not text:
        return redirect(_back(inc), err="Текст ответа пуст.")
    event = services.call(incidents.record_response, req.s, inc, kind, text, req.user.login, "web", req.now, profile=req.profile_of(inc))
    req.audit("incident.answer", f"incident:{inc.id}", kind=kind)
    if event.kind == "answer_flagged":
        return redirect(_back(inc), err="Ответ записан, но прочитан как ответ не по существу: этап не закрыт. "
                                        "Укажите срок, действие или ответственного.")
    return redirect(_back(inc), msg="Ответ записан.")


@page("incidents.manage")
def answer_review(req: Req) -> web.StreamResponse:
    inc = req.incident(path_id(req.request, "incident_id"))
    quality = req.form.get("quality", "")
    if quality not in QUALITY_NAMES:
        return redirect(_back(inc), err="Неизвестная оценка ответа.")
    response_id = int_field(req.form, "response_id")
    services.call(incidents.review_answer, req.s, inc, response_id, quality, req.user.login, req.now, profile=req.profile_of(inc))
    req.audit("incident.answer_review", f"incident:{inc.id}", response=response_id, quality=quality)
    return redirect(_back(inc), msg=f"Оценка ответа: {QUALITY_NAMES[quality]}.")


@page("incidents.view")
def change_state(req: Req) -> web.StreamResponse:
    inc = req.incident(path_id(req.request, "incident_id"))
    action = req.form.get("action", "")
    if action not in STATE_ACTIONS:
        raise web.HTTPBadRequest(text=f"Неизвестное действие «{action}».")
    fn, permission = STATE_ACTIONS[action]
    req.require(permission)
    reason = (req.form.get("reason") or "").strip() or None
    services.change_state(req.s, inc, fn, req.user.login, req.now, reason, req.profile_of(inc))
    req.audit(f"incident.{action}", f"incident:{inc.id}", reason=reason)
    return redirect(_back(inc), msg="Состояние изменено.")


@page("incidents.manage")
def reroute(req: Req) -> web.StreamResponse:
    inc = req.incident(path_id(req.request, "incident_id"))
    code = req.form.get("authority", "")
    reason = (req.form.get("reason") or "").strip()
    if web_repo.authority_by_code(req.s, inc.region, code) is None:
        return redirect(_back(inc), err=f"Неизвестный орган власти «{code}».")
    if not reason:
        return redirect(_back(inc), err="Укажите причину перенаправления.")
    services.call(incidents.reroute, req.s, inc, code, req.user.login, reason, req.now, profile=req.profile_of(inc))
    req.audit("incident.reroute", f"incident:{inc.id}", authority=code, reason=reason)
    return redirect(_back(inc), msg="Инцидент перенаправлен.")


@page("incidents.manage")
def merge(req: Req) -> web.StreamResponse:
    inc = req.incident(path_id(req.request, "incident_id"))
    other = req.incident(int_field(req.form, "other_id"))
    if other.id == inc.id:
        return redirect(_back(inc), err="Нельзя объединить инцидент с самим собой.")
    services.call(incidents.merge, req.s, inc, [other], actor=req.user.login, now=req.now)
    req.audit("incident.merge", f"incident:{inc.id}", merged=other.id)
    return redirect(_back(inc), msg=f"Инцидент №{other.id} объединён с этим.")


@page("incidents.manage")
def fake(req: Req) -> web.StreamResponse:
    inc = req.incident(path_id(req.request, "incident_id"))
    services.call(incidents.mark_fake, req.s, inc, actor=req.user.login, now=req.now, comment=req.form.get("reason") or None)
    req.audit("incident.fake", f"incident:{inc.id}")
    return redirect(_back(inc), msg="Инцидент отмечен как возможный фейк.")


def setup(app: web.Application) -> None:
    app.router.add_get("/incidents", incident_list)
    app.router.add_get("/inbox", inbox)
    app.router.add_get("/incidents.csv", incident_list_csv)
    app.router.add_get("/inbox.csv", inbox_csv)
    app.router.add_get("/incidents/{incident_id:\\d+}", incident_page)
    app.router.add_post("/incidents/{incident_id:\\d+}/answer", answer)
    app.router.add_post("/incidents/{incident_id:\\d+}/answer-review", answer_review)
    app.router.add_post("/incidents/{incident_id:\\d+}/state", change_state)
    app.router.add_post("/incidents/{incident_id:\\d+}/reroute", reroute)
    app.router.add_post("/incidents/{incident_id:\\d+}/merge", merge)
    app.router.add_post("/incidents/{incident_id:\\d+}/fake", fake)
