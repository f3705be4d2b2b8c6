"""`cur import`: posts from JSONL/CSV files into the database, idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Callable

from collectors.files import BadLine, FilePost, read_posts
from storage import Database, PostRecord, UpsertResult, upsert_posts

BATCH = 1000


@dataclass
class ImportReport:
    path: str
    lines: int = 0
    stored: UpsertResult = field(default_factory=UpsertResult)
    bad: list[BadLine] = field(default_factory=list)


def to_record(p: FilePost) -> PostRecord:
    return PostRecord(
        platform=p.platform,
        source_key=p.source_key,
        external_id=p.external_id,
        published_at=p.published_at,
        text=p.text,
        author=p.author,
        author_id=p.author_id,
        url=p.url,
        parent_external_id=p.parent_id,
        raw=p.raw,
    )


def import_file(
    db: Database,
    path: Path,
    default_tz: tzinfo,
    default_source: str = "",
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store every good line of the file; return what was stored and what was skipped.

    Posts are committed in batches; a rerun (or a rerun after a crash) stores
    nothing twice because posts are upserted on (platform, source, id).
    """
    report = ImportReport(path=str(path))
    batch: list[PostRecord] = []

    def flush() -> None:
        if batch:
            with db.session() as s:
                report.stored += upsert_posts(s, batch)
            batch.clear()

    for item in read_posts(path, default_tz=default_tz, default_source=default_source):
        report.lines += 1
        if isinstance(item, BadLine):
            report.bad.append(item)
        else:
            batch.append(to_record(item))
            if len(batch) >= BATCH:
                flush()
        if on_progress is not None:
            on_progress(1)
    flush()
    report.stored.post_ids = []
    return report
