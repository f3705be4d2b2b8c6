"""Official replies: an authority's account answering an incident's post is its first reply."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from config import RegionProfile
from storage import events as ev
from storage import incidents as q
from storage.models import Incident, IncidentEvent

from .lifecycle import record_response


def detect_official_replies(session: Session, profile: RegionProfile, now: datetime) -> list[IncidentEvent]:
    """A reply by an authority's official account to an incident's post is that authority's first reply.

    VK: a comment under the post by one of the authority's ``vk_accounts``. Telegram: a message
    replying to the post (a comment in the channel's discussion group, a reply in a chat, a channel
    replying to its own post) by one of its ``telegram_accounts`` (see ``_telegram_replies``).
    The reply counts at its own time (not later than ``now``) — unless its quality reading holds it
    back (formulaic, refusal, rude: ``lifecycle.record_response``), then the incident keeps waiting. Only incidents still waiting for a
    first reply are considered; each reply is recorded once (its ``Response`` row names the post).
    """
    return _vk_replies(session, profile, now) + _telegram_replies(session, profile, now)


def _waiting(incident: Incident | None) -> bool:
    return (incident is not None and incident.first_reply_at is None and incident.merged_into_id is None
            and incident.state in ev.ROUTED_OPEN_STATES)


def _vk_replies(session: Session, profile: RegionProfile, now: datetime) -> list[IncidentEvent]:
    accounts: dict[str, str] = {}
    for a in profile.region.authorities:
        for vk_id in a.vk_accounts:
            accounts.setdefault(str(vk_id), a.code)
    out: list[IncidentEvent] = []
    seen: set[int] = set()
    for incident, _parent, comment in q.unanswered_comments(session, profile.code, sorted(accounts)):
        if incident.id in seen or not _waiting(incident):
            continue
        code = accounts[str(comment.author_id)]
        at = min(comment.published_at, now)
        event = record_response(session, incident, "first_reply", comment.text or "(ответ в комментарии)",
                                comment.author or f"vk:{comment.author_id}", "vk", at, authority_code=code,
                                post_id=comment.id, profile=profile)
        out.append(event)
        if event.kind != ev.ANSWER_FLAGGED:  # a held-back answer leaves the incident waiting for a real one
            seen.add(incident.id)
    return out


def telegram_account_keys(profile: RegionProfile) -> dict[str, str]:
    """``author_id`` values of the authorities' Telegram accounts → authority code (first one wins).

    The collectors store ``"@" + username`` (lower case) for senders with a public username and
    the numeric id for the others; the profile holds usernames lower case without «@», or ids.
    """
    keys: dict[str, str] = {}
    for a in profile.region.authorities:
        for account in a.telegram_accounts:
            key = account if account.lstrip("-").isdigit() else f"@{account.lower().removeprefix('@')}"
            keys.setdefault(key, a.code)
    return keys


def _telegram_replies(session: Session, profile: RegionProfile, now: datetime) -> list[IncidentEvent]:
    """Telegram messages by official accounts that reply to an incident's post.

    A message answers the incident of the message it replies to directly
    (``raw["reply_to_post_id"]``) if that one is in an incident, else the
    incident of its thread's top post (``parent_external_id``: for a
    discussion-group comment, the channel post it is under).
    """
    accounts = telegram_account_keys(profile)
    if not accounts:
        return []
    since = q.oldest_waiting_for_first_reply(session, profile.code, ev.ROUTED_OPEN_STATES)
    if since is None:
        return []  # nobody waits: nothing to look for
    out: list[IncidentEvent] = []
    for msg in q.unrecorded_replies(session, "telegram", sorted(accounts), since):
        direct = (msg.raw or {}).get("reply_to_post_id") if isinstance(msg.raw, dict) else None
        targets = [t for t in (direct, msg.parent_external_id) if t]
        found = {p.external_id: inc for inc, p in
                 q.incident_posts_by_external(session, profile.code, "telegram", msg.source_key, targets)}
        incident = next((found[t] for t in targets if t in found), None)
        if incident is None or not _waiting(incident):
            continue
        at = min(msg.published_at, now)
        out.append(
            record_response(session, incident, "first_reply", (msg.text or "").strip() or "(ответ в Telegram)",
                            msg.author or msg.author_id or "telegram", "telegram", at,
                            authority_code=accounts[str(msg.author_id)], post_id=msg.id, profile=profile)
        )
    return out


def official_account_ids(profile: RegionProfile) -> set[str]:
    """``author_id`` values of every official account, VK and Telegram: their comments are answers, not posts
    to classify. Telegram keys never look like VK ids except numeric ids listed in ``telegram_accounts``."""
    return {str(x) for a in profile.region.authorities for x in a.vk_accounts} | set(telegram_account_keys(profile))
