"""The collector interface: plain data in (a source and its cursor), plain data out (pages of posts).

Collectors know nothing of storage. A crawl yields :class:`CrawlPage` objects; the pipeline commits
each page atomically (upsert its posts + save its cursor), so a crawl killed at any moment resumes
from the last committed page and neither loses nor duplicates posts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Literal, Protocol

Platform = Literal["vk", "telegram", "tgweb", "file"]


@dataclass(frozen=True)
class SourceSpec:
    """What to crawl. ``key`` is the stable identity of the source within its platform and kind."""

    platform: Platform
    kind: str  # vk: wall | comments | search; telegram/tgweb: channel; file: jsonl | csv
    key: str  # vk wall: "club123"/"id5"/screen name; comments: "-123_456"; search: query; tg: username; file: path
    url: str  # canonical URL / identifier shown to users and accepted by `cur sources add`
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class CollectedPost:
    platform: str
    source_key: str
    post_id: str
    text: str
    published_at: datetime | None
    parent_id: str | None = None  # for comments: the post_id of the post they belong to
    author: str | None = None
    author_id: str | None = None
    edited_at: datetime | None = None
    deleted: bool = False
    url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    #: An appeal from a feedback platform (a file source with ``kind: appeals``): a problem by definition.
    appeal: bool = False

    def __post_init__(self) -> None:
        for name in ("published_at", "edited_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} of post {self.post_id} must be timezone-aware (UTC)")


@dataclass
class CrawlPage:
    """One unit of work the pipeline commits atomically: these posts and the cursor state after them."""

    posts: list[CollectedPost]
    cursor: dict[str, Any]
    requests: int = 0  # API/HTTP requests spent on this page (for progress and benchmarks)
    problems: list[str] = field(default_factory=list)  # skipped input (bad lines…), reported to the user


class CollectorError(Exception):
    """A transient or unexpected failure; the crawl of this source stops, the error is recorded."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class SourceFailing(CollectorError):
    """The source cannot be crawled (private, deleted, banned, preview disabled…): mark it failing."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message, reason_code)
        self.reason_code = reason_code

    def __str__(self) -> str:
        return f"{self.reason_code}: {self.message}"


class RetryLater(CollectorError):
    """Flood control / rate limit: try this source again after ``seconds``."""

    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"retry after {seconds:g} s", "retry_later")
        self.seconds = float(seconds)


class Collector(Protocol):
    def crawl(self, source: SourceSpec, cursor: dict[str, Any] | None) -> AsyncIterator[CrawlPage]:
        """Yield pages of posts from ``cursor`` on; the last page's cursor is the one to resume from."""
        ...


def utc_from_ts(ts: int | float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc)


def to_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
