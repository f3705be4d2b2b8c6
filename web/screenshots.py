"""Screenshots of the main pages for the docs: ``python -m web.screenshots [--out docs/screenshots]``.

Seeds a throw-away SQLite database with the sample posts (web.sample) and the
demo accounts, serves the application on 127.0.0.1 and photographs each page
with Playwright driving Debian's chromium.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import func, select

from config import load_settings
from pipeline.context import App
from pipeline.demo import seed_demo_accounts
from storage.models import Incident, IncidentPost

from .sample import seed_sample
from .server import BackgroundServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _record_models(app: App) -> None:
    """Mirror the shipped model registry into the database, as `cur models` does."""
    try:
        from nlp.classifier.registry import Registry
        from storage.models_registry import record_model_version, set_active_model
    except ImportError:
        return
    reg = Registry()
    with app.db.session() as s:
        for v in reg.versions():
            record_model_version(s, version=v["version"], path=f"versions/{v['version']}", checksum=v.get("checksum", ""),
                                 data_fingerprint=v.get("data_fingerprint", ""), metrics=v.get("metrics", {}))
        active = reg.active_version()
        if active:
            set_active_model(s, active)


def _prepare(app: App, now: datetime) -> tuple[dict[str, int], dict[str, str]]:
    from pipeline.incidents import record_response

    seed_sample(app, now)
    accounts = {login: password for login, password, _ in seed_demo_accounts(app)}
    _record_models(app)
    with app.db.session() as s:
        # the incident with the most posts is the one to show; answer another one
        busiest = s.execute(
            select(IncidentPost.incident_id, func.count()).group_by(IncidentPost.incident_id).order_by(func.count().desc(), IncidentPost.incident_id)
        ).first()
        assert busiest is not None, "the sample has incidents"
        other = s.scalar(select(Incident).where(Incident.id != busiest[0], Incident.authority_id.is_not(None)).order_by(Incident.id))
        if other is not None:
            record_response(s, other, "first_reply", "Информация принята, специалисты выехали на место.", "specialist", "web", now, profile=app.region)
    return {"incident": busiest[0]}, accounts


def take(out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env={}).model_copy(update={"database_url": f"sqlite:///{tmp}/shots.db", "secret_key": "screenshots-" + "x" * 20})
        app = App(settings=settings)
        app.db.upgrade()
        info, accounts = _prepare(app, now)
        with BackgroundServer(app) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)

            def page_for(login: str | None):
                ctx = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 860}, device_scale_factor=1)
                page = ctx.new_page()
                page.goto(server.url + "/login")
                if login:
                    page.fill("input[name=login]", login)
                    page.fill("input[name=password]", accounts[login])
                    page.click("button[type=submit]")
                    page.wait_for_load_state()
                return page

            def shot(page, name: str, path: str | None = None, full: bool = False) -> None:
                if path:
                    page.goto(server.url + path)
                target = out / f"{name}.png"
                page.screenshot(path=str(target), full_page=full)
                shots.append(target)

            def shot_of(page, name: str, path: str, selector: str) -> None:
                page.goto(server.url + path)
                target = out / f"{name}.png"
                page.locator(selector).screenshot(path=str(target))
                shots.append(target)

            shot(page_for(None), "login")
            op = page_for("operator")
            shot(op, "review", "/review")
            shot(op, "incident", f"/incidents/{info['incident']}", full=True)
            shot(op, "search", "/incidents?q=" + quote("горячей воды"))
            # a destructive action asks first (web/static/confirm.js)
            op.goto(f"{server.url}/incidents/{info['incident']}")
            if op.locator("#reject-form").count():
                op.fill("#reject-form input[name=reason]", "Дубль: то же обращение уже в работе")
                op.click("#reject-form button")
                op.wait_for_selector("dialog.confirm[open]")
                shot(op, "confirm")
            shot(page_for("specialist"), "inbox", "/inbox")
            cur = page_for("curator")
            shot(cur, "dashboard", "/dashboard?period=30", full=True)
            shot_of(cur, "map", "/dashboard?period=30", "#map")
            shot(cur, "audit", "/audit")
            shot(page_for("analyst"), "models", "/models", full=True)
            shot(page_for("admin"), "users", "/users", full=True)
            browser.close()
        app.db.dispose()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "screenshots")
    args = parser.parse_args()
    for path in take(args.out):
        print(path)


if __name__ == "__main__":
    main()
