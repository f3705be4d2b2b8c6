"""Page routes of the web application."""

from __future__ import annotations

from aiohttp import web

from . import dashboard, incidents, models, review, system


def setup(app: web.Application) -> None:
    for module in (system, review, incidents, dashboard, models):
        module.setup(app)
