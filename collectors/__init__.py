"""Collectors: VK (walls, comments, search), Telegram (t.me/s preview, MTProto), export files.

Plain data in (a :class:`SourceSpec` and its cursor), plain data out (:class:`CrawlPage` objects).
Collectors know nothing of storage or configuration; see docs/collectors.md.
"""

from .base import (
    CollectedPost,
    Collector,
    CollectorError,
    CrawlPage,
    RetryLater,
    SourceFailing,
    SourceSpec,
)
from .sources import SourceUrlError, parse_source_url

__all__ = [
    "CollectedPost",
    "Collector",
    "CollectorError",
    "CrawlPage",
    "RetryLater",
    "SourceFailing",
    "SourceSpec",
    "SourceUrlError",
    "parse_source_url",
]
