"""Grouping: a relevant post becomes an incident or joins the open one about the same problem."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from heapq import nsmallest
from typing import Any, Collection, Iterable, Mapping, Protocol

from sqlalchemy.orm import Session

from config import RegionProfile
from nlp.addresses import address_labels, key_label, street_addresses
from nlp.morph import lemma as _lemma
from nlp.text import NUM, lemmas
from storage import events as ev
from storage import incidents as q
from storage.models import Incident, Post

from .assignment import _change_class, route_incident
from .common import SYSTEM, _event

#: How long an incident accepts posts after it was opened (its first post), per sector; see docs/incidents.md.
MAX_AGE_BY_SECTOR: dict[str, timedelta] = {
    "transport": timedelta(days=3),  # a bus that did not come is today's problem; next week's is another one
}


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
    #: Lemmas kept per incident (most frequent first, ties by the lemma).
    max_lemmas: int = 400
    #: An incident accepts posts published at most this long after its first post; a later
    #: post about the same problem opens a follow-up incident linked to it (``details.follows``).
    max_age: timedelta = timedelta(days=7)
    #: ``max_age`` of particular sectors.
    max_age_by_sector: Mapping[str, timedelta] = field(default_factory=lambda: dict(MAX_AGE_BY_SECTOR))
    #: A post whose municipality is unknown joins only an incident with a post from the same source or
    #: naming the same address (``addresses_of``); off, such posts of all towns meet in one bucket.
    unknown_place_needs_source_or_address: bool = True
    #: Address-level incidents: a post naming a street address (``nlp.addresses``) joins an incident naming
    #: the same one (any municipality for a post that names none, no lemma threshold); a post of an unknown
    #: municipality never joins one of a known one naming only other addresses.
    address_level: bool = True

    def age_limit(self, sector: str | None) -> timedelta:
        return self.max_age_by_sector.get(sector or "", self.max_age)


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


_HASHES = 200


def signature_of(details: Mapping[str, Any] | None) -> Counter:
    """The lemma counts of an incident's ``details`` (a canonical list of ``[lemma, count]``,
    or the mapping older versions stored)."""
    raw = (details or {}).get("lemmas") or {}
    return Counter(dict(raw) if isinstance(raw, list) else raw)


def _canonical(counts: Counter) -> list[list[Any]]:
    """Most frequent first, ties by the lemma: the same list whatever the insertion or hash order."""
    return [[w, c] for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _top(counts: Counter, n: int) -> Counter:
    if len(counts) <= n:
        return counts
    return Counter(dict(nsmallest(n, counts.items(), key=lambda kv: (-kv[1], kv[0]))))


_STREET_WORD = (
    r"(?:ул|улица|улице|улицу|улицы|пр|пр-т|пр-кт|проспект|проспекте|пер|переулок|переулке|б-р|бульвар|бульваре|"
    r"ш|шоссе|мкр|микрорайон|микрорайоне|пл|площадь|площади|наб|набережная|набережной)"
)
_ADDRESS = re.compile(
    r"(?:\b" + _STREET_WORD + r"\.?\s+)?\b([А-ЯЁ][а-яё]+(?:-[А-ЯЁа-яё][а-яё]+)?)\s*,?\s*(?:д\.?\s*|дом\s+)?(\d{1,3})(?![\d:.,]\d)"
)


def addresses_of(text: str | None) -> set[str]:
    """Places a post names by a name and a number: ``Кирова 12``, ``ул. Советской, д. 5``, ``Автобус 15``
    as ``lemma#number`` (``киров#12``, ``советский#5``, ``автобус#15``)."""
    return {f"{_lemma(name.lower())}#{num}" for name, num in _ADDRESS.findall(text or "")}


