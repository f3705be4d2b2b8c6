"""Home redirect and the audit log page."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from storage import web_repo

from .. import paging
from ..core import Req, page, redirect
from .wording import namer

HOME = {"operator": "/review", "specialist": "/inbox", "analyst": "/models", "curator": "/dashboard", "admin": "/dashboard"}


@page("dashboard.view")
def home(req: Req) -> web.StreamResponse:
    return redirect(HOME.get(req.user.role, "/dashboard"))


AUDIT_PAGE = 100


def _region(req: Req) -> str | None:
    """A user of one region reads the log of that region's people only (None: everything)."""
    return req.user.region if req.app_ctx.many_regions else None


@page("audit.view")
def audit_page(req: Req) -> web.StreamResponse:
    try:
        pg = paging.fetch("audit", {}, req.request.query.get("cursor"), lambda **kw: web_repo.audit_page(req.s, limit=AUDIT_PAGE, region=_region(req),
                                                                                                default_region=req.app_ctx.region.code, **kw))
    except paging.CursorError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    return req.render("audit.html", entries=pg.items, pager=paging.pager(req.request.path, "audit", {}, pg), **namer(req))


STATIC = Path(__file__).resolve().parent.parent / "static"


async def favicon(request: web.Request) -> web.StreamResponse:
    """``/favicon.ico`` (browsers ask for it whatever the page says); public."""
    return web.FileResponse(STATIC / "favicon.ico", headers={"Content-Type": "image/x-icon"})


def setup(app: web.Application) -> None:
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/", home)
    app.router.add_get("/audit", audit_page)
