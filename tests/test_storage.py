"""Storage on SQLite and PostgreSQL: migrations, idempotent upsert, edits, append-only log."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage import Database, PostRecord, upsert_posts
from storage.db import head_revision
from storage.models import Incident, IncidentEvent, Post, PostRevision
from storage.sources import get_cursor, get_or_create_source, set_cursor

T0 = datetime(2026, 11, 16, 7, 0, tzinfo=timezone.utc)


def rec(i: int, text_: str = "нет отопления", **kw) -> PostRecord:
    return PostRecord(platform="vk", source_key="vk:-1", external_id=str(i), published_at=T0 + timedelta(minutes=i), text=text_, **kw)


def test_upgrade_creates_every_table_and_downgrades(tmp_path, fresh_pg_url):
    for url in (f"sqlite:///{tmp_path / 'm.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"posts", "sources", "crawl_cursors", "post_analyses", "incidents", "incident_posts", "authorities",
                "assignments", "incident_events", "responses", "review_decisions", "model_versions", "users",
                "outbox", "audit_log", "api_tokens"} <= tables
        db.upgrade()  # a second upgrade is a no-op
        assert db.current_revision() == head_revision() == _alembic_head()  # read without alembic, as alembic reads them
        db.downgrade("0001")
        assert db.current_revision() == "0001"
        db.downgrade("base")
        assert "posts" not in set(inspect(db.engine).get_table_names())
        assert db.current_revision() is None
        db.dispose()


def _alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url):
    db = Database(sqlite_url)
    with db.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


def test_upsert_stores_each_post_once(db):
    with db.session() as s:
        r1 = upsert_posts(s, [rec(1), rec(2), rec(2)])
    with db.session() as s:
        r2 = upsert_posts(s, [rec(1), rec(2), rec(3)])
        n = s.scalar(select(Post).where(Post.external_id == "3").with_only_columns(Post.id))
    assert (r1.inserted, r1.unchanged) == (2, 0)
    assert (r2.inserted, r2.unchanged) == (1, 2)
    assert n is not None
    with db.session() as s:
        assert len(s.scalars(select(Post)).all()) == 3


def test_a_post_stored_by_another_process_between_lookup_and_insert_is_upserted_not_a_crash(db, monkeypatch):
    """PostgreSQL inserts a batch with ON CONFLICT DO NOTHING: a key another process stored after the
    look-up is then treated as a stored post (an edit here), with its id; no IntegrityError."""
    import storage.posts as posts

    with db.session() as s:
        upsert_posts(s, [rec(1, "старый текст")])
    real = posts._existing
    calls = []

    def blind_once(session, keys):
        calls.append(keys)
        return [] if len(calls) == 1 else real(session, keys)  # the first look-up misses post 1

    monkeypatch.setattr(posts, "_existing", blind_once)
    with db.session() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("the single-statement insert with ON CONFLICT is the PostgreSQL path")
        r = upsert_posts(s, [rec(2), rec(1, "новый текст"), rec(3)])
    assert (r.inserted, r.edited, r.unchanged) == (2, 1, 0)
    with db.session() as s:
        ids = {p.external_id: p.id for p in s.scalars(select(Post))}
        assert r.post_ids == [ids["2"], ids["1"], ids["3"]]
        assert s.scalar(select(Post).where(Post.external_id == "1")).text == "новый текст"
        assert [x.text for x in s.scalars(select(PostRevision))] == ["старый текст"]


def test_the_postgresql_batch_insert_names_every_column_of_a_post():
    """``_PG_COLUMNS`` lists the columns by hand (arrays for unnest): a new column of posts must be added there."""
    import storage.posts as posts

    assert {c for c, _ in posts._PG_COLUMNS} == {c.name for c in Post.__table__.columns} - {"id", "processed_at"}


def test_sqlite_connection_storing_posts_gets_a_page_cache_for_the_indexes(sqlite_url):
    import storage.posts as posts

    db = Database(sqlite_url)
    with db.session() as s:
        upsert_posts(s, [rec(1)])
        assert s.connection().exec_driver_sql("PRAGMA cache_size").scalar() == -posts.SQLITE_CACHE_KIB
    db.dispose()


def test_same_id_in_other_source_is_another_post(db):
    with db.session() as s:
        upsert_posts(s, [rec(1), PostRecord("vk", "vk:-2", "1", T0, "другое")])
        assert len(s.scalars(select(Post)).all()) == 2


def test_edit_keeps_the_old_text_and_requeues_analysis(db):
    with db.session() as s:
        upsert_posts(s, [rec(1, "Нет отопления")])
        s.scalar(select(Post)).processed_at = T0
    with db.session() as s:
        r = upsert_posts(s, [rec(1, "Нет отопления уже 3 дня", edited_at=T0 + timedelta(hours=1))])
    assert r.edited == 1
    with db.session() as s:
        p = s.scalar(select(Post))
        assert p.text == "Нет отопления уже 3 дня" and p.edit_count == 1 and p.processed_at is None
        assert p.edited_at == T0 + timedelta(hours=1)
        assert [r.text for r in s.scalars(select(PostRevision))] == ["Нет отопления"]
    # whitespace/case-only differences are not edits
    with db.session() as s:
        assert upsert_posts(s, [rec(1, "  нет отопления   уже 3 дня ")]).unchanged == 1


def test_deletion_is_a_marker_not_a_removal(db):
    with db.session() as s:
        upsert_posts(s, [rec(1)])
    with db.session() as s:
        assert upsert_posts(s, [rec(1, deleted=True)]).deleted == 1
    with db.session() as s:
        p = s.scalar(select(Post))
        assert p.is_deleted and p.deleted_at is not None and p.text == "нет отопления"


def test_times_come_back_as_utc(db):
    local = datetime(2026, 11, 16, 14, 0, tzinfo=timezone(timedelta(hours=7)))
    with db.session() as s:
        upsert_posts(s, [PostRecord("vk", "vk:-1", "9", local, "x")])
    with db.session() as s:
        p = s.scalar(select(Post))
        assert p.published_at == local and p.published_at.utcoffset() == timedelta(0)


def test_naive_datetime_is_refused(db):
    with pytest.raises(Exception, match="naive datetime"):
        with db.session() as s:
            upsert_posts(s, [PostRecord("vk", "vk:-1", "9", datetime(2026, 1, 1), "x")])


def test_cursor_is_saved_with_the_posts_or_not_at_all(db):
    with db.session() as s:
        src, created = get_or_create_source(s, "vk", "wall", "-1", url="https://vk.com/club1")
        sid = src.id
    assert created
    with pytest.raises(RuntimeError):
        with db.session() as s:
            upsert_posts(s, [rec(1)], source_id=sid)
            set_cursor(s, sid, {"high_water": 1})
            raise RuntimeError("crash before commit")
    with db.session() as s:
        assert get_cursor(s, sid) is None
        assert s.scalars(select(Post)).all() == []
        src2, created2 = get_or_create_source(s, "vk", "wall", "-1")
        assert not created2 and src2.id == sid


def test_unique_post_key_is_enforced_by_the_database(db):
    with pytest.raises(IntegrityError):
        with db.session() as s:
            for _ in range(2):
                s.add(Post(platform="vk", source_key="k", external_id="1", published_at=T0, text="", content_hash="h"))
                s.flush()


def test_event_log_is_append_only(db):
    with db.session() as s:
        inc = Incident(region="kuzbass", title="t")
        s.add(inc)
        s.flush()
        s.add(IncidentEvent(incident_id=inc.id, actor="system", kind="created", to_state="new"))
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session() as s:
            s.execute(text("UPDATE incident_events SET actor = 'someone else'"))
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session() as s:
            s.execute(text("DELETE FROM incident_events"))
    with db.session() as s:
        assert s.scalar(select(IncidentEvent.actor)) == "system"


# --------------------------------------------------------------------------- 0003: accounts columns


def _no_autogenerate_diff(db: Database) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.models import Base
    from storage.search import is_index_object

    def include(o, name, type_, r, c) -> bool:  # as storage/migrations/env.py: APScheduler's table and the search index are not models
        return not (type_ == "table" and name == "apscheduler_jobs") and not (type_ in ("table", "index") and is_index_object(name))

    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include})
        return compare_metadata(ctx, Base.metadata)


def test_models_and_migrations_agree(tmp_path, fresh_pg_url):
    """`cur db revision` on an up-to-date database finds nothing: every model change has its migration."""
    for url in (f"sqlite:///{tmp_path / 'diff.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade()
        assert _no_autogenerate_diff(db) == [], url
        db.dispose()


def _seed_0002(db: Database) -> None:
    """Accounts, sign-ins and a token written against the 0002 schema (no ORM: the models are newer)."""
    import sqlalchemy as sa

    from storage.types import UTCDateTime

    users = sa.table("users", *(sa.column(c) for c in ("login", "password_hash", "role", "is_active")), sa.column("created_at", UTCDateTime()))
    log = sa.table("audit_log", *(sa.column(c) for c in ("actor", "action", "target")), sa.column("data", sa.JSON()), sa.column("at", UTCDateTime()))
    auths = sa.table("authorities", *(sa.column(c) for c in ("region", "code", "name", "role")), sa.column("details", sa.JSON()))
    tokens = sa.table("api_tokens", *(sa.column(c) for c in ("authority_id", "token_hash", "label")), sa.column("created_at", UTCDateTime()))
    with db.engine.begin() as c:
        c.execute(users.insert(), [{"login": u, "password_hash": "x", "role": "operator", "is_active": True, "created_at": T0} for u in ("ivanova", "petrov", "sidorov")])
        c.execute(log.insert(), [
            {"actor": "ivanova", "action": "login", "target": "ivanova", "data": {}, "at": T0 + timedelta(days=1)},
            {"actor": "ivanova", "action": "login", "target": "ivanova", "data": {}, "at": T0 + timedelta(days=3, minutes=7)},
            {"actor": "ivanova", "action": "logout", "target": "ivanova", "data": {}, "at": T0 + timedelta(days=4)},
            {"actor": "ivanova", "action": "login_failed", "target": "ivanova", "data": {}, "at": T0 + timedelta(days=5)},
            {"actor": "adm", "action": "user.add", "target": "user:petrov", "data": {}, "at": T0 + timedelta(days=6)},
            {"actor": "petrov", "action": "login_failed", "target": "petrov", "data": {}, "at": T0 + timedelta(days=6)},
            {"actor": "sidorov", "action": "login", "target": "sidorov", "data": {}, "at": T0 + timedelta(hours=2)},
            {"actor": "gone", "action": "login", "target": "gone", "data": {}, "at": T0},  # an account that is no more
        ])
        c.execute(auths.insert(), [{"region": "kuzbass", "code": "min_health", "name": "Минздрав", "role": "ministry", "details": {}}])
        auth_id = c.execute(sa.text("SELECT id FROM authorities")).scalar()
        c.execute(tokens.insert(), [{"authority_id": auth_id, "token_hash": "h" * 64, "label": "СЭД", "created_at": T0}])


EXPECTED_LAST_LOGIN = {"ivanova": T0 + timedelta(days=3, minutes=7), "petrov": None, "sidorov": T0 + timedelta(hours=2)}


def _accounts(db: Database) -> tuple[dict, list]:
    from storage.models import ApiToken, User

    with db.session() as s:
        users = {u.login: (u.last_login_at, u.must_change_password) for u in s.scalars(select(User))}
        tokens = [(t.label, t.last_used_at) for t in s.scalars(select(ApiToken))]
    return users, tokens


def test_upgrade_from_0002_fills_last_sign_in_from_the_audit_log(tmp_path, fresh_pg_url):
    for url in (f"sqlite:///{tmp_path / 'old.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade("0002")
        _seed_0002(db)
        db.upgrade()
        assert db.current_revision() >= "0003"
        users, tokens = _accounts(db)
        assert users == {login: (at, False) for login, at in EXPECTED_LAST_LOGIN.items()}
        assert tokens == [("СЭД", None)]
        # a new account gets must_change_password = false from the database default too
        with db.engine.begin() as c:
            c.execute(text("INSERT INTO users (login, password_hash, role, is_active, created_at) VALUES ('new', 'x', 'analyst', :t, :at)"),
                      {"t": True, "at": T0 if url.startswith("postgresql") else T0.replace(tzinfo=None)})
        assert _accounts(db)[0]["new"] == (None, False)
        db.downgrade("0002")
        cols = {c["name"] for c in inspect(db.engine).get_columns("users")} | {c["name"] for c in inspect(db.engine).get_columns("api_tokens")}
        assert {"last_login_at", "must_change_password", "last_used_at"}.isdisjoint(cols)
        db.upgrade()
        assert _accounts(db)[0]["ivanova"] == (EXPECTED_LAST_LOGIN["ivanova"], False)
        db.dispose()


def test_upgrade_to_0003_crashing_midway_then_rerun_gives_the_same_database(tmp_path, fresh_pg_url):
    """A failure in the backfill (a trigger refusing the UPDATE stands in for a crash) leaves 0002; a rerun completes it."""
    for url in (f"sqlite:///{tmp_path / 'crash.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade("0002")
        _seed_0002(db)
        sqlite = url.startswith("sqlite")
        with db.engine.begin() as c:
            if sqlite:
                c.execute(text("CREATE TRIGGER crash BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'crash'); END"))
            else:
                c.execute(text("CREATE FUNCTION crash() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'crash'; END $$ LANGUAGE plpgsql"))
                c.execute(text("CREATE TRIGGER crash BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION crash()"))
        with pytest.raises(DBAPIError, match="crash"):
            db.upgrade()
        assert db.current_revision() == "0002"
        with db.engine.begin() as c:
            c.execute(text("DROP TRIGGER crash" if sqlite else "DROP TRIGGER crash ON users"))
        db.upgrade()
        assert db.current_revision() >= "0003"
        users, tokens = _accounts(db)
        assert users == {login: (at, False) for login, at in EXPECTED_LAST_LOGIN.items()} and tokens == [("СЭД", None)]
        assert _no_autogenerate_diff(db) == []
        db.dispose()


# --------------------------------------------------------------------------- 0005: incident deadline columns


def _insert_0004_incident(db: Database, details: dict) -> int:
    """An incident written against the 0004 schema (no ORM: the models are newer)."""
    import json

    with db.engine.begin() as c:
        c.execute(
            text("INSERT INTO incidents (region, title, urgency, state, created_at, updated_at, escalation_level, is_possible_fake, details) "
                 "VALUES ('kuzbass', 't', 'normal', 'routed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0, :f, :d)"),
            {"f": False, "d": json.dumps(details)},
        )  # fmt: skip
        return int(c.execute(text("SELECT max(id) FROM incidents")).scalar())


@pytest.mark.postgres
def test_migration_0005_moves_deadline_start_and_pinned_final_out_of_details(tmp_path, fresh_pg_url):
    start = datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=7)))
    for url in (f"sqlite:///{tmp_path / 'm5.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade("0004")
        moved = _insert_0004_incident(db, {"deadline_start": start.isoformat(), "pinned_due": ["final"], "lemmas": {"вода": 2}})
        unpinned = _insert_0004_incident(db, {"deadline_start": start.isoformat(), "pinned_due": []})
        plain = _insert_0004_incident(db, {"lemmas": {"свет": 1}})
        db.upgrade("0005")
        with db.session() as s:
            a, b, c = (s.get(Incident, i) for i in (moved, unpinned, plain))
            assert (a.deadline_start_at, a.final_due_pinned, a.details) == (start, True, {"lemmas": {"вода": 2}})
            assert (b.deadline_start_at, b.final_due_pinned, b.details) == (start, False, {})
            assert (c.deadline_start_at, c.final_due_pinned, c.details) == (None, False, {"lemmas": {"свет": 1}})
        db.downgrade("0004")
        with db.engine.connect() as conn:
            back = dict(conn.execute(text("SELECT id, details FROM incidents")).all())
        import json

        back = {k: v if isinstance(v, dict) else json.loads(v) for k, v in back.items()}
        assert datetime.fromisoformat(back[moved]["deadline_start"]) == start
        assert back[moved]["pinned_due"] == ["final"] and back[moved]["lemmas"] == {"вода": 2}
        assert "pinned_due" not in back[unpinned] and back[plain] == {"lemmas": {"свет": 1}}
        assert "deadline_start_at" not in {c["name"] for c in inspect(db.engine).get_columns("incidents")}
        db.upgrade()
        db.upgrade()  # a second run changes nothing
        with db.session() as s:
            assert s.get(Incident, moved).final_due_pinned is True
        assert _no_autogenerate_diff(db) == [], url
        db.dispose()
