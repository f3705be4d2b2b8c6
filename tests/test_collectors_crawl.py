"""`cur sources` and `cur crawl` end to end: real `cur` processes, fake VK and t.me servers, real databases.

The crash test kills `cur crawl` with SIGKILL in the middle of a crawl (the fake VK server holds
the N-th request and tells the test), reruns it, and compares the database with an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import run_cur
from tests.fakes.fake_tgweb import FakeTgWeb
from tests.fakes.fake_vk import FakeVk
from tests.fakes.server import serve


def populate(vk: FakeVk, site: FakeTgWeb) -> None:
    now = time.time()
    # newest - 2250 s: with a step of 900 s no post sits on the edge of the 3-day re-scan window
    # (now - 1800 put post 354 exactly on it, and a rerun seconds later dropped it from the cursor)
    vk.add_posts(-1, 640, newest=now - 2250, step=900, text="Пост {id}: нет света на улице Ленина")
    for pid in range(600, 641, 10):
        vk.add_comment(-1, pid, f"Комментарий к {pid}", date=int(now - 1000))
    vk.pin(-1, 3)
    vk.add_posts(-2, 150, newest=now - 3600, step=1200)
    vk.owner_errors[-3] = 15
    for i in range(1100):
        vk.search_posts.append({"id": 5000 + i, "owner_id": -(10 + i % 5), "from_id": 7, "date": int(now - 100 - i * 120),
                                "text": f"Новокузнецк, двор {i}: яма на дороге"})
    site.add_posts("nk_news", 20, newest=now - 600, step=1800)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeVk, FakeTgWeb, dict[str, str]]]:
    vk, site = FakeVk(), FakeTgWeb()
    populate(vk, site)
    with serve(vk.app()) as vsrv, serve(site.app()) as tsrv:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
        env.update({"CUR_VK_API_URL": vsrv.url + "/method/", "CUR_VK_TOKENS": "user:test-token@100",
                    "CUR_TELEGRAM_WEB_URL": tsrv.url, "PYTHONIOENCODING": "utf-8"})
        yield vk, site, env


SOURCES = ["https://vk.com/club1", "https://vk.com/club2", "vk-search:Новокузнецк", "https://t.me/nk_news"]


def add_sources(env: dict[str, str], cwd: Path, extra: list[str] = ()) -> None:
    r = run_cur(["sources", "add", *SOURCES, *extra], env=env, cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("добавлен") == len(SOURCES) + len(extra)


def snapshot(db_url: str) -> dict[str, Any]:
    from storage import Database, iter_posts
    from storage.sources import get_cursor, list_sources

    db = Database(db_url)
    try:
        with db.session() as s:
            posts = sorted((p.platform, p.source_key, p.external_id, p.parent_external_id, p.text, p.is_deleted,
                            p.edit_count) for p in iter_posts(s))
        with db.session() as s:
            sources = {src.url: (src.posts_collected, src.failing_reason,
                                 {k: v for k, v in (get_cursor(s, src.id) or {}).items()
                                  if k not in ("pass", "high_water_time")})  # the search pass ends "now"
                       for src in list_sources(s)}
    finally:
        db.dispose()
    return {"posts": posts, "sources": sources}


def cursors(db_url: str) -> dict[str, dict[str, Any]]:
    from storage import Database
    from storage.sources import get_cursor, list_sources

    db = Database(db_url)
    try:
        with db.session() as s:
            return {src.url: get_cursor(s, src.id) or {} for src in list_sources(s)}
    finally:
        db.dispose()


def test_sources_commands_and_crawl(fakes, sqlite_url, tmp_path: Path):
    """(PostgreSQL runs the same `cur crawl` in the crash test below.)"""
    db_url = sqlite_url
    vk, site, env = fakes
    env = {**env, "CUR_DATABASE_URL": db_url}
    add_sources(env, tmp_path, extra=["https://vk.com/club3"])
    r = run_cur(["sources", "add", "https://vk.com/club1", "https://example.org/x"], env=env, cwd=tmp_path)
    assert r.returncode == 1 and "не удалось распознать источник 'https://example.org/x'" in r.stderr
    assert "уже есть" not in r.stdout  # nothing is added when one of the addresses is bad

    r = run_cur(["crawl"], env=env, cwd=tmp_path)
    assert r.returncode == 1, r.stderr  # one source is failing
    out = r.stdout
    assert "✓ https://vk.com/club1: новых 645" in out  # 640 posts + 5 comments
    assert "✓ https://t.me/s/nk_news: новых 20" in out
    assert "✗ https://vk.com/club3: источник недоступен: access_denied" in out
    assert "Итого: источников 5" in out and "с ошибками 1" in out

    listing = run_cur(["sources", "list"], env=env, cwd=tmp_path).stdout
    block = listing.split("№1 ")[1].split("№2 ")[0]
    assert "состояние: работает; постов собрано: 645" in block and "последний успех: 20" in block
    block3 = listing.split("https://vk.com/club3")[1]
    assert "недоступен: доступ запрещён" in block3 and "VK error 15" in block3

    # A second crawl of one source stores nothing twice and fetches only the new post.
    vk.add_posts(-1, 1)
    r = run_cur(["crawl", "--source", "https://vk.com/club1", "-q"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "✓ https://vk.com/club1: новых 1," in r.stdout
    snap = snapshot(db_url)
    keys = [p[:3] for p in snap["posts"]]
    assert len(keys) == len(set(keys)) == 645 + 1 + 150 + 1100 + 20

    r = run_cur(["sources", "remove", "https://vk.com/club3"], env=env, cwd=tmp_path)
    assert r.returncode == 0 and "удалён" in r.stdout
    assert "club3" not in run_cur(["sources", "list"], env=env, cwd=tmp_path).stdout


def crawl_killed_at(env: dict[str, str], cwd: Path, vk: FakeVk, request_no: int) -> None:
    """Start `cur crawl`, SIGKILL it while the fake VK server holds request number ``request_no``."""
    vk.hung.clear()
    vk.release.clear()
    vk.hang_at = len(vk.calls) + request_no
    proc = subprocess.Popen([sys.executable, "-m", "cli", "crawl", "-q"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert vk.hung.wait(60), "the crawl never reached the hanging request"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        vk.hang_at = None
        vk.release.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL


def crawl_killed_soon_after_start(env: dict[str, str], cwd: Path, vk: FakeVk, delay: float) -> None:
    """SIGKILL `cur crawl` ``delay`` seconds after its first VK request: anywhere, even inside a commit."""
    n0 = len(vk.calls)
    proc = subprocess.Popen([sys.executable, "-m", "cli", "crawl", "-q"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(vk.calls) == n0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_killed_crawl_rerun_equals_uninterrupted_run(fakes, backend, tmp_path: Path, request):
    vk, site, env = fakes
    if backend == "sqlite":
        ref_url, crash_url = f"sqlite:///{tmp_path / 'ref.db'}", f"sqlite:///{tmp_path / 'crash.db'}"
    else:
        ref_url = request.getfixturevalue("pg_url")
        crash_url = request.getfixturevalue("fresh_pg_url")

    ref_env = {**env, "CUR_DATABASE_URL": ref_url}
    add_sources(ref_env, tmp_path)
    r = run_cur(["crawl", "-q"], env=ref_env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    reference = snapshot(ref_url)

    crash_env = {**env, "CUR_DATABASE_URL": crash_url}
    add_sources(crash_env, tmp_path)
    crawl_killed_at(crash_env, tmp_path, vk, 9)    # inside the first wall (after 3 pages of 100 posts)
    partial = snapshot(crash_url)
    assert 0 < len(partial["posts"]) < len(reference["posts"])
    crawl_killed_at(crash_env, tmp_path, vk, 14)   # inside the newsfeed.search windows
    assert cursors(crash_url)["vk-search:Новокузнецк"]["pass"]["windows"], "killed outside the search pass"
    if backend == "sqlite":
        for delay in (0.02, 0.15, 0.3):  # killed at arbitrary moments, some inside a transaction
            crawl_killed_soon_after_start(crash_env, tmp_path, vk, delay)
    r = run_cur(["crawl", "-q"], env=crash_env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    rerun = snapshot(crash_url)
    assert rerun["posts"] == reference["posts"]
    assert rerun["sources"] == reference["sources"]


def test_pipeline_records_retry_after_and_file_problems(sqlite_url: str, tmp_path: Path):
    """In-process: MTProto FloodWait → retry_after (source skipped until then), file bad lines → last_error."""
    import json

    from config import Settings
    from pipeline.crawl import Collectors, due_sources, run_crawl
    from storage import Database
    from storage.sources import get_or_create_source, list_sources
    from tests.fakes.fake_telethon import FakeTelegramClient

    client = FakeTelegramClient()
    ch = client.add_channel("kuzbass_live")
    for i in range(150):
        ch.add(f"Пост {i}")
    client.flood_after = 120
    export = tmp_path / "pos.jsonl"
    export.write_text(json.dumps({"id": 1, "date": "2024-05-01T10:00:00", "text": "Нет воды"}, ensure_ascii=False)
                      + "\n{broken\n", encoding="utf-8")
    db = Database(sqlite_url)
    with db.session() as s:
        tg, _ = get_or_create_source(s, "telegram", "channel", "kuzbass_live", url="https://t.me/kuzbass_live")
        f, _ = get_or_create_source(s, "file", "jsonl", str(export), url=str(export))
        ids = [tg.id, f.id]
    reports = run_crawl(db, ids, Collectors(Settings(), telegram_client=client))
    assert [r.status for r in reports] == ["retry_later", "ok"]
    assert reports[0].inserted == 100 and reports[0].retry_after is not None
    assert reports[1].inserted == 1 and len(reports[1].problems) == 1
    assert reports[1].problems[0].startswith(f"{export}: строка 2: не JSON")
    due, waiting = due_sources(db)
    assert due == [f.id] and [w[0] for w in waiting] == [tg.id]
    with db.session() as s:
        by_id = {src.id: src for src in list_sources(s)}
        assert by_id[tg.id].posts_collected == 100 and "FloodWait" in by_id[tg.id].last_error
        assert by_id[f.id].last_success_at is not None and "строка 2" in by_id[f.id].last_error
    reports = run_crawl(db, [tg.id], Collectors(Settings(), telegram_client=client))
    assert reports[0].status == "ok" and reports[0].inserted == 50
    with db.session() as s:
        src = next(x for x in list_sources(s) if x.id == tg.id)
        assert src.retry_after is None and src.posts_collected == 150
    db.dispose()


def test_crawl_stores_awkward_posts_on_both_backends(db_url: str):
    """NUL characters and over-long author names must not block a source on PostgreSQL."""
    from config import Settings
    from pipeline.crawl import Collectors, run_crawl
    from storage import Database, find_post
    from storage.sources import get_or_create_source

    vk = FakeVk()
    posts = vk.add_posts(-5, 3)
    posts[0]["text"] = "Нет\x00 воды"
    posts[1]["from_id"] = 42
    with serve(vk.app()) as srv:
        settings = Settings(vk_api_url=srv.url + "/method/", vk_tokens=[{"kind": "group", "token": "g"}])
        db = Database(db_url)
        with db.session() as s:
            src, _ = get_or_create_source(s, "vk", "wall", "-5", url="https://vk.com/club5")
            sid = src.id
        vk.walls[-5][2]["text"] = "x" * 5 + "\x00"
        [report] = run_crawl(db, [sid], Collectors(settings))
        assert report.status == "ok" and report.inserted == 3
        with db.session() as s:
            assert find_post(s, "vk", "-5", "1").text == "Нет воды"
            assert find_post(s, "vk", "-5", "3").raw["text"] == "xxxxx"
        db.dispose()
