"""Browser walk through the main flows (Playwright driving Debian's chromium, headless).

An operator corrects a classification in the review queue, the incident
reaches the right specialist's inbox, the specialist answers, the rating on
the dashboard changes; a curator sees everything but cannot act; an analyst
sees the models page. An admin creates an account on the users page, the new
user signs in with the password shown once, the admin deactivates the account
and the user's open page is signed out; the incident list pages forward and
back.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from config import load_settings
from pipeline.accounts.passwords import hash_password
from pipeline.context import App
from storage import web_repo
from storage.models import Incident, IncidentPost, Post, ReviewDecision
from tests.helpers import models_dir_with
from web.sample import seed_sample
from web.server import BackgroundServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "browser-pass-1"
WRONG_TEXT = "В больнице на Кирова второй день нет отопления"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="Debian chromium is not installed (apt-get install chromium)")


def expected_authority(app: App, sector: str, category: str, municipality: str | None, urgency: str) -> str:
    from pipeline.routing import route

    return route(app.region, sector, category, municipality, urgency).authority


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str):
    app = App(settings=load_settings(env={}).model_copy(update={"database_url": sqlite_url, "secret_key": "browser-" + "s" * 24}))
    seed_sample(app, datetime.now(timezone.utc))
    with app.db.session() as s:
        post = s.scalar(select(Post).where(Post.text.like(WRONG_TEXT + "%")))
        analysis = web_repo.latest_analyses(s, [post.id])[post.id]
        municipality = analysis.municipality
    target = expected_authority(app, "healthcare", "facilities", municipality, "normal")
    pw = hash_password(PASSWORD)
    with app.db.session() as s:
        for login, role, code in [("operator", "operator", None), ("specialist", "specialist", target), ("curator", "curator", None), ("analyst", "analyst", None), ("admin", "admin", None)]:
            auth = web_repo.authority_by_code(s, app.region.code, code) if code else None
            web_repo.add_user(s, login, pw, role, auth.id if auth else None)
    metrics = {"score": 0.81, "n": 40, "sector": {"n": 40, "accuracy": 0.85, "macro_f1": 0.8, "labels": ["energy", "housing", "roads"],
               "confusion": [[10, 2, 0], [1, 15, 1], [0, 2, 9]], "per_class": {}}}
    app.settings = app.settings.model_copy(update={"models_dir": models_dir_with(tmp_path / "models", [("v-test-1", "2026-11-01T10:00:00+00:00", metrics)], ["v-test-1"])})
    with BackgroundServer(app) as server:
        yield {"url": server.url, "app": app, "post_id": post.id, "target": target}
    app.db.dispose()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


#: Content-Security-Policy violations reported by the browser during a test (the pages must work under the CSP)
CSP_VIOLATIONS: list[str] = []


@pytest.fixture(autouse=True)
def no_csp_violations():
    CSP_VIOLATIONS.clear()
    yield
    assert CSP_VIOLATIONS == []


def sign_in(browser, url: str, login: str, password: str = PASSWORD):
    ctx = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.on("console", lambda m: CSP_VIOLATIONS.append(m.text) if "Content Security Policy" in m.text else None)
    page.set_default_timeout(15000)
    page.goto(url + "/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:500]
    return page


def rating_score(page, url: str, code: str) -> float | None:
    """The authority's score on the dashboard (Russian decimal comma); «нет данных» (nothing to rate yet) is -1."""
    page.goto(url + "/dashboard")
    row = page.locator(f'table.ratings tr[data-authority="{code}"] td.score')
    if not row.count():
        return None
    text = row.inner_text().strip()
    return -1.0 if text == "нет данных" else float(text.replace(",", ".").replace("\u202f", ""))


