"""File import (JSONL/CSV exports of other channels, e.g. the feedback platform) as a crawlable source.

Uses :mod:`collectors.files` to read and validate records. Cursor::

    {"line": 1200, "size": 523000, "head": "<sha256 of the first min(size, 64 KiB) bytes>"}

A crawl resumes ``rescan_lines`` records before ``line`` (the trailing re-scan: edited records are
re-stored and the store records the edit). If the file shrank or its head changed it was replaced
by a new export, so it is read again from the start (the idempotent store keeps that cheap).
Bad records are skipped and reported on the page (``CrawlPage.problems``) with file and line.
"""

from __future__ import annotations

import hashlib
from datetime import timezone, tzinfo
from pathlib import Path
from typing import Any, AsyncIterator

from .base import CollectedPost, CrawlPage, SourceFailing, SourceSpec
from .files import BadLine, read_posts

PAGE = 500
HEAD = 65536


def _head_hash(path: Path, length: int) -> str:
    with path.open("rb") as f:
        return hashlib.sha256(f.read(length)).hexdigest()


class FileCollector:
    def __init__(self, default_tz: tzinfo = timezone.utc, rescan_lines: int = 100, page_size: int = PAGE) -> None:
        self.default_tz = default_tz
        self.rescan_lines = rescan_lines
        self.page_size = page_size

    async def crawl(self, source: SourceSpec, cursor: dict[str, Any] | None) -> AsyncIterator[CrawlPage]:
        path = Path(source.key)
        if not path.is_file():
            raise SourceFailing("file_missing", f"{path}: файл не найден")
        size = path.stat().st_size
        cur = dict(cursor or {})
        start = int(cur.get("line", 0))
        old_size = int(cur.get("size", 0))
        if start and (size < old_size or _head_hash(path, min(old_size, HEAD)) != cur.get("head")):
            start = 0  # replaced by another export: read it all again
        position = start
        start = max(0, start - self.rescan_lines)
        head = _head_hash(path, min(size, HEAD))
        default_source = str((source.options or {}).get("source") or path.stem)
        fmt = "csv" if source.kind == "csv" else "jsonl"
        appeal = str((source.options or {}).get("kind") or "") == "appeals"
        posts: list[CollectedPost] = []
        problems: list[str] = []
        last = position  # nothing read (a file refused as a whole): the cursor stays
        for item in read_posts(path, default_tz=self.default_tz, default_source=default_source, fmt=fmt):
            if isinstance(item, BadLine) and item.file_level:
                problems.append(f"{path}: {item}")  # always reported; the cursor stays where it was
                continue
            if item.line <= start:
                continue
            last = item.line
            if isinstance(item, BadLine):
                problems.append(f"{path}: {item}")
            else:
                item.post.appeal = appeal
                posts.append(item.post)
            if len(posts) >= self.page_size:
                yield CrawlPage(posts, {"line": last, "size": size, "head": head}, 0, problems)
                posts, problems = [], []
        yield CrawlPage(posts, {"line": last, "size": size, "head": head}, 0, problems)
