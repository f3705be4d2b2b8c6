"""The incident service: grouping, routing, deadlines, state changes, reviews.

Every function works inside the caller's session (one transaction) and takes
the clock as ``now``; every change of an incident writes an ``IncidentEvent``
with the actor and the time (vocabulary in ``storage/events.py``). See
docs/incidents.md for the algorithm, thresholds and the state machine.

Functions that need the region profile (routing, deadline rules) take it as
``profile``; where the call signature has it as an optional keyword it
defaults to the profile of the incident's region from the installed
configuration.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Iterable, Protocol, Sequence

from sqlalchemy.orm import Session

from config import RegionProfile
from nlp.text import NUM, lemmas
from storage import events as ev
from storage import incidents as q
from storage.models import Authority, Incident, IncidentEvent, Post, ReviewDecision

from .deadlines import STAGES, add_rule, compute_deadlines, escalation_times, reminder_times, select_rule
from .routing import RoutingDecision, route
from pipeline.errors import Refused
from pipeline.labels import STATE_NAMES

__all__ = [
    "Action",
    "GroupingOptions",
    "IncidentError",
    "TransitionError",
    "ALLOWED",
    "acknowledge",
    "apply_review",
    "check_deadlines",
    "detect_official_replies",
    "ingest_analysis",
    "mark_fake",
    "merge",
    "reclassify",
    "record_response",
    "reject",
    "reopen",
    "reroute",
    "resolve",
    "route_incident",
    "similarity",
    "split",
    "sync_authorities",
    "transition",
]

SYSTEM = "system"
log = logging.getLogger(__name__)

#: Allowed state changes (``answered -> answered``: interim then final answer).
ALLOWED: dict[str, frozenset[str]] = {
    ev.NEW: frozenset({ev.ROUTED, ev.REJECTED}),
    ev.ROUTED: frozenset({ev.ACKNOWLEDGED, ev.ANSWERED, ev.RESOLVED, ev.REJECTED}),
    ev.ACKNOWLEDGED: frozenset({ev.ANSWERED, ev.RESOLVED, ev.REJECTED}),
    ev.ANSWERED: frozenset({ev.ANSWERED, ev.RESOLVED, ev.REJECTED}),
    ev.RESOLVED: frozenset({ev.REOPENED}),
    ev.REJECTED: frozenset({ev.REOPENED}),
    ev.REOPENED: frozenset({ev.ACKNOWLEDGED, ev.ANSWERED, ev.RESOLVED, ev.REJECTED}),
}
#: Event kind written for a change into a state (``answered`` names the answer kind).
_KIND_OF_STATE = {
    ev.ROUTED: ev.ROUTED_EV,
    ev.ACKNOWLEDGED: ev.ACKNOWLEDGED_EV,
    ev.RESOLVED: ev.RESOLVED_EV,
    ev.REJECTED: ev.REJECTED_EV,
    ev.REOPENED: ev.REOPENED_EV,
}
_ANSWER_KIND = {"first_reply": ev.ANSWER_FIRST, "interim": ev.ANSWER_INTERIM, "final": ev.ANSWER_FINAL}
OPEN_STATES = (ev.ROUTED, ev.ACKNOWLEDGED, ev.ANSWERED, ev.REOPENED)


class IncidentError(Refused):
    """A request the incident's current state does not allow (Russian message)."""


class TransitionError(IncidentError):
    pass


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=1)
def _installed_configuration():  # noqa: ANN202
    from config import load_configuration

    return load_configuration()


def _profile(incident_region: str, profile: RegionProfile | None) -> RegionProfile:
    if profile is not None:
        return profile
    cfg = _installed_configuration()
    try:
        return cfg.regions[incident_region]
    except KeyError:
        raise IncidentError(f"регион {incident_region!r} не найден в конфигурации") from None


def _set_detail(incident: Incident, key: str, value: Any) -> None:
    details = dict(incident.details or {})
    details[key] = value
    incident.details = details  # reassign: JSON columns do not track in-place changes


def _event(session: Session, incident: Incident, kind: str, actor: str, now: datetime, **kw: Any) -> IncidentEvent:
    incident.updated_at = now
    return q.add_event(session, incident, kind, actor, now, **kw)


def _notify(session: Session, profile: RegionProfile | None, event: IncidentEvent, now: datetime) -> None:
    """Hand the event to the notification outbox (``pipeline.notify``) in this transaction.

    A failure to build a notification must not lose the incident change: it
    is rolled back to a savepoint and logged, and the scheduler's
    ``notify_recent`` retries the event on its next pass.
    """
    if profile is None:
        return
    try:
        from pipeline.notify import notify_event
    except ImportError:  # notifications not installed: the scheduler's notify_recent catches up
        return
    try:
        with session.begin_nested():
            notify_event(session, profile, event, now)
    except Exception:  # noqa: BLE001
        log.exception("notification of event %s (%s) of incident %s failed; left to the scheduler", event.id, event.kind, event.incident_id)


