"""Telegram over MTProto (telethon): public channels and the discussion groups linked to them.

A thin adapter over a connected ``TelegramClient`` (or any object with the same methods:
``get_entity``, ``get_messages(entity, ids=...)``, ``iter_messages(entity, min_id=, reverse=True)``
and ``client(GetFullChannelRequest(...))``). Cursor::

    {"peer": {"channel_id": 1, "access_hash": 2},       # resolved once; later runs skip get_entity
     "channel": {"min_id": 950, "recent": [901, ...]},   # newest ids kept for the re-scan
     "discussion": {"peer": {...}, "min_id": 77, "recent": [...], "threads": {"70": 950}} | None}

``iter_messages(min_id=..., reverse=True)`` returns messages oldest first, so the cursor advances
with every page and a killed crawl resumes after the last committed page. The first crawl starts
``initial_days`` back (``offset_date``) instead of at the channel's first message. Each crawl first
re-reads the ``recent`` ids with ``get_messages(ids=...)``: a ``None`` answer is a deleted post,
``edit_date`` an edit. ``FloodWaitError`` becomes :class:`RetryLater` with the seconds Telegram asked.
Posts are stored under platform "telegram" with the channel username as the source key, the same
as the web preview collector, so one channel read both ways is stored once.

Who wrote a message and what it answers (plain data, used to find authorities' official replies):

* ``author_id`` — ``"@" + username`` (lower case) of the sender when it has a public username,
  otherwise its numeric id as telethon's ``get_peer_id`` gives it (users positive, channels
  ``-100…``). The sender is the entity telethon attaches to the message (``message.sender``, filled
  from the users and chats of the same answer: no extra request); a channel post's sender is the
  channel itself, a comment written "as the channel" is the channel too.
* ``author`` — the post signature if any, else the sender's name (title, or first and last name).
* ``parent_id`` — for a reply within the same chat: the thread's top message, mapped for discussion
  groups to the channel post the thread belongs to (``"950"``), else the group's own id (``"d77"``).
  A reply to a message of another chat keeps no parent.
* ``raw["reply_to_post_id"]`` — the message directly replied to (same id form), when it is not the
  thread's top message (a reply to a comment).
"""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta, timezone
from typing import Any, AsyncIterator

from .base import CollectedPost, CollectorError, CrawlPage, RetryLater, SourceFailing, SourceSpec, to_utc

PAGE = 100


