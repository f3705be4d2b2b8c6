"""Posts: idempotent upsert with edit/deletion tracking, lookup and export."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator

from sqlalchemy import func, select, tuple_
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from .models import Post, PostRevision
from .types import utcnow

_WS = re.compile(r"\s+")
BATCH = 400


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

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.inserted += other.inserted
        self.edited += other.edited
        self.deleted += other.deleted
        self.unchanged += other.unchanged
        self.post_ids += other.post_ids
        return self


def upsert_posts(session: Session, records: Iterable[PostRecord], source_id: int | None = None) -> UpsertResult:
    """Store each post once per (platform, source, id).

    A post seen again with another text is an edit: the old text goes to
    ``post_revisions`` and the post is queued for analysis again. A post
    reported deleted is marked, never removed. Seeing the same post twice
    changes nothing, so a rerun of an import or a crawl stores nothing twice.
    """
    result = UpsertResult()
    batch: dict[tuple[str, str, str], PostRecord] = {}
    for rec in records:
        batch[rec.key] = rec  # the last version of a post within a batch wins
        if len(batch) >= BATCH:
            result += _upsert_batch(session, batch, source_id)
            batch = {}
    if batch:
        result += _upsert_batch(session, batch, source_id)
    return result


def _upsert_batch(session: Session, batch: dict[tuple[str, str, str], PostRecord], source_id: int | None) -> UpsertResult:
    res = UpsertResult()
    existing = {
        (p.platform, p.source_key, p.external_id): p
        for p in session.scalars(
            select(Post).where(tuple_(Post.platform, Post.source_key, Post.external_id).in_(list(batch)))
        )
    }
    now = utcnow()
    for key, rec in batch.items():
        h = content_hash(rec.text)
        post = existing.get(key)
        if post is None:
            post = Post(
                platform=rec.platform,
                source_key=rec.source_key,
                external_id=rec.external_id,
                source_id=source_id,
                parent_external_id=rec.parent_external_id,
                author=rec.author,
                author_id=rec.author_id,
                published_at=rec.published_at,
                text=rec.text,
                url=rec.url,
                content_hash=h,
                raw=rec.raw,
                collected_at=now,
                updated_at=now,
                edited_at=rec.edited_at,
                is_deleted=rec.deleted,
                deleted_at=now if rec.deleted else None,
            )
            session.add(post)
            existing[key] = post
            res.inserted += 1
            continue
        changed = False
        if rec.deleted and not post.is_deleted:
            post.is_deleted, post.deleted_at = True, now
            res.deleted += 1
            changed = True
        elif not rec.deleted and h != post.content_hash:
            session.add(PostRevision(post=post, text=post.text, content_hash=post.content_hash, replaced_at=now))
            post.text, post.content_hash = rec.text, h
            post.edited_at = rec.edited_at or now
            post.edit_count += 1
            post.processed_at = None
            post.raw = rec.raw
            res.edited += 1
            changed = True
        if changed:
            post.updated_at = now
        else:
            res.unchanged += 1
    session.flush()
    res.post_ids.extend(existing[key].id for key in batch)
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