def _require_open(incident: Incident) -> None:
    if incident.merged_into_id is not None:
        raise IncidentError(f"инцидент №{incident.id} объединён с №{incident.merged_into_id}: работайте с ним")


def _authority(session: Session, profile: RegionProfile, code: str) -> Authority:
    row = q.authority_by_code(session, profile.code, code)
    if row is None:
        sync_authorities(session, profile)
        row = q.authority_by_code(session, profile.code, code)
    if row is None:
        raise IncidentError(f"в профиле региона {profile.code} нет органа {code!r}")
    return row


def sync_authorities(session: Session, profile: RegionProfile) -> dict[str, Authority]:
    """Create or update the region's authorities from its profile (by code)."""
    region = profile.code
    for a in profile.region.authorities:
        q.upsert_authority(
            session,
            region,
            a.code,
            {
                "name": a.name,
                "role": a.role.value,
                "email": a.email,
                "telegram_chat_id": a.telegram_chat_id,
                "webhook_url": a.webhook_url,
                "details": {
                    "sectors": list(a.sectors),
                    "municipality": a.municipality,
                    "vk_accounts": [str(x) for x in a.vk_accounts],
                    "telegram_accounts": list(a.telegram_accounts),
                },
            },
        )
    session.flush()
    return q.authorities_by_code(session, region)


# --------------------------------------------------------------------------- grouping


@dataclass(frozen=True)
class GroupingOptions:
    #: A post joins an incident whose last post is at most this old.
    window: timedelta = timedelta(hours=72)
    #: Share of the post's content lemmas found among the incident's lemmas.
    threshold: float = 0.3
    #: The same, for a post whose municipality is unknown joining an incident of a known one
    #: (comments in a city's group seldom name the city).
    unknown_place_threshold: float = 0.5
    #: ... and with at least this many content lemmas in common.
    unknown_place_min_shared: int = 3
    #: Lemmas kept per incident (most frequent first).
    max_lemmas: int = 400


DEFAULT_GROUPING = GroupingOptions()
_SHORT = 3  # lemmas shorter than this carry no topic (и, на, ул ...)
#: Words common to complaints about anything: they say nothing about which problem it is.
GENERIC = frozenset(
    "нет не день неделя месяц год час улица дом город район житель человек люди опять снова уже весь "
    "сколько можно никто ничто почему когда сегодня вчера очень просто весь который такой это".split()
)
_WORDISH = re.compile(r"^[^\W\d_]+$")


_NUMBER = re.compile(r"(?<![\w.,:+\-])(\d{1,4})(?!\w)(?![.,:]\d)")


def content_lemmas(text: str | None) -> set[str]:
    """Topic-bearing lemmas of a text: no stop words or very short words; standalone numbers
    (house, route, school numbers) are kept as ``#12``."""
    words = {
        lem for lem in lemmas(text)
        if lem != NUM and len(lem) >= _SHORT and lem not in GENERIC and _WORDISH.match(lem)
    }
    words.update(f"#{m}" for m in _NUMBER.findall(text or ""))
    return words


def similarity(post_lemmas: set[str], incident_lemmas: Iterable[str]) -> float:
    """Share of the post's lemmas the incident already has (0..1)."""
    if not post_lemmas:
        return 0.0
    inc = set(incident_lemmas)
    return len(post_lemmas & inc) / len(post_lemmas)


def _category_compatible(a: str | None, b: str | None) -> bool:
    """Same category, or one side is unknown / «прочее» (same sector is checked by the query)."""
    return a == b or a in (None, "other") or b in (None, "other")


def _signature(incident: Incident) -> Counter:
    return Counter((incident.details or {}).get("lemmas") or {})


def _store_signature(incident: Incident, counts: Counter, options: GroupingOptions) -> None:
    top = dict(counts.most_common(options.max_lemmas))
    _set_detail(incident, "lemmas", top)


def _rebuild_signature(session: Session, incident: Incident, options: GroupingOptions = DEFAULT_GROUPING) -> None:
    counts: Counter = Counter()
    hashes = []
    for p in q.posts_of(session, incident.id):
        counts.update(content_lemmas(p.text))
        hashes.append(p.content_hash)
    _store_signature(incident, counts, options)
    _set_detail(incident, "hashes", sorted(set(hashes))[-200:])
    posts = q.posts_of(session, incident.id)
    if posts:
        incident.first_seen_at = min(p.published_at for p in posts)
        incident.last_post_at = max(p.published_at for p in posts)


class AnalysisLike(Protocol):
    relevant: bool
    unsure: bool
    sector: str | None
    category: str | None
    urgency: str | None
    municipality: str | None


def _title(text: str) -> str:
    one = " ".join((text or "").split())
    return one if len(one) <= 140 else one[:139].rstrip() + "…"


