"""Official pages on Telegram (issue 15, part 1): the real MTProto adapter (``collectors.telegram``) reads the fake
telethon client of ``tests/fakes`` — an authority's official channel whose residents' comments, in the linked
discussion group, are answered on time, late, formulaically and not at all; crawl + process + figures equal the
hand count of the VK test (``tests/test_official_pages.py``: the same month, texts and times)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from pipeline import official
from pipeline.crawl import Collectors, crawl
from pipeline.process import process_pending
from pipeline.ratings import Period
from storage.models import Incident, IncidentPost, Post
from storage.sources import get_or_create_source
from tests.fakes.fake_telethon import FakeTelegramClient
from tests.test_incidents_process import make_app, models_dir  # noqa: F401  (fixture)
from tests.test_official_pages import C1, C2, C3, C4, C5, NOW, TZ, assert_hand_count, assert_page_comments_escalated


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=TZ).astimezone(timezone.utc)


def populate(client: FakeTelegramClient) -> None:
    """The month of ``tests/test_official_pages.populate``, told in Telegram: the administration's channel
    ``adm_nk_tg`` posts (3, 5 and 20 Nov 09:00), its discussion group holds the residents' comments under the
    channel posts' copies and the answers the administration writes as its channel."""
    client.add_user(11, "resident_11", "Анна")
    client.add_user(12, None, "Борис")
    client.add_user(13, "resident_13", "Вера")
    client.add_user(14, None, "Глеб")
    client.add_user(15, "resident_15", "Дина")
    client.add_user(21, "resident_21", "Егор")
    channel = client.add_channel("adm_nk_tg")
    group = client.add_channel("adm_nk_tg_chat", megagroup=True)
    client.link(channel, group)
    page = channel.entity.id
    copies = {}
    for day in (3, 5, 20):
        post = channel.add(f"Новости администрации, {day} ноября", date=at(day, 9))
        copies[day] = group.add(post.message, date=at(day, 9), fwd_channel_post=post.id).id

    def comment(day: int, hour: int, text: str, user: int):
        return group.add(text, date=at(day, hour), reply_to=copies[day], from_user=user)

    def answer(to, day: int, hour: int, text: str, top_day: int) -> None:
        group.add(text, date=at(day, hour), reply_to=to.id, reply_top=copies[top_day], from_channel=page)

    c1 = comment(3, 10, C1, 11)
    answer(c1, 3, 11, "Здравствуйте! Аварийная бригада выехала, отопление дадут сегодня до 18:00, ответственный — мастер Петров А. С.", 3)
    c5 = comment(3, 12, C5, 15)
    answer(c5, 3, 13, "Спасибо!", 3)
    c2 = comment(5, 10, C2, 12)
    answer(c2, 9, 15, "Порыв устранён, участок трубы заменён 9 ноября, подвал откачали.", 5)
    c3 = comment(20, 10, C3, 13)
    answer(c3, 20, 12, "Ваше обращение передано в профильное управление.", 20)
    comment(20, 11, C4, 14)
    # the same rubbish, posted earlier in a residents' channel: the page's unanswered comment joins its incident
    live = client.add_channel("nk_live")
    live.add("Новокузнецк, Транспортная 40: третий день не вывозят мусор с контейнерной площадки, всё завалено, крысы", date=at(20, 8))


def test_official_telegram_channel_figures_equal_the_hand_count(db_url, models_dir):
    client = FakeTelegramClient()
    populate(client)
    app = make_app(db_url, models_dir, CUR_REGION="kuzbass")
    db = app.ready_db()
    with db.session() as s:
        page, _ = get_or_create_source(s, "telegram", "channel", "adm_nk_tg", url="https://t.me/adm_nk_tg")
        official.mark_official(s, app.region, page, "adm_novokuznetsk")
        other, _ = get_or_create_source(s, "telegram", "channel", "nk_live", url="https://t.me/nk_live")
        ids = [other.id, page.id]

    async def run() -> None:
        cols = Collectors(app.settings, default_tz=TZ, telegram_client=client)
        col = await cols.get("telegram")
        col.initial_days = None  # the fixed month of the hand count, whatever today is
        reports = await crawl(db, ids, cols)
        assert [r.status for r in reports] == ["ok", "ok"], [r.message for r in reports]

    asyncio.run(run())
    report = process_pending(app, NOW.astimezone(timezone.utc))

    with db.session() as s:
        in_inc = assert_page_comments_escalated(s, report)
        # the page's answers are the authority speaking: not classified as residents' posts, in no incident
        answers = [p for p in s.scalars(select(Post)) if p.author_id == "@adm_nk_tg" and p.parent_external_id]
        assert len(answers) == 4 and not any(p.id in {ip.post_id for ip in s.scalars(select(IncidentPost))} for p in answers)
        (f,) = official.page_figures(s, app.region, Period.month("2026-11", TZ), NOW)
    got = f.as_dict()
    assert got["pages"] == ["https://t.me/adm_nk_tg"]
    assert_hand_count(got)

    # the page answers the escalated comment after the incident was opened: that incident's first reply
    answer_at = NOW.astimezone(timezone.utc) + timedelta(hours=1)
    group = client.channels["adm_nk_tg_chat"]
    c3 = next(m for m in group.messages.values() if m.message == C3)
    group.add("Здравствуйте! Яму засыпали щебнем, асфальт положат до 15 мая, ответственный — мастер Сидоров В. П.", date=answer_at,
              reply_to=c3.id, reply_top=c3.reply_to.reply_to_msg_id, from_channel=client.channels["adm_nk_tg"].entity.id)

    async def again() -> None:
        cols = Collectors(app.settings, default_tz=TZ, telegram_client=client)
        assert [r.status for r in await crawl(db, [ids[1]], cols)] == ["ok"]

    asyncio.run(again())
    assert process_pending(app, answer_at + timedelta(hours=1)).replies == 1
    with db.session() as s:
        inc3 = s.get(Incident, in_inc[C3])
        assert inc3.state == "answered" and inc3.first_reply_at == answer_at
    assert process_pending(app, answer_at + timedelta(hours=2)).replies == 0  # once
    db.dispose()