def test_main_flows(site, browser):
    url, app, post_id, target = site["url"], site["app"], site["post_id"], site["target"]

    # 1. the operator corrects the classification with the keyboard
    op = sign_in(browser, url, "operator")
    assert op.url.endswith("/review")
    card = op.locator(f"#post-{post_id}")
    assert card.count() == 1
    assert "Отопление" in card.locator(".category").inner_text() or "ЖКХ" in card.locator(".sector").inner_text()
    card.focus()
    op.keyboard.press("e")  # the type-ahead opens in the card
    typeahead = card.locator("#review-editor input[name=classification]")
    typeahead.fill("медучрежд")  # filtered client-side: one category fits
    typeahead.press("Enter")
    op.wait_for_selector(f'#post-{post_id}[data-state="saved"]', state="attached")
    assert "решение сохранено" in op.locator("#review-status").inner_text()
    op.reload()
    assert op.locator(f"#post-{post_id}").count() == 0  # left the queue
    with app.db.session() as s:
        decision = s.scalar(select(ReviewDecision).where(ReviewDecision.post_id == post_id))
        assert (decision.decision, decision.sector, decision.category, decision.reviewer) == ("correct", "healthcare", "facilities", "operator")
        inc = s.scalar(select(Incident).join(IncidentPost, IncidentPost.incident_id == Incident.id).where(IncidentPost.post_id == post_id))
        assert inc is not None and inc.sector == "healthcare"
        assert web_repo.authority_names(s, [inc.authority_id])[inc.authority_id].code == target
        incident_id = inc.id

    # the curator notes the authority's rating while the incident is unanswered
    curator = sign_in(browser, url, "curator")
    before = rating_score(curator, url, target)
    assert before is not None

    # 2. it is in the specialist's inbox; the specialist answers
    spec = sign_in(browser, url, "specialist")
    assert spec.url.endswith("/inbox")
    row = spec.locator(f'tr[data-incident-id="{incident_id}"]')
    assert row.count() == 1
    row.locator("a").first.click()
    spec.wait_for_load_state()
    assert f"Инцидент №{incident_id}" in spec.locator("h1").inner_text()
    assert "Здравоохранение" in spec.locator("dd.sector").inner_text()
    assert spec.locator("a", has_text="открыть оригинал").count() >= 1
    spec.fill("#answer-form textarea[name=text]", "Отопление в палатах восстановлено, проверили температуру.")
    with spec.expect_navigation():
        spec.click("#answer-form button")
    assert "Ответ записан" in spec.locator(".flash.ok").inner_text()
    assert "дан ответ" in spec.locator("h1 .state").inner_text()
    assert "первичный ответ" in spec.locator("table.events").inner_text()
    # another authority's incident is refused in the browser too
    with app.db.session() as s:
        other = s.scalar(select(Incident.id).where(Incident.authority_id.is_not(None), Incident.id != incident_id, Incident.authority_id != inc.authority_id))
    resp = spec.goto(f"{url}/incidents/{other}")
    assert resp.status == 403

    # 3. the rating changed
    after = rating_score(curator, url, target)
    assert after is not None and after > before

    # 4. the curator sees everything but has no action buttons
    curator.goto(f"{url}/incidents/{incident_id}")
    assert curator.locator("#answer-form").count() == 0 and curator.locator("#reroute-form").count() == 0
    curator.goto(url + "/review")
    assert curator.locator("article.review").count() >= 1 and curator.locator("form.decide").count() == 0
    curator.goto(url + "/dashboard")
    assert curator.locator("svg.heatmap").count() == 1

    # 5. the analyst sees the models page with the confusion matrix
    an = sign_in(browser, url, "analyst")
    assert an.url.endswith("/models")
    assert "v-test-1" in an.locator("table.models").inner_text()
    assert an.locator("svg.heatmap").count() == 1
    assert re.search("активна", an.locator("tr.active").inner_text())


def test_admin_manages_users_and_lists_page(site, browser):
    url, app, target = site["url"], site["app"], site["target"]
    from datetime import timedelta

    # 1. the admin creates a specialist; the password is shown once
    adm = sign_in(browser, url, "admin")
    adm.click("header nav a:has-text('Пользователи')")
    adm.wait_for_load_state()
    assert adm.url.endswith("/users") and adm.locator("table.users tr[data-login=operator]").count() == 1
    adm.fill("#new-user input[name=login]", "sidorova")
    adm.fill("#new-user input[name=full_name]", "Сидорова Е. П.")
    adm.select_option("#new-user select[name=role]", "specialist")
    with app.db.session() as s:
        authority = web_repo.authority_by_code(s, app.region.code, target)
    adm.select_option("#new-user select[name=authority]", target)
    with adm.expect_navigation():
        adm.click("#new-user button")
    password = adm.locator("#one-time-password").inner_text().strip()
    assert "создан" in adm.locator("h1").inner_text() and len(password) >= 16

    # 2. the new user signs in with it, must set their own password first, then sees the authority's inbox
    new = sign_in(browser, url, "sidorova", password)
    assert new.url.endswith("/account/password") and "временным паролем" in new.locator("#must-change").inner_text()
    assert new.locator("header nav").count() == 0
    new.goto(url + "/inbox")
    assert "/account/password" in new.url
    new.fill("#password-form input[name=current]", password)
    new.fill("#password-form input[name=new]", "own-pass-sidorova")
    new.fill("#password-form input[name=repeat]", "own-pass-sidorova")
    with new.expect_navigation():
        new.click("#password-form button")
    assert new.url.split("?")[0].endswith("/inbox") and authority.name in new.locator("h1").inner_text()
    assert "Пароль изменён" in new.locator(".flash.ok").inner_text()
    assert new.locator("header nav a:has-text('Пользователи')").count() == 0
    assert new.goto(url + "/users").status == 403

    # 3. the admin deactivates the account; the user's next click lands on the sign-in page
    adm.goto(url + "/users")
    adm.click("table.users tr[data-login=sidorova] a")
    adm.wait_for_load_state()
    with adm.expect_navigation():
        adm.click("#active-form button")
    assert "отключена" in adm.locator(".flash.ok").inner_text()
    assert "отключён" in adm.locator("dd.state").inner_text()
    new.goto(url + "/inbox")
    assert "/login" in new.url

    # 4. the incident list pages forward and back, keeping the filter
    from storage.models import Incident

    now = datetime.now(timezone.utc)
    with app.db.session() as s:
        for n in range(70):
            s.add(Incident(region=app.region.code, title=f"Яма №{n}", sector="roads", state="routed", authority_id=authority.id,
                           first_reply_due=now + timedelta(hours=n), created_at=now))
    def shown() -> list[str]:
        return [r.get_attribute("data-incident-id") for r in adm.locator("tr[data-incident-id]").all()]

    adm.goto(url + "/incidents?sector=roads")
    first = shown()
    assert len(first) == 50 and "из" in adm.locator("nav.pager").inner_text()
    with adm.expect_navigation():
        adm.click("nav.pager a.next")
    assert "sector=roads" in adm.url
    second = shown()
    assert second and not set(second) & set(first)
    assert adm.locator("select[name=sector]").input_value() == "roads"
    with adm.expect_navigation():
        adm.click("nav.pager a.prev")
    assert shown() == first
