"""Every page every role can reach is Russian: no English word, no internal code (Playwright + Debian chromium).

For each role the walker signs in, follows the links of the application
breadth-first from the start page (plus pages it knows: one incident of each
kind: each state, a possible fake, an unrouted and a merged one if any; the
monthly report, models, users, tokens, audit, password, an error page) and
reads what a person reads: the visible text, the page title, tooltips
(``title``), placeholders, ``aria-label``s, option texts and the SVG charts'
tooltips. Text inside ``translate="no"`` (logins, model versions, e-mail
addresses, links — identifiers a person typed) and ``<kbd>`` (the letters on
the keys: «J», «Enter») is skipped. A page fails on:

* a Latin word not in :data:`ALLOWED` (VK, Telegram, API, CSV, …);
* a snake_case or dotted code (``login_failed``, ``report.download``);
* raw JSON or ``\\u0421`` escapes;
* a number written the English way (``0.0``) or a month as ``2026-12``;
* a server error (5xx).

The data are the sample posts plus what a working day leaves behind: answers
from a user and from an authority's system through the API, a resolved and a
rejected incident, a reminder, a failed sign-in, a downloaded report, an issued
and a revoked API token, a model version.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections import deque
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select

from config import load_settings
from pipeline.context import App
from storage import web_repo
from storage.models import Incident
from tests.helpers import models_dir_with
from tests.test_web_browser import CHROMIUM, browser  # noqa: F401 - the one chromium fixture
from web.sample import seed_sample
from web.server import BackgroundServer

PASSWORD = "walker-pass-1"

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="Debian chromium is not installed (apt-get install chromium)")

ROLES = [
    ("admin", "admin", "Админова Анна Сергеевна"),
    ("operator", "operator", "Операторов Олег"),
    ("specialist", "specialist", "Специалистова Светлана"),
    ("curator", "curator", "Кураторов Кирилл"),
    ("analyst", "analyst", "Аналитикова Алла"),
]

#: Latin words a Russian interface may show (names of platforms, formats, metrics)
ALLOWED = {"VK", "Telegram", "API", "CSV", "XLSX", "HTML", "Excel", "e-mail", "E-mail", "URL", "ID", "F1", "PNG", "SVG", "MTProto", "UTC"}

LATIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:[-'.][A-Za-z0-9_]+)*")
JSON = re.compile(r'[{\[]\s*"|\\u[0-9a-fA-F]{4}')
ENGLISH_NUMBER = re.compile(r"(?<![\d.,])\d+\.\d{1,3}(?![\d.])")
DATE_LIKE = re.compile(r"^\d{2}\.\d{2}$")
MONTH_CODE = re.compile(r"(?<![\d-])\d{4}-\d{2}(?![\d-])")
#: links and addresses are identifiers, not words
IDENTIFIERS = re.compile(r"https?://\S*|[\w.+-]+@[\w-]+\.[\w.]+|(?<!\w)@[A-Za-z0-9_]{3,}|(?<=[Кк]лавиша )(?:[A-Z]|Enter|Esc)\b")

READ_TEXT = """() => {
  for (const el of document.querySelectorAll('[translate="no"], kbd')) el.setAttribute('data-walker-skip', el.textContent), el.textContent = '';
  const parts = [document.title, document.body.innerText];
  for (const el of document.querySelectorAll('[title], [placeholder], [aria-label], [alt]')) {
    if (el.closest('[translate="no"]')) continue;
    for (const a of ['title', 'placeholder', 'aria-label', 'alt']) if (el.getAttribute(a)) parts.push(el.getAttribute(a));
  }
  for (const el of document.querySelectorAll('option, svg title')) if (!el.closest('[translate="no"]')) parts.push(el.textContent);
  return parts.join('\\n');
}"""


def problems(text: str) -> list[str]:
    """What is wrong with a page's text (empty when it is Russian throughout)."""
    found: list[str] = []
    for m in JSON.finditer(text):
        found.append(f"JSON: …{text[max(0, m.start() - 20):m.end() + 30]}…")
    text = IDENTIFIERS.sub(" ", text)
    for m in LATIN.finditer(text):
        if m.group() not in ALLOWED:
            found.append(f"латиница «{m.group()}»: …{text[max(0, m.start() - 30):m.end() + 30]}…")
    for m in ENGLISH_NUMBER.finditer(text):
        if not DATE_LIKE.match(m.group()):
            found.append(f"число «{m.group()}»: …{text[max(0, m.start() - 30):m.end() + 10]}…")
    for m in MONTH_CODE.finditer(text):
        found.append(f"месяц «{m.group()}»: …{text[max(0, m.start() - 30):m.end() + 10]}…")
    return found


