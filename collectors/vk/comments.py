"""Comments under a VK post: ``wall.getComments`` (oldest first, with the first replies of each thread).

Two uses: the wall collector fetches the comments of each post it (re)reads, and a ``comments``
source (``https://vk.com/wall-123_456``) follows one post's comments with its own cursor.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from ..base import CollectedPost, CrawlPage, SourceSpec
from . import mapping
from .client import VkApiError, VkClient

PAGE = 100


async def fetch_comments(
    client: VkClient, owner_id: int, post_id: int, names: mapping.Names, start_comment_id: int | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """All comments of a post (top level oldest first, each followed by its first thread replies)."""
    out: list[dict[str, Any]] = []
    offset = 0
    while len(out) < limit:
        resp = await client.call(
            "wall.getComments", owner_id=owner_id, post_id=post_id, count=PAGE, offset=offset, sort="asc",
            thread_items_count=10, extended=1, need_likes=0, start_comment_id=start_comment_id,
        )
        names.add(resp)
        items = resp.get("items") or []
        for it in items:
            out.append(it)
            out.extend((it.get("thread") or {}).get("items") or [])
        offset += len(items)
        if not items or offset >= int(resp.get("current_level_count", resp.get("count", 0))):
            break
    return out


class VkCommentsCollector:
    """Follows the comments of one post. Cursor: ``{"recent": [comment ids kept for the re-scan]}``.

    Each crawl re-reads from the oldest comment in ``recent`` (the trailing re-scan window), so edits
    are recorded and comments that vanished from it are reported deleted.
    """

    def __init__(self, client: VkClient, rescan_comments: int = 50) -> None:
        self.client = client
        self.rescan = rescan_comments

    async def crawl(self, source: SourceSpec, cursor: dict[str, Any] | None) -> AsyncIterator[CrawlPage]:
        owner_s, _, post_s = source.key.rpartition("_")
        owner_id, post_id = int(owner_s), int(post_s)
        cur = dict(cursor or {})
        recent: list[int] = [int(x) for x in cur.get("recent") or []]
        names = mapping.Names()
        before = self.client.requests
        try:
            items = await fetch_comments(
                self.client, owner_id, post_id, names, start_comment_id=min(recent) if recent else None,
                limit=10**6,
            )
        except VkApiError:
            if not recent:
                raise
            # The remembered start comment may be gone (VK refuses the start id): read them all.
            items = await fetch_comments(self.client, owner_id, post_id, names, limit=10**6)
        seen = {int(it["id"]) for it in items}
        posts = [mapping.comment(it, source.key, owner_id, post_id, names) for it in items]
        if recent:
            floor = min(recent)
            for cid in recent:
                if cid not in seen and cid >= floor:
                    posts.append(
                        CollectedPost("vk", str(owner_id), f"{post_id}_{cid}", "", None, parent_id=str(post_id),
                                      deleted=True, url=f"https://vk.com/wall{owner_id}_{post_id}?reply={cid}")
                    )
        top_level = sorted(int(it["id"]) for it in items if not it.get("parents_stack"))
        keep = top_level[-self.rescan:] if top_level else recent[-self.rescan:]
        yield CrawlPage(posts, {"recent": keep}, self.client.requests - before)
