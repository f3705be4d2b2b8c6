"""A fake ``t.me`` web preview: ``/s/<channel>`` pages in the markup of the real site.

Each page shows the 20 newest posts below ``?before=<id>`` (oldest first, as t.me does), with a
"load more" link. Channels in ``disabled`` redirect to ``/<channel>`` (preview disabled).
Posts can carry replies (a quoted ``.tgme_widget_message_text`` inside the reply block linking to
the replied post: ``reply_to`` id, in ``reply_channel`` if another channel), line breaks, an
"edited" marker and an author signature.
"""

from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

PER_PAGE = 20


@dataclass
class FakeTgWeb:
    channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    hang_at: int | None = None
    hung: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def add_posts(self, channel: str, n: int, newest: float | None = None, step: float = 600.0,
                  text: str = "Сообщение {id}", start_id: int | None = None) -> None:
        posts = self.channels.setdefault(channel, [])
        first = start_id if start_id is not None else max((p["id"] for p in posts), default=0) + 1
        newest = time.time() if newest is None else newest
        for i in range(n):
            pid = first + i
            posts.append({"id": pid, "text": text.format(id=pid), "date": newest - (n - 1 - i) * step})

    def post(self, channel: str, pid: int) -> dict[str, Any]:
        return next(p for p in self.channels[channel] if p["id"] == pid)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/s/{channel}", self._page)
        app.router.add_get("/{channel}", self._landing)
        return app

    async def _landing(self, request: web.Request) -> web.Response:
        name = request.match_info["channel"]
        return web.Response(text=f"<html><body><div class='tgme_page_title'>{html.escape(name)}</div></body></html>",
                            content_type="text/html")

    async def _page(self, request: web.Request) -> web.StreamResponse:
        import asyncio

        name = request.match_info["channel"]
        self.requests.append(str(request.rel_url))
        if self.hang_at is not None and len(self.requests) >= self.hang_at:
            self.hung.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        if name in self.disabled or name not in self.channels:
            raise web.HTTPFound(f"/{name}")
        before = int(request.query.get("before", 10**12))
        posts = sorted((p for p in self.channels[name] if p["id"] < before), key=lambda p: p["id"])[-PER_PAGE:]
        return web.Response(text=render_page(name, posts), content_type="text/html")


def render_post(channel: str, p: dict[str, Any]) -> str:
    dt = datetime.fromtimestamp(p["date"], timezone.utc).isoformat()
    body = "<br/>".join(html.escape(line) for line in p["text"].split("\n"))
    reply = ""
    if p.get("reply_text"):
        reply = ('<a class="tgme_widget_message_reply" href="https://t.me/{c}/{r}"><div class="tgme_widget_message_author">'
                 '<span class="tgme_widget_message_author_name">Канал</span></div>'
                 '<div class="tgme_widget_message_text js-message_reply_text" dir="auto">{t}</div></a>').format(
            c=p.get("reply_channel", channel), r=p.get("reply_to", 1), t=html.escape(p["reply_text"]))
    author = f'<span class="tgme_widget_message_from_author" dir="auto">{html.escape(p["author"])}</span>' \
        if p.get("author") else ""
    edited = "edited " if p.get("edited") else ""
    return f"""
<div class="tgme_widget_message_wrap js-widget_message_wrap">
  <div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{channel}/{p['id']}" data-view="x">
    <div class="tgme_widget_message_user"><a href="https://t.me/{channel}"><i class="tgme_widget_message_user_photo"></i></a></div>
    <div class="tgme_widget_message_bubble">
      <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" href="https://t.me/{channel}"><span dir="auto">Новости {channel}</span></a></div>
      {reply}
      <div class="tgme_widget_message_text js-message_text" dir="auto">{body}</div>
      <div class="tgme_widget_message_footer compact js-message_footer">
        <div class="tgme_widget_message_info short js-message_info">
          <span class="tgme_widget_message_views">1.2K</span>{author}
          <span class="tgme_widget_message_meta">{edited}<a class="tgme_widget_message_date" href="https://t.me/{channel}/{p['id']}"><time datetime="{dt}" class="time">12:00</time></a></span>
        </div>
      </div>
    </div>
  </div>
</div>"""


def render_page(channel: str, posts: list[dict[str, Any]]) -> str:
    more = ""
    if posts and posts[0]["id"] > 1:
        more = (f'<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/{channel}?before='
                f'{posts[0]["id"]}" class="tme_messages_more js-messages_more" data-before="{posts[0]["id"]}"></a></div>')
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Новости {channel} – Telegram</title></head>
<body class="widget_frame_base tgme_webpreview_channel">
<header class="tgme_header"><div class="tgme_channel_info_header_title"><span dir="auto">Новости {channel}</span></div></header>
<main class="tgme_main"><section class="tgme_channel_history js-message_history">
{more}
{''.join(render_post(channel, p) for p in posts)}
</section></main></body></html>"""