def test_problems_finds_english_and_codes():
    assert problems("Журнал: login_failed, report.download, {\"a\": 1}, \\u0421, 0.0, 2026-12, system") != []
    assert len(problems("login_failed")) == 1 and len(problems("report.download")) == 1
    assert problems("Клавиша Enter или 1; клавиша J") == [] and problems("Нажмите Enter") != []
    assert problems("Инцидент №12 · ВКонтакте · 03.12.2026 14:05 · 81,5 балла · декабрь 2026 · API · CSV · https://vk.com/wall-1_2 · @kemerovo_live") == []


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str):
    yield from _site(tmp_path, sqlite_url)


@pytest.fixture(scope="module")
def walk_site(tmp_path_factory):
    """The same site for the walks of all roles (a walk only reads; each role signs in with its own context)."""
    from storage import Database

    tmp_path = tmp_path_factory.mktemp("walk")
    url = f"sqlite:///{tmp_path / 'cur.db'}"
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield from _site(tmp_path, url)


def _site(tmp_path: Path, sqlite_url: str):
    from pipeline import incidents
    from pipeline.accounts import tokens
    from pipeline.accounts.users import add_user

    now = datetime.now(timezone.utc)
    app = App(settings=load_settings(env={}).model_copy(update={"database_url": sqlite_url, "secret_key": "walker-" + "s" * 24}))
    seed_sample(app, now - timedelta(days=2))
    region = app.region.code
    with app.db.session() as s:
        busiest = web_repo.busiest_authority(s, region) if hasattr(web_repo, "busiest_authority") else None
        first = s.scalar(select(Incident).where(Incident.authority_id.is_not(None)).order_by(Incident.id))
        spec_code = web_repo.authority_names(s, [first.authority_id])[first.authority_id].code
        for login, role, name in ROLES:
            add_user(s, region, login, PASSWORD, role, spec_code if role == "specialist" else None, now, "cli", full_name=name)
        # a working day: answers, a resolution, a rejection, a reminder-like reroute
        ids = list(s.scalars(select(Incident.id).where(Incident.authority_id.is_not(None)).order_by(Incident.id)))
        incs = [s.get(Incident, i) for i in ids]
        incidents.record_response(s, incs[0], "first_reply", "Информация принята, выехали на место.", "operator", "web", now - timedelta(hours=20), profile=app.region)
        incidents.resolve(s, incs[0], "operator", now - timedelta(hours=2))
        incidents.reject(s, incs[1], "operator", now - timedelta(hours=3), "Не относится к полномочиям органов власти")
        incidents.mark_fake(s, incs[2], actor="operator", now=now - timedelta(hours=1), comment="проверяется")
        row, token = tokens.issue_token(s, region, spec_code, now - timedelta(days=1), "admin", label="СЭД министерства")
        second, _ = tokens.issue_token(s, region, spec_code, now - timedelta(days=1), "admin", label="старая СЭД")
        tokens.revoke_token(s, region, second.id, now - timedelta(hours=5), "admin")
        del busiest
        # every kind of audit entry the application writes, as it writes them
        month = now.strftime("%Y-%m")
        at = now - timedelta(minutes=30)
        for actor, action, target, data in [
            ("ivanov", "login_failed", "ivanov", {"ip": "10.0.0.7"}),
            ("ivanov", "login_blocked", "ivanov", {"ip": "10.0.0.7", "wait": 60}),
            ("curator", "login", "curator", {"ip": "10.0.0.8"}),
            ("curator", "logout", "curator", {"ip": "10.0.0.8"}),
            ("curator", "report.download", f"report:{month}", {"format": "html", "ip": "10.0.0.8"}),
            ("operator", "review.correct", "post:3", {"sector": "healthcare", "category": "facilities", "urgency": "normal", "incident_id": ids[0], "ip": "10.0.0.9"}),
            ("operator", "review.not_problem", "post:4", {"sector": None, "category": None, "urgency": None, "incident_id": None, "ip": "10.0.0.9"}),
            ("operator", "incident.reject", f"incident:{ids[1]}", {"reason": "Не относится к полномочиям", "ip": "10.0.0.9"}),
            ("operator", "incident.reroute", f"incident:{ids[2]}", {"authority": spec_code, "reason": "по компетенции", "ip": "10.0.0.9"}),
            ("operator", "incident.merge", f"incident:{ids[2]}", {"merged": ids[3], "ip": "10.0.0.9"}),
            ("operator", "incident.answer", f"incident:{ids[0]}", {"kind": "first_reply", "ip": "10.0.0.9"}),
            ("operator", "refused", f"/incidents/{ids[0]}/state", {"reason": "инцидент уже решён", "ip": "10.0.0.9"}),
            (f"api:{spec_code}", "api.answer", f"incident:{ids[3]}", {"kind": "first_reply"}),
            ("analyst", "model.rollback", "model:previous", {"result": "v-test-1", "ip": "10.0.0.10"}),
            ("analyst", "model.retrain", "model:new", {"pid": 4242, "ip": "10.0.0.10"}),
            ("analyst", "model.activate", "model:v-test-1", {"force": False, "pid": 4243, "ip": "10.0.0.10"}),
            ("admin", "user.change", "user:operator", {"role": ["analyst", "operator"], "authority": [None, None]}),
            ("admin", "user.password_reset", "user:operator", {}),
            ("admin", "user.deactivate", "user:operator", {}),
            ("admin", "user.activate", "user:operator", {}),
            ("operator", "password.change", "user:operator", {"forced": True, "ip": "10.0.0.9"}),
            ("operator", "password.change_failed", "user:operator", {"ip": "10.0.0.9"}),
        ]:
            web_repo.audit(s, actor, action, target, data, at)
    metrics = {"score": 0.81, "n": 40, "sector": {"n": 40, "accuracy": 0.85, "macro_f1": 0.8, "labels": ["energy", "housing", "roads"],
               "confusion": [[10, 2, 0], [1, 15, 1], [0, 2, 9]], "per_class": {"housing": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 17}}}}
    app.settings = app.settings.model_copy(update={"models_dir": models_dir_with(tmp_path / "models", [("v-test-1", "2026-11-01T10:00:00+00:00", metrics)], ["v-test-1"])})
    with BackgroundServer(app) as server:
        # the authority's back-office system answers through the API
        open_id = next(i for i in ids[3:])
        req = urllib.request.Request(f"{server.url}/api/incidents/{open_id}/responses", method="POST",
                                     data=json.dumps({"kind": "first_reply", "text": "Заявка принята в СЭД."}).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=20).read()
        except urllib.error.HTTPError:
            pass  # not this authority's incident: the refusal is in the audit log as well
        with app.db.session() as s:  # one incident of each kind a page shows differently (the first of each)
            kinds: dict[tuple, int] = {}
            for inc in s.scalars(select(Incident).order_by(Incident.id)):
                kinds.setdefault((inc.state, inc.is_possible_fake, inc.authority_id is None, inc.merged_into_id is None), inc.id)
        yield {"url": server.url, "app": app, "incidents": ids, "one_of_each": list(kinds.values())}
    app.db.dispose()


