"""Crawl bookkeeping: one page of a crawl = posts + cursor + counters in one transaction."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy.orm import Session

from .models import Source
from .posts import PostRecord, UpsertResult, upsert_posts
from .sources import set_cursor


def commit_page(session: Session, source_id: int, records: Sequence[PostRecord], cursor: dict[str, Any]) -> UpsertResult:
    """Store the page's posts, advance the source's cursor and count new posts, in the caller's transaction.

    Call it inside ``Database.session()``: if the process dies before the commit, neither the posts
    nor the cursor move, and the rerun fetches the same page again (the upsert keeps it idempotent).
    """
    result = upsert_posts(session, records, source_id=source_id)
    set_cursor(session, source_id, cursor)
    source = session.get(Source, source_id)
    if source is not None and result.inserted:
        source.posts_collected = (source.posts_collected or 0) + result.inserted
    result.post_ids = []
    return result


def get_source(session: Session, source_id: int) -> Source | None:
    return session.get(Source, source_id)


def note_problems(session: Session, source_id: int, problems: Sequence[str]) -> None:
    """Record skipped input (bad lines of a file…) as the source's last error, keeping it crawlable."""
    from .types import utcnow

    source = session.get(Source, source_id)
    if source is not None and problems:
        source.last_error = "; ".join(problems[:5])[:2000] + (f" (и ещё {len(problems) - 5})" if len(problems) > 5 else "")
        source.last_error_at = utcnow()