def find_incident(
    session: Session, profile: RegionProfile, post: Post, sector: str | None, category: str | None,
    municipality: str | None, options: GroupingOptions = DEFAULT_GROUPING,
) -> tuple[Incident | None, float]:
    """The open incident this post belongs to, with the similarity that decided it."""
    since = post.published_at - options.window
    words = content_lemmas(post.text)
    best: tuple[float, int, Incident] | None = None
    for inc in q.candidate_incidents(session, profile.code, sector, municipality, since,
                                     any_municipality=municipality is None):
        if not _category_compatible(inc.category, category):
            continue
        if post.content_hash in ((inc.details or {}).get("hashes") or []):
            return inc, 1.0
        signature = _signature(inc)
        sim = similarity(words, signature)
        if inc.municipality != municipality and (
            sim < options.unknown_place_threshold or len(words & signature.keys()) < options.unknown_place_min_shared
        ):
            continue
        if sim >= options.threshold:
            key = (sim + (0.05 if inc.category == category else 0.0), inc.id, inc)
            if best is None or key[:2] > best[:2]:
                best = key
    return (best[2], best[0]) if best else (None, 0.0)


def ingest_analysis(
    session: Session,
    profile: RegionProfile,
    post: Post,
    analysis: AnalysisLike,
    now: datetime,
    options: GroupingOptions = DEFAULT_GROUPING,
    actor: str = SYSTEM,
) -> Incident | None:
    """Make a relevant, sure post an incident or join it to the open one about the same problem.

    Returns the incident, or None for posts that are not problems or wait for
    an operator's review. A post already in an incident returns that incident.
    """
    if not analysis.relevant or analysis.unsure:
        return None
    existing = q.incident_of_post(session, post.id)
    if existing is not None:
        return existing
    return _place_post(session, profile, post, analysis.sector, analysis.category, analysis.urgency or "normal",
                       analysis.municipality, now, options, actor)


def _place_post(
    session: Session, profile: RegionProfile, post: Post, sector: str | None, category: str | None, urgency: str,
    municipality: str | None, now: datetime, options: GroupingOptions, actor: str,
) -> Incident:
    incident, sim = find_incident(session, profile, post, sector, category, municipality, options)
    if incident is not None:
        _join(session, profile, incident, post, urgency, sim, now, options, actor)
        return incident
    incident = Incident(
        region=profile.code,
        title=_title(post.text),
        sector=sector,
        category=category,
        municipality=municipality,
        urgency=urgency,
        state=ev.NEW,
        created_at=now,
        updated_at=now,
        first_seen_at=post.published_at,
        last_post_at=post.published_at,
        details={},
    )
    session.add(incident)
    session.flush()
    q.attach_post(session, incident, post.id, now)
    _store_signature(incident, Counter(content_lemmas(post.text)), options)
    _set_detail(incident, "hashes", [post.content_hash])
    _event(session, incident, ev.CREATED, actor, now, to_state=ev.NEW, data={"post_id": post.id})
    route_incident(session, profile, incident, actor, now)
    return incident


def _join(
    session: Session, profile: RegionProfile, incident: Incident, post: Post, urgency: str, sim: float,
    now: datetime, options: GroupingOptions, actor: str,
) -> None:
    q.attach_post(session, incident, post.id, now)
    counts = _signature(incident)
    counts.update(content_lemmas(post.text))
    _store_signature(incident, counts, options)
    hashes = list((incident.details or {}).get("hashes") or [])
    if post.content_hash not in hashes:
        _set_detail(incident, "hashes", (hashes + [post.content_hash])[-200:])
    incident.last_post_at = max(incident.last_post_at or post.published_at, post.published_at)
    incident.first_seen_at = min(incident.first_seen_at or post.published_at, post.published_at)
    _event(session, incident, ev.POST_ADDED, actor, now, data={"post_id": post.id, "similarity": round(sim, 3)})
    if urgency == "high" and incident.urgency != "high":
        # an urgent post makes the incident urgent: deadlines of open stages follow
        _change_class(session, profile, incident, incident.sector, incident.category, "high", actor, now,
                      note="срочный пост в инциденте")


# --------------------------------------------------------------------------- routing and deadlines


def _apply_deadlines(profile: RegionProfile, incident: Incident, start: datetime, keep_done: bool = True) -> dict[str, str | None]:
    """Set the due times of the stages not yet done, counting from ``start``."""
    due = compute_deadlines(
        profile.deadlines, profile.region.tz, incident.urgency, start,
        first_reply_at=incident.first_reply_at, interim_at=incident.interim_at,
    )
    _set_detail(incident, "deadline_start", start.isoformat())
    done = _done_stages(incident)
    pinned = set((incident.details or {}).get("pinned_due") or [])
    for stage in STAGES:
        if keep_done and stage in done and getattr(incident, f"{stage}_due") is not None:
            continue
        if stage in pinned:
            continue
        setattr(incident, f"{stage}_due", due.get(stage))
    return {s: (getattr(incident, f"{s}_due").isoformat() if getattr(incident, f"{s}_due") else None) for s in STAGES}


