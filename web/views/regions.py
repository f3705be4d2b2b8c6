"""Many regions in one deployment (``settings.regions``): what a federal user reads across regions, and the choice of
the region every other page shows (``POST /regions/<code>``, a cookie; a form with the CSRF token, so another site
cannot switch what a federal user is looking at).

* ``/regions`` — every served region side by side: incidents of the last 30 days, open and overdue ones now, and
  the month's figures of the monthly report (``?month=YYYY-MM``) with a total row;
* ``/reports/regions/YYYY-MM.html|xlsx`` — the monthly report across regions (``pipeline.reports_regions``);
* ``/regions/incidents.csv`` — the incidents of every region (the list's filters), with a «Регион» column and times
  in each region's own time zone.

A user of one region (their own ``users.region``, or their authority's) sees that region only and gets «не найдено»
from each of these; in a one-region deployment none exists.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline import timefmt
from pipeline.reports_regions import COLUMNS, build_regions_report, render_regions_html, row_values, write_regions_xlsx
from storage import web_repo
from storage.dashboards import region_counts

from .. import formatting, listfilters, services
from ..core import REGION_COOKIE, SECURE, Req, page, redirect
from .dashboard import REPORT_CSP, _month, _months
from .incidents import CSV_FIELDS, CSV_LIMIT, csv_response, csv_row

SUMMARY_DAYS = 30


def _federal(req: Req) -> None:
    if not req.app_ctx.many_regions or req.user.region is not None or req.scope.restricted:
        raise web.HTTPNotFound(text="Не найдено.")


def _valid_month(req: Req, month: str) -> str:
    """``YYYY-MM`` of a month that has begun (in the default region's time zone), else a clear Russian refusal."""
    tz = req.app_ctx.region.region.tz
    if not 1 <= int(month[5:]) <= 12:
        raise web.HTTPBadRequest(text=f"Месяца «{month}» не бывает: укажите его в виде ГГГГ-ММ, например {_month(req.now, tz)}.")
    if month > _month(req.now + timedelta(hours=14), tz):  # the month may have begun in a region east of the default one
        raise web.HTTPNotFound(text=f"Отчёта за {formatting.month_name(month)} нет: этот месяц ещё не начался.")
    return month


@page("dashboard.view")
def regions_page(req: Req) -> web.StreamResponse:
    """Every region served: incidents of the last 30 days, open ones, overdue ones; the month's report figures."""
    _federal(req)
    counts = region_counts(req.s, req.now, req.now - timedelta(days=SUMMARY_DAYS))
    rows = [{"code": p.code, "name": p.region.name, "tz": timefmt.zone_label(req.now, p.region.tz), "current": p.code == req.region_code,
             "recent": counts.get(p.code, (0, 0, 0))[0], "open": counts.get(p.code, (0, 0, 0))[1],
             "overdue": counts.get(p.code, (0, 0, 0))[2]} for p in req.app_ctx.served]
    totals = {k: sum(r[k] for r in rows) for k in ("recent", "open", "overdue")}
    months = _months(req.now, req.app_ctx.region.region.tz)
    month = req.request.query.get("month") or months[0]
    if month not in months:
        month = months[0]
    report = services.call(build_regions_report, req.s, req.app_ctx.served, month, req.now)
    return req.render("regions.html", rows=rows, totals=totals, days=SUMMARY_DAYS, report=report, columns=COLUMNS,
                      values=lambda x: row_values(x.total, x.created, x.created_processed, x.escalations),
                      month=month, months=months, month_name=formatting.month_name, number=formatting.number)


@page("dashboard.view")
def regions_report(req: Req) -> web.StreamResponse:
    """The monthly report across regions, HTML (opens in the browser) or XLSX (a download)."""
    _federal(req)
    month, fmt = _valid_month(req, req.request.match_info["month"]), req.request.match_info["fmt"]
    try:
        rep = services.call(build_regions_report, req.s, req.app_ctx.served, month, req.now)
    except services.ActionRefused as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    req.audit("report.download", f"report:regions:{month}", format=fmt)
    name = f"report-{month}-regions.{fmt}"
    headers = {"Content-Disposition": f'{"inline" if fmt == "html" else "attachment"}; filename="{name}"'}
    if fmt == "html":
        headers["Content-Security-Policy"] = REPORT_CSP
        return web.Response(text=render_regions_html(rep), content_type="text/html", charset="utf-8", headers=headers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        write_regions_xlsx(rep, path)
        body = path.read_bytes()
    return web.Response(body=body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", headers=headers)


@page("incidents.view")
def regions_csv(req: Req) -> web.StreamResponse:
    """The incidents of every served region as one CSV: the list's filters, a «Регион» column, each region's times in
    its own time zone (the zone in a column, and in the headers when every region has the same one)."""
    _federal(req)
    served = req.app_ctx.served
    zones = {timefmt.zone_label(req.now, p.region.tz) for p in served}
    suffix = f" ({zones.pop()})" if len(zones) == 1 else " (время региона)"
    timed = {"Открыт": "Открыт" + suffix, "Ближайший срок": "Ближайший срок" + suffix}
    fields = ["Регион", *(timed.get(c, c) for c in CSV_FIELDS), "Часовой пояс"]
    out: list[dict[str, Any]] = []
    for profile in served:
        req.region_override = profile.code  # names, scope and time zone of this region
        f = listfilters.parse(req.request.query, restricted=False)
        if f.errors:
            raise web.HTTPBadRequest(text=" ".join(f.errors))
        kwargs = f.storage_kwargs(profile.region.tz, req.now)
        rows = web_repo.incident_rows(req.s, req.scope, order=f.order or "deadline", limit=max(0, CSV_LIMIT - len(out)), **kwargs)
        row = csv_row(req)
        for i in rows:
            cells = row(i)
            out.append({"Регион": profile.region.name, **{timed.get(k, k): v for k, v in cells.items()},
                        "Часовой пояс": timefmt.zone_label(req.now, profile.region.tz)})
    req.region_override = None
    req.audit("incidents.export", "incidents:regions", rows=len(out))
    return csv_response(req, "incidents-regions", out, fields)


@page("dashboard.view")
def pick_region(req: Req) -> web.StreamResponse:
    """Look at another region: every page (lists, dashboard, reports, review queue) then shows that one."""
    _federal(req)
    code = req.request.match_info.get("code", "")
    profile = next((p for p in req.app_ctx.served if p.code == code), None)
    if profile is None:
        raise web.HTTPNotFound(text="Такого региона нет среди обслуживаемых.")
    resp = redirect("/dashboard", msg=f"Показан регион: {profile.region.name}.")
    resp.set_cookie(REGION_COOKIE, code, path="/", httponly=True, samesite="Lax", secure=req.request.app[SECURE])
    return resp


def setup(app: web.Application) -> None:
    app.router.add_get("/regions", regions_page)
    app.router.add_get("/regions/incidents.csv", regions_csv)
    app.router.add_get("/reports/regions/{month:\\d{4}-\\d{2}}.{fmt:html|xlsx}", regions_report)
    app.router.add_post("/regions/{code:[a-z0-9_-]{1,64}}", pick_region)
