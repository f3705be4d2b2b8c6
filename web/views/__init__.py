"""Page routes of the web application."""

from __future__ import annotations

from aiohttp import web

from . import dashboard, fakes, incidents, models, regions, review, system, users


def setup(app: web.Application) -> None:
    for module in (system, review, incidents, dashboard, models, users, fakes, regions):
        module.setup(app)