def _deadline_start(incident: Incident) -> datetime | None:
    """Where the countdown of the current assignment started (routing or the last reroute)."""
    raw = (incident.details or {}).get("deadline_start")
    return datetime.fromisoformat(raw) if raw else incident.routed_at


def _done_stages(incident: Incident) -> set[str]:
    done = set()
    if incident.first_reply_at or incident.interim_at or incident.final_at:
        done.add("first_reply")
    if incident.interim_at or incident.final_at:
        done.add("interim")
    if incident.final_at or incident.resolved_at:
        done.add("final")
    return done


def route_incident(session: Session, profile: RegionProfile, incident: Incident, actor: str, now: datetime) -> RoutingDecision:
    """Route a new incident: assignment, deadlines, state ``routed``, event (and notification)."""
    _require_open(incident)
    decision = route(profile, incident.sector, incident.category, incident.municipality, incident.urgency)
    authority = _authority(session, profile, decision.authority)
    q.add_assignment(session, incident, authority.id, actor, now, f"маршрутизация: {decision.rule_label}")
    incident.authority_id = authority.id
    incident.routing_rule = decision.explanation
    incident.routed_at = now
    due = _apply_deadlines(profile, incident, now)
    event = transition(session, incident, ev.ROUTED, actor, now,
                       data={"rule": decision.rule_index, "via": decision.via, "authority": authority.code, "due": due},
                       authority_id=authority.id)
    _reset_deadline_log(incident)
    _notify(session, profile, event, now)
    return decision


def reroute(
    session: Session, incident: Incident, authority_code: str, actor: str, reason: str, now: datetime,
    profile: RegionProfile | None = None, recompute_deadlines: bool = True,
) -> IncidentEvent:
    """Hand the incident to another authority; the old assignment is closed, not lost.

    By default the stages not yet answered get fresh deadlines counted from
    now (the new authority learns of the incident only now; the time lost
    is in the log); ``recompute_deadlines=False`` keeps the old due times.
    """
    _require_open(incident)
    if incident.state in (ev.RESOLVED, ev.REJECTED, ev.NEW):
        raise IncidentError(f"инцидент №{incident.id} в состоянии «{STATE_NAMES[incident.state]}»: перенаправить нельзя")
    profile = _profile(incident.region, profile)
    new = _authority(session, profile, authority_code)
    old_id = incident.authority_id
    if new.id == old_id:
        raise IncidentError(f"инцидент №{incident.id} уже направлен органу {authority_code}")
    q.close_assignment(session, incident.id, now)
    q.add_assignment(session, incident, new.id, actor, now, reason)
    incident.authority_id = new.id
    old_due = {s: (getattr(incident, f"{s}_due").isoformat() if getattr(incident, f"{s}_due") else None) for s in STAGES}
    data: dict[str, Any] = {"from_authority_id": old_id, "to_authority": new.code, "reason": reason, "old_due": old_due}
    if recompute_deadlines:
        _set_detail(incident, "pinned_due", [])
        data["due"] = _apply_deadlines(profile, incident, now)
        _reset_deadline_log(incident)
    event = _event(session, incident, ev.REROUTED, actor, now, authority_id=new.id, data=data)
    _notify(session, profile, event, now)
    return event


def _change_class(
    session: Session, profile: RegionProfile, incident: Incident, sector: str | None, category: str | None,
    urgency: str | None, actor: str, now: datetime, note: str | None = None,
) -> IncidentEvent | None:
    """Write the new classification; re-route if the authority changes, else recount deadlines
    when the urgency changed (the new due times go into the event: the log is append-only)."""
    before = {"sector": incident.sector, "category": incident.category, "urgency": incident.urgency}
    after = {"sector": sector, "category": category, "urgency": urgency or incident.urgency}
    if before == after:
        return None
    incident.sector, incident.category, incident.urgency = after["sector"], after["category"], after["urgency"]
    data: dict[str, Any] = {"from": before, "to": after}
    if note:
        data["note"] = note
    live = incident.state not in (ev.NEW, ev.RESOLVED, ev.REJECTED)
    target = decision = None
    if live:
        decision = route(profile, incident.sector, incident.category, incident.municipality, incident.urgency)
        target = _authority(session, profile, decision.authority)
        start = _deadline_start(incident)
        if target.id == incident.authority_id and before["urgency"] != after["urgency"] and start is not None:
            data["due"] = _apply_deadlines(profile, incident, start)
            _reset_deadline_log(incident)
    event = _event(session, incident, ev.RECLASSIFIED, actor, now, data=data)
    if live and target is not None and decision is not None and target.id != incident.authority_id:
        incident.routing_rule = decision.explanation
        reroute(session, incident, target.code, actor, f"переклассификация: {decision.rule_label}", now, profile)
    return event


