"""Posts: idempotent upsert with edit/deletion tracking, lookup and export."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator

from sqlalchemy import func, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from .models import Post, PostRevision, Source
from .types import UTCDateTime, utcnow

_WS = re.compile(r"\s+")
BATCH = 400
#: Page cache of a SQLite connection that stores posts (KiB; at most this much memory, kept by the connection).
SQLITE_CACHE_KIB = 65536


def content_hash(text: str) -> str:
    """sha256 of the text with case and whitespace folded: equal for reposts."""
    norm = _WS.sub(" ", (text or "").lower().replace("ё", "е")).strip()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


@dataclass
class PostRecord:
    """A post as a collector or an import file gives it (plain data)."""

    platform: str
    source_key: str
    external_id: str
    published_at: datetime
    text: str
    author: str | None = None
    author_id: str | None = None
    url: str | None = None
    parent_external_id: str | None = None
    edited_at: datetime | None = None
    deleted: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
    appeal: bool = False  # an appeal from a feedback platform (never unset by a later plain import)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.platform, self.source_key, self.external_id)


@dataclass
class UpsertResult:
    inserted: int = 0
    edited: int = 0
    deleted: int = 0
    unchanged: int = 0
    post_ids: list[int] = field(default_factory=list)
    #: Keys left untouched because a crawler collected them (``upsert_posts(..., keep_crawled=True)``).
    refused: list[tuple[str, str, str]] = field(default_factory=list)

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.inserted += other.inserted
        self.edited += other.edited
        self.deleted += other.deleted
        self.unchanged += other.unchanged
        self.post_ids += other.post_ids
        self.refused += other.refused
        return self


#: Platforms whose posts a crawler collects from the network: the crawler, not a file, owns their text.
CRAWLED_PLATFORMS = frozenset({"vk", "telegram", "tgweb"})


def upsert_posts(session: Session, records: Iterable[PostRecord], source_id: int | None = None,
                 keep_crawled: bool = False) -> UpsertResult:
    """Store each post once per (platform, source, id).

    A post seen again with another text is an edit: the old text goes to
    ``post_revisions`` and the post is queued for analysis again. A post
    reported deleted is marked, never removed. Seeing the same post twice
    changes nothing, so a rerun of an import or a crawl stores nothing twice.

    ``keep_crawled`` (file imports): a stored post that a VK/Telegram source collected
    (platform in :data:`CRAWLED_PLATFORMS`, ``source_id`` set) is not changed at all;
    its key is listed in ``refused``. A crawl that meets a post stored earlier without a
    source (imported from a file) takes it over (sets ``source_id``).
    """
    result = UpsertResult()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's default page cache is 2 MiB: the unique, content-hash and date indexes outgrow it
        # within the first 100k posts and every insert then re-reads their pages (docs/import.md, Scale)
        session.connection().exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    else:
        # psycopg prepares a statement after 5 runs, and PostgreSQL may then keep one generic plan for it:
        # made while the table looked empty (ANALYZE after a TRUNCATE, autovacuum on a new database), it
        # scans the table for every key (a batch's look-up went from 25 ms to 6 s within 5,000 posts).
        # A plan per batch, for this transaction only.
        session.connection().exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    # new posts belong to their source's region (``storage.regions``; null: the default one)
    region = session.scalar(select(Source.region).where(Source.id == source_id)) if source_id is not None else None
    batch: dict[tuple[str, str, str], PostRecord] = {}
    for rec in records:
        batch[rec.key] = rec  # the last version of a post within a batch wins
        if len(batch) >= BATCH:
            result += _upsert_batch(session, batch, source_id, keep_crawled, region)
            batch = {}
    if batch:
        result += _upsert_batch(session, batch, source_id, keep_crawled, region)
    return result


#: What the upsert needs to know of a stored post (whole rows are loaded only for edits and deletions).
_COLUMNS = ("posts.id, posts.platform, posts.source_key, posts.external_id, posts.content_hash, posts.is_deleted, posts.is_appeal,"
            " posts.source_id")

#: PostgreSQL: one index probe per key, whatever the statistics. A ``(a, b, c) IN (...)`` list is
#: planned as an index scan on (platform, source) with the ids as a filter (every post of the source
#: read for every batch: 10k posts in 4.7 s, 100k in 144 s), and a join against ``VALUES`` as a hash
#: join over a scan of the table. ``LATERAL ... LIMIT 1`` cannot be flattened into a join, so each key
#: is one probe of the unique index.
_PG_LOOKUP = sql_text(
    f"SELECT {_COLUMNS} FROM unnest(CAST(:platforms AS varchar[]), CAST(:sources AS varchar[]), CAST(:ids AS varchar[]))"
    " AS k(platform, source_key, external_id)"
    " CROSS JOIN LATERAL (SELECT * FROM posts WHERE posts.platform = k.platform"
    " AND posts.source_key = k.source_key AND posts.external_id = k.external_id LIMIT 1) AS posts"
)


def _existing(session: Session, keys: list[tuple[str, str, str]]) -> list[Any]:
    """The stored posts among ``keys`` (rows of ``_COLUMNS``), looked up through the unique index."""
    if session.get_bind().dialect.name == "postgresql":
        params = {"platforms": [k[0] for k in keys], "sources": [k[1] for k in keys], "ids": [k[2] for k in keys]}
        return list(session.execute(_PG_LOOKUP, params))
    # SQLite plans ``(a, b, c) IN (VALUES ...)`` as a scan of the table; a CROSS JOIN keeps the list
    # as the outer loop, so each key is one search of the unique index.
    # (driver-level SQL with positional parameters: compiling a text() of 1,200 named ones costs more than the query)
    sql = (
        f"WITH k(platform, source_key, external_id) AS (VALUES {', '.join(['(?, ?, ?)'] * len(keys))})"
        f" SELECT {_COLUMNS} FROM k CROSS JOIN posts ON posts.platform = k.platform"
        " AND posts.source_key = k.source_key AND posts.external_id = k.external_id"
    )
    return list(session.connection().exec_driver_sql(sql, tuple(v for key in keys for v in key)))


#: PostgreSQL insert of a batch: ``(column, array type)``; the rows travel as one array per column.
_PG_COLUMNS = (
    ("platform", "varchar"), ("source_key", "varchar"), ("external_id", "varchar"), ("source_id", "int8"),
    ("parent_external_id", "varchar"), ("author", "varchar"), ("author_id", "varchar"), ("published_at", "timestamptz"),
    ("text", "text"), ("url", "varchar"), ("content_hash", "varchar"), ("raw", "jsonb"), ("collected_at", "timestamptz"),
    ("updated_at", "timestamptz"), ("edited_at", "timestamptz"), ("edit_count", "int4"), ("is_deleted", "bool"),
    ("deleted_at", "timestamptz"), ("is_appeal", "bool"), ("region", "varchar"),
)
_PG_INSERT = (
    f"INSERT INTO posts ({', '.join(c for c, _ in _PG_COLUMNS)})"
    f" SELECT * FROM unnest({', '.join(f'CAST(%({c})s AS {t}[])' for c, t in _PG_COLUMNS)})"
    " ON CONFLICT (platform, source_key, external_id) DO NOTHING RETURNING id, platform, source_key, external_id"
)
_UTC = UTCDateTime()


def _pg_insert(session: Session, rows: list[dict[str, Any]]) -> list[Any]:
    """Insert ``rows`` (new posts) in one statement; the ``(id, platform, source, id)`` of those inserted.

    One ``INSERT … SELECT FROM unnest(arrays)``: one round trip and one plan per batch instead of a
    statement per row (the rows were an executemany of 400 statements, then a second look-up for the ids).
    """
    dialect = session.get_bind().dialect
    params: dict[str, list[Any]] = {}
    for column, kind in _PG_COLUMNS:
        values = [row[column] for row in rows]
        if kind == "timestamptz":
            values = [_UTC.process_bind_param(v, dialect) for v in values]
        elif kind == "jsonb":
            values = [json.dumps(v) for v in values]
        params[column] = values
    return list(session.connection().exec_driver_sql(_PG_INSERT, params))


#: SQLite: rows per INSERT statement (x 20 columns = 10,000 variables; SQLite >= 3.32 allows 32,766).
SQLITE_ROWS_PER_INSERT = 500


def _sqlite_insert(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (new posts) with one ``INSERT … VALUES (…), (…)`` per :data:`SQLITE_ROWS_PER_INSERT` rows.

    Not an executemany: the full-text trigger (migration 0009) inserts into the FTS5 table, and FTS5
    writes out its pending terms at the start of every statement that changes it, so a statement per
    row left a segment per post to merge: 65-74 µs CPU a row against 21-26 µs for multi-row statements
    (30k rows, docs/import.md). The trigger still fires for every row, so the index holds the same.
    """
    dialect = session.get_bind().dialect
    table = Post.__table__
    columns = [c for c, _ in _PG_COLUMNS]
    convert = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    head = f"INSERT INTO posts ({', '.join(columns)}) VALUES "
    one = "(" + ", ".join("?" * len(columns)) + ")"
    conn = session.connection()
    for k in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
        chunk = rows[k:k + SQLITE_ROWS_PER_INSERT]
        values = [f(row[c]) if f is not None else row[c] for row in chunk for c, f in zip(columns, convert)]
        conn.exec_driver_sql(head + ", ".join([one] * len(chunk)), tuple(values))


