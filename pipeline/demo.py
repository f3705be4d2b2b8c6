"""`cur demo`: the whole chain on a sample of posts the project writes itself.

Later stages (classification, incidents, routing, the web application) add
their steps here; each step prints what it did and where to look.
"""

from __future__ import annotations

from pathlib import Path

import click

from config import load_settings
from pipeline.context import App
from pipeline.importer import import_file

DEMO_POSTS = Path(__file__).resolve().parent / "demo_data" / "posts.jsonl"


def run_demo(database: str) -> App:
    settings = load_settings().model_copy(update={"database_url": database})
    app = App(settings=settings)
    click.echo(f"ЦУР Монитор — демонстрация. Регион: {app.region.region.name}.")
    app.db.upgrade()
    click.echo(f"1. База данных готова: {database}")
    report = import_file(app.db, DEMO_POSTS, app.region.region.tz)
    s = report.stored
    click.echo(f"2. Загружены посты из {DEMO_POSTS.name}: новых {s.inserted}, уже было {s.unchanged}.")
    click.echo("Посмотреть посты: cur export posts --format csv")
    return app
