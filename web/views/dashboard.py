"""Dashboards: volumes, the municipality × sector picture, ratings of authorities, monthly reports."""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from pipeline.ratings import Period, rate
from pipeline.reports import build_report, render_html, write_xlsx
from storage import web_repo

from .. import charts, services
from ..core import Req, page
from ..formatting import PLATFORM_NAMES
from .official import official_rows
from .taxonomy import category_names, municipality_names, sector_names

PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365, "all": None}


def _month(now: datetime, tz, back: int = 0) -> str:
    local = now.astimezone(tz)
    y, m = local.year, local.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return f"{y:04d}-{m:02d}"


def ratings(req: Req, month: str) -> tuple[list, str | None]:
    """Ratings of authorities for the month (pipeline.ratings), or an explanation why there are none."""
    try:
        period = services.call(Period.month, month, req.app_ctx.region.region.tz)
        rows = services.call(rate, req.s, req.region_code, period, as_of=min(req.now, period.end))
        if req.scope.restricted:  # a specialist sees their own authority's line only
            own = web_repo.authority_names(req.s, [req.scope.authority_id]).get(req.scope.authority_id) if req.scope.authority_id else None
            rows = [r for r in rows if own is not None and r.code == own.code]
        return rows, None
    except (services.ActionRefused, services.ServiceUnavailable) as e:
        return [], str(e)


@page("dashboard.view")
def dashboard(req: Req) -> web.StreamResponse:
    profile = req.app_ctx.region
    tz = profile.region.tz
    key = req.request.query.get("period", "30")
    days = PERIODS.get(key, 30)
    since = req.now - timedelta(days=days) if days else None
    sectors, cats, munis = sector_names(profile), category_names(profile), municipality_names(profile)
    scope = req.scope  # a specialist's dashboard counts their authority's incidents only

    by_sector = [(sectors.get(k or "", k or "не определено"), n) for k, n in web_repo.incident_counts(req.s, "sector", since, scope)]
    by_cat = [(f"{sectors.get(s or '', s or '—')}: {cats.get((s or '', c or ''), c or '—')}", n) for s, c, n in web_repo.sector_category_counts(req.s, since, scope)][:15]
    by_muni = [(munis.get(k or "", k or "не определён"), n) for k, n in web_repo.incident_counts(req.s, "municipality", since, scope)][:20]
    by_source = [(f"{PLATFORM_NAMES.get(p, p)} · {k}", n) for p, k, n in web_repo.problem_post_counts_by_source(req.s, since, scope)][:15]
    by_state = web_repo.incident_counts(req.s, "state", since, scope)

    days_counter = Counter(t.astimezone(tz).date() for t in web_repo.incident_created_times(req.s, since, scope))
    timeline: list[tuple[str, int]] = []
    if days_counter:
        start = min(days_counter) if since is None else max(min(days_counter), since.astimezone(tz).date())
        end = req.now.astimezone(tz).date()
        d = start
        while d <= end and len(timeline) < 400:
            timeline.append((d.strftime("%d.%m"), days_counter.get(d, 0)))
            d += timedelta(days=1)

    matrix = web_repo.municipality_sector_counts(req.s, since, scope)
    values: dict[tuple[str, str], int] = {}
    for m, s, n in matrix:
        row = munis.get(m or "", m or "не определён")
        values[(row, s or "—")] = values.get((row, s or "—"), 0) + n
    row_totals: Counter[str] = Counter()
    for (r, _), n in values.items():
        row_totals[r] += n
    rows = [r for r, _ in row_totals.most_common(25)]
    cols = [s.code for s in profile.sectors if any(c == s.code for _, c in values)] + (["—"] if any(c == "—" for _, c in values) else [])

    month = req.request.query.get("month") or _month(req.now, tz)
    rating_rows, rating_error = ratings(req, month)
    official_pages, official_error = official_rows(req, month)
    rating_chart = charts.bars(
        [(r.name, round(r.figures.score, 1)) for r in rating_rows if r.figures.score is not None][:15],
        f"Рейтинг органов власти, баллы из 100 ({month})",
    )
    return req.render(
        "dashboard.html",
        period=key,
        total=sum(n for _, n in by_state),
        by_state=by_state,
        chart_sector=charts.bars(by_sector, "Инциденты по направлениям"),
        chart_category=charts.bars(by_cat, "Самые частые категории", width=680),
        chart_muni=charts.bars(by_muni, "Инциденты по муниципалитетам"),
        chart_source=charts.bars(by_source, "Посты о проблемах по источникам", width=680),
        chart_time=charts.columns(timeline, "Новые инциденты по дням"),
        heat=charts.heatmap(rows, cols, values, "Комплексная картина проблем: муниципалитет × направление", col_titles=sectors),
        month=month,
        months=[_month(req.now, tz, i) for i in range(12)],
        ratings=rating_rows,
        rating_error=rating_error,
        rating_chart=rating_chart,
        official_pages=official_pages,
        official_error=official_error,
    )


@page("dashboard.view")
def report(req: Req) -> web.StreamResponse:
    month, fmt = req.request.match_info["month"], req.request.match_info["fmt"]
    scope = req.scope
    if scope.restricted and scope.authority_id is None:
        raise web.HTTPForbidden(text="Учётная запись не привязана к органу власти: отчёт недоступен.")
    try:
        rep = services.call(build_report, req.s, req.app_ctx.region, month, req.now, authority_id=scope.authority_id if scope.restricted else None)
    except services.ActionRefused as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    req.audit("report.download", f"report:{month}", format=fmt)
    name = f"report-{month}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "html":
        # a stand-alone file: its own inline stylesheet and PNG charts as data: URLs, nothing else
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
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
