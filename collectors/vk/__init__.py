"""VK collectors: community/user walls (with comments), one post's comments, keyword search."""

from __future__ import annotations

from typing import Any, AsyncIterator

from ..base import CollectorError, CrawlPage, SourceSpec
from .client import FAILING_CODES, RETRY_CODES, VkApiError, VkClient, VkClientOptions
from .comments import VkCommentsCollector
from .search import VkSearchCollector
from .wall import VkWallCollector


class VkCollector:
    """Dispatches a VK source to the collector of its kind; all share one client (one token pool)."""

    def __init__(self, client: VkClient, **options: Any) -> None:
        self.client = client
        self.wall = VkWallCollector(client, **{k: v for k, v in options.items() if k in (
            "rescan_days", "initial_days", "comments", "max_recent", "now")})
        self.search = VkSearchCollector(client, **{k: v for k, v in options.items() if k in (
            "rescan_days", "initial_days", "now")})
        self.comments = VkCommentsCollector(client)

    def crawl(self, source: SourceSpec, cursor: dict[str, Any] | None) -> AsyncIterator[CrawlPage]:
        impl: Any = {"wall": self.wall, "search": self.search, "comments": self.comments}.get(source.kind)
        if impl is None:
            raise CollectorError(f"unknown VK source kind {source.kind!r}")
        return impl.crawl(source, cursor)


__all__ = [
    "FAILING_CODES", "RETRY_CODES", "VkApiError", "VkClient", "VkClientOptions", "VkCollector",
    "VkCommentsCollector", "VkSearchCollector", "VkWallCollector",
]
