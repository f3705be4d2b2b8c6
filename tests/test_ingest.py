"""Posts coming in: one record shape, one ``to_record``, and every bad line one named, skipped line.

The domain function :func:`pipeline.ingest.importer.import_file` and the crawl of a file source run
against real SQLite and PostgreSQL databases (``db_url`` is parametrised over both).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from collectors.files import BadLine, FileLine, read_posts
from pipeline.ingest.importer import import_file
from storage import Database
from storage.models import Post, PostRevision
from storage.scratch import SeenKeys

UTC = timezone.utc
NOW = datetime.now(UTC)
DAY = (NOW - timedelta(days=3)).replace(microsecond=0)


def row(i: int | str, text: str = "Во дворе не вывозят мусор", **kw) -> dict:
    return {"id": str(i), "source": "pos:export", "author": f"Житель {i}", "date": DAY.isoformat(), "text": text, **kw}


def jsonl(path: Path, rows: list) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


def stored(db: Database) -> dict[str, Post]:
    with db.session() as s:
        posts = list(s.scalars(select(Post)))
        s.expunge_all()
    return {p.external_id: p for p in posts}


def messages(report) -> list[str]:
    return [str(b) for b in report.bad]


# --------------------------------------------------------------------------- item 1: one to_record


def test_nul_and_lone_surrogate_via_import(db: Database, tmp_path: Path):
    """NUL and ``\\ud800`` in text, author and extra fields: the file imports whole on both backends."""
    f = tmp_path / "p.jsonl"
    lines = [json.dumps(row(i)) for i in range(1, 3)]
    lines.append('{"id": "3", "source": "pos:export", "date": "%s", "text": "Нет\\u0000 воды\\ud800!", '
                 '"author": "Ива\\u0000н\\udc00", "extra": {"k\\u0000": ["\\ud800", NaN]}}' % DAY.isoformat())
    lines += [json.dumps(row(i)) for i in range(4, 2500)]  # past the first batch: the file is not stopped there
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(db, f, UTC)
    assert report.bad == [] and report.stored.inserted == 2499
    p = stored(db)["3"]
    assert p.text == "Нет воды\ufffd!" and p.author == "Иван\ufffd"
    assert p.raw["extra"] == {"k": ["\ufffd", None]}


def test_nul_and_lone_surrogate_via_crawl(db: Database, tmp_path: Path):
    """The same file crawled as a file source stores the very same posts as `cur import` does."""
    from config import Settings
    from pipeline.crawl import Collectors, run_crawl
    from storage.sources import get_or_create_source

    f = tmp_path / "feed.jsonl"
    f.write_text('{"id": "1", "source": "pos:export", "date": "%s", "text": "Нет\\u0000 воды\\ud800!", '
                 '"author": "Ива\\u0000н\\udc00"}\n' % DAY.isoformat(), encoding="utf-8")
    with db.session() as s:
        src, _ = get_or_create_source(s, "file", "jsonl", str(f), url=str(f))
        sid = src.id
    [rep] = run_crawl(db, [sid], Collectors(Settings()))
    assert rep.status == "ok" and rep.inserted == 1, rep.message
    p = stored(db)["1"]
    assert (p.text, p.author) == ("Нет воды\ufffd!", "Иван\ufffd")


def test_one_to_record_for_both_paths():
    """Crawl and import share one conversion: no second copy to drift (issue 12, item 12)."""
    import pipeline.crawl as crawl
    import pipeline.ingest.importer as importer
    from pipeline.ingest.records import to_record

    assert crawl.to_record is to_record and importer.to_record is to_record
    import collectors.files as files

    assert not hasattr(files, "FilePost")


# --------------------------------------------------------------------------- item 2: bad lines


def test_wrong_types_are_named_and_skipped(db: Database, tmp_path: Path):
    f = jsonl(tmp_path / "p.jsonl", [
        row(1),
        row(2, source={"name": "x"}),
        row(3, author=["a", "b"]),
        row(4, text=5),
        {**row(5), "id": 5.5},
        row(6, url="javascript:alert(1)"),
        row(7, author_id=True),
        row("x" * 200),
        row(9),
    ])
    report = import_file(db, f, UTC)
    assert messages(report) == [
        "строка 2, поле «source»: должно быть строкой или целым числом, а не объект",
        "строка 3, поле «author»: должно быть строкой, а не список",
        "строка 4, поле «text»: текст должен быть строкой",
        "строка 5, поле «id»: должно быть строкой или целым числом, а не дробное число",
        "строка 6, поле «url»: не адрес http(s): 'javascript:alert(1)'",
        "строка 7, поле «author_id»: должно быть строкой или целым числом, а не логическое значение",
        "строка 8, поле «id»: длиннее 128 символов",
    ]
    assert sorted(stored(db)) == ["1", "9"]


def test_dates_epoch_seconds_millis_and_implausible(db: Database, tmp_path: Path):
    secs = int(DAY.timestamp())
    f = jsonl(tmp_path / "p.jsonl", [
        row(1, date=secs),
        row(2, date=secs * 1000),
        row(3, date=str(secs * 1000)),
        row(4, date=0),
        row(5, date=-5),
        row(6, date="2005-12-31T23:00:00Z"),
        row(7, date=(NOW + timedelta(days=2)).isoformat()),
        row(8, date=(NOW + timedelta(hours=2)).isoformat()),  # clock skew is tolerated
        row(9, date=10 ** 30),
        row(10, date={"ts": 1}),
    ])
    report = import_file(db, f, UTC)
    bad = {b.line: b for b in report.bad}
    assert sorted(bad) == [4, 5, 6, 7, 9, 10]
    assert all(b.field == "date" for b in bad.values())
    assert "раньше 2006 года" in bad[4].reason and "раньше 2006 года" in bad[5].reason
    assert "в будущем" in bad[7].reason
    posts = stored(db)
    assert sorted(posts, key=int) == ["1", "2", "3", "8"]
    for k in ("1", "2", "3"):
        assert posts[k].published_at.replace(tzinfo=UTC) == DAY


def test_duplicate_ids_in_a_file_are_reported_first_kept(db: Database, tmp_path: Path):
    f = jsonl(tmp_path / "p.jsonl", [row(1, "первый текст"), row(2), row(1, "второй текст"), row(3), row(2)])
    report = import_file(db, f, UTC)
    assert messages(report) == [
        "строка 3, поле «id»: повтор поста '1' из строки 1: строка пропущена",
        "строка 5, поле «id»: повтор поста '2' из строки 2: строка пропущена",
    ]
    assert stored(db)["1"].text == "первый текст" and report.stored.inserted == 3
    again = import_file(db, f, UTC)  # a rerun: the stored posts are not repeats, the file's repeats still are
    assert messages(again) == messages(report) and again.stored.unchanged == 3 and again.duplicates == 2


def test_seen_keys_stay_on_disk_beyond_their_cache():
    """The duplicate detector keeps its keys on disk: its memory is the bounded cache, not the file."""
    with SeenKeys(cache_kib=64) as seen:
        n = 30_000
        for i in range(n):
            assert seen.first_line(("file", "s", str(i)), i + 1) is None
        assert seen.cache_kib() == 64 and seen.disk_bytes() > 8 * 64 * 1024  # the set outgrew its cache
        for i in range(0, n, 997):  # early keys, long evicted from the cache, are still found with their line
            assert seen.first_line(("file", "s", str(i)), n + 1) == i + 1
        assert seen.first_line(("file", "s2", "1"), n + 2) is None  # another source, same id: not a repeat
        assert seen.first_line(("vk", "s", "1"), n + 3) is None
        assert seen.first_line(("file", "s2", "1"), n + 4) == n + 2


def test_empty_file_and_json_array_get_a_clear_message(db: Database, tmp_path: Path):
    (tmp_path / "empty.jsonl").write_text("\n  \n", encoding="utf-8")
    assert messages(import_file(db, tmp_path / "empty.jsonl", UTC)) == ["файл: файл пуст: в нём нет ни одного поста"]
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "файл пуст" in messages(import_file(db, tmp_path / "empty.csv", UTC))[0]
    (tmp_path / "head.csv").write_text("id,source,date,text\n", encoding="utf-8")
    assert "только заголовок" in messages(import_file(db, tmp_path / "head.csv", UTC))[0]
    (tmp_path / "arr.json").write_text(json.dumps([row(i) for i in range(30)], indent=2), encoding="utf-8")
    report = import_file(db, tmp_path / "arr.json", UTC)
    assert len(report.bad) == 1 and "массив JSON, а нужен JSONL" in str(report.bad[0])
    assert stored(db) == {}


def test_csv_unclosed_quote_does_not_swallow_the_next_lines(db: Database, tmp_path: Path):
    day = DAY.isoformat()
    text = (
        "id,source,date,text\n"
        f'1,pos,{day},"Во дворе\nзатопило подвал"\n'          # lines 2-3: a legit multi-line text
        f'2,pos,{day},"кавычка не закрыта, текст обрывается\n'  # line 4: the quote is never closed
        f"3,pos,{day},Нет воды в доме\n"                         # line 5
        f'4,pos,{day},"Яма, большая ""яма"" у школы"\n'          # line 6
        f'5,pos,{day},"ещё одна незакрытая\n'                    # line 7: open until the end of the file
        f"6,pos,{day},Свет не горит\n"                           # line 8
    )
    (tmp_path / "p.csv").write_text(text, encoding="utf-8")
    report = import_file(db, tmp_path / "p.csv", UTC)
    assert [(b.line, "незакрытая кавычка" in b.reason) for b in report.bad] == [(4, True), (7, True)]
    posts = stored(db)
    assert sorted(posts) == ["1", "3", "4", "6"]
    assert posts["1"].text == "Во дворе\nзатопило подвал"
    assert posts["3"].text == "Нет воды в доме" and posts["4"].text == 'Яма, большая "яма" у школы'


def test_csv_quotes_read_like_the_csv_module(tmp_path: Path):
    """The quote tracker agrees with :mod:`csv` on well-formed files, whatever the quoting."""
    rows = [["id", "source", "date", "text"]]
    rows += [[str(i), "s", DAY.isoformat(), t] for i, t in enumerate([
        'он сказал "стоп"', '"в кавычках"', "a,b;c", "строка\nдве\r\nтри", '""', "конец\"", "'", "\"\n\"",
    ], 1)]
    for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC):
        buf = io.StringIO()
        csv.writer(buf, quoting=quoting).writerows(rows)
        (tmp_path / "q.csv").write_text(buf.getvalue(), encoding="utf-8")
        got = list(read_posts(tmp_path / "q.csv"))
        assert all(isinstance(g, FileLine) for g in got), [str(g) for g in got if isinstance(g, BadLine)]
        assert [g.post.text for g in got] == [r[3] for r in rows[1:]]


def test_undecodable_reimport_changes_nothing(db: Database, tmp_path: Path):
    """A cp1251 copy of an imported file: refused with the line, nothing overwritten or marked edited."""
    rows = [row(1, "Нет горячей воды"), row(2, "Яма на дороге")]
    jsonl(tmp_path / "p.jsonl", rows)
    assert import_file(db, tmp_path / "p.jsonl", UTC).stored.inserted == 2
    before = {k: (p.text, p.edit_count, p.content_hash) for k, p in stored(db).items()}
    with (tmp_path / "cp.jsonl").open("w", encoding="cp1251") as f:
        for r in rows + [row(3, "Новый пост")]:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    report = import_file(db, tmp_path / "cp.jsonl", UTC)
    assert messages(report) == ["строка 1: файл не в кодировке UTF-8: ничего не загружено; сохраните файл в UTF-8 и загрузите снова"]
    assert {k: (p.text, p.edit_count, p.content_hash) for k, p in stored(db).items()} == before
    with db.session() as s:
        assert s.scalars(select(PostRevision)).all() == []


def test_import_cli_names_every_bad_line(cur, tmp_path: Path):
    """`cur import` as a user runs it: one line per bad line, exit code 4, no traceback."""
    f = jsonl(tmp_path / "p.jsonl", [row(1), row(2, source={"x": 1}), row(1), row(3, date=0)])
    r = cur("import", "--quiet", str(f))
    assert r.returncode == 4, r.stderr
    assert "новых постов 1" in r.stdout and "пропущено строк с ошибками 3" in r.stdout
    assert "строка 2, поле «source»" in r.stderr and "строка 3, поле «id»: повтор" in r.stderr
    assert "строка 4, поле «date»" in r.stderr and "Traceback" not in r.stderr


# --------------------------------------------------------------------------- item 3: look-ups that use the index


def test_batch_lookup_probes_the_unique_index_without_statistics(db: Database, db_url: str):
    """The upsert's look-up of a batch is one index probe per key on both backends, even before ANALYZE.

    Before: ``(platform, source, id) IN (...)`` was a scan of the whole table on SQLite and, on
    PostgreSQL, an index scan on (platform, source) with the ids as a filter: every post of the
    source read for every batch (quadratic import).
    """
    from sqlalchemy import event

    from storage import PostRecord, upsert_posts

    def recs(lo: int, hi: int) -> list[PostRecord]:
        return [PostRecord("file", "pos:export", str(i), DAY, f"пост {i}") for i in range(lo, hi)]

    with db.session() as s:
        upsert_posts(s, recs(0, 3000))
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "CROSS JOIN" in statement and not executemany:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        with db.session() as s:
            res = upsert_posts(s, recs(2000, 2400))
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    assert res.unchanged == 400 and seen
    statement, parameters = seen[0]
    with db.engine.connect() as c:
        raw = c.connection.driver_connection
        if db_url.startswith("sqlite"):
            plan = " | ".join(str(r[-1]) for r in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall())
            assert "SEARCH posts USING" in plan and "external_id=?" in plan and "SCAN posts" not in plan, plan
        else:
            plan = " | ".join(r[0] for r in raw.execute("EXPLAIN " + statement, parameters).fetchall())
            assert "Seq Scan on posts" not in plan and "external_id" in plan.split("Index Cond")[1], plan


def test_pg_batch_lookup_is_planned_for_each_batch_after_an_empty_table_was_analyzed(pg_url: str):
    """The look-up is never run from a generic plan: one made while the table was empty scans it per key.

    psycopg prepares a statement after its fifth run and PostgreSQL may then keep a generic plan. With
    the statistics of an empty table (``ANALYZE`` right after a ``TRUNCATE``, or autovacuum on a new
    database) that plan is a sequential scan inside the per-key loop: in a measured run the look-up of
    a batch went from 25 ms to 6 s within 5,000 posts. A custom plan per batch sees the real table.
    """
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from storage import PostRecord, upsert_posts

    db = Database(pg_url)
    try:
        with db.session() as s:
            s.execute(text("ANALYZE posts"))
        with db.engine.connect() as conn, Session(conn) as s:  # one connection for every batch, as an import keeps it
            for b in range(12):
                upsert_posts(s, [PostRecord("file", "pos:export", str(b * 50 + i), DAY, f"пост {b} {i}") for i in range(50)])
                s.commit()
            plans = s.execute(text("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%CROSS JOIN LATERAL%'")).all()
        assert plans and all(generic == 0 for generic, _ in plans), plans
        assert sum(custom for _, custom in plans) >= 5  # psycopg runs a statement 5 times before it prepares it
    finally:
        db.dispose()


# --------------------------------------------------------------------------- item 5: appeals


def test_import_kind_appeals_marks_posts_and_never_unmarks(db: Database, tmp_path: Path):
    f = jsonl(tmp_path / "a.jsonl", [row(1, "Прошу принять меры: нет воды"), row(2, "Яма во дворе")])
    assert import_file(db, f, UTC, kind="appeals").stored.inserted == 2
    g = jsonl(tmp_path / "p.jsonl", [row(2, "Яма во дворе"), row(3, "Обычный пост")])
    report = import_file(db, g, UTC)  # a plain import of one of them later: still an appeal
    assert report.stored.unchanged == 1 and report.stored.edited == 0
    assert {k: p.is_appeal for k, p in stored(db).items()} == {"1": True, "2": True, "3": False}
    import_file(db, g, UTC, kind="appeals")  # known later to be an appeal: marked, not an edit
    posts = stored(db)
    assert posts["3"].is_appeal is True and posts["3"].edit_count == 0
    with pytest.raises(ValueError):
        import_file(db, g, UTC, kind="complaints")


def test_file_source_with_kind_appeals_marks_crawled_posts(db: Database, tmp_path: Path):
    from config import Settings
    from pipeline.crawl import Collectors, run_crawl
    from storage.sources import get_or_create_source

    f = jsonl(tmp_path / "feed.jsonl", [row(1), row(2)])
    with db.session() as s:
        src, _ = get_or_create_source(s, "file", "jsonl", str(f), url=str(f), options={"kind": "appeals"})
        sid = src.id
    [rep] = run_crawl(db, [sid], Collectors(Settings()))
    assert rep.status == "ok" and rep.inserted == 2, rep.message
    assert all(p.is_appeal for p in stored(db).values())


@pytest.mark.postgres
def test_migration_0007_adds_is_appeal(tmp_path: Path, fresh_pg_url: str):
    from sqlalchemy import inspect, text

    for url in (f"sqlite:///{tmp_path / 'm7.db'}", fresh_pg_url):
        d = Database(url)
        d.upgrade("0006")
        with d.engine.begin() as c:
            c.execute(text("INSERT INTO posts (platform, source_key, external_id, published_at, text, content_hash, raw, "
                           "collected_at, updated_at, edit_count, is_deleted) VALUES ('file', 's', '1', CURRENT_TIMESTAMP, "
                           "'t', 'h', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0, :f)"), {"f": False})
        d.upgrade()
        d.upgrade()  # a second run changes nothing
        with d.session() as s:
            assert [p.is_appeal for p in s.scalars(select(Post))] == [False]
        d.downgrade("0006")
        assert "is_appeal" not in {c["name"] for c in inspect(d.engine).get_columns("posts")}
        d.upgrade()
        d.dispose()


def test_crawled_file_source_turned_undecodable_keeps_its_cursor(db: Database, tmp_path: Path):
    """A file source whose export grew with a cp1251 tail: reported on every crawl, the cursor does not skip it."""
    from config import Settings
    from pipeline.crawl import Collectors, run_crawl
    from storage.sources import get_cursor, get_or_create_source

    f = jsonl(tmp_path / "feed.jsonl", [row(i) for i in range(1, 4)])
    with db.session() as s:
        src, _ = get_or_create_source(s, "file", "jsonl", str(f), url=str(f))
        sid = src.id
    [rep] = run_crawl(db, [sid], Collectors(Settings()))
    assert rep.inserted == 3
    with f.open("ab") as out:
        out.write((json.dumps(row(4), ensure_ascii=False) + "\n").encode("utf-8"))
        out.write((json.dumps(row(5, "Кривая кодировка"), ensure_ascii=False) + "\n").encode("cp1251"))
    [rep] = run_crawl(db, [sid], Collectors(Settings()))
    assert rep.inserted == 0 and any("не в кодировке UTF-8" in p for p in rep.problems), rep.problems
    with db.session() as s:
        assert get_cursor(s, sid)["line"] == 3
    lines = f.read_bytes().splitlines()
    f.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # the operator fixes the export
    [rep] = run_crawl(db, [sid], Collectors(Settings()))
    assert rep.inserted == 1 and sorted(stored(db), key=int) == ["1", "2", "3", "4"]