def reclassify(
    session: Session, incident: Incident, sector: str | None, category: str | None, urgency: str | None,
    actor: str, now: datetime, profile: RegionProfile | None = None,
) -> IncidentEvent | None:
    """Change sector/category/urgency by hand; re-routes when the responsible authority changes."""
    _require_open(incident)
    profile = _profile(incident.region, profile)
    if sector is not None and profile.sector(sector) is None:
        raise IncidentError(f"неизвестное направление {sector!r}")
    if sector is not None and category is not None and profile.sector(sector).category(category) is None:  # type: ignore[union-attr]
        raise IncidentError(f"в направлении {sector} нет категории {category!r}")
    if urgency is not None and urgency not in ("high", "normal"):
        raise IncidentError(f"срочность должна быть high или normal, а не {urgency!r}")
    return _change_class(session, profile, incident, sector, category, urgency, actor, now)


# --------------------------------------------------------------------------- state changes


def transition(
    session: Session, incident: Incident, to_state: str, actor: str, now: datetime,
    data: dict[str, Any] | None = None, kind: str | None = None, authority_id: int | None = None,
) -> IncidentEvent:
    """Change the state if the state machine allows it and write the event."""
    _require_open(incident)
    if to_state not in ALLOWED:
        raise TransitionError(f"неизвестное состояние {to_state!r}")
    frm = incident.state
    if to_state not in ALLOWED.get(frm, frozenset()):
        raise TransitionError(
            f"инцидент №{incident.id}: переход «{STATE_NAMES.get(frm, frm)}» → «{STATE_NAMES[to_state]}» не допускается"
        )
    kind = kind or _KIND_OF_STATE.get(to_state)
    if kind is None:
        raise TransitionError("для перехода в «дан ответ» используйте record_response")
    incident.state = to_state
    return _event(session, incident, kind, actor, now, from_state=frm, to_state=to_state,
                  authority_id=authority_id or incident.authority_id, data=data)


def acknowledge(session: Session, incident: Incident, actor: str, now: datetime) -> IncidentEvent:
    return transition(session, incident, ev.ACKNOWLEDGED, actor, now)


def record_response(
    session: Session, incident: Incident, kind: str, text: str, author: str, channel: str, now: datetime,
    authority_code: str | None = None, post_id: int | None = None, profile: RegionProfile | None = None,
) -> IncidentEvent:
    """Record an answer (first reply, interim, final): Response row, times, state ``answered``, event.

    A later stage's answer also counts for the earlier ones not yet given
    (a final answer is a reply too). After an interim answer the final
    deadline is recounted from it when the rule says ``after: interim``.
    """
    if kind not in _ANSWER_KIND:
        raise IncidentError(f"вид ответа должен быть first_reply, interim или final, а не {kind!r}")
    if not (text or "").strip():
        raise IncidentError("текст ответа пуст")
    _require_open(incident)
    if ev.ANSWERED not in ALLOWED.get(incident.state, frozenset()):
        raise TransitionError(
            f"инцидент №{incident.id} в состоянии «{STATE_NAMES.get(incident.state, incident.state)}»: ответ записать нельзя"
        )
    profile = _profile(incident.region, profile)
    authority_id = _authority(session, profile, authority_code).id if authority_code else incident.authority_id
    resp = q.add_response(session, incident_id=incident.id, authority_id=authority_id, kind=kind, text=text,
                          author=author, channel=channel, post_id=post_id, at=now)
    if incident.first_reply_at is None:
        incident.first_reply_at = now
    if kind in ("interim", "final") and incident.interim_at is None:
        incident.interim_at = now
    if kind == "final":
        incident.final_at = now
    start = _deadline_start(incident)
    if kind in ("first_reply", "interim") and start is not None:
        _apply_deadlines(profile, incident, start)
    return transition(session, incident, ev.ANSWERED, author, now, kind=_ANSWER_KIND[kind],
                      data={"response_id": resp.id, "channel": channel}, authority_id=authority_id)


def resolve(session: Session, incident: Incident, actor: str, now: datetime, comment: str | None = None) -> IncidentEvent:
    event = transition(session, incident, ev.RESOLVED, actor, now, data={"comment": comment} if comment else None)
    incident.resolved_at = now
    return event


def reject(session: Session, incident: Incident, actor: str, now: datetime, reason: str) -> IncidentEvent:
    if not (reason or "").strip():
        raise IncidentError("укажите причину отклонения")
    return transition(session, incident, ev.REJECTED, actor, now, data={"reason": reason})


