"""Keyword search over all of VK: ``newsfeed.search`` for a region's place names.

Only the first 1000 results of a query are reachable, so a pass works through a stack of time
windows: a window whose ``total_count`` is over 1000 is split in two halves (newer half first) until
each fits. Cursor::

    {"high_water_time": 1700000000,          # end of the last completed pass (None before the first)
     "pass": {"end": 1700100000, "windows": [[start, end], ...], "next_from": "..."} | None}

Each pass starts ``rescan_days`` before ``high_water_time`` (re-reading recent posts records edits)
and ends at the time the pass started. The page cursor holds the remaining windows and the
``next_from`` of the current one, so a killed crawl resumes within the window it was paging.
Results are stored under their wall's owner id, like wall posts, so a post found both by search
and on its wall is stored once. Deletions are not tracked for search results.
"""

from __future__ import annotations

import time
from typing import Any, AsyncIterator, Callable

from ..base import CrawlPage, SourceSpec
from . import mapping
from .client import VkClient

PAGE = 200
REACHABLE = 1000


class VkSearchCollector:
    def __init__(
        self, client: VkClient, rescan_days: float = 2.0, initial_days: float = 7.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.rescan = rescan_days * 86400
        self.initial = initial_days * 86400
        self.now = now

    async def crawl(self, source: SourceSpec, cursor: dict[str, Any] | None) -> AsyncIterator[CrawlPage]:
        opts = source.options or {}
        rescan = float(opts.get("rescan_days", self.rescan / 86400)) * 86400
        initial = float(opts.get("initial_days", self.initial / 86400)) * 86400
        cur = dict(cursor or {})
        high: int | None = cur.get("high_water_time")
        p: dict[str, Any] | None = cur.get("pass")
        if not p:
            end = int(self.now())
            start = int(high - rescan) if high is not None else int(end - initial)
            p = {"end": end, "windows": [[start, end]], "next_from": None}
        p = {"end": p["end"], "windows": [list(w) for w in p["windows"]], "next_from": p.get("next_from")}
        names = mapping.Names()
        before = self.client.requests

        while p["windows"]:
            start, end = p["windows"][0]
            resp = await self.client.call(
                "newsfeed.search", q=source.key, count=PAGE, start_time=start, end_time=end,
                start_from=p["next_from"], extended=1,
            )
            total = int(resp.get("total_count", resp.get("count", 0)))
            if p["next_from"] is None and total > REACHABLE and end - start > 1:
                mid = (start + end) // 2
                p["windows"][0:1] = [[mid + 1, end], [start, mid]]
                continue
            names.add(resp)
            items = resp.get("items") or []
            posts = [mapping.wall_post(it, source.key, names) for it in items]
            nxt = resp.get("next_from")
            if nxt and items:
                p["next_from"] = str(nxt)
            else:
                p["windows"].pop(0)
                p["next_from"] = None
            if p["windows"]:
                state = {"high_water_time": high, "pass": {**p, "windows": [list(w) for w in p["windows"]]}}
            else:
                state = {"high_water_time": p["end"], "pass": None}
            yield CrawlPage(posts, state, self.client.requests - before)
            before = self.client.requests
