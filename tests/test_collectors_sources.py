"""Source URL parsing, the rate limiter and the file import collector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.base import SourceFailing
from collectors.fileimport import FileCollector
from collectors.ratelimit import RateLimiter, TokenPool
from collectors.sources import SourceUrlError, parse_source_url


@pytest.mark.parametrize("text,expected", [
    ("https://vk.com/club123", ("vk", "wall", "-123", "https://vk.com/club123")),
    ("vk.com/public123", ("vk", "wall", "-123", "https://vk.com/club123")),
    ("https://m.vk.com/event77", ("vk", "wall", "-77", "https://vk.com/club77")),
    ("https://vk.ru/id5", ("vk", "wall", "5", "https://vk.com/id5")),
    ("https://vk.com/Kuzbass_Online", ("vk", "wall", "kuzbass_online", "https://vk.com/kuzbass_online")),
    ("https://vk.com/wall-123_456", ("vk", "comments", "-123_456", "https://vk.com/wall-123_456")),
    ("-123", ("vk", "wall", "-123", "https://vk.com/club123")),
    ("vk:kuzbass_online", ("vk", "wall", "kuzbass_online", "https://vk.com/kuzbass_online")),
    ("vk-search:Новокузнецк", ("vk", "search", "Новокузнецк", "vk-search:Новокузнецк")),
    ("https://vk.com/search/statuses?q=Кемерово", ("vk", "search", "Кемерово", "vk-search:Кемерово")),
    ("https://t.me/Kuzbass_News", ("tgweb", "channel", "kuzbass_news", "https://t.me/s/kuzbass_news")),
    ("t.me/s/kuzbass_news", ("tgweb", "channel", "kuzbass_news", "https://t.me/s/kuzbass_news")),
    ("@kuzbass_news", ("tgweb", "channel", "kuzbass_news", "https://t.me/s/kuzbass_news")),
])
def test_parse_source_url(text, expected):
    s = parse_source_url(text)
    assert (s.platform, s.kind, s.key, s.url) == expected


def test_parse_telegram_via_mtproto_and_files(tmp_path: Path):
    s = parse_source_url("@kuzbass_news", telegram_via="telegram")
    assert (s.platform, s.url) == ("telegram", "https://t.me/kuzbass_news")
    f = parse_source_url(str(tmp_path / "pos.csv"))
    assert (f.platform, f.kind, f.key) == ("file", "csv", str(tmp_path / "pos.csv"))
    assert parse_source_url(f"file://{tmp_path}/x.jsonl").kind == "jsonl"


@pytest.mark.parametrize("text,fragment", [
    ("https://example.com/x", "не удалось распознать"),
    ("https://t.me/+AbCdEf", "приглашению"),
    ("https://vk.com/feed", "не похоже"),
    ("vk-search:", "пустой"),
    ("@a", "недопустимое имя"),
])
def test_parse_source_url_errors_are_clear(text, fragment):
    with pytest.raises(SourceUrlError) as e:
        parse_source_url(text)
    assert fragment in str(e.value)


async def test_rate_limiter_spaces_slots_and_pool_picks_earliest_token():
    now = [0.0]
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    pool = TokenPool.from_specs([("user", "u", 3.0), ("group", "g", 20.0)], clock=lambda: now[0], sleep=sleep)
    used = [(await pool.acquire()).token for _ in range(46)]
    assert now[0] == pytest.approx(2.0, abs=0.06)  # 46 requests at 23/s
    assert used.count("u") in (6, 7) and used.count("g") in (39, 40, 41)
    lim = RateLimiter(3.0, clock=lambda: 10.0)
    assert [round(lim.reserve(), 3) for _ in range(3)] == [0.0, 0.337, 0.673]  # 1% safety margin


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


async def crawl_file(col: FileCollector, path: Path, cursor=None):
    spec = parse_source_url(str(path))
    posts, problems = [], []
    async for page in col.crawl(spec, cursor):
        posts.extend(page.posts)
        problems.extend(page.problems)
        cursor = page.cursor
    return posts, problems, cursor


async def test_file_collector_pages_resumes_and_reports_bad_lines(tmp_path: Path):
    path = tmp_path / "pos_export.jsonl"
    rows = [{"id": i, "date": "2024-03-01T10:00:00+07:00", "text": f"Обращение {i}"} for i in range(1, 1201)]
    rows[9]["date"] = "вчера"
    write_jsonl(path, rows)
    col = FileCollector(page_size=500, rescan_lines=10)
    posts, problems, cursor = await crawl_file(col, path)
    assert len(posts) == 1199 and cursor["line"] == 1200
    assert problems == [f"{path}: строка 10, поле «date»: не дата: 'вчера' "
                        "(ожидается ISO 8601, например 2024-01-31T08:15:00+07:00)"]
    p = posts[0]
    assert (p.platform, p.source_key, p.post_id) == ("file", "pos_export", "1")
    assert p.published_at.isoformat() == "2024-03-01T03:00:00+00:00"

    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"id": 1201, "date": "2024-03-02", "text": "Новое"}, ensure_ascii=False) + "\n")
    posts, _, cursor = await crawl_file(col, path, cursor)
    assert [p.post_id for p in posts] == [str(i) for i in range(1191, 1202)]  # 10 re-scanned + 1 new

    write_jsonl(path, rows[:3])  # replaced by a new, shorter export: read from the start
    posts, _, cursor = await crawl_file(col, path, cursor)
    assert [p.post_id for p in posts] == ["1", "2", "3"]


async def test_file_collector_missing_file_is_failing(tmp_path: Path):
    with pytest.raises(SourceFailing) as e:
        await crawl_file(FileCollector(), tmp_path / "gone.csv")
    assert e.value.reason_code == "file_missing"
