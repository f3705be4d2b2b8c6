"""`cur demo`: the whole chain on a sample of posts the project writes itself.

1. a fresh embedded database; 2. import of the sample posts (dates moved so
the newest is an hour old); 3. a processing pass with the shipped classifier:
analyses, places, incidents, routing, deadlines, notifications queued;
4. the monthly report; 5. demo accounts, one per role. The shell (``cur demo``)
then serves the web application on the result.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from config import load_settings
from pipeline import timefmt
from pipeline.accounts.users import add_user
from pipeline.context import App
from pipeline.importer import import_file
from pipeline.incidents import sync_authorities
from storage import utcnow, web_repo

DEMO_POSTS = Path(__file__).resolve().parent / "demo_data" / "posts.jsonl"

#: (login, password, role, authority code or None: the specialist takes the first sector head)
DEMO_ACCOUNTS = [
    ("admin", "demo-admin-1", "admin", None),
    ("operator", "demo-operator-1", "operator", None),
    ("specialist", "demo-specialist-1", "specialist", "@sector_head"),
    ("analyst", "demo-analyst-1", "analyst", None),
    ("curator", "demo-curator-1", "curator", None),
]
#: the demo accounts' names (invented), so pages show people, not logins
DEMO_NAMES = {"admin": "Администратор (демо)", "operator": "Оператор Демидова", "specialist": "Специалист Демченко", "analyst": "Аналитик Деев", "curator": "Куратор Дементьев"}


def _specialist_authority(s: Any, profile: Any) -> str:
    """The authority holding the most open incidents (so the demo inbox is not empty), else a sector head."""
    busiest = web_repo.busiest_authority(s, profile.code)
    if busiest is not None:
        return busiest
    for a in profile.region.authorities:
        if a.role.value == "sector_head":
            return a.code
    return profile.region.authorities[0].code


def seed_demo_accounts(app: Any) -> list[tuple[str, str, str]]:
    """Create the demo accounts (idempotent) and return (login, password, role) for printing."""
    profile = app.region
    out = []
    with app.db.session() as s:
        sync_authorities(s, profile)
        for login, password, role, authority in DEMO_ACCOUNTS:
            code = _specialist_authority(s, profile) if authority == "@sector_head" else authority
            if web_repo.user_by_login(s, login) is None:
                add_user(s, profile.code, login, password, role, code, utcnow(), "demo", full_name=DEMO_NAMES.get(login))
            out.append((login, password, role))
    return out


def _shifted_sample(now, target: Path) -> Path:
    """The sample with its dates moved so the newest post is one hour old."""
    from collectors.files import parse_date

    rows = [json.loads(line) for line in DEMO_POSTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    newest = max(parse_date(r["date"]) for r in rows)
    shift = (now - timedelta(hours=1)) - newest
    with target.open("w", encoding="utf-8") as f:
        for r in rows:
            r["date"] = (parse_date(r["date"]) + shift).isoformat()
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return target


def run_demo(database: str, say: Callable[[str], Any] = lambda _line: None,
             report_dir: Path = Path("cur-demo-reports")) -> App:
    """Steps 1–5 on ``database``; ``say`` receives the Russian lines that tell the user what happened."""
    from pipeline.process import run_pass
    from pipeline.reports import write_report
    from storage.incidents import authorities_by_code, list_incidents, post_ids_of

    settings = load_settings().model_copy(update={"database_url": database})
    app = App(settings=settings)
    profile = app.region
    tz = profile.region.tz
    now = utcnow()
    say(f"ЦУР Монитор — демонстрация. Регион: {profile.region.name}.")
    db = app.ready_db()
    say(f"1. База данных готова: {database}")

    with tempfile.TemporaryDirectory() as tmp:
        sample = _shifted_sample(now, Path(tmp) / "posts.jsonl")
        report = import_file(db, sample, tz)
    s = report.stored
    say(f"2. Загружены посты из {DEMO_POSTS.name}: новых {s.inserted}, уже было {s.unchanged}.")

    result = run_pass(app, now)
    say(f"3. Обработка моделью {result.posts.model_version or '—'}: {result.posts}.")

    with db.session() as ses:
        incidents = sorted(list_incidents(ses, region=profile.code, limit=None), key=lambda i: i.id)
        authorities = {a.id: a.name for a in authorities_by_code(ses, profile.code).values()}
        by_sector = Counter(i.sector for i in incidents)
        say(f"   Инцидентов: {len(incidents)}; по направлениям: "
            + ", ".join(f"{k} — {v}" for k, v in by_sector.most_common()))
        for inc in incidents[:8]:
            due = timefmt.local(inc.first_reply_due, tz, "%d.%m %H:%M")
            say(f"   №{inc.id} [{inc.sector}/{inc.category}, {inc.municipality or 'место не определено'}] "
                f"→ {authorities.get(inc.authority_id, 'не назначен')}; первичный ответ до {due}; "  # type: ignore[arg-type]  # an unassigned incident (None) shows «не назначен»
                f"постов: {len(post_ids_of(ses, inc.id))}")

    month = now.astimezone(tz).strftime("%Y-%m")
    with db.session() as ses:
        html, xlsx = write_report(ses, profile, month, report_dir, now=now)
    say(f"4. Ежемесячный отчёт за {month}: {html} и {xlsx}")

    accounts = seed_demo_accounts(app)
    say("5. Демонстрационные учётные записи (логин / пароль — роль):")
    for login, password, role in accounts:
        say(f"   {login} / {password} — {role}")
    say("Где смотреть: веб-приложение (ниже), `cur incidents list`, `cur export incidents --format csv`, "
        f"`cur routing explain ID_ПОСТА`; база: {database}")
    return app
