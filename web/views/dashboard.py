"""Dashboards: volumes, the municipality × sector picture, ratings of authorities, monthly reports."""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from pipeline.ratings import WEIGHTS, Period, rate
from pipeline.reports import build_report, render_html, write_xlsx
from storage import web_repo

from .. import charts, formatting, services
from ..core import Req, page
from .official import official_rows
from .taxonomy import category_names, municipality_names, sector_names
from .wording import Namer

#: A stand-alone report page (HTML report by region or across regions): its own inline styles and data: images, nothing else.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365, "all": None}
#: the rating's terms in words (pipeline.ratings.WEIGHTS)
WEIGHT_NAMES = {"on_time": "первые ответы в срок", "answered": "окончательные ответы", "resolved": "решённые",
                "not_reopened": "не открытые повторно", "grade": "средняя оценка ответов", "substantive": "ответы по существу"}
#: the timeline shows at least this many days, so one day of data is not one giant column
MIN_DAYS = 14


def _month(now: datetime, tz, back: int = 0) -> str:
    local = now.astimezone(tz)
    y, m = local.year, local.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return f"{y:04d}-{m:02d}"


def list_url(**filters: Any) -> str:
    """The incident list filtered as given (empty values left out): what a dashboard figure links to."""
    q = {k: v for k, v in filters.items() if v not in (None, "")}
    return "/incidents" + (f"?{urlencode(q)}" if q else "")


def rated(f: Any) -> bool:
    """Is there anything to rate? Nothing came due, nothing was answered or resolved → «нет данных», no rank."""
    return bool(f.has_data)


def ratings(req: Req, month: str) -> tuple[list, str | None]:
    """Ratings of authorities for the month (pipeline.ratings), or an explanation why there are none."""
    try:
        period = services.call(Period.month, month, req.profile.region.tz)
        rows = services.call(rate, req.s, req.region_code, period, as_of=min(req.now, period.end))
        if req.scope.restricted:  # a specialist sees their own authority's line only
            own = web_repo.authority_names(req.s, [req.scope.authority_id]).get(req.scope.authority_id) if req.scope.authority_id else None
            rows = [r for r in rows if own is not None and r.code == own.code]
        return rows, None
    except (services.ActionRefused, services.ServiceUnavailable) as e:
        return [], str(e)


def alerts(req: Req) -> list[tuple[dict, Any]]:
    """Open emerging problems, then the latest closed ones (a week), each with its chart of posts per day."""
    from pipeline.alerts import alert_list

    profile = req.profile
    rows = alert_list(req.s, profile, state="open", limit=20, scope=req.scope)
    rows += alert_list(req.s, profile, state="closed", limit=5, opened_since=req.now - timedelta(days=7), scope=req.scope)
    return [(a, charts.columns([(d[8:10] + "." + d[5:7], n) for d, n in a["series"]], "Постов о проблеме по дням",
                               width=420, height=130)) for a in rows]


def _months(now: datetime, tz, n: int = 12) -> list[str]:
    return [_month(now, tz, i) for i in range(n)]


