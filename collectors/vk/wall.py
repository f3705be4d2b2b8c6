"""A community or user wall: ``wall.get`` newest first, 100 posts per request, plus their comments.

Cursor (all plain JSON)::

    {"high_water": 812,            # highest post id of the last completed pass (None before the first)
     "owner_id": -123,             # learned from the answers (screen names are crawled by ``domain``)
     "recent": {"810": 1700000000, ...},   # posts inside the re-scan window at the end of the last pass
     "comments": {"810": 4, ...},          # their comment counts: comments are re-read when a count changes
     "pass": {"offset": 300, "count": 5120, "last_id": 530, "top_id": 830, "horizon": 1699000000,
              "seen": {"830": 1700100000, ...}} | None}

A pass pages from the top down to the stop line: posts at or below ``high_water`` that are older
than the re-scan horizon (or, on the first crawl, posts older than ``initial_days``). ``high_water``
only moves when a pass completes; while a pass runs, ``pass`` says where it is, so a crawl killed
after any committed page resumes there. Offsets drift while paging: new posts (always at the top)
push older ones down, deletions pull them up. Posts with ids at or above ``last_id`` are skipped, so
a push only repeats posts (dropped, no duplicates). A pull can skip unread posts; it shows as a
smaller ``count`` than on the previous page, and since the shift at our offset is never more than
the drop in ``count``, the pass steps back by that drop before going on (nothing lost). The answer
to each request is a full page of 100 new posts when nothing drifts.
A pinned post comes first on the first page; it is collected like any post but never ends the pass.
Posts in the re-scan window are yielded again on each pass (edits: VK ``edited``); posts remembered
in ``recent`` that the pass did not see again are checked with ``wall.getById`` and reported deleted.
"""

from __future__ import annotations

import copy
import time
from typing import Any, AsyncIterator, Callable

from ..base import CollectedPost, CrawlPage, SourceFailing, SourceSpec, utc_from_ts
from . import mapping
from .client import FAILING_CODES, VkClient
from .comments import fetch_comments

PAGE = 100
MAX_STEP_BACKS = 20