def sign_in(browser, url: str, login: str, password: str = PASSWORD):
    ctx = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(20000)
    page.goto(url + "/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:500]
    return page


#: a URL's "kind": digits folded, query keys sorted (the cursor and the values ignored)
def template(u: str) -> str:
    parts = urlsplit(u)
    keys = sorted({k.split("=")[0] for k in parts.query.split("&") if k and not k.startswith("cursor=")})
    return re.sub(r"\d+", "#", parts.path) + "?" + "&".join(keys)


PER_TEMPLATE = 3
PER_ROLE = 90


def walk(page, base: str, known: list[str]) -> tuple[set[str], dict[str, list[str]]]:
    """Breadth-first over the application's links; returns the pages seen and the problems per page.

    The ``known`` pages are all read; a page found by a link is read while fewer than
    :data:`PER_TEMPLATE` pages of its kind have been.
    """
    seen: set[str] = set()
    per_template: dict[str, int] = {}
    found: dict[str, list[str]] = {}
    must = set(known)
    queue = deque([urlsplit(page.url).path] + known)
    while queue and len(seen) < PER_ROLE:
        path = queue.popleft()
        if path in seen:
            continue
        t = template(path)
        if per_template.get(t, 0) >= PER_TEMPLATE and path not in must:
            continue
        seen.add(path)
        per_template[t] = per_template.get(t, 0) + 1
        try:
            resp = page.goto(base + path)
        except Exception as e:  # a file download (a CSV or a workbook): nothing to read
            if "Download is starting" in str(e):
                continue
            raise
        status = resp.status if resp else 0
        if status >= 500:
            found[path] = [f"ответ {status}"]
            continue
        if resp and "text/html" not in (resp.headers.get("content-type") or ""):
            continue
        bad = problems(page.evaluate(READ_TEXT))
        if bad:
            found[path] = bad
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            full = urljoin(base + path, href)
            parts = urlsplit(full)
            if f"{parts.scheme}://{parts.netloc}" != base or parts.path.startswith(("/static/", "/api/")) or parts.path.endswith((".xlsx", ".csv")):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if link not in seen:
                queue.append(link)
    return seen, found


@needs_chromium
@pytest.mark.parametrize("login", [login for login, _role, _name in ROLES])
def test_every_page_of_every_role_is_russian(walk_site, browser, login):
    """One role per case: the cases are independent, so xdist spreads the walks over the workers."""
    url = walk_site["url"]
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    known = [f"/incidents/{i}" for i in walk_site["one_of_each"]] + [
        f"/reports/{month}.html", "/models", "/users", "/tokens", "/audit", "/account/password", "/review", "/inbox", "/dashboard",
        "/incidents", "/no-such-page", "/reports/2099-01.html", "/users/1",
    ]
    page = sign_in(browser, url, login)
    seen, found = walk(page, url, known)
    report = [f"[{login}] {path}\n    " + "\n    ".join(dict.fromkeys(bad)) for path, bad in sorted(found.items())]
    page.context.close()
    assert len(seen) >= 8, (login, len(seen))
    assert not report, "English or codes on pages:\n" + "\n".join(report)


@needs_chromium
def test_destructive_actions_ask_first(site, browser):
    """Reject needs a reason and a confirmation in a <dialog> (static JS under the CSP); «Отмена» leaves everything as it was."""
    url, app, ids = site["url"], site["app"], site["incidents"]
    errors: list[str] = []
    op = sign_in(browser, url, "operator")
    op.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    target = ids[-1]
    op.goto(f"{url}/incidents/{target}")
    assert op.locator("#reject-form").count() == 1
    # no reason: the browser refuses before asking anything
    op.click("#reject-form button")
    assert op.locator("dialog.confirm[open]").count() == 0
    op.fill("#reject-form input[name=reason]", "Дубль обращения, уже решено в другом инциденте")
    op.click("#reject-form button")
    dialog = op.locator("dialog.confirm[open]")
    assert dialog.count() == 1 and f"Отклонить инцидент №{target}?" in dialog.inner_text()
    dialog.locator("button.confirm-cancel").click()
    assert op.locator("dialog.confirm[open]").count() == 0
    with app.db.session() as s:
        assert s.get(Incident, target).state != "rejected"
    op.click("#reject-form button")
    with op.expect_navigation():
        op.locator("dialog.confirm[open] button.confirm-ok").click()
    assert "Состояние изменено" in op.locator(".flash.ok").inner_text()
    with app.db.session() as s:
        assert s.get(Incident, target).state == "rejected"
    assert "отклонён" in op.locator("table.events").inner_text()
    # the token page and the models page ask too; a read-only curator sees no action at all
    adm = sign_in(browser, url, "admin")
    adm.goto(url + "/tokens")
    adm.locator("form.revoke-form button").first.click()
    assert "Отозвать токен" in adm.locator("dialog.confirm[open]").inner_text()
    adm.keyboard.press("Escape")
    assert adm.locator("dialog.confirm[open]").count() == 0 and adm.locator("form.revoke-form").count() == 1
    adm.goto(url + "/models")
    for form in ("#rollback-form", "#retrain-form"):
        adm.click(f"{form} button")
        assert adm.locator("dialog.confirm[open]").count() == 1
        adm.locator("dialog.confirm[open] button.confirm-cancel").click()
    cur = sign_in(browser, url, "curator")
    cur.goto(f"{url}/incidents/{ids[0]}")
    assert cur.locator("main form").count() == 0 and cur.locator("main button").count() == 0
    cur.goto(url + "/models")
    assert cur.locator("main form").count() == 0
    assert not [e for e in errors if "Content Security Policy" in e], errors