@dataclass(eq=False)
class GroupCandidate:
    """What grouping knows of an open incident: its class, place, times and signature."""

    id: int
    sector: str | None
    category: str | None
    municipality: str | None
    first_seen_at: datetime | None
    last_post_at: datetime | None
    counts: Counter = field(default_factory=Counter)
    hashes: list[str] = field(default_factory=list)
    hashset: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    addresses: set[str] = field(default_factory=set)
    #: Street addresses (``nlp.addresses.street_addresses`` keys) of the incident's posts.
    streets: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, incident: Incident) -> GroupCandidate:
        c = cls(incident.id, incident.sector, incident.category, incident.municipality, incident.first_seen_at,
                incident.last_post_at)
        c.fill(incident.details or {})
        return c

    def fill(self, details: Mapping[str, Any]) -> None:
        self.counts = signature_of(details)
        self.hashes = list(details.get("hashes") or [])
        self.hashset = set(self.hashes)
        self.sources = set(details.get("sources") or [])
        self.addresses = set(details.get("addresses") or [])
        self.streets = set(details.get("streets") or [])

    def unload(self) -> None:
        self.counts, self.hashes, self.hashset, self.sources, self.addresses = Counter(), [], set(), set(), set()
        self.streets = set()

    def absorb(self, post: Post, words: Iterable[str], options: GroupingOptions,
               streets: Collection[str] | None = None) -> None:
        """Add a post's lemmas, hash, source and addresses (``streets``: its street addresses, when known)."""
        self.counts.update(words)
        self.counts = _top(self.counts, options.max_lemmas)
        if post.content_hash not in self.hashset:
            self.hashes = (self.hashes + [post.content_hash])[-_HASHES:]
            self.hashset = set(self.hashes)
        if post.source_key:
            self.sources.add(post.source_key)
        self.addresses |= addresses_of(post.text)
        self.streets.update(street_addresses(post.text) if streets is None else streets)

    def grouping_details(self) -> dict[str, Any]:
        return {"lemmas": _canonical(self.counts), "hashes": list(self.hashes), "sources": sorted(self.sources),
                "addresses": sorted(self.addresses), "streets": sorted(self.streets)}


def store_grouping_details(incident: Incident, candidate: GroupCandidate) -> None:
    details = dict(incident.details or {})
    details.update(candidate.grouping_details())
    incident.details = details  # reassign: JSON columns do not track in-place changes


def _rebuild_signature(session: Session, incident: Incident, options: GroupingOptions = DEFAULT_GROUPING) -> None:
    posts = q.posts_of(session, incident.id)
    c = GroupCandidate(incident.id, incident.sector, incident.category, incident.municipality, None, None)
    for p in posts:
        c.counts.update(content_lemmas(p.text))
        if p.source_key:
            c.sources.add(p.source_key)
        c.addresses |= addresses_of(p.text)
        c.streets.update(street_addresses(p.text))
    c.counts = _top(c.counts, options.max_lemmas)
    c.hashes = sorted({p.content_hash for p in posts})[-_HASHES:]
    store_grouping_details(incident, c)
    if posts:
        incident.first_seen_at = min(p.published_at for p in posts)
        incident.last_post_at = max(p.published_at for p in posts)


def address_list(details: Mapping[str, Any] | None, texts: Iterable[str | None]) -> list[dict[str, str]]:
    """The street addresses of an incident (``details["streets"]``) as ``{"key", "label"}``, labels as its posts
    write them («ул. Весенняя, 12»; the first post naming the address decides), else from the key alone."""
    keys = sorted((details or {}).get("streets") or [])
    if not keys:
        return []
    labels: dict[str, str] = {}
    for text in texts:
        for k, label in address_labels(text).items():
            labels.setdefault(k, label)
        if all(k in labels for k in keys):
            break
    return [{"key": k, "label": labels.get(k) or key_label(k)} for k in keys]


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


@dataclass(frozen=True)
class Choice:
    """Where a post goes: ``incident`` to join (with the similarity that decided it), or a new
    incident, following ``follows`` when the post's problem is an incident past its age limit."""

    incident: GroupCandidate | None
    similarity: float = 0.0
    follows: int | None = None