def reopen(
    session: Session, incident: Incident, actor: str, now: datetime, reason: str, profile: RegionProfile | None = None,
) -> IncidentEvent:
    """The problem came back: the final stage runs again, counted from now."""
    if not (reason or "").strip():
        raise IncidentError("укажите причину повторного открытия")
    profile = _profile(incident.region, profile)
    if ev.REOPENED not in ALLOWED.get(incident.state, frozenset()):
        transition(session, incident, ev.REOPENED, actor, now)  # raises the TransitionError
    rule = select_rule(profile.deadlines, "final", incident.urgency)
    final_due = add_rule(now, rule, profile.deadlines.working_time, profile.region.tz) if rule else None
    event = transition(session, incident, ev.REOPENED, actor, now,
                       data={"reason": reason, "due": {"final": final_due.isoformat() if final_due else None}})
    incident.resolved_at = None
    incident.final_at = None
    incident.final_due = final_due
    _set_detail(incident, "pinned_due", ["final"])  # later answers do not move it back
    log = dict((incident.details or {}).get("deadline_log") or {})
    log.pop("final", None)
    _set_detail(incident, "deadline_log", log)
    _notify(session, profile, event, now)
    return event


def mark_fake(session: Session, incident: Incident, actor: str, now: datetime, comment: str | None = None) -> IncidentEvent:
    _require_open(incident)
    incident.is_possible_fake = True
    return _event(session, incident, ev.MARKED_FAKE, actor, now, data={"comment": comment} if comment else {})


# --------------------------------------------------------------------------- merge and split


def merge(session: Session, target: Incident, others: Sequence[Incident], actor: str, now: datetime) -> IncidentEvent:
    """Move every post of ``others`` into ``target``; the others are closed as merged (logged on both sides)."""
    _require_open(target)
    others = [o for o in others]
    if not others:
        raise IncidentError("не указаны инциденты для объединения")
    for o in others:
        if o.id == target.id:
            raise IncidentError(f"инцидент №{o.id} нельзя объединить с самим собой")
        _require_open(o)
        if o.region != target.region:
            raise IncidentError(f"инциденты №{target.id} и №{o.id} из разных регионов")
    moved: dict[int, list[int]] = {}
    for o in others:
        ids = q.post_ids_of(session, o.id)
        for pid in ids:
            q.attach_post(session, target, pid, now)
        moved[o.id] = ids
        o.merged_into_id = target.id
        q.close_assignment(session, o.id, now)
        if o.urgency == "high":
            target.urgency = "high"
        _event(session, o, ev.MERGED_INTO, actor, now, data={"into_incident_id": target.id, "post_ids": ids})
    session.expire(target, ["posts"])
    _rebuild_signature(session, target)
    return _event(session, target, ev.MERGED, actor, now,
                  data={"from_incident_ids": [o.id for o in others], "post_ids": sorted(p for ids in moved.values() for p in ids)})


def split(
    session: Session, incident: Incident, post_ids: Sequence[int], actor: str, now: datetime,
    profile: RegionProfile | None = None,
) -> Incident:
    """Move ``post_ids`` to a new incident (same classification, routed now); logged on both."""
    _require_open(incident)
    profile = _profile(incident.region, profile)
    have = set(q.post_ids_of(session, incident.id))
    wanted = sorted(set(post_ids))
    if not wanted:
        raise IncidentError("не указаны посты для выделения")
    missing = [p for p in wanted if p not in have]
    if missing:
        raise IncidentError(f"посты {', '.join(map(str, missing))} не входят в инцидент №{incident.id}")
    if len(wanted) == len(have):
        raise IncidentError("нельзя выделить все посты инцидента: в нём должен остаться хотя бы один")
    posts = [session.get(Post, pid) for pid in wanted]
    first = min(posts, key=lambda p: (p.published_at, p.id))  # type: ignore[union-attr]
    new = Incident(
        region=incident.region, title=_title(first.text), sector=incident.sector, category=incident.category,  # type: ignore[union-attr]
        municipality=incident.municipality, urgency=incident.urgency, state=ev.NEW, created_at=now, updated_at=now,
        details={},
    )
    session.add(new)
    session.flush()
    for pid in wanted:
        q.attach_post(session, new, pid, now)
    session.expire(incident, ["posts"])
    _rebuild_signature(session, incident)
    _rebuild_signature(session, new)
    _event(session, new, ev.CREATED, actor, now, to_state=ev.NEW, data={"split_from": incident.id, "post_ids": wanted})
    _event(session, incident, ev.SPLIT, actor, now, data={"post_ids": wanted, "new_incident_id": new.id})
    if incident.state != ev.NEW:
        route_incident(session, profile, new, actor, now)
    return new


# --------------------------------------------------------------------------- reviews