class VkWallCollector:
    def __init__(
        self,
        client: VkClient,
        rescan_days: float = 3.0,
        initial_days: float = 30.0,
        comments: bool = True,
        max_recent: int = 1000,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.rescan = rescan_days * 86400
        self.initial = initial_days * 86400
        self.comments = comments
        self.max_recent = max_recent
        self.now = now

    def _owner_params(self, key: str) -> dict[str, Any]:
        if key.lstrip("-").isdigit():
            return {"owner_id": int(key)}
        return {"domain": key}

    async def crawl(self, source: SourceSpec, cursor: dict[str, Any] | None) -> AsyncIterator[CrawlPage]:
        opts = source.options or {}
        rescan = float(opts.get("rescan_days", self.rescan / 86400)) * 86400
        initial = float(opts.get("initial_days", self.initial / 86400)) * 86400
        want_comments = bool(opts.get("comments", self.comments))

        cur: dict[str, Any] = dict(cursor or {})
        high: int | None = cur.get("high_water")
        recent: dict[str, int] = dict(cur.get("recent") or {})
        owner_id: int | None = cur.get("owner_id")
        p: dict[str, Any] = dict(cur.get("pass") or {})
        if not p:
            now = self.now()
            p = {"offset": 0, "last_id": None, "top_id": None, "seen": {},
                 "horizon": int(now - (rescan if high is not None else initial)),
                 "rescan_horizon": int(now - rescan)}
        horizon: int = p["horizon"]
        rescan_horizon: int = p.get("rescan_horizon", horizon)
        names = mapping.Names()
        step_backs = 0
        before = self.client.requests

        known_comments: dict[str, int] = dict(cur.get("comments") or {})
        p.setdefault("comments", {})

        def snapshot(pass_state: dict[str, Any] | None) -> dict[str, Any]:
            return copy.deepcopy({"high_water": high, "owner_id": owner_id, "recent": recent,
                                  "comments": known_comments, "pass": pass_state})

        while True:
            req_offset = p["offset"]
            resp = await self.client.call(
                "wall.get", **self._owner_params(source.key), offset=req_offset, count=PAGE, extended=1
            )
            names.add(resp)
            items: list[dict[str, Any]] = resp.get("items") or []
            count = int(resp.get("count", 0))
            shrunk = int(p.get("count") or count) - count
            if shrunk > 0 and req_offset > 0 and step_backs < MAX_STEP_BACKS:
                # Posts were deleted since the last page; if above us, unread posts moved up past the
                # offset: step back by as many (the id filter drops the repeats).
                p["offset"] = max(0, req_offset - shrunk)
                p["count"] = count
                step_backs += 1
                continue
            p["count"] = count
            collected: list[dict[str, Any]] = []
            done = not items or req_offset + len(items) >= count
            for it in items:
                pid, date = int(it["id"]), int(it.get("date", 0))
                if owner_id is None and it.get("owner_id") is not None:
                    owner_id = int(it["owner_id"])
                old = date < horizon and (high is None or pid <= high)
                if it.get("is_pinned"):
                    if req_offset == 0 and not old:
                        collected.append(it)
                    continue  # a pinned post never ends the pass
                if p["last_id"] is not None and pid >= p["last_id"]:
                    continue  # seen earlier in this pass (overlap or drift)
                if old:
                    done = True
                    break
                collected.append(it)
                p["last_id"] = pid
                p["top_id"] = pid if p["top_id"] is None else max(p["top_id"], pid)
            p["offset"] = req_offset + len(items)

            posts: list[CollectedPost] = []
            for it in collected:
                post = mapping.wall_post(it, source.key, names)
                posts.append(post)
                n_comments = int((it.get("comments") or {}).get("count", 0))
                if int(it.get("date", 0)) >= rescan_horizon:
                    p["seen"][str(it["id"])] = int(it.get("date", 0))
                    p["comments"][str(it["id"])] = n_comments
                if want_comments and n_comments > 0 and known_comments.get(str(it["id"])) != n_comments:
                    posts.extend(await self._comments(source.key, it, names))

            if not done:
                yield CrawlPage(posts, snapshot(p), self.client.requests - before)
                before = self.client.requests
                continue

            # Pass complete: deletions inside the re-scan window, then move the high-water mark.
            posts.extend(await self._deleted(source.key, owner_id, recent, p["seen"], rescan_horizon))
            if p["top_id"] is not None:
                high = p["top_id"] if high is None else max(high, p["top_id"])
            recent = dict(sorted(p["seen"].items(), key=lambda kv: -int(kv[0]))[: self.max_recent])
            known_comments = {k: v for k, v in p["comments"].items() if k in recent}
            yield CrawlPage(posts, snapshot(None), self.client.requests - before)
            return

    async def _comments(self, key: str, item: dict[str, Any], names: mapping.Names) -> list[CollectedPost]:
        owner, pid = int(item["owner_id"]), int(item["id"])
        try:
            found = await fetch_comments(self.client, owner, pid, names)
        except SourceFailing as e:
            if e.reason_code == FAILING_CODES[212]:
                return []  # comments closed under this post: the wall itself is fine
            raise
        return [mapping.comment(c, key, owner, pid, names) for c in found]

    async def _deleted(
        self, key: str, owner_id: int | None, recent: dict[str, int], seen: dict[str, int], horizon: int
    ) -> list[CollectedPost]:
        missing = [pid for pid, date in recent.items() if pid not in seen and date >= horizon]
        if not missing or owner_id is None:
            return []
        out: list[CollectedPost] = []
        names = mapping.Names()
        for i in range(0, len(missing), 100):
            chunk = missing[i:i + 100]
            resp = await self.client.call("wall.getById", posts=[f"{owner_id}_{pid}" for pid in chunk], extended=1)
            items = resp.get("items", []) if isinstance(resp, dict) else (resp or [])
            if isinstance(resp, dict):
                names.add(resp)
            alive = {str(it["id"]): it for it in items if not it.get("is_deleted")}
            for pid in chunk:
                if pid in alive:
                    out.append(mapping.wall_post(alive[pid], key, names))
                    seen[pid] = int(alive[pid].get("date", 0))
                else:
                    out.append(CollectedPost("vk", str(owner_id), pid, "", utc_from_ts(recent[pid]), deleted=True,
                                             url=f"https://vk.com/wall{owner_id}_{pid}"))
        return out