@page("dashboard.view")
def dashboard(req: Req) -> web.StreamResponse:
    profile = req.profile
    tz = profile.region.tz
    key = req.request.query.get("period", "30")
    if key not in PERIODS:
        key = "30"
    days = PERIODS[key]
    since = req.now - timedelta(days=days) if days else None
    since_day = since.astimezone(tz).date().isoformat() if since else None
    sectors, cats, munis = sector_names(profile), category_names(profile), municipality_names(profile)
    nm = Namer(req)
    scope = req.scope  # a specialist's dashboard counts their authority's incidents only

    def link(**f: Any) -> str:
        return list_url(**f, **{"from": since_day})

    by_sector = [(sectors.get(k or "", "не определено"), n, link(sector=k) if k else None) for k, n in web_repo.incident_counts(req.s, "sector", since, scope)]
    by_cat = [
        (f"{sectors.get(s or '', 'не определено')}: {cats.get((s or '', c or ''), 'не определена')}", n, link(sector=s, category=c) if s and c else None)
        for s, c, n in web_repo.sector_category_counts(req.s, since, scope)
    ][:15]
    by_muni = [(munis.get(k or "", "не определён"), n, link(municipality=k) if k else None) for k, n in web_repo.incident_counts(req.s, "municipality", since, scope)][:20]
    by_source = [(nm.source(p, k), n, link(source=k)) for p, k, n in web_repo.problem_post_counts_by_source(req.s, since, scope)][:15]
    by_state = [(s, n, link(state=s)) for s, n in web_repo.incident_counts(req.s, "state", since, scope)]

    days_counter = Counter(t.astimezone(tz).date() for t in web_repo.incident_created_times(req.s, since, scope))
    timeline: list[tuple[str, int, str | None]] = []
    if days_counter:
        end = req.now.astimezone(tz).date()
        start = min(min(days_counter), end - timedelta(days=MIN_DAYS - 1))
        if since is not None:
            start = max(start, since.astimezone(tz).date())
        d = start
        while d <= end and len(timeline) < 400:
            day = d.isoformat()
            timeline.append((d.strftime("%d.%m"), days_counter.get(d, 0), list_url(**{"from": day, "to": day})))
            d += timedelta(days=1)

    values: dict[tuple[str, str], int] = {}
    for m, s, n in web_repo.municipality_sector_counts(req.s, since, scope):
        cell = (m or "", s or "")
        values[cell] = values.get(cell, 0) + n
    row_totals: Counter[str] = Counter()
    for (r, _), n in values.items():
        row_totals[r] += n
    rows = [r for r, _ in row_totals.most_common(25)]
    cols = [s.code for s in profile.sectors if any(c == s.code for _, c in values)] + ([""] if any(c == "" for _, c in values) else [])
    heat = charts.heatmap(
        rows, cols, values, "Комплексная картина проблем: муниципалитет × направление",
        col_titles={**sectors, "": "не определено"}, row_titles={**munis, "": "не определён"},
        link=lambda r, c: link(municipality=r, sector=c) if r and c else None,
    )

    # the map: every municipality of the profile at its centroid
    counts = {m: (n, o) for m, n, o in web_repo.municipality_overdue_counts(req.s, req.now, since, scope)}
    points = [
        (m.variants[0] if m.variants else m.name, m.name, m.centroid[0], m.centroid[1], *counts.get(m.code, (0, 0)), link(municipality=m.code))
        for m in profile.region.municipalities if m.centroid is not None
    ]
    unplaced = counts.get(None, (0, 0))[0]
    overdue_total = sum(o for _, o in counts.values())

    # week over week: the last 7 local days (today included) against the 7 before, per sector
    today = req.now.astimezone(tz).date()
    d_week, d_last = today - timedelta(days=6), today - timedelta(days=13)

    def midnight(d: Any) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=tz)

    this_week = web_repo.sector_counts_between(req.s, midnight(d_week), req.now, scope)
    last_week = web_repo.sector_counts_between(req.s, midnight(d_last), midnight(d_week), scope)
    trends: list[dict[str, Any]] = []
    for code in [s.code for s in profile.sectors] + [None]:
        a, b = this_week.get(code, 0), last_week.get(code, 0)
        if a or b:
            trends.append({
                "name": sectors.get(code or "", "не определено"), "now": a, "before": b, "delta": a - b,
                "pct": None if not b else round(100 * (a - b) / b),
                "now_url": list_url(sector=code, **{"from": d_week.isoformat(), "to": today.isoformat()}) if code else None,
                "before_url": list_url(sector=code, **{"from": d_last.isoformat(), "to": (d_week - timedelta(days=1)).isoformat()}) if code else None,
            })
    trends.sort(key=lambda t: (-t["now"], t["name"]))

    month = req.request.query.get("month") or _month(req.now, tz)
    months = _months(req.now, tz)
    if month not in months:
        month = months[0]
    rating_rows, rating_error = ratings(req, month)
    by_code = {a.code: a for a in web_repo.authorities(req.s, profile.region.code)}
    ranked = [r for r in rating_rows if rated(r.figures) and r.figures.score is not None]
    ranks = {r.code: i + 1 for i, r in enumerate(ranked)}
    official_pages, official_error = official_rows(req, month)
    rating_chart = charts.bars(
        [(r.name, round(r.figures.score, 1), list_url(authority=by_code[r.code].id) if r.code in by_code else None) for r in ranked][:15],
        f"Рейтинг органов власти, баллы из 100 ({formatting.month_name(month)})",
        max_label=70,
    )
    return req.render(
        "dashboard.html",
        alerts=alerts(req),
        period=key,
        total=sum(n for _, n, _ in by_state),
        total_url=link(),
        overdue_total=overdue_total,
        overdue_url=list_url(overdue=1),
        by_state=by_state,
        chart_sector=charts.bars(by_sector, "Инциденты по направлениям"),
        chart_category=charts.bars(by_cat, "Самые частые категории", width=680),
        chart_muni=charts.bars(by_muni, "Инциденты по муниципалитетам"),
        chart_source=charts.bars(by_source, "Посты о проблемах по источникам", width=680),
        chart_time=charts.columns(timeline, "Новые инциденты по дням"),
        chart_map=charts.bubble_map(points, f"Карта: инциденты по муниципалитетам ({profile.region.short_name})"),
        unplaced=unplaced,
        heat=heat,
        trends=trends,
        month=month,
        months=months,
        month_name=formatting.month_name,
        ratings=rating_rows,
        ranks=ranks,
        rated=rated,
        authority_ids={c: a.id for c, a in by_code.items()},
        list_url=list_url,
        rating_error=rating_error,
        rating_chart=rating_chart,
        score=formatting.score,
        weights=[(WEIGHT_NAMES.get(k, k), formatting.number(100 * w, 2).rstrip("0").rstrip(",") + "\u00a0%") for k, w in WEIGHTS.items()],
        official_pages=official_pages,
        official_error=official_error,
    )


