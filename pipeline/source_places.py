"""Default municipalities of sources: set by an operator, or suggested from the places their posts name.

A town's community seldom names its town; ``cur sources add URL --municipality CODE`` gives such a
source a default municipality, used by the processing pass for its posts that name no place
(``pipeline.process.SourceDefaults``). ``suggestions`` proposes one for every source without a default:
the municipality that the latest analyses of its posts find most often, when it is named by at least
``MIN_POSTS`` posts and at least ``MIN_SHARE`` of the source's posts that name any municipality.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy.orm import Session

from storage import sources as repo

__all__ = ["MIN_POSTS", "MIN_SHARE", "Suggestion", "suggestions"]

#: A suggestion needs at least this many posts naming the municipality ...
MIN_POSTS = 3
#: ... and this share of the source's posts that name a municipality.
MIN_SHARE = 0.6


@dataclass(frozen=True)
class Suggestion:
    source_id: int
    municipality: str
    posts: int  # posts naming it
    placed: int  # posts naming any municipality
    analysed: int  # posts with an analysis

    @property
    def share(self) -> float:
        return self.posts / self.placed if self.placed else 0.0


def suggestions(session: Session, min_posts: int = MIN_POSTS, min_share: float = MIN_SHARE) -> dict[int, Suggestion]:
    """A suggested default municipality per source id (sources with a default already are skipped)."""
    sources = [s for s in repo.list_sources(session) if not s.municipality]
    if not sources:
        return {}
    by_key: dict[str, int] = {}
    for src in sources:
        by_key.setdefault(src.key, src.id)
        if src.url:
            by_key.setdefault(src.url, src.id)
    ids = {src.id for src in sources}

    def owner(source_id: int | None, key: str) -> int | None:
        if source_id is not None and source_id in ids:
            return source_id
        return by_key.get(key)

    named: dict[int, Counter] = {}
    for sid, key, code, n in repo.municipality_counts(session):
        o = owner(sid, key)
        if o is not None:
            named.setdefault(o, Counter())[code] += n
    analysed: Counter = Counter()
    for sid, key, n in repo.source_post_counts(session):
        o = owner(sid, key)
        if o is not None:
            analysed[o] += n
    out: dict[int, Suggestion] = {}
    for sid, counts in named.items():
        (code, n), = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:1]
        placed = sum(counts.values())
        if n >= min_posts and n / placed >= min_share:
            out[sid] = Suggestion(sid, code, n, placed, analysed[sid])
    return out
