"""Official pages (issue 15, part 1): a fake VK API serves an authority's official community whose residents'
comments are answered on time, late, formulaically and not at all; crawl + process + figures equal a hand count."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pipeline import official
from pipeline.crawl import Collectors, crawl
from pipeline.process import process_pending
from pipeline.ratings import Period
from storage.models import Authority, Incident, IncidentPost, Post
from storage.sources import get_or_create_source
from tests.fakes.fake_vk import FakeVk
from tests.fakes.server import serve
from tests.test_incidents_process import make_app, models_dir  # noqa: F401  (fixture)

TZ = ZoneInfo("Asia/Novokuznetsk")
PAGE, OTHER = -500, -600
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=TZ)


def ts(day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp())


C1 = "Новокузнецк, Кирова 12 — третий день нет отопления, в квартирах 14 градусов, дети мёрзнут. Примите меры!"
C2 = "Новокузнецк, на Металлургов 5 прорвало трубу, подвал затоплен горячей водой, весь подъезд в пару"
C3 = "Новокузнецк, во дворе дома Кутузова 21 огромная яма, машины бьют колёса, уже месяц никто не ремонтирует"
C4 = "Новокузнецк, третий день не вывозят мусор с контейнерной площадки на Транспортной 40, всё завалено, бегают крысы"
C5 = "Спасибо за новость, отличная работа!"


# The hand count of the month both official-page tests replay (VK here, Telegram in test_official_pages_telegram.py):
# 3 page posts, 5 comments, 4 of them problems: C1 answered on time by substance, C2 answered late by substance,
# C3 answered only by a formula (an incident), C4 unanswered and also reported elsewhere (joins that incident),
# C5 thanks.
HAND_COUNT = {
    "rank": 1, "authority": "adm_novokuznetsk", "posts": 3, "days_with_posts": 3, "weeks": 5, "weeks_with_posts": 2,
    "longest_gap_days": 15.0, "comments": 5, "problems": 4, "decided": 4, "answered": 2, "on_time": 1, "late": 1,
    "not_substantive": 1, "unanswered": 1, "pending": 0, "answers": 3, "answers_substantive": 2,
    "median_answer_minutes": 3060.0, "to_incidents": 2, "regularity": 0.4, "answered_share": 0.5, "on_time_share": 0.25,
    "substantive_share": 0.6667,
}


def assert_page_comments_escalated(s, report) -> dict[str, int]:
    """The unanswered problems became incidents routed to the page's authority; returns comment text → incident id."""
    texts = {p.id: p.text for p in s.scalars(select(Post))}
    in_inc = {texts[ip.post_id]: ip.incident_id for ip in s.scalars(select(IncidentPost))}
    assert C1 not in in_inc and C2 not in in_inc and C5 not in in_inc  # answered by substance / not a problem
    assert C3 in in_inc and C4 in in_inc
    inc3 = s.get(Incident, in_inc[C3])
    adm = s.scalar(select(Authority).where(Authority.code == "adm_novokuznetsk"))
    assert inc3.authority_id == adm.id and "официальной странице" in (inc3.routing_rule or "")
    other_inc = [i for t, i in in_inc.items() if t.startswith("Новокузнецк, Транспортная 40")]
    assert other_inc == [in_inc[C4]]  # deduplicated: the page's comment joined the incident from elsewhere
    assert report.page_escalated == 2 and report.page_comments == 5
    return in_inc


def assert_hand_count(got: dict) -> dict:
    """The month's figures equal the hand count; returns the figures checked (for the web and API checks)."""
    assert {k: got[k] for k in HAND_COUNT} == HAND_COUNT
    assert got["score"] == pytest.approx(100 * (0.25 * 0.4 + 0.25 * 0.5 + 0.30 * 0.25 + 0.20 * 2 / 3), abs=1e-3)
    return dict(HAND_COUNT)


