"""Full-text search (storage/search.py, pipeline/search.py) on SQLite FTS5 and PostgreSQL tsvector."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, update

from pipeline import search
from storage import PostRecord, upsert_posts
from storage.models import Authority, Incident, IncidentPost, Post
from storage.reads import Scope, incident_page

T0 = datetime(2026, 11, 16, 7, 0, tzinfo=timezone.utc)


def _post(s, i: int, text_: str) -> int:
    upsert_posts(s, [PostRecord(platform="vk", source_key="vk:-1", external_id=str(i), published_at=T0 + timedelta(minutes=i), text=text_)])
    return s.scalar(select(Post.id).where(Post.external_id == str(i)))


def _incident(s, title: str, post_ids=(), authority_id=None) -> int:
    inc = Incident(region="kuzbass", title=title, authority_id=authority_id, created_at=T0)
    s.add(inc)
    s.flush()
    for p in post_ids:
        s.add(IncidentPost(incident_id=inc.id, post_id=p))
    s.flush()
    return inc.id


def test_a_word_in_another_case_finds_the_text(db):
    with db.session() as s:
        p1 = _post(s, 1, "Во всём доме нет отопление уже третий день")
        p2 = _post(s, 2, "Яма на дороге у школы")
        i1 = _incident(s, "Нет тепла в доме", [p1])
        i2 = _incident(s, "Яма на дороге", [p2])
    with db.session() as s:
        assert search.search_posts(s, "отопления") == [p1]
        assert search.search_incidents(s, "отоплением") == [i1]
        assert search.search_incidents(s, "дорогу") == [i2]
        assert search.search_incidents(s, "тепло") == [i1]  # the title
        assert search.search_incidents(s, "отопления дорога") == []  # every word must be there
        assert search.search_incidents(s, "Отопление ДОМ") == [i1]
        assert search.search_incidents(s, f"№{i2}") == [i2]
        assert search.search_incidents(s, "") == []
        assert search.search_incidents(s, "\"'*) OR (") == []  # no query syntax gets through


def test_yo_and_ye_are_the_same_letter(db):
    with db.session() as s:
        p = _post(s, 1, "Упала ёлка на площади")
        i = _incident(s, "Дерево упало", [p])
    with db.session() as s:
        assert search.search_incidents(s, "елку") == [i]
        assert search.search_incidents(s, "ёлки") == [i]


def test_the_index_follows_edits_and_deletions(db):
    with db.session() as s:
        p = _post(s, 1, "Прорвало трубу во дворе")
        i = _incident(s, "Прорыв трубы", [p])
    with db.session() as s:
        upsert_posts(s, [PostRecord(platform="vk", source_key="vk:-1", external_id="1", published_at=T0 + timedelta(minutes=1), text="Мусор не вывозят неделю")])
        s.execute(update(Incident).where(Incident.id == i).values(title="Мусор во дворе"))
    with db.session() as s:
        assert search.search_posts(s, "трубы") == []
        assert search.search_posts(s, "мусора") == [p]
        assert search.search_incidents(s, "прорыв") == []
        assert search.search_incidents(s, "мусором") == [i]
        s.execute(delete(IncidentPost))
        s.execute(delete(Incident))
    with db.session() as s:
        assert search.search_incidents(s, "мусор") == []


def test_a_specialist_never_finds_another_authoritys_incident(db):
    with db.session() as s:
        a = Authority(region="kuzbass", code="a", name="А", role="ministry", details={})
        b = Authority(region="kuzbass", code="b", name="Б", role="ministry", details={})
        s.add_all([a, b])
        s.flush()
        pa, pb = _post(s, 1, "Нет воды в доме"), _post(s, 2, "Нет воды в школе")
        ia = _incident(s, "Вода", [pa], a.id)
        _incident(s, "Вода", [pb], b.id)
        a_id = a.id
    with db.session() as s:
        page = incident_page(s, Scope.authority(a_id), limit=50, q=search.parse("воды"))
        assert [x.id for x in page.items] == [ia]
        assert len(incident_page(s, Scope.everything(), limit=50, q=search.parse("воды")).items) == 2


def test_the_migration_indexes_the_rows_already_there_and_downgrades(tmp_path, fresh_pg_url):
    from alembic.script import ScriptDirectory

    from storage import Database
    from storage.db import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    mine = next(r for r in scripts.walk_revisions() if "full_text_search" in (r.path or ""))
    before = mine.down_revision
    assert isinstance(before, str)
    for url in (f"sqlite:///{tmp_path / 'fts.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade(before)
        with db.engine.begin() as c:
            c.exec_driver_sql(
                "INSERT INTO posts (platform, source_key, external_id, published_at, text, content_hash, raw, collected_at, updated_at, edit_count, is_deleted, is_appeal) "
                "VALUES ('vk', 'vk:-1', '1', '2026-11-16 07:00:00', 'Нет отопления в школе', 'h', '{}', '2026-11-16 07:00:00', '2026-11-16 07:00:00', 0, false, false)"
            )
        db.upgrade()
        with db.session() as s:
            assert len(search.search_posts(s, "отопление")) == 1
        db.upgrade()  # a second run changes nothing
        db.downgrade(before)
        db.upgrade()
        with db.session() as s:
            assert len(search.search_posts(s, "школы")) == 1
        db.dispose()


def test_posts_stored_by_multi_row_inserts_are_each_found(db, monkeypatch):
    """On SQLite new posts go in as multi-row INSERTs (a statement per row made FTS5 write a segment per
    post, docs/import.md); the trigger still indexes every row, split across statements or not."""
    from sqlalchemy import event

    import storage.posts

    monkeypatch.setattr(storage.posts, "SQLITE_ROWS_PER_INSERT", 7)

    def word(i: int) -> str:
        return "кл" + "".join("бвгджзкмнп"[int(d)] for d in f"{i:02d}") + "рт"  # no word a form of another

    inserts: list[bool] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO posts "):
            inserts.append(executemany)

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        with db.session() as s:
            res = upsert_posts(s, [PostRecord("file", "pos:export", str(i), T0 + timedelta(minutes=i), f"Прорыв трубы, {word(i)} у дома")
                                   for i in range(50)])
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    assert res.inserted == 50
    if db.engine.dialect.name == "sqlite":
        assert inserts == [False] * 8  # 50 rows, 7 a statement
    with db.session() as s:
        ids = dict(s.execute(select(Post.external_id, Post.id)).all())
        for i in range(50):
            assert search.search_posts(s, word(i)) == [ids[str(i)]], i
        assert len(search.search_posts(s, "трубы")) == 50
