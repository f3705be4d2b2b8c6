"""Grouping: a relevant post becomes an incident or joins the open one about the same problem."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Protocol

from sqlalchemy.orm import Session

from config import RegionProfile
from nlp.text import NUM, lemmas
from storage import events as ev
from storage import incidents as q
from storage.models import Incident, Post

from .assignment import _change_class, route_incident
from .common import SYSTEM, _event, _set_detail


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
    municipality: str | None, options: GroupingOptions = DEFAULT_GROUPING, words: set[str] | None = None,
) -> tuple[Incident | None, float]:
    """The open incident this post belongs to, with the similarity that decided it.

    ``words``: the post's ``content_lemmas`` when the caller has them already.
    """
    since = post.published_at - options.window
    if words is None:
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
    *,
    known_unplaced: bool = False,
) -> Incident | None:
    """Make a relevant, sure post an incident or join it to the open one about the same problem.

    Returns the incident, or None for posts that are not problems or wait for
    an operator's review. A post already in an incident returns that incident;
    ``known_unplaced``: the caller has just looked and the post is in none (the
    lookup is not repeated).
    """
    if not analysis.relevant or analysis.unsure:
        return None
    if not known_unplaced:
        existing = q.incident_of_post(session, post.id)
        if existing is not None:
            return existing
    return _place_post(session, profile, post, analysis.sector, analysis.category, analysis.urgency or "normal",
                       analysis.municipality, now, options, actor)


def _place_post(
    session: Session, profile: RegionProfile, post: Post, sector: str | None, category: str | None, urgency: str,
    municipality: str | None, now: datetime, options: GroupingOptions, actor: str,
) -> Incident:
    words = content_lemmas(post.text)
    incident, sim = find_incident(session, profile, post, sector, category, municipality, options, words)
    if incident is not None:
        _join(session, profile, incident, post, words, urgency, sim, now, options, actor)
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
    _store_signature(incident, Counter(words), options)
    _set_detail(incident, "hashes", [post.content_hash])
    _event(session, incident, ev.CREATED, actor, now, to_state=ev.NEW, data={"post_id": post.id})
    route_incident(session, profile, incident, actor, now)
    return incident


def _join(
    session: Session, profile: RegionProfile, incident: Incident, post: Post, words: set[str], urgency: str,
    sim: float, now: datetime, options: GroupingOptions, actor: str,
) -> None:
    q.attach_post(session, incident, post.id, now)
    counts = _signature(incident)
    counts.update(words)
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