def _upsert_batch(session: Session, batch: dict[tuple[str, str, str], PostRecord], source_id: int | None,
                  keep_crawled: bool = False, region: str | None = None) -> UpsertResult:
    res = UpsertResult()
    session.flush()
    ids: dict[tuple[str, str, str], int] = {}
    stored = {(r.platform, r.source_key, r.external_id): r for r in _existing(session, list(batch))}
    now = utcnow()
    new: list[dict[str, Any]] = []
    for key, rec in batch.items():
        h = content_hash(rec.text)
        row = stored.get(key)
        if row is None:
            new.append(dict(
                platform=rec.platform, source_key=rec.source_key, external_id=rec.external_id, source_id=source_id,
                parent_external_id=rec.parent_external_id, author=rec.author, author_id=rec.author_id,
                published_at=rec.published_at, text=rec.text, url=rec.url, content_hash=h, raw=rec.raw,
                collected_at=now, updated_at=now, edited_at=rec.edited_at, edit_count=0, is_deleted=rec.deleted,
                deleted_at=now if rec.deleted else None, is_appeal=rec.appeal, region=region,
            ))
            continue
        ids[key] = row.id
        if keep_crawled and row.source_id is not None and row.platform in CRAWLED_PLATFORMS:
            res.refused.append(key)
            continue
        if source_id is not None and row.source_id is None and row.platform in CRAWLED_PLATFORMS:
            session.get_one(Post, row.id).source_id = source_id  # a crawler now owns a post a file brought first
        if rec.appeal and not row.is_appeal:
            session.get_one(Post, row.id).is_appeal = True  # known now to be an appeal: not an edit of the text
        if rec.deleted and not row.is_deleted:
            post = session.get_one(Post, row.id)
            post.is_deleted, post.deleted_at, post.updated_at = True, now, now
            res.deleted += 1
        elif not rec.deleted and h != row.content_hash:
            post = session.get_one(Post, row.id)
            session.add(PostRevision(post=post, text=post.text, content_hash=post.content_hash, replaced_at=now))
            post.text, post.content_hash = rec.text, h
            post.edited_at = rec.edited_at or now
            post.edit_count += 1
            post.processed_at = None
            post.raw = rec.raw
            post.updated_at = now
            res.edited += 1
        else:
            res.unchanged += 1
    if new and session.get_bind().dialect.name == "postgresql":
        # one statement for the whole batch, its ids returned; a key another process stored meanwhile is
        # skipped by ON CONFLICT and then upserted as a stored post (never an IntegrityError)
        made = {(r[1], r[2], r[3]): r[0] for r in _pg_insert(session, new)}
        ids.update(made)
        res.inserted += len(made)
        raced = {(v["platform"], v["source_key"], v["external_id"]) for v in new} - made.keys()
        if raced:
            again = _upsert_batch(session, {k: batch[k] for k in batch if k in raced}, source_id, keep_crawled, region)
            ids.update(zip((k for k in batch if k in raced), again.post_ids))
            again.post_ids = []
            res += again
    elif new:
        # multi-row INSERT statements of plain rows (no ORM objects for new posts), then their ids by the same index look-up
        _sqlite_insert(session, new)
        fresh = [(v["platform"], v["source_key"], v["external_id"]) for v in new]
        ids.update({(r.platform, r.source_key, r.external_id): r.id for r in _existing(session, fresh)})
        res.inserted += len(new)
    session.flush()
    res.post_ids.extend(ids[key] for key in batch)
    return res


