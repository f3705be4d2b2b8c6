"""A fake telethon client for the MTProto collector (no MTProto server exists here).

It implements the part of ``TelegramClient`` the collector uses, returns telethon's real TL
objects (``types.Channel``, ``types.User``, ``types.Message``) and raises telethon's real errors
(``FloodWaitError``, ``ValueError`` for unknown usernames), so the adapter code is exercised as
with a real client. Like the real client, every message it returns has been through telethon's
own ``Message._finish_init`` with the users and chats of the answer, so ``message.sender`` is the
real entity (a ``User``, or the ``Channel`` for channel posts and comments written as a channel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, AsyncIterator

from telethon.errors import FloodWaitError
from telethon.tl import types
from telethon.tl.functions.channels import GetFullChannelRequest


@dataclass
class FakeChannel:
    entity: types.Channel
    messages: dict[int, types.Message] = field(default_factory=dict)
    linked: "FakeChannel | None" = None

    def add(self, text: str, *, date: datetime | None = None, reply_to: int | None = None,
            fwd_channel_post: int | None = None, author: str | None = None, from_user: int | None = None,
            from_channel: int | None = None, reply_top: int | None = None, reply_peer: int | None = None,
            ) -> types.Message:
        """A new message. ``reply_to`` is the message replied to; ``reply_top`` the thread's top message
        when that is another one (a reply to a comment); ``reply_peer`` the channel id of another chat
        the replied message is in. ``from_user`` / ``from_channel``: the sender in a group."""
        mid = max(self.messages, default=0) + 1
        from_id = types.PeerUser(from_user) if from_user else types.PeerChannel(from_channel) if from_channel else None
        msg = types.Message(
            id=mid, peer_id=types.PeerChannel(self.entity.id), message=text,
            date=date or datetime.now(timezone.utc) - timedelta(minutes=10), post_author=author,
            from_id=from_id, post=bool(self.entity.broadcast),
            reply_to=types.MessageReplyHeader(
                reply_to_msg_id=reply_to, reply_to_top_id=reply_top,
                reply_to_peer_id=types.PeerChannel(reply_peer) if reply_peer else None) if reply_to else None,
            fwd_from=types.MessageFwdHeader(date=datetime.now(timezone.utc), channel_post=fwd_channel_post)
            if fwd_channel_post else None,
        )
        self.messages[mid] = msg
        return msg

    def edit(self, mid: int, text: str) -> None:
        self.messages[mid].message = text
        self.messages[mid].edit_date = datetime.now(timezone.utc)


class FakeTelegramClient:
    def __init__(self) -> None:
        self.channels: dict[str, FakeChannel] = {}
        self.by_id: dict[int, FakeChannel] = {}
        self.users: dict[int, types.User] = {}
        # what telethon's Message._finish_init reads from the client
        self._self_id = 1
        self._mb_entity_cache: dict[int, Any] = {}
        self.get_entity_calls: list[str] = []
        self.flood_after: int | None = None  # raise FloodWaitError after this many yielded messages
        self.flood_seconds = 42
        self.yielded = 0
        self.private: set[str] = set()

    def add_channel(self, username: str, *, megagroup: bool = False) -> FakeChannel:
        cid = 1000 + len(self.by_id)
        ent = types.Channel(id=cid, title=f"Канал {username}", photo=types.ChatPhotoEmpty(),
                            date=datetime(2020, 1, 1, tzinfo=timezone.utc), access_hash=cid * 7919,
                            username=username, broadcast=not megagroup, megagroup=megagroup)
        ch = FakeChannel(ent)
        self.channels[username] = ch
        self.by_id[cid] = ch
        return ch

    def add_user(self, user_id: int, username: str | None = None, first_name: str = "Иван",
                 last_name: str | None = None) -> types.User:
        user = types.User(id=user_id, username=username, first_name=first_name, last_name=last_name,
                          access_hash=user_id * 31)
        self.users[user_id] = user
        return user

    def _finished(self, msg: types.Message | None) -> types.Message | None:
        """The message as the real client hands it out: sender and chat resolved from the answer's entities."""
        if msg is None:
            return None
        from telethon import utils

        entities = {utils.get_peer_id(x): x for x in [*self.users.values(), *(c.entity for c in self.by_id.values())]}
        msg._finish_init(self, entities, None)
        return msg

    def link(self, channel: FakeChannel, group: FakeChannel) -> None:
        channel.linked = group

    def _resolve(self, entity: Any) -> FakeChannel:
        cid = getattr(entity, "channel_id", None) or getattr(entity, "id", None)
        ch = self.by_id.get(int(cid)) if cid is not None else None
        if ch is None:
            raise ValueError(f"Could not find the input entity for {entity!r}")
        if isinstance(entity, types.InputPeerChannel) and entity.access_hash != ch.entity.access_hash:
            raise ValueError("bad access hash")
        return ch

    async def get_entity(self, username: str) -> types.Channel:
        self.get_entity_calls.append(username)
        if username not in self.channels:
            raise ValueError(f'No user has "{username}" as username')
        return self.channels[username].entity

    async def get_messages(self, entity: Any, ids: list[int]) -> list[types.Message | None]:
        ch = self._resolve(entity)
        return [self._finished(ch.messages.get(int(i))) for i in ids]

    async def iter_messages(self, entity: Any, min_id: int = 0, reverse: bool = False,
                            offset_date: datetime | None = None) -> AsyncIterator[types.Message]:
        assert reverse, "the collector must read oldest first"
        ch = self._resolve(entity)
        for mid in sorted(m for m in ch.messages if m > min_id):
            if offset_date is not None and ch.messages[mid].date <= offset_date:
                continue  # with reverse=True telethon returns messages after offset_date
            if self.flood_after is not None and self.yielded >= self.flood_after:
                self.flood_after = None
                raise FloodWaitError(request=None, capture=self.flood_seconds)
            self.yielded += 1
            yield self._finished(ch.messages[mid])

    async def __call__(self, request: Any) -> Any:
        if isinstance(request, GetFullChannelRequest):
            ch = self._resolve(request.channel)
            linked = ch.linked
            return SimpleNamespace(
                full_chat=SimpleNamespace(id=ch.entity.id, linked_chat_id=linked.entity.id if linked else None),
                chats=[ch.entity] + ([linked.entity] if linked else []), users=[],
            )
        raise NotImplementedError(type(request).__name__)