def populate(vk: FakeVk) -> dict[str, int]:
    """The hand-counted month (November 2026, local time of Novokuznetsk).

    Page posts (by the community itself): 3 Nov 09:00, 5 Nov 09:00, 20 Nov 09:00 → 3 posts, 3 days;
    7-day windows from 1 Nov: [1–8) [8–15) [15–22) [22–29) [29–1 Dec) → 5, with posts in 2 (regularity 0.4);
    longest gap 5 Nov 09:00 → 20 Nov 09:00 = 15.0 days (20 Nov 09:00 → 1 Dec 00:00 is 10.6).
    Residents' comments: 5, of them 4 problems —
      c1 3 Nov 10:00, answered 11:00 by substance (8 working hours: due 18:00) → on time, 60 min;
      c2 5 Nov 10:00 (Thu; due Thu 18:00), answered Mon 9 Nov 15:00 by substance → late, 6060 min;
      c3 20 Nov 10:00, answered 12:00 «ваше обращение передано» only → not by substance;
      c4 20 Nov 11:00, no answer → unanswered;
      c5 «спасибо» (not a problem), answered by the page «Спасибо!» (not counted: no problem).
    Page answers to problems 3, by substance 2. Answered 2 of 4 (0.5), on time 1 of 4 (0.25),
    median answer time (60 + 6060) / 2 = 3060 min. c3 and c4 become incidents (c4 joins the incident
    already opened about the same rubbish from another community; c3 opens one routed to the
    administration): 2 problems to incidents.
    score = 100 × (0.25·0.4 + 0.25·0.5 + 0.30·0.25 + 0.20·2/3) = 43.33.
    """
    vk.domains["adm_nk"] = PAGE
    wall = vk.wall(PAGE)
    for pid, day in ((1, 3), (2, 5), (3, 20)):
        wall.append({"id": pid, "owner_id": PAGE, "from_id": PAGE, "date": ts(day, 9), "text": f"Новости администрации, выпуск {pid}",
                     "comments": {"count": 0}})
    c1 = vk.add_comment(PAGE, 1, C1, date=ts(3, 10), from_id=11)
    vk.add_comment(PAGE, 1, "Здравствуйте! Аварийная бригада выехала, отопление дадут сегодня до 18:00, ответственный — мастер Петров А. С.",
                   date=ts(3, 11), from_id=PAGE, reply_to=c1["id"])
    c5 = vk.add_comment(PAGE, 1, C5, date=ts(3, 12), from_id=15)
    vk.add_comment(PAGE, 1, "Спасибо!", date=ts(3, 13), from_id=PAGE, reply_to=c5["id"])
    c2 = vk.add_comment(PAGE, 2, C2, date=ts(5, 10), from_id=12)
    vk.add_comment(PAGE, 2, "Порыв устранён, участок трубы заменён 9 ноября, подвал откачали.", date=ts(9, 15), from_id=PAGE,
                   reply_to=c2["id"])
    c3 = vk.add_comment(PAGE, 3, C3, date=ts(20, 10), from_id=13)
    vk.add_comment(PAGE, 3, "Ваше обращение передано в профильное управление.", date=ts(20, 12), from_id=PAGE, reply_to=c3["id"])
    vk.add_comment(PAGE, 3, C4, date=ts(20, 11), from_id=14)
    # the same rubbish, posted in a residents' community earlier: the page's unanswered comment joins its incident
    vk.wall(OTHER).append({"id": 7, "owner_id": OTHER, "from_id": 21, "date": ts(20, 8),
                           "text": "Новокузнецк, Транспортная 40: третий день не вывозят мусор с контейнерной площадки, всё завалено, крысы",
                           "comments": {"count": 0}})
    return {"c1": c1["id"], "c2": c2["id"], "c3": c3["id"]}


def test_official_community_figures_equal_the_hand_count(db_url, models_dir, tmp_path, cur):
    vk = FakeVk()
    ids_c = populate(vk)
    with serve(vk.app()) as srv:
        app = make_app(db_url, models_dir, CUR_VK_API_URL=srv.url + "/method/", CUR_VK_TOKENS="user:t@100", CUR_REGION="kuzbass")
        db = app.ready_db()
        with db.session() as s:
            page, _ = get_or_create_source(s, "vk", "wall", "adm_nk", url="https://vk.com/adm_nk")
            official.mark_official(s, app.region, page, "adm_novokuznetsk")
            other, _ = get_or_create_source(s, "vk", "wall", str(OTHER), url="https://vk.com/club600")
            ids = [other.id, page.id]
        with pytest.raises(Exception, match="не найден"):
            with db.session() as s:
                official.mark_official(s, app.region, page, "no_such_authority")

        async def run() -> None:
            cols = Collectors(app.settings, default_tz=TZ)
            col = await cols.get("vk")
            col.wall.now = lambda: NOW.timestamp()
            reports = await crawl(db, ids, cols)
            assert [r.status for r in reports] == ["ok", "ok"], reports

        asyncio.run(run())
        report = process_pending(app, NOW.astimezone(timezone.utc))

    with db.session() as s:
        in_inc = assert_page_comments_escalated(s, report)
        (f,) = official.page_figures(s, app.region, Period.month("2026-11", TZ), NOW)
    expected = assert_hand_count(f.as_dict())

    # the monthly report carries the same figures (HTML section and XLSX sheet)
    from openpyxl import load_workbook

    from pipeline.reports import build_report, render_html, write_xlsx

    with db.session() as s:
        rep = build_report(s, app.region, "2026-11", NOW)
    html = render_html(rep)
    assert "Ведение официальных страниц" in html and "Администрация города Новокузнецка" in html
    write_xlsx(rep, tmp_path / "r.xlsx")
    (row,) = list(load_workbook(tmp_path / "r.xlsx")["Официальные страницы"].iter_rows(min_row=2, values_only=True))
    assert row[:3] == (1, "adm_novokuznetsk", "Администрация города Новокузнецка")
    assert row[4:17] == (3, 3, 2, 5, 15.0, 5, 4, 2, 1, 1, 1, 1, 0) and row[17] == 51.0 and row[21:] == (2, 43.3)

    # a page's answer after the incident was opened is that incident's first reply (December: the November figures stay)
    from storage import PostRecord, upsert_posts

    answer_at = NOW.astimezone(timezone.utc) + timedelta(hours=1)
    with db.session() as s:
        upsert_posts(s, [PostRecord("vk", str(PAGE), f"3_{ids_c['c3'] + 100}", answer_at,
                                    "Здравствуйте! Яму засыпали щебнем, асфальт положат до 15 мая, ответственный — мастер Сидоров В. П.",
                                    parent_external_id="3", author_id=str(PAGE), author="Администрация Новокузнецка",
                                    raw={"reply_to_comment": ids_c["c3"], "parents_stack": [ids_c["c3"]]})])
    again = process_pending(app, answer_at + timedelta(hours=1))
    assert again.replies == 1
    with db.session() as s:
        inc3 = s.get(Incident, in_inc[C3])
        assert inc3.state == "answered" and inc3.first_reply_at == answer_at
        assert official.page_figures(s, app.region, Period.month("2026-11", TZ), answer_at)[0].as_dict()["answers"] == 3
    assert process_pending(app, answer_at + timedelta(hours=2)).replies == 0  # once
    db.dispose()
    check_web(db_url, models_dir, expected)
    r = cur("ratings", "--month", "2026-11", "--official")
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[-1].split()
    assert line[:9] == ["1", "43.3", "3", "2/5", "4", "50%", "25%", "1", "1"] and "(adm_novokuznetsk)" in r.stdout


