"""Many regions in one deployment (``settings.regions``): the across-regions summary of a federal user
(``/regions``) and the choice of the region every other page shows (``POST /regions/<code>``, a cookie;
a form with the CSRF token, so another site cannot switch what a federal user is looking at).

A user of one region (their own ``users.region``, or their authority's) sees that region only and
has neither page; in a one-region deployment neither exists.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from storage.dashboards import region_counts

from ..core import REGION_COOKIE, SECURE, Req, page, redirect

SUMMARY_DAYS = 30


def _federal(req: Req) -> None:
    if not req.app_ctx.many_regions or req.user.region is not None:
        raise web.HTTPNotFound(text="Не найдено.")


@page("dashboard.view")
def regions_page(req: Req) -> web.StreamResponse:
    """Every region served: incidents of the last 30 days, open ones, overdue ones; a link to look at each."""
    _federal(req)
    counts = region_counts(req.s, req.now, req.now - timedelta(days=SUMMARY_DAYS))
    rows = [{"code": p.code, "name": p.region.name, "tz": str(p.region.tz), "current": p.code == req.region_code,
             "recent": counts.get(p.code, (0, 0, 0))[0], "open": counts.get(p.code, (0, 0, 0))[1],
             "overdue": counts.get(p.code, (0, 0, 0))[2]} for p in req.app_ctx.served]
    totals = {k: sum(r[k] for r in rows) for k in ("recent", "open", "overdue")}
    return req.render("regions.html", rows=rows, totals=totals, days=SUMMARY_DAYS)


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
    app.router.add_post("/regions/{code:[a-z0-9_-]{1,64}}", pick_region)