def analyze_posts(session: Session) -> None:
    """Refresh the planner's statistics of the posts table after a large load (both backends)."""
    session.execute(sql_text("ANALYZE posts"))


def count_posts(session: Session) -> int:
    return session.scalar(select(func.count(Post.id))) or 0


def find_post(session: Session, platform: str, source_key: str, external_id: str) -> Post | None:
    return session.scalar(
        select(Post).where(Post.platform == platform, Post.source_key == source_key, Post.external_id == external_id)
    )


def iter_posts(session: Session, include_deleted: bool = True, chunk: int = 1000) -> Iterator[Post]:
    """All posts in id order, read in chunks so large databases stream."""
    last = 0
    while True:
        q = select(Post).where(Post.id > last).order_by(Post.id).limit(chunk)
        if not include_deleted:
            q = q.where(Post.is_deleted.is_(False))
        rows = list(session.scalars(q))
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()


def post_to_dict(p: Post) -> dict[str, Any]:
    return {
        "id": p.external_id,
        "source": p.source_key,
        "platform": p.platform,
        "author": p.author,
        "date": p.published_at.isoformat(),
        "text": p.text,
        "url": p.url,
        "parent_id": p.parent_external_id,
        "edited_at": p.edited_at.isoformat() if p.edited_at else None,
        "deleted": p.is_deleted,
    }