def choose_incident(
    candidates: Iterable[GroupCandidate], post: Post, words: set[str], sector: str | None, category: str | None,
    municipality: str | None, options: GroupingOptions = DEFAULT_GROUPING, streets: Collection[str] | None = None,
) -> Choice:
    """The rules of grouping over the open incidents of the post's sector (and municipality, or
    any for an unknown one) with a post in the window, given newest first (``last_post_at``, id):

    1. the first one of a compatible category holding a post with the same content hash;
    2. else (``address_level``) the one naming a street address the post names (``streets``, by
       default ``street_addresses(post.text)``), whatever the lemmas and the municipality: the
       highest containment (+0.05 for the same category, ties to the higher id); an incident of
       another municipality, or any for a post of none, naming only other addresses is not a candidate (without a town, another
       house is another place; in one town neighbouring houses may share a failure: rule 3 decides);
       an incident of no municipality is a candidate of a post naming its town by an address only
       (the town-less post came first: «Присоединяюсь, Весенняя д.12…», then «Кемерово, Весенняя 12…»);
    3. else the highest containment (+0.05 for the same category, ties to the higher id) at or
       above the threshold; a post whose municipality is unknown only considers incidents with a
       post from the same source or naming the same address, and one of another municipality
       only with ``unknown_place_threshold`` and ``unknown_place_min_shared``.

    An incident whose first post is more than ``age_limit(sector)`` before the post takes no
    more posts: if one of those would have been chosen, the post opens a follow-up of it.
    """
    limit = options.age_limit(sector)
    addrs = addresses_of(post.text) if municipality is None else set()
    if not options.address_level:
        mine: frozenset[str] = frozenset()
    else:
        mine = frozenset(street_addresses(post.text) if streets is None else streets)
    best: dict[bool, tuple[float, int, GroupCandidate]] = {}
    by_address: dict[bool, tuple[float, int, GroupCandidate]] = {}
    same_hash: GroupCandidate | None = None
    n_words = len(words)
    for c in candidates:
        if not _category_compatible(c.category, category):
            continue
        if c.municipality is None and municipality is not None and (not mine or mine.isdisjoint(c.streets)):
            continue  # a town-less incident takes a town's post by the address alone
        expired = c.first_seen_at is not None and post.published_at - c.first_seen_at > limit
        if post.content_hash in c.hashset:
            if not expired:
                return Choice(c, 1.0)
            same_hash = same_hash or c
            continue
        if mine and c.streets:
            if mine.isdisjoint(c.streets):
                if c.municipality != municipality or municipality is None:
                    continue  # no town to tell, and another house: another incident
            else:
                counts = c.counts
                sim = sum(1 for w in words if w in counts) / n_words if n_words else 0.0
                key = (sim + (0.05 if c.category == category else 0.0), c.id, c)
                top = by_address.get(expired)
                if top is None or key[:2] > top[:2]:
                    by_address[expired] = key
                continue
        if (municipality is None and options.unknown_place_needs_source_or_address
                and post.source_key not in c.sources and addrs.isdisjoint(c.addresses)):
            continue
        if not n_words:
            continue
        counts = c.counts
        shared = sum(1 for w in words if w in counts)
        sim = shared / n_words
        if c.municipality != municipality and (
            sim < options.unknown_place_threshold or shared < options.unknown_place_min_shared
        ):
            continue
        if sim >= options.threshold:
            key = (sim + (0.05 if c.category == category else 0.0), c.id, c)
            top = best.get(expired)
            if top is None or key[:2] > top[:2]:
                best[expired] = key
    for found in (by_address, best):
        if False in found:
            return Choice(found[False][2], found[False][0])
    old = same_hash or next((f[True][2] for f in (by_address, best) if True in f), None)
    return Choice(None, 0.0, old.id if old is not None else None)


