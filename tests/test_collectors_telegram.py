"""Telegram collectors: the t.me/s/ preview against a fake site over HTTP, MTProto with a fake telethon client."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import pytest

from collectors.base import CollectedPost, RetryLater, SourceFailing, SourceSpec
from collectors.sources import parse_source_url
from collectors.telegram import TelegramCollector
from collectors.tgweb import TgWebCollector, parse_page
from tests.fakes.fake_telethon import FakeTelegramClient
from tests.fakes.fake_tgweb import FakeTgWeb, render_page
from tests.fakes.server import serve

DAY = 86400


async def collect(collector: Any, spec: SourceSpec, cursor: dict | None, stop_after: int | None = None):
    posts: list[CollectedPost] = []
    pages = 0
    async for page in collector.crawl(spec, cursor):
        posts.extend(page.posts)
        cursor = page.cursor
        pages += 1
        if stop_after and pages >= stop_after:
            break
    return posts, cursor


# --------------------------------------------------------------------------- t.me/s/ preview


@pytest.fixture
async def tgweb() -> AsyncIterator[tuple[FakeTgWeb, TgWebCollector]]:
    site = FakeTgWeb()
    with serve(site.app()) as srv:
        col = TgWebCollector(srv.url, rate=1000)
        yield site, col
        await col.close()


def test_parse_page_reads_the_real_markup():
    posts = [
        {"id": 7, "text": "Нет горячей воды\nуже третий день", "date": 1700000000, "edited": True, "author": "Ирина",
         "reply_text": "Цитата из другого поста"},
        {"id": 8, "text": "<b>не тег</b> & амперсанд", "date": 1700000600},
    ]
    found = parse_page(render_page("kuzbass_news", posts), "kuzbass_news")
    assert [f["id"] for f in found] == [7, 8]
    assert found[0]["text"] == "Нет горячей воды\nуже третий день"  # not the quoted reply, <br> → newline
    assert found[0]["edited"] is True and found[0]["author"] == "Ирина"
    assert found[0]["published_at"].isoformat() == "2023-11-14T22:13:20+00:00"
    assert found[1]["text"] == "<b>не тег</b> & амперсанд" and found[1]["edited"] is False
    assert found[1]["url"] == "https://t.me/kuzbass_news/8"


async def test_tgweb_pages_with_before_down_to_the_cursor(tgweb):
    site, col = tgweb
    site.add_posts("kuzbass_news", 65, step=600, newest=time.time() - 3600)
    spec = parse_source_url("https://t.me/s/kuzbass_news")
    assert (spec.platform, spec.key) == ("tgweb", "kuzbass_news")
    posts, cursor = await collect(col, spec, None)
    assert sorted(int(p.post_id) for p in posts) == list(range(1, 66))
    assert site.requests == ["/s/kuzbass_news", "/s/kuzbass_news?before=46", "/s/kuzbass_news?before=26",
                             "/s/kuzbass_news?before=6"]
    assert cursor["high_water"] == 65 and cursor["pass"] is None
    assert {p.platform for p in posts} == {"telegram"} and posts[0].raw["html"].startswith("<div")

    site.add_posts("kuzbass_news", 3)
    site.requests.clear()
    col.rescan = 0
    posts, cursor = await collect(col, spec, cursor)
    assert sorted(int(p.post_id) for p in posts) == [66, 67, 68]
    assert site.requests == ["/s/kuzbass_news"]


async def test_tgweb_resume_rescan_edits_and_deletions(tgweb):
    site, col = tgweb
    site.add_posts("nk_city", 50, step=3600)
    spec = parse_source_url("@nk_city")
    posts, cursor = await collect(col, spec, None, stop_after=1)  # killed after the first page
    assert cursor["pass"]["before"] == 31 and cursor["high_water"] is None
    rest, cursor = await collect(col, spec, cursor)
    assert sorted(int(p.post_id) for p in posts + rest) == list(range(1, 51))

    site.post("nk_city", 49)["text"] = "Исправлено: воду дали"
    site.post("nk_city", 49)["edited"] = True
    site.channels["nk_city"] = [p for p in site.channels["nk_city"] if p["id"] != 45]
    col.rescan = DAY
    again, cursor = await collect(col, spec, cursor)
    by_id = {p.post_id: p for p in again}
    assert by_id["49"].text == "Исправлено: воду дали" and by_id["49"].raw["edited"] is True
    assert by_id["45"].deleted is True
    assert "20" not in by_id  # older than the re-scan window


async def test_tgweb_disabled_preview_is_reported(tgweb):
    site, col = tgweb
    site.add_posts("closed_channel", 3)
    site.disabled.add("closed_channel")
    with pytest.raises(SourceFailing) as e:
        await collect(col, parse_source_url("t.me/closed_channel"), None)
    assert e.value.reason_code == "preview_disabled"


# --------------------------------------------------------------------------- MTProto


def channel_with_posts(n: int) -> tuple[FakeTelegramClient, Any]:
    client = FakeTelegramClient()
    ch = client.add_channel("kuzbass_live")
    for i in range(n):
        ch.add(f"Пост {i + 1}", author="Редакция")
    return client, ch


async def test_mtproto_reads_oldest_first_and_caches_the_entity():
    client, ch = channel_with_posts(250)
    col = TelegramCollector(client, discussion=False)
    spec = parse_source_url("https://t.me/kuzbass_live", telegram_via="telegram")
    assert spec.platform == "telegram"
    posts, cursor = await collect(col, spec, None)
    assert [int(p.post_id) for p in posts] == list(range(1, 251))
    assert cursor["channel"]["min_id"] == 250 and cursor["peer"]["channel_id"] == ch.entity.id
    p = posts[0]
    assert p.platform == "telegram" and p.source_key == "kuzbass_live" and p.author == "Редакция"
    assert p.url == "https://t.me/kuzbass_live/1" and p.published_at.tzinfo is not None
    assert p.raw["_"] == "Message" and isinstance(p.raw["date"], str)

    ch.add("Новый пост")
    posts, cursor = await collect(col, spec, cursor)
    assert [p.post_id for p in posts if not p.deleted][-1] == "251"
    # A new process (new collector) starts from the cursor's peer: no get_entity at all.
    col2 = TelegramCollector(client, discussion=False)
    await collect(col2, spec, cursor)
    assert client.get_entity_calls == ["kuzbass_live"]


async def test_mtproto_first_crawl_starts_initial_days_back():
    client = FakeTelegramClient()
    ch = client.add_channel("kuzbass_live")
    now = datetime.now(timezone.utc)
    for days in (400, 100, 20, 1):
        ch.add(f"{days} дней назад", date=now - timedelta(days=days))
    posts, cursor = await collect(TelegramCollector(client, discussion=False), parse_source_url(
        "@kuzbass_live", telegram_via="telegram"), None)
    assert [p.text for p in posts] == ["20 дней назад", "1 дней назад"] and cursor["channel"]["min_id"] == 4


async def test_mtproto_rescan_records_edits_and_deletions():
    client, ch = channel_with_posts(10)
    col = TelegramCollector(client, discussion=False, rescan_count=5)
    spec = parse_source_url("@kuzbass_live", telegram_via="telegram")
    _, cursor = await collect(col, spec, None)
    assert cursor["channel"]["recent"] == [6, 7, 8, 9, 10]
    ch.edit(9, "Пост 9 (обновлено)")
    del ch.messages[7]
    posts, cursor = await collect(col, spec, cursor)
    by_id = {p.post_id: p for p in posts}
    assert by_id["7"].deleted and by_id["9"].text == "Пост 9 (обновлено)" and by_id["9"].edited_at is not None
    assert "3" not in by_id


async def test_mtproto_flood_wait_becomes_retry_later_and_resumes():
    client, ch = channel_with_posts(230)
    client.flood_after = 150
    col = TelegramCollector(client, discussion=False)
    spec = parse_source_url("@kuzbass_live", telegram_via="telegram")
    got: list[CollectedPost] = []
    cursor = None
    with pytest.raises(RetryLater) as e:
        async for page in col.crawl(spec, cursor):
            got.extend(page.posts)
            cursor = page.cursor
    assert e.value.seconds == 42
    assert len(got) == 100 and cursor["channel"]["min_id"] == 100
    rest, cursor = await collect(col, spec, cursor)
    ids = [int(p.post_id) for p in rest if not p.deleted]
    assert ids[-130:] == list(range(101, 231))


async def test_mtproto_discussion_group_comments():
    client, ch = channel_with_posts(2)
    group = client.add_channel("kuzbass_live_chat", megagroup=True)
    client.link(ch, group)
    copy = group.add("Пост 2", fwd_channel_post=2)
    group.add("Во дворе на Ленина 5 не вывозят мусор", reply_to=copy.id, from_user=77)
    col = TelegramCollector(client)
    posts, cursor = await collect(col, parse_source_url("@kuzbass_live", telegram_via="telegram"), None)
    comment = next(p for p in posts if p.text.startswith("Во дворе"))
    assert comment.post_id == "d2" and comment.parent_id == "2" and comment.author_id == "77"
    assert cursor["discussion"]["min_id"] == 2
    group.add("Ещё комментарий", reply_to=copy.id)
    posts, cursor = await collect(col, parse_source_url("@kuzbass_live", telegram_via="telegram"), cursor)
    assert [p.post_id for p in posts if p.text == "Ещё комментарий"] == ["d3"]


async def test_mtproto_unknown_channel_is_failing():
    client, _ = channel_with_posts(1)
    with pytest.raises(SourceFailing) as e:
        await collect(TelegramCollector(client), parse_source_url("@no_such_channel", "telegram"), None)
    assert e.value.reason_code == "not_found"


async def test_mtproto_authors_and_reply_links():
    """Who wrote a message (username, else numeric id) and what it replies to, as the adapter stores them."""
    client, ch = channel_with_posts(1)
    group = client.add_channel("kuzbass_live_chat", megagroup=True)
    client.link(ch, group)
    client.add_user(77, "Vasya_77", "Василий", "Петров")
    client.add_user(78, None, "Мария")
    official = client.add_channel("Adm_City")
    copy = group.add("Пост 1", fwd_channel_post=1)
    citizen = group.add("Нет воды", reply_to=copy.id, from_user=77)
    group.add("И у нас", reply_to=citizen.id, reply_top=copy.id, from_user=78)
    group.add("Бригада выехала", reply_to=citizen.id, reply_top=copy.id, from_channel=official.entity.id)
    group.add("Ответ в другой чат", reply_to=5, reply_peer=official.entity.id, from_user=77)
    posts, _ = await collect(TelegramCollector(client), parse_source_url("@kuzbass_live", telegram_via="telegram"), None)
    got = {p.text: (p.author_id, p.author, p.parent_id, p.raw.get("reply_to_post_id")) for p in posts if p.post_id != "1"}
    post = next(p for p in posts if p.post_id == "1")
    assert (post.author_id, post.author, post.parent_id) == ("@kuzbass_live", "Редакция", None)  # the channel, its signature
    assert got["Нет воды"] == ("@vasya_77", "Василий Петров", "1", None)
    assert got["И у нас"] == ("78", "Мария", "1", "d2")
    assert got["Бригада выехала"] == ("@adm_city", "Канал Adm_City", "1", "d2")
    assert got["Ответ в другой чат"][2:] == (None, None)  # a reply to another chat's message: no link kept