def apply_review(
    session: Session, post_id: int, decision: str, reviewer: str, now: datetime,
    sector: str | None = None, category: str | None = None, urgency: str | None = None,
    incident_id: int | None = None, comment: str | None = None, profile: RegionProfile | None = None,
) -> ReviewDecision:
    """Store an operator's decision on a post and apply it.

    * ``confirm`` — the model was right: an unsure post becomes (or joins) an incident;
    * ``correct`` — new sector/category/urgency: the post's incident is reclassified
      (re-routed if needed); a post without an incident gets one;
    * ``not_problem`` — the post leaves its incident; an incident left empty is rejected;
    * ``merge`` — the post (with its incident, if it is the only post) joins ``incident_id``;
    * ``fake`` — the post's incident is marked as a possible fake.
    """
    if decision not in ("confirm", "correct", "not_problem", "merge", "fake"):
        raise IncidentError(f"неизвестное решение {decision!r}")
    post = session.get(Post, post_id)
    if post is None:
        raise IncidentError(f"пост №{post_id} не найден")
    analysis = q.analysis_for(session, post_id)
    current = q.incident_of_post(session, post_id)
    region = current.region if current else (profile.code if profile else _installed_configuration().settings.region)
    profile = _profile(region, profile)
    eff_sector = sector or (current.sector if current else analysis.sector if analysis else None)
    eff_category = category or (current.category if current else analysis.category if analysis else None)
    eff_urgency = urgency or (current.urgency if current else analysis.urgency if analysis else None) or "normal"
    municipality = current.municipality if current else (analysis.municipality if analysis else None)
    target_id = incident_id
    if decision == "correct" and not (sector or category or urgency):
        raise IncidentError("для исправления укажите направление, категорию или срочность")
    if decision == "merge" and incident_id is None:
        raise IncidentError("для объединения укажите инцидент")
    if decision in ("confirm", "correct") and eff_sector is None:
        raise IncidentError("у поста нет направления: используйте «исправить» и укажите его")

    if decision in ("confirm", "correct"):
        if current is None:
            inc = _place_post(session, profile, post, eff_sector, eff_category, eff_urgency, municipality, now,
                              DEFAULT_GROUPING, reviewer)
            target_id = inc.id
        else:
            target_id = current.id
            if decision == "correct":
                _require_open(current)
                _change_class(session, profile, current, eff_sector, eff_category, eff_urgency, reviewer, now,
                              note=comment)
    elif decision == "not_problem":
        if current is not None:
            _remove_post(session, current, post_id, reviewer, now, "не проблема")
            target_id = current.id
    elif decision == "merge":
        target = q.get_incident(session, incident_id)  # type: ignore[arg-type]
        if target is None:
            raise IncidentError(f"инцидент №{incident_id} не найден")
        if current is None:
            q.attach_post(session, target, post_id, now)
            _rebuild_signature(session, target)
            _event(session, target, ev.POST_ADDED, reviewer, now, data={"post_id": post_id, "review": True})
        elif current.id != target.id:
            if len(q.post_ids_of(session, current.id)) == 1:
                merge(session, target, [current], reviewer, now)
            else:
                _remove_post(session, current, post_id, reviewer, now, f"перенесён в инцидент №{target.id}")
                q.attach_post(session, target, post_id, now)
                _rebuild_signature(session, target)
                _event(session, target, ev.POST_ADDED, reviewer, now, data={"post_id": post_id, "review": True})
    elif decision == "fake":
        if current is not None:
            mark_fake(session, current, reviewer, now, comment)
            target_id = current.id
    return q.add_review_decision(
        session, post_id=post_id, incident_id=target_id, reviewer=reviewer, decision=decision,
        relevant=decision != "not_problem", sector=eff_sector if decision != "not_problem" else None,
        category=eff_category if decision != "not_problem" else None,
        urgency=eff_urgency if decision != "not_problem" else None, comment=comment, at=now,
    )


def _remove_post(session: Session, incident: Incident, post_id: int, actor: str, now: datetime, reason: str) -> None:
    q.detach_post(session, post_id)
    session.expire(incident, ["posts"])
    _event(session, incident, ev.POST_REMOVED, actor, now, data={"post_id": post_id, "reason": reason})
    if q.post_ids_of(session, incident.id):
        _rebuild_signature(session, incident)
    elif ev.REJECTED in ALLOWED.get(incident.state, frozenset()) and incident.merged_into_id is None:
        transition(session, incident, ev.REJECTED, actor, now, data={"reason": f"в инциденте не осталось постов ({reason})"})


# --------------------------------------------------------------------------- deadlines watch


@dataclass(frozen=True)
class Action:
    """A reminder or escalation that fell due, already recorded as an event."""

    kind: str  # "reminder" | "escalation"
    incident_id: int
    stage: str
    due: datetime
    event_id: int
    minutes_before: int | None = None
    level: int | None = None
    role: str | None = None
    #: Authority code that must be told.
    recipient: str | None = None
    dedup_key: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def _reset_deadline_log(incident: Incident) -> None:
    _set_detail(incident, "deadline_log", {})


def watched_stage(incident: Incident) -> str | None:
    """The stage whose deadline is watched: the first not yet done."""
    done = _done_stages(incident)
    for stage in STAGES:
        if stage not in done:
            return stage
    return None