def jsonable(obj: Any) -> Any:
    """telethon's ``to_dict()`` output made JSON-safe (datetimes → ISO, bytes → base64)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, (bytes, bytearray)):
        return base64.b64encode(bytes(obj)).decode()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


class TelegramCollector:
    def __init__(self, client: Any, rescan_count: int = 50, discussion: bool = True,
                 initial_days: float | None = 30.0) -> None:
        self.client = client
        self.initial_days = initial_days
        self.rescan_count = rescan_count
        self.discussion = discussion
        self._entities: dict[str, Any] = {}
        self.entity_lookups = 0

    @classmethod
    async def connect(cls, api_id: int, api_hash: str, session: str, **kwargs: Any) -> "TelegramCollector":
        """Build a connected collector from settings values (api id, api hash, StringSession string)."""
        from telethon import TelegramClient
        from telethon.sessions import StringSession

        client = TelegramClient(StringSession(session), api_id, api_hash)
        await client.connect()
        if not await client.is_user_authorized():
            await client.disconnect()
            raise CollectorError("the Telegram session is not authorised: create a StringSession first", "auth")
        return cls(client, **kwargs)

    async def close(self) -> None:
        disconnect = getattr(self.client, "disconnect", None)
        if disconnect is not None:
            result = disconnect()
            if hasattr(result, "__await__"):
                await result

    async def crawl(self, source: SourceSpec, cursor: dict[str, Any] | None) -> AsyncIterator[CrawlPage]:
        from telethon import errors

        try:
            async for page in self._crawl(source, dict(cursor or {})):
                yield page
        except errors.FloodWaitError as e:
            raise RetryLater(e.seconds, f"Telegram FloodWait: {e.seconds} s") from e
        except (errors.ChannelPrivateError, errors.ChannelInvalidError, errors.ChannelBannedError) as e:
            raise SourceFailing("channel_private", f"@{source.key}: {e}") from e
        except (errors.UsernameNotOccupiedError, errors.UsernameInvalidError) as e:
            raise SourceFailing("not_found", f"@{source.key}: {e}") from e
        except errors.RPCError as e:
            raise CollectorError(f"@{source.key}: Telegram error {e}", "rpc") from e

    async def _entity(self, name: str, cursor_peer: dict[str, Any] | None) -> Any:
        if name in self._entities:
            return self._entities[name]
        if cursor_peer:
            from telethon.tl.types import InputPeerChannel

            ent: Any = InputPeerChannel(int(cursor_peer["channel_id"]), int(cursor_peer["access_hash"]))
        else:
            self.entity_lookups += 1
            try:
                ent = await self.client.get_entity(name)
            except ValueError as e:  # telethon: 'No user has "x" as username'
                raise SourceFailing("not_found", f"@{name}: {e}") from e
        self._entities[name] = ent
        return ent

    async def _crawl(self, source: SourceSpec, cur: dict[str, Any]) -> AsyncIterator[CrawlPage]:
        name = source.key
        entity = await self._entity(name, cur.get("peer"))
        if not cur.get("peer") and getattr(entity, "access_hash", None) is not None:
            cur["peer"] = {"channel_id": int(entity.id if hasattr(entity, "id") else entity.channel_id),
                           "access_hash": int(entity.access_hash)}
        chan = dict(cur.get("channel") or {"min_id": 0, "recent": []})
        cur["channel"] = chan
        async for page in self._follow(name, entity, chan, cur, prefix=""):
            yield page

        want_discussion = bool((source.options or {}).get("discussion", self.discussion))
        if not want_discussion:
            return
        disc = cur.get("discussion")
        if disc is None:
            group = await self._linked_group(entity)
            if group is None:
                cur["discussion"] = {"none": True}
                yield CrawlPage([], _copy(cur))
                return
            disc = {"peer": {"channel_id": int(group.id), "access_hash": int(group.access_hash)},
                    "min_id": 0, "recent": [], "threads": {}}
            cur["discussion"] = disc
            self._entities[f"{name}#discussion"] = group
        if disc.get("none"):
            return
        group_ent = await self._entity(f"{name}#discussion", disc["peer"])
        async for page in self._follow(name, group_ent, disc, cur, prefix="d"):
            yield page

    async def _linked_group(self, entity: Any) -> Any:
        from telethon.tl.functions.channels import GetFullChannelRequest

        full = await self.client(GetFullChannelRequest(channel=entity))
        linked = getattr(full.full_chat, "linked_chat_id", None)
        if not linked:
            return None
        for chat in full.chats:
            if int(chat.id) == int(linked):
                return chat
        return None

    async def _follow(
        self, name: str, entity: Any, state: dict[str, Any], cur: dict[str, Any], prefix: str
    ) -> AsyncIterator[CrawlPage]:
        threads: dict[str, int] = state.setdefault("threads", {}) if prefix else {}
        recent: list[int] = [int(x) for x in state.get("recent") or []]
        if recent:
            found = await self.client.get_messages(entity, ids=recent)
            posts = []
            for mid, msg in zip(recent, found):
                if msg is None or getattr(msg, "_deleted", False):
                    posts.append(CollectedPost("telegram", name, f"{prefix}{mid}", "", None, deleted=True,
                                               url=f"https://t.me/{name}/{mid}" if not prefix else None))
                else:
                    posts.append(self._post(name, msg, prefix, threads))
            state["recent"] = [m for m, msg in zip(recent, found) if msg is not None]
            yield CrawlPage(posts, _copy(cur))
        batch: list[Any] = []
        min_id = int(state.get("min_id") or 0)
        kwargs: dict[str, Any] = {}
        if min_id == 0 and self.initial_days is not None:
            # First crawl: do not walk the whole history, start ``initial_days`` back.
            kwargs["offset_date"] = datetime.now(timezone.utc) - timedelta(days=self.initial_days)
        async for msg in self.client.iter_messages(entity, min_id=min_id, reverse=True, **kwargs):
            batch.append(msg)
            if len(batch) >= PAGE:
                yield self._page(name, batch, state, cur, prefix, threads)
                batch = []
        if batch:
            yield self._page(name, batch, state, cur, prefix, threads)

    def _page(self, name: str, batch: list[Any], state: dict[str, Any], cur: dict[str, Any], prefix: str,
              threads: dict[str, int]) -> CrawlPage:
        posts = [self._post(name, m, prefix, threads) for m in batch]
        state["min_id"] = max(int(state.get("min_id") or 0), max(int(m.id) for m in batch))
        ids = sorted(set(state.get("recent") or []) | {int(m.id) for m in batch})
        state["recent"] = ids[-self.rescan_count:]
        if prefix and len(threads) > 500:
            for k in sorted(threads, key=int)[:-500]:
                del threads[k]
        return CrawlPage(posts, _copy(cur))

    def _post(self, name: str, msg: Any, prefix: str, threads: dict[str, int]) -> CollectedPost:
        mid = int(msg.id)
        fwd = getattr(msg, "fwd_from", None)
        if prefix and fwd is not None and getattr(fwd, "channel_post", None):
            threads[str(mid)] = int(fwd.channel_post)  # the group's copy of a channel post
        parent, direct = _reply_links(msg, prefix, threads)
        raw = jsonable(msg.to_dict()) if hasattr(msg, "to_dict") else {"id": mid}
        if direct is not None:
            raw["reply_to_post_id"] = direct
        sender = getattr(msg, "sender", None)
        return CollectedPost(
            platform="telegram",
            source_key=name,
            post_id=f"{prefix}{mid}",
            parent_id=parent,
            text=getattr(msg, "message", None) or "",
            published_at=to_utc(getattr(msg, "date", None)),
            edited_at=to_utc(getattr(msg, "edit_date", None)),
            author=getattr(msg, "post_author", None) or _display_name(sender),
            author_id=_author_id(msg, sender),
            url=f"https://t.me/{name}/{mid}" if not prefix else None,
            raw=raw,
        )


def _ref(mid: int, prefix: str, threads: dict[str, int]) -> str:
    """Our id of a message of the chat: a discussion group's copy of a channel post is that post."""
    return str(threads[str(mid)]) if prefix and str(mid) in threads else f"{prefix}{mid}"


