"""Telegram public web preview: ``{base}/s/<channel>`` pages, no credentials.

A page lists about 20 posts, oldest first; older pages via ``?before=<id>``. A redirect away from
``/s/`` means the channel has the preview disabled (or does not exist): the source is reported
failing with reason ``preview_disabled``, never crashed on.

Cursor (same shape as the VK wall one, paging by id so there is no offset drift)::

    {"high_water": 512, "recent": {"510": 1700000000, ...},
     "pass": {"before": 480, "top_id": 530, "horizon": ..., "rescan_horizon": ..., "seen": {...}} | None}

Posts in the re-scan window are read again each pass ("edited" marker → ``edited_at`` is unknown on
the preview, so the raw HTML and text are re-stored and the store records the change); remembered
posts of the window that are gone from the pages are reported deleted. Posts are stored under
platform "telegram" (like the MTProto collector) with the channel username as the source key,
``author_id`` ``"@" + channel`` (lower case: every post of a preview is the channel's own) and, for a
reply to an earlier post of the same channel, ``parent_id`` = that post's id (from the reply block's
link). The preview shows no discussion-group comments.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime
from typing import Any, AsyncIterator, Callable

import aiohttp
from bs4 import BeautifulSoup, Tag

from .base import CollectedPost, CollectorError, CrawlPage, RetryLater, SourceFailing, SourceSpec, to_utc, utc_from_ts
from .ratelimit import RateLimiter, Sleep


def parse_page(html: str, channel: str) -> list[dict[str, Any]]:
    """Posts of one preview page as dicts (id, text, published_at, author, edited, url, html)."""
    soup = BeautifulSoup(html, "lxml")
    out = []
    for div in soup.select("div.tgme_widget_message[data-post]"):
        ref = str(div.get("data-post", ""))
        name, _, num = ref.rpartition("/")
        if not num.isdigit() or name.lower() != channel.lower():
            continue
        text_el = div.select_one(".tgme_widget_message_bubble > .tgme_widget_message_text") or (
            div.select(".tgme_widget_message_text")[-1] if div.select(".tgme_widget_message_text") else None
        )
        text = _text(text_el) if isinstance(text_el, Tag) else ""
        time_el = div.select_one(".tgme_widget_message_date time[datetime]") or div.select_one("time[datetime]")
        published = None
        if time_el is not None:
            try:
                published = to_utc(datetime.fromisoformat(str(time_el["datetime"])))
            except ValueError:
                published = None
        meta = div.select_one(".tgme_widget_message_meta")
        edited = meta is not None and "edited" in meta.get_text(" ").lower()
        author_el = div.select_one(".tgme_widget_message_from_author") or div.select_one(
            ".tgme_widget_message_owner_name")
        out.append({
            "id": int(num), "text": text, "published_at": published, "edited": edited,
            "author": author_el.get_text(" ", strip=True) if author_el else None,
            "url": f"https://t.me/{name}/{num}", "html": str(div), "reply_to": _reply_to(div, channel),
        })
    return out


_POST_LINK = re.compile(r"^https?://(?:www\.)?t\.me/(?:s/)?([A-Za-z0-9_]+)/(\d+)(?:[?#].*)?$")


def _reply_to(div: Tag, channel: str) -> int | None:
    """Id of the post of the same channel this post replies to (the reply block's link), if any.

    A reply to a post of another chat links elsewhere: it is not kept (we cannot name that post)."""
    link = div.select_one("a.tgme_widget_message_reply[href]")
    m = _POST_LINK.match(str(link.get("href", ""))) if link is not None else None
    if m is None or m.group(1).lower() != channel.lower():
        return None
    return int(m.group(2))


def _text(el: Tag) -> str:
    for br in el.find_all("br"):
        br.replace_with("\n")
    return el.get_text().strip()


class TgWebCollector:
    def __init__(
        self,
        base_url: str = "https://t.me",
        session: aiohttp.ClientSession | None = None,
        rate: float = 1.0,
        rescan_days: float = 3.0,
        initial_days: float = 30.0,
        max_retries: int = 3,
        backoff: float = 2.0,
        now: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_recent: int = 1000,
    ) -> None:
        self.base = base_url.rstrip("/")
        self._session = session
        self._own = session is None
        self.limiter = RateLimiter(rate, clock)
        self.rescan = rescan_days * 86400
        self.initial = initial_days * 86400
        self.max_retries = max_retries
        self.backoff = backoff
        self.now = now
        self.sleep = sleep
        self.max_recent = max_recent
        self.requests = 0

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, channel: str, before: int | None) -> str:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        url = f"{self.base}/s/{channel}" + (f"?before={before}" if before else "")
        delay = self.backoff
        for attempt in range(self.max_retries + 1):
            wait = self.limiter.reserve()
            if wait > 0:
                await self.sleep(wait)
            self.requests += 1
            try:
                async with self._session.get(url, allow_redirects=True) as resp:
                    if not resp.url.path.startswith("/s/"):
                        raise SourceFailing(
                            "preview_disabled",
                            f"{url} redirects to {resp.url}: the channel has no public web preview or does not exist",
                        )
                    if resp.status == 404:
                        raise SourceFailing("not_found", f"{url}: 404 Not Found")
                    if resp.status == 429:
                        raise RetryLater(float(resp.headers.get("Retry-After", "60") or 60), f"{url}: 429")
                    if resp.status >= 500:
                        raise aiohttp.ClientResponseError(resp.request_info, resp.history, status=resp.status)
                    if resp.status >= 400:
                        raise SourceFailing(f"http_{resp.status}", f"{url}: HTTP {resp.status}")
                    return await resp.text()
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                if attempt < self.max_retries:
                    await self.sleep(delay)
                    delay *= 2
                    continue
                raise CollectorError(f"{url} unreachable after {attempt + 1} attempts: {e}", "network") from e
        raise AssertionError("unreachable")

    async def crawl(self, source: SourceSpec, cursor: dict[str, Any] | None) -> AsyncIterator[CrawlPage]:
        opts = source.options or {}
        rescan = float(opts.get("rescan_days", self.rescan / 86400)) * 86400
        initial = float(opts.get("initial_days", self.initial / 86400)) * 86400
        channel = source.key
        cur = dict(cursor or {})
        high: int | None = cur.get("high_water")
        recent: dict[str, int] = dict(cur.get("recent") or {})
        p: dict[str, Any] = dict(cur.get("pass") or {})
        if not p:
            now = self.now()
            p = {"before": None, "top_id": None, "seen": {},
                 "horizon": int(now - (rescan if high is not None else initial)), "rescan_horizon": int(now - rescan)}
        p["seen"] = dict(p["seen"])
        before_req = self.requests
        while True:
            found = parse_page(await self.fetch(channel, p["before"]), channel)
            found = [f for f in found if p["before"] is None or f["id"] < p["before"]]
            found.sort(key=lambda f: -f["id"])
            posts = []
            done = not found
            for f in found:
                ts = int(f["published_at"].timestamp()) if f["published_at"] else 0
                if ts < p["horizon"] and (high is None or f["id"] <= high):
                    done = True
                    break
                posts.append(self._post(source, f))
                p["top_id"] = f["id"] if p["top_id"] is None else max(p["top_id"], f["id"])
                if ts >= p["rescan_horizon"]:
                    p["seen"][str(f["id"])] = ts
            if found:
                p["before"] = found[-1]["id"]
            if not done and p["before"] is not None and p["before"] <= 1:
                done = True
            if not done:
                yield CrawlPage(posts, {"high_water": high, "recent": recent, "pass": dict(p)},
                                self.requests - before_req)
                before_req = self.requests
                continue
            for pid, ts in recent.items():
                if pid not in p["seen"] and ts >= p["rescan_horizon"]:
                    posts.append(CollectedPost("telegram", channel, pid, "", utc_from_ts(ts),
                                               deleted=True, url=f"https://t.me/{channel}/{pid}"))
            if p["top_id"] is not None:
                high = p["top_id"] if high is None else max(high, p["top_id"])
            recent = dict(sorted(p["seen"].items(), key=lambda kv: -int(kv[0]))[: self.max_recent])
            yield CrawlPage(posts, {"high_water": high, "recent": recent, "pass": None}, self.requests - before_req)
            return

    @staticmethod
    def _post(source: SourceSpec, f: dict[str, Any]) -> CollectedPost:
        return CollectedPost(
            platform="telegram", source_key=source.key, post_id=str(f["id"]), text=f["text"],
            published_at=f["published_at"], author=f["author"], url=f["url"],
            # every post of a channel's preview is the channel's own (the MTProto collector agrees)
            author_id=f"@{source.key.lower()}",
            parent_id=str(f["reply_to"]) if f.get("reply_to") else None,
            raw={"html": f["html"], "edited": f["edited"]},
        )