def check_web(db_url: str, models_dir: str | None, expected: dict) -> None:
    """The back-office API endpoint and the dashboard section show the same figures."""
    import http.cookiejar
    import json
    import re
    import urllib.request

    from pipeline.accounts import tokens as api_tokens
    from tests.test_web_security import PASSWORD, add_users
    from web.app import create_app

    app = make_app(db_url, models_dir, CUR_SECRET_KEY="test-secret-" + "k" * 20, CUR_REGION="kuzbass")
    add_users(app, [("op", "operator", None)])
    with app.db.session() as s:
        _row, token = api_tokens.issue_token(s, "kuzbass", "adm_novokuznetsk", datetime.now(timezone.utc), "test", "back office")
    try:
        with serve(create_app(app)) as srv:
            req = urllib.request.Request(srv.url + "/api/official-pages?month=2026-11", headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req) as r:
                body = json.loads(r.read())
            assert body["month"] == "2026-11" and body["authority"] == "adm_novokuznetsk"
            (line,) = body["rows"]
            assert {k: line[k] for k in expected} == expected and line["pages"] == ["https://vk.com/adm_nk"]
            bad = urllib.request.Request(srv.url + "/api/official-pages?month=2026-13", headers={"Authorization": f"Bearer {token}"})
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(bad)
            assert e.value.code == 400

            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            page = opener.open(srv.url + "/login").read().decode()
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            data = urllib.parse.urlencode({"login": "op", "password": PASSWORD, "csrf_token": csrf, "next": "/"}).encode()
            opener.open(srv.url + "/login", data=data)
            html = opener.open(srv.url + "/dashboard?month=2026-11").read().decode()
    finally:
        app.db.dispose()
    section = html[html.index('id="official-pages"'):]
    section = section[:section.index("</section>")]
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", section)]
    assert cells[:8] == ["1", "Администрация города Новокузнецка", "43,3", "3", "2 из 5", "4", "2 (50%)", "25%"], cells
    assert cells[9:] == ["1", "1", "2"], cells


def test_cli_adds_an_official_page_and_lists_it(cur):
    r = cur("sources", "add", "https://vk.com/adm_nk", "--official", "adm_novokuznetsk")
    assert r.returncode == 0, r.stderr
    assert "официальная страница: Администрация города Новокузнецка" in r.stdout
    r = cur("sources", "list")
    assert "официальная страница: Администрация города Новокузнецка" in r.stdout
    r = cur("sources", "add", "https://vk.com/other", "--official", "nobody")
    assert r.returncode != 0 and "nobody" in r.stderr and "не найден" in r.stderr
    r = cur("sources", "add", "vk-search:Кемерово", "--official", "adm_novokuznetsk")
    assert r.returncode != 0 and "официальной страницей" in r.stderr


def test_profile_official_pages_become_official_sources(db, profile):
    import dataclasses

    from storage.official import official_sources

    prof = dataclasses.replace(profile, region=profile.region.model_copy(update={"authorities": [
        a.model_copy(update={"official_pages": ["https://vk.com/club500", "https://t.me/adm_nk"]}) if a.code == "adm_novokuznetsk" else a
        for a in profile.region.authorities]}))
    with db.session() as s:
        assert official.sync_official_sources(s, prof) == 2
        assert official.sync_official_sources(s, prof) == 0  # once
        got = sorted((src.platform, src.key, src.options["official"]) for src in official_sources(s))
        assert got == [("tgweb", "adm_nk", "adm_novokuznetsk"), ("vk", "-500", "adm_novokuznetsk")]
        (vk_page,) = [p for p in official.pages(s, prof) if p.url == "https://vk.com/club500"]
        assert vk_page.keys == {("vk", "-500")} and "-500" in vk_page.accounts