def find_group(
    session: Session, profile: RegionProfile, post: Post, sector: str | None, category: str | None,
    municipality: str | None, options: GroupingOptions = DEFAULT_GROUPING, words: set[str] | None = None,
    streets: Collection[str] | None = None,
) -> tuple[Incident | None, Choice]:
    """``choose_incident`` over the candidates read from the database."""
    since = post.published_at - options.window
    if streets is None and options.address_level:
        streets = street_addresses(post.text)
    incidents = q.candidate_incidents(session, profile.code, sector, municipality, since,
                                      any_municipality=municipality is None,
                                      with_unplaced=options.address_level and bool(streets))
    choice = choose_incident([GroupCandidate.of(i) for i in incidents], post,
                             content_lemmas(post.text) if words is None else words, sector, category, municipality,
                             options, streets)
    chosen = next((i for i in incidents if choice.incident is not None and i.id == choice.incident.id), None)
    return chosen, choice


def find_incident(
    session: Session, profile: RegionProfile, post: Post, sector: str | None, category: str | None,
    municipality: str | None, options: GroupingOptions = DEFAULT_GROUPING, words: set[str] | None = None,
) -> tuple[Incident | None, float]:
    """The open incident this post belongs to, with the similarity that decided it.

    ``words``: the post's ``content_lemmas`` when the caller has them already.
    """
    incident, choice = find_group(session, profile, post, sector, category, municipality, options, words)
    return incident, choice.similarity


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
    incident, choice = find_group(session, profile, post, sector, category, municipality, options, words)
    if incident is not None:
        _join(session, profile, incident, post, words, urgency, choice.similarity, now, options, actor)
        return incident
    return open_incident(session, profile, post, sector, category, urgency, municipality, now, options, actor,
                         words=words, follows=choice.follows)


def open_incident(
    session: Session, profile: RegionProfile, post: Post, sector: str | None, category: str | None, urgency: str,
    municipality: str | None, now: datetime, options: GroupingOptions = DEFAULT_GROUPING, actor: str = SYSTEM,
    words: set[str] | None = None, follows: int | None = None, streets: Collection[str] | None = None,
    route_to: tuple[str, str] | None = None, unlinked: bool = False,
) -> Incident:
    """A new incident of one post, routed; ``follows``: the incident (past its age limit) it continues;
    ``route_to``: (authority code, Russian reason) overriding the routing rules (official pages);
    ``unlinked``: the post is in no incident yet (the processing pass knows it), so no link is looked up."""
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
        details={"follows": follows} if follows is not None else {},
    )
    session.add(incident)
    session.flush()
    q.attach_post(session, incident, post.id, now, unlinked=unlinked)
    c = GroupCandidate(incident.id, sector, category, municipality, post.published_at, post.published_at)
    c.absorb(post, content_lemmas(post.text) if words is None else words, options, streets)
    store_grouping_details(incident, c)
    data: dict[str, Any] = {"post_id": post.id}
    if follows is not None:
        data["follows"] = follows
    _event(session, incident, ev.CREATED, actor, now, to_state=ev.NEW, data=data, flush=False)  # with routing's flush
    route_incident(session, profile, incident, actor, now, route_to=route_to)
    return incident


def _join(
    session: Session, profile: RegionProfile, incident: Incident, post: Post, words: set[str], urgency: str,
    sim: float, now: datetime, options: GroupingOptions, actor: str,
) -> None:
    q.attach_post(session, incident, post.id, now)
    c = GroupCandidate.of(incident)
    c.absorb(post, words, options)
    store_grouping_details(incident, c)
    incident.last_post_at = max(incident.last_post_at or post.published_at, post.published_at)
    incident.first_seen_at = min(incident.first_seen_at or post.published_at, post.published_at)
    _event(session, incident, ev.POST_ADDED, actor, now, data={"post_id": post.id, "similarity": round(sim, 3)})
    if urgency == "high" and incident.urgency != "high":
        make_urgent(session, profile, incident, actor, now)


def make_urgent(session: Session, profile: RegionProfile, incident: Incident, actor: str, now: datetime) -> None:
    """An urgent post makes the incident urgent: deadlines of open stages follow."""
    _change_class(session, profile, incident, incident.sector, incident.category, "high", actor, now,
                  note="срочный пост в инциденте")