def _role_recipient(session: Session, profile: RegionProfile, incident: Incident, role: str) -> str | None:
    if role == "specialist":
        a = session.get(Authority, incident.authority_id) if incident.authority_id else None
        return a.code if a else None
    if role == "sector_head":
        block = profile.block_for_sector(incident.sector or "")
        if block is not None:
            return block.head
        role = "head"
    for a in profile.region.authorities:
        if a.role.value == role:
            return a.code
    return None


def check_deadlines(session: Session, profile: RegionProfile, now: datetime) -> list[Action]:
    """Reminders before and escalations after the watched deadline of every open incident.

    Idempotent: what was sent is kept per stage in ``details.deadline_log``
    (and as events), so each reminder and each escalation level happens
    once however often this runs. Incidents are locked while checked
    (``SELECT … FOR UPDATE`` on PostgreSQL) so two schedulers do not both act.
    """
    actions: list[Action] = []
    policy = profile.deadlines
    for inc in q.incidents_to_check(session, profile.code):
        stage = watched_stage(inc)
        if stage is None:
            continue
        due = getattr(inc, f"{stage}_due")
        if due is None:
            continue
        if due - timedelta(minutes=max(policy.reminders_minutes or [0])) > now:
            continue  # nothing due yet: do not lock
        inc = q.get_incident(session, inc.id, lock=True) or inc
        log = {k: dict(v) for k, v in ((inc.details or {}).get("deadline_log") or {}).items()}
        entry = log.setdefault(stage, {})
        changed = False
        # reminders: before the deadline only; several due at once give one (the nearest)
        sent = set(entry.get("reminders") or [])
        fresh = [(m, at) for m, at in reminder_times(due, policy.reminders_minutes) if at <= now < due and m not in sent]
        if fresh:
            minutes = min(m for m, _ in fresh)
            recipient = _role_recipient(session, profile, inc, "specialist")
            event = _event(session, inc, ev.REMINDER, SYSTEM, now, authority_id=inc.authority_id,
                           data={"stage": stage, "minutes_before": minutes, "due": due.isoformat(), "recipient": recipient})
            entry["reminders"] = sorted(sent | {m for m, _ in fresh})
            changed = True
            actions.append(Action("reminder", inc.id, stage, due, event.id, minutes_before=minutes, recipient=recipient,
                                  dedup_key=f"reminder:{inc.id}:{stage}:{due.isoformat()}:{minutes}", data=event.data))
            _notify(session, profile, event, now)
        # escalations: each level once
        level_done = int(entry.get("level") or 0)
        for level, role, at in escalation_times(due, policy):
            if level <= level_done or at > now:
                continue
            recipient = _role_recipient(session, profile, inc, role)
            rec_row = q.authority_by_code(session, profile.code, recipient) if recipient else None
            event = _event(session, inc, ev.ESCALATED, SYSTEM, now, authority_id=rec_row.id if rec_row else None,
                           data={"stage": stage, "level": level, "role": role, "recipient": recipient,
                                 "due": due.isoformat(), "overdue_minutes": int((now - due).total_seconds() // 60)})
            entry["level"] = level
            inc.escalation_level = max(inc.escalation_level or 0, level)
            changed = True
            actions.append(Action("escalation", inc.id, stage, due, event.id, level=level, role=role, recipient=recipient,
                                  dedup_key=f"escalation:{inc.id}:{stage}:{due.isoformat()}:{level}", data=event.data))
            _notify(session, profile, event, now)
        if changed:
            log[stage] = entry
            _set_detail(inc, "deadline_log", log)
    session.flush()
    return actions


# --------------------------------------------------------------------------- official replies


def detect_official_replies(session: Session, profile: RegionProfile, now: datetime) -> list[IncidentEvent]:
    """A reply by an authority's official account to an incident's post is that authority's first reply.

    VK: a comment under the post by one of the authority's ``vk_accounts``. Telegram: a message
    replying to the post (a comment in the channel's discussion group, a reply in a chat, a channel
    replying to its own post) by one of its ``telegram_accounts`` (see ``_telegram_replies``).
    The reply counts at its own time (not later than ``now``). Only incidents still waiting for a
    first reply are considered; each reply is recorded once (its ``Response`` row names the post).
    """
    return _vk_replies(session, profile, now) + _telegram_replies(session, profile, now)


def _waiting(incident: Incident | None) -> bool:
    return (incident is not None and incident.first_reply_at is None and incident.merged_into_id is None
            and incident.state in OPEN_STATES)


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
        seen.add(incident.id)
        code = accounts[str(comment.author_id)]
        at = min(comment.published_at, now)
        out.append(
            record_response(session, incident, "first_reply", comment.text or "(ответ в комментарии)",
                            comment.author or f"vk:{comment.author_id}", "vk", at, authority_code=code,
                            post_id=comment.id, profile=profile)
        )
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
    since = q.oldest_waiting_for_first_reply(session, profile.code, OPEN_STATES)
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
