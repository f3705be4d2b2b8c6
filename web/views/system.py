"""Home redirect and the audit log page."""

from __future__ import annotations

from aiohttp import web

from storage import web_repo

from ..core import Req, page, redirect

HOME = {"operator": "/review", "specialist": "/inbox", "analyst": "/models", "curator": "/dashboard", "admin": "/dashboard"}


@page("dashboard.view")
def home(req: Req) -> web.StreamResponse:
    return redirect(HOME.get(req.user.role, "/dashboard"))


@page("audit.view")
def audit_page(req: Req) -> web.StreamResponse:
    return req.render("audit.html", entries=web_repo.recent_audit(req.s, 300))


def setup(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/audit", audit_page)