def _reply_links(msg: Any, prefix: str, threads: dict[str, int]) -> tuple[str | None, str | None]:
    """(thread top, direct target if another message) of a reply within the same chat."""
    from telethon import utils

    reply = getattr(msg, "reply_to", None)
    direct = getattr(reply, "reply_to_msg_id", None) if reply is not None else None
    if direct is None:  # not a reply, or a reply to a story
        return None, None
    other_chat = getattr(reply, "reply_to_peer_id", None)
    peer = getattr(msg, "peer_id", None)
    if other_chat is not None and (peer is None or utils.get_peer_id(other_chat) != utils.get_peer_id(peer)):
        return None, None  # a reply to a message of another chat: we cannot name that post here
    top = getattr(reply, "reply_to_top_id", None) or direct
    parent = _ref(int(top), prefix, threads)
    target = _ref(int(direct), prefix, threads)
    return parent, (target if target != parent else None)


def _username(entity: Any) -> str | None:
    name = getattr(entity, "username", None)
    if not name:  # collectible usernames: the first active one
        for u in getattr(entity, "usernames", None) or []:
            if getattr(u, "active", False) and getattr(u, "username", None):
                name = u.username
                break
    return str(name).lower() if name else None


def _author_id(msg: Any, sender: Any) -> str | None:
    from telethon import utils

    name = _username(sender)
    if name:
        return f"@{name}"
    sender_id = getattr(msg, "sender_id", None)
    if sender_id is None and getattr(msg, "from_id", None) is not None:
        sender_id = utils.get_peer_id(msg.from_id)
    return str(sender_id) if sender_id is not None else None


def _display_name(entity: Any) -> str | None:
    if entity is None:
        return None
    title = getattr(entity, "title", None)
    if title:
        return str(title)
    name = " ".join(x for x in (getattr(entity, "first_name", None), getattr(entity, "last_name", None)) if x)
    return name or None


def _copy(cur: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(cur)