@page("dashboard.view")
def report(req: Req) -> web.StreamResponse:
    month, fmt = req.request.match_info["month"], req.request.match_info["fmt"]
    scope = req.scope
    if not 1 <= int(month[5:]) <= 12:
        raise web.HTTPBadRequest(text=f"Месяца «{month}» не бывает: укажите его в виде ГГГГ-ММ, например {_month(req.now, req.profile.region.tz)}.")
    if month > _month(req.now, req.profile.region.tz):
        raise web.HTTPNotFound(text=f"Отчёта за {formatting.month_name(month)} нет: этот месяц ещё не начался.")
    if scope.restricted and scope.authority_id is None:
        raise web.HTTPForbidden(text="Учётная запись не привязана к органу власти: отчёт недоступен.")
    try:
        rep = services.call(build_report, req.s, req.profile, month, req.now, authority_id=scope.authority_id if scope.restricted else None)
    except services.ActionRefused as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    req.audit("report.download", f"report:{month}", format=fmt)
    name = f"report-{month}.{fmt}"
    # the HTML report opens in the browser (and can be saved from there); the workbook is a download
    headers = {"Content-Disposition": f'{"inline" if fmt == "html" else "attachment"}; filename="{name}"'}
    if fmt == "html":
        # a stand-alone file: its own inline stylesheet and PNG charts as data: URLs, nothing else
        headers["Content-Security-Policy"] = REPORT_CSP
    if fmt == "html":
        html = render_html(rep)
        return web.Response(text=html, content_type="text/html", charset="utf-8", headers=headers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        write_xlsx(rep, path)
        body = path.read_bytes()
    return web.Response(body=body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", headers=headers)


def setup(app: web.Application) -> None:
    app.router.add_get("/dashboard", dashboard)
    app.router.add_get("/reports/{month:\\d{4}-\\d{2}}.{fmt:html|xlsx}", report)
