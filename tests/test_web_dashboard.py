"""Dashboards people can click, the map, week-over-week trends, ratings without data, reports, favicon, words for codes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from storage import web_repo
from storage.models import Incident
from tests.test_web_security import add_users, login, make_ctx
from web import charts, formatting
from web.app import create_app

NOW = datetime.now(timezone.utc)


@pytest.fixture
def app_ctx(db_url: str, seed_sample_once):
    app = make_ctx(db_url)
    seed_sample_once(app, NOW)
    add_users(app, [("adm", "admin", None), ("cur", "curator", None)])
    yield app
    app.db.dispose()


def links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'<a [^>]*?href="([^"]+)"', html)]


async def test_every_figure_links_to_its_list(app_ctx, aiohttp_client):
    client = await aiohttp_client(create_app(app_ctx))
    await login(client, "cur")
    html = await (await client.get("/dashboard?period=30")).text()
    with app_ctx.db.session() as s:
        incs = list(s.scalars(select(Incident).where(Incident.merged_into_id.is_(None))))
    hrefs = [h for h in links(html) if h.startswith("/incidents")]
    queries = [parse_qs(urlsplit(h).query) for h in hrefs]
    # a bar per sector, a cell per municipality × sector, a bubble per municipality, a column per day, a badge per state
    for inc in incs:
        assert any(q.get("sector") == [inc.sector] and "municipality" not in q for q in queries), inc.sector
        assert any(q.get("municipality") == [inc.municipality] and q.get("sector") == [inc.sector] for q in queries)
        assert any(q.get("state") == [inc.state] for q in queries)
    day = NOW.astimezone(app_ctx.region.region.tz).date().isoformat()
    assert any(q.get("from") == [day] and q.get("to") == [day] for q in queries)
    assert any(q.get("source") for q in queries) and any(q.get("overdue") == ["1"] for q in queries)
    assert all("from" in q for q in queries if "sector" in q and "to" not in q)  # the period travels with the link
    # the map: an SVG bubble per municipality with incidents, linked; nothing from the internet
    svg = re.search(r'<svg class="chart map".*?</svg>', html, re.S).group(0)
    placed = {i.municipality for i in incs if i.municipality}
    assert svg.count("<circle") >= len(app_ctx.region.region.municipalities)
    assert len(re.findall(r'<a href="/incidents\?municipality=', svg)) == len(placed)
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # week over week
    assert "Неделя к неделе" in html and re.search(r'<table class="grid small trends">', html)


async def test_ratings_say_no_data_instead_of_ranks(db_url, aiohttp_client):
    """Incidents routed a minute ago, nothing due yet: no places 1…N over zeros, «нет данных»; month names in words."""
    from pipeline.incidents import ingest_analysis, sync_authorities
    from tests.helpers import A, add_post

    app = make_ctx(db_url)
    app.db.upgrade()
    add_users(app, [("cur", "curator", None)])
    with app.db.session() as s:
        sync_authorities(s, app.region)
        for i, (sector, category, muni) in enumerate([("housing", "heating", "novokuznetsk"), ("roads", "road_surface", "kemerovo")]):
            post = add_post(s, f"Проблема номер {i} на улице Ленина, нет отопления и ямы", NOW - timedelta(minutes=2))
            assert ingest_analysis(s, app.region, post, A(sector=sector, category=category, municipality=muni), NOW - timedelta(minutes=1)) is not None
    client = await aiohttp_client(create_app(app))
    await login(client, "cur")
    html = await (await client.get("/dashboard")).text()
    rows = re.findall(r'<tr data-authority="[^"]+">\s*<td>([^<]*)</td>.*?<td class="score num">([^<]*)</td>', html, re.S)
    assert len(rows) == 2 and all(rank == "—" and score == "нет данных" for rank, score in rows), rows
    assert "Нет данных для рейтинга" in html
    month = formatting.month_name(NOW.astimezone(app.region.region.tz).strftime("%Y-%m"))
    assert f"Рейтинг органов власти — {month}" in html and "docs/ratings.md" not in html
    app.db.dispose()


async def test_reports_open_inline_and_only_for_begun_months(app_ctx, aiohttp_client):
    client = await aiohttp_client(create_app(app_ctx))
    await login(client, "cur")
    tz = app_ctx.region.region.tz
    month = NOW.astimezone(tz).strftime("%Y-%m")
    r = await client.get(f"/reports/{month}.html")
    assert r.status == 200 and r.headers["Content-Disposition"].startswith("inline")
    body = await r.text()
    assert "<svg" in body and "data:image/png" not in body and "docs/ratings.md" not in body
    local = NOW.astimezone(tz)
    nxt = f"{local.year + (local.month == 12):04d}-{local.month % 12 + 1:02d}"
    for fmt in ("html", "xlsx"):
        r = await client.get(f"/reports/{nxt}.{fmt}")
        assert r.status == 404 and "ещё не начался" in await r.text()
    assert (await client.get("/reports/2099-01.html")).status == 404


async def test_favicon_is_served_without_signing_in(app_ctx, aiohttp_client):
    client = await aiohttp_client(create_app(app_ctx))
    r = await client.get("/favicon.ico")
    assert r.status == 200 and r.headers["Content-Type"] == "image/x-icon" and (await r.read())[:4] == b"\x00\x00\x01\x00"
    r = await client.get("/static/favicon.svg")
    assert r.status == 200 and b"<svg" in await r.read()


async def test_audit_log_in_words(app_ctx, aiohttp_client):
    with app_ctx.db.session() as s:
        web_repo.audit(s, "ivanov", "login_failed", "ivanov", {"ip": "10.0.0.7"}, NOW)
        web_repo.audit(s, "cur", "report.download", "report:2026-12", {"format": "html", "ip": "10.0.0.8"}, NOW)
        web_repo.audit(s, "api:adm_kemerovo", "api.answer", "incident:1", {"kind": "first_reply"}, NOW)
        web_repo.audit(s, "adm", "user.add", "user:Иванов", {"role": "operator", "authority": None, "comment": "Сотрудник"}, NOW)
    client = await aiohttp_client(create_app(app_ctx))
    await login(client, "adm")
    html = await (await client.get("/audit")).text()
    text = re.sub(r"<[^>]+>", " ", html.split("<tbody>")[1].split("</tbody>")[0])
    assert "неудачная попытка входа" in text and "отчёт открыт" in text and "отчёт за декабрь 2026" in text
    assert "API: Администрация города Кемерово" in text and "вид ответа: первичный ответ" in text
    assert "формат: HTML" in text and "адрес 10.0.0.7" in text
    for code in ("login_failed", "report.download", "\\u", "{", "None", "api:"):
        assert code not in text, code
    assert '<span class="ident" translate="no">ivanov</span>' in html  # a typed login is shown as it is, marked as one


def test_words_for_codes():
    assert formatting.month_name("2026-12") == "декабрь 2026" and formatting.month_name("2026-13") == "2026-13"
    assert formatting.number(81.46, 1) == "81,5" and formatting.number(12345, 0) == "12\u202f345" and formatting.score(None) == "—"
    assert formatting.actor_label("system") == "система" and formatting.actor_label("scheduler") == "планировщик"
    assert formatting.actor_label("api:min_health", authorities={"min_health": "Минздрав"}) == "API: Минздрав"
    assert formatting.actor_label("ivanova", people={"ivanova": "Иванова И. И."}) == "Иванова И. И."
    assert formatting.source_label("vk", "vk:-100001") == "сообщество ВКонтакте №100001"
    assert formatting.source_label("vk", "-100001", {("vk", "-100001"): "Подслушано"}) == "Подслушано"
    assert formatting.source_label("tgweb", "kemerovo_live") == "Telegram-канал @kemerovo_live"
    assert formatting.channel_label("web") == "веб-интерфейс" and formatting.channel_label("api") == "API"


def test_charts_do_not_cut_names_and_one_day_is_not_a_giant_bar():
    name = "Прокопьевский городской округ (г. Прокопьевск)"
    svg = str(charts.bars([(name, 3, "/incidents?municipality=prokopyevsk")], "Инциденты"))
    assert f">{name}<" in svg and '<a href="/incidents?municipality=prokopyevsk"' in svg
    one_day = str(charts.columns([("03.12", 5, "/incidents?from=2026-12-03&to=2026-12-03")], "По дням"))
    widths = [float(w) for w in re.findall(r'<rect x="[^"]+" y="[^"]+" width="([^"]+)"', one_day)]
    assert widths and max(widths) <= 36
