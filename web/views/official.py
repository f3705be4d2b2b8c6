"""The rating «ведение официальных страниц» on the dashboard (``_official_pages.html``) — see pipeline/official.py."""

from __future__ import annotations

from typing import Any

from pipeline.official import page_figures
from pipeline.ratings import Period
from storage import web_repo

from .. import services
from ..core import Req


def official_rows(req: Req, month: str) -> tuple[list[Any], str | None]:
    """The month's figures of official pages (a specialist sees their authority's line only), or why there are none."""
    try:
        period = services.call(Period.month, month, req.profile.region.tz)
        rows = services.call(page_figures, req.s, req.profile, period, req.now)
    except (services.ActionRefused, services.ServiceUnavailable) as e:
        return [], str(e)
    if req.scope.restricted:
        own = web_repo.authority_names(req.s, [req.scope.authority_id]).get(req.scope.authority_id) if req.scope.authority_id else None
        rows = [r for r in rows if own is not None and r.authority == own.code]
    return rows, None
