"""A fake VK API (5.199 subset) as a real aiohttp app: ``POST /method/<name>`` with form fields.

Methods: ``wall.get`` (pinned post first, offset/count paging), ``wall.getById``, ``wall.getComments``
(``sort=asc``, ``start_comment_id``, threads), ``newsfeed.search`` (start/end time, ``start_from``,
only the first 1000 results reachable, ``total_count`` tells the real number).
Test controls: queued errors per method, permanent errors per owner, hooks run before each answer
(to add or delete posts while a crawl pages: count drift), a hang at the N-th request (for kill
tests; sets ``hung`` and waits for ``release``), and a log of every call with its time and token.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

ERROR_MESSAGES = {
    5: "User authorization failed",
    6: "Too many requests per second",
    9: "Flood control",
    10: "Internal server error",
    14: "Captcha needed",
    15: "Access denied",
    18: "Page deleted or banned",
    29: "Rate limit reached",
    30: "This profile is private",
    100: "One of the parameters specified was missing or invalid",
    203: "Access to group denied",
    212: "Access to post comments denied",
}


@dataclass
class Call:
    at: float
    method: str
    params: dict[str, str]
    token: str


@dataclass
class FakeVk:
    walls: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # owner -> posts (any order)
    domains: dict[str, int] = field(default_factory=dict)
    comments: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)
    search_posts: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, list[int]] = field(default_factory=dict)  # method -> codes answered next, in order
    owner_errors: dict[int, int] = field(default_factory=dict)  # owner -> code answered to every wall call
    hooks: list[Callable[["FakeVk", str, dict[str, str]], None]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    hang_at: int | None = None  # 1-based number of the request that hangs until `release` is set
    hung: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    tokens: set[str] | None = None  # accepted tokens (None: any)
    #: Clock stamping each call (a test can share a virtual clock with the client).
    clock: Callable[[], float] = time.monotonic

    # ------------------------------------------------------------------ data helpers
    def wall(self, owner: int) -> list[dict[str, Any]]:
        return self.walls.setdefault(owner, [])

    def add_posts(self, owner: int, n: int, *, start_id: int | None = None, newest: float | None = None,
                  step: float = 600.0, text: str = "Пост {id}", comments: int = 0) -> list[dict[str, Any]]:
        """Add ``n`` posts with increasing ids; the newest is dated ``newest`` (default now), older ones ``step`` s apart."""
        wall = self.wall(owner)
        first = start_id if start_id is not None else max((p["id"] for p in wall), default=0) + 1
        newest = time.time() if newest is None else newest
        out = []
        for i in range(n):
            pid = first + i
            post = {"id": pid, "owner_id": owner, "from_id": owner, "date": int(newest - (n - 1 - i) * step),
                    "text": text.format(id=pid), "comments": {"count": 0}}
            wall.append(post)
            out.append(post)
            for c in range(comments):
                self.add_comment(owner, pid, f"Комментарий {c + 1} к посту {pid}", date=post["date"] + 60 + c)
        return out

    def add_comment(self, owner: int, post_id: int, text: str, date: int | None = None,
                    from_id: int = 1001, reply_to: int | None = None) -> dict[str, Any]:
        """A comment; ``reply_to``: the id of the comment it answers (it goes into that one's thread,
        with ``reply_to_comment`` and ``parents_stack`` as VK gives them)."""
        lst = self.comments.setdefault((owner, post_id), [])
        all_ids = [c["id"] for cs in self.comments.values() for c in cs]
        cid = max(all_ids, default=10_000) + 1
        c = {"id": cid, "from_id": from_id, "post_id": post_id, "owner_id": owner,
             "date": int(date or time.time()), "text": text}
        if reply_to is not None:
            c.update(reply_to_comment=reply_to, parents_stack=[reply_to])
        lst.append(c)
        for p in self.wall(owner):
            if p["id"] == post_id:
                p["comments"] = {"count": len(lst)}
        return c

    def delete_post(self, owner: int, post_id: int) -> None:
        self.walls[owner] = [p for p in self.wall(owner) if p["id"] != post_id]

    def edit_post(self, owner: int, post_id: int, text: str) -> None:
        for p in self.wall(owner):
            if p["id"] == post_id:
                p["text"] = text
                p["edited"] = int(time.time())

    def pin(self, owner: int, post_id: int) -> None:
        for p in self.wall(owner):
            p.pop("is_pinned", None)
            if p["id"] == post_id:
                p["is_pinned"] = 1

    def requests(self, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if method is None or c.method == method]

    # ------------------------------------------------------------------ HTTP
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/method/{name}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        token = form.pop("access_token", "")
        self.calls.append(Call(self.clock(), name, form, token))
        if self.hang_at is not None and len(self.calls) >= self.hang_at:
            self.hung.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        for hook in list(self.hooks):
            hook(self, name, form)
        if form.get("v") != "5.199":
            return self._error(8, f"Invalid request: version {form.get('v')!r}")
        if self.tokens is not None and token not in self.tokens:
            return self._error(5, ERROR_MESSAGES[5])
        queued = self.errors.get(name)
        if queued:
            return self._error(queued.pop(0))
        handler = {
            "wall.get": self._wall_get, "wall.getById": self._wall_get_by_id,
            "wall.getComments": self._wall_get_comments, "newsfeed.search": self._newsfeed_search,
        }.get(name)
        if handler is None:
            return self._error(3, "Unknown method passed")
        try:
            return web.json_response({"response": handler(form)})
        except _VkError as e:
            return self._error(e.code)

    @staticmethod
    def _error(code: int, msg: str | None = None) -> web.Response:
        return web.json_response({"error": {"error_code": code, "error_msg": msg or ERROR_MESSAGES.get(code, "Error"),
                                            "request_params": []}})

    def _owner(self, form: dict[str, str]) -> int:
        if "owner_id" in form:
            owner = int(form["owner_id"])
        elif form.get("domain") in self.domains:
            owner = self.domains[form["domain"]]
        else:
            raise _VkError(100)
        if owner in self.owner_errors:
            raise _VkError(self.owner_errors[owner])
        return owner

    def _ordered(self, owner: int) -> list[dict[str, Any]]:
        posts = sorted(self.wall(owner), key=lambda p: -p["id"])
        pinned = [p for p in posts if p.get("is_pinned")]
        return pinned + [p for p in posts if not p.get("is_pinned")]

    def _wall_get(self, form: dict[str, str]) -> dict[str, Any]:
        owner = self._owner(form)
        offset, count = int(form.get("offset", 0)), min(int(form.get("count", 20)), 100)
        posts = self._ordered(owner)
        return {"count": len(posts), "items": [dict(p) for p in posts[offset:offset + count]],
                "profiles": [], "groups": [{"id": abs(owner), "name": f"Сообщество {abs(owner)}"}] if owner < 0 else []}

    def _wall_get_by_id(self, form: dict[str, str]) -> dict[str, Any]:
        items = []
        for ref in form.get("posts", "").split(","):
            owner_s, _, pid = ref.rpartition("_")
            for p in self.wall(int(owner_s)):
                if p["id"] == int(pid):
                    items.append(dict(p))
        return {"items": items, "profiles": [], "groups": []}

    def _wall_get_comments(self, form: dict[str, str]) -> dict[str, Any]:
        owner = self._owner(form)
        post_id = int(form["post_id"])
        if owner in self.owner_errors:
            raise _VkError(self.owner_errors[owner])
        every = sorted(self.comments.get((owner, post_id), []), key=lambda c: c["id"])
        lst = [c for c in every if not c.get("parents_stack")]  # top level; replies come in their thread
        if form.get("start_comment_id"):
            lst = [c for c in lst if c["id"] >= int(form["start_comment_id"])]
        offset, count = int(form.get("offset", 0)), min(int(form.get("count", 20)), 100)
        per_thread = int(form.get("thread_items_count", 0))

        def item(c: dict[str, Any]) -> dict[str, Any]:
            replies = [dict(r) for r in every if c["id"] in (r.get("parents_stack") or [])]
            return {**c, "thread": {"count": len(replies), "items": replies[:per_thread]}} if replies else dict(c)

        return {"count": len(every), "current_level_count": len(lst),
                "items": [item(c) for c in lst[offset:offset + count]], "profiles": [], "groups": []}

    def _newsfeed_search(self, form: dict[str, str]) -> dict[str, Any]:
        q = form.get("q", "").lower()
        start, end = int(form.get("start_time", 0)), int(form.get("end_time", 2**40))
        found = sorted((p for p in self.search_posts if q in p["text"].lower() and start <= p["date"] <= end),
                       key=lambda p: (-p["date"], -p["id"]))
        reachable = found[:1000]
        offset, count = int(form.get("start_from") or 0), min(int(form.get("count", 30)), 200)
        page = reachable[offset:offset + count]
        out: dict[str, Any] = {"items": [dict(p) for p in page], "count": len(reachable), "total_count": len(found),
                               "profiles": [], "groups": []}
        if offset + count < len(reachable):
            out["next_from"] = str(offset + count)
        return out


class _VkError(Exception):
    def __init__(self, code: int) -> None:
        self.code = code
