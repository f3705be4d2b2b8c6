"""Which region a row belongs to: sources and posts carry ``region``; null means the default region.

A deployment serves one or more regions (``settings.regions``); one of them is the default
(``settings.region``), the region of every source and post stored without one (a one-region
deployment never sets it). :class:`RegionFilter` is the SQL condition "belongs to region X" for a
``region`` column under that rule; :func:`assign_post_regions` gives pending posts the region of
their source before the processing pass picks them by region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .models import Post, Source


@dataclass(frozen=True)
class RegionFilter:
    """Rows of region ``code``; with ``default``, rows without a region too."""

    code: str
    default: bool = False

    def of(self, column: Any) -> Any:
        return or_(column == self.code, column.is_(None)) if self.default else column == self.code

    @property
    def posts(self) -> Any:
        return self.of(Post.region)

    @property
    def sources(self) -> Any:
        return self.of(Source.region)


def assign_post_regions(session: Session, default: str) -> int:
    """Pending posts without a region take their source's, when it is not ``default`` (found by source id, else by
    source key or URL: posts imported from a file carry only the key); returns how many were changed."""
    rows = session.execute(select(Source.id, Source.key, Source.url, Source.region)
                           .where(Source.region.is_not(None), Source.region != default)).all()
    if not rows:
        return 0
    pending = (Post.region.is_(None), Post.processed_at.is_(None))
    changed = 0
    by_region: dict[str, tuple[list[int], list[str]]] = {}
    for sid, key, url, region in rows:
        ids, keys = by_region.setdefault(str(region), ([], []))
        ids.append(sid)
        keys += [k for k in (key, url) if k]
    for region, (ids, keys) in by_region.items():
        for cond in (Post.source_id.in_(ids), Post.source_id.is_(None) & Post.source_key.in_(keys)):
            result = session.execute(update(Post).where(*pending, cond).values(region=region)
                                     .execution_options(synchronize_session=False))
            changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


def set_source_region(source: Source, code: str | None) -> None:
    source.region = code


def post_regions(session: Session, ids: list[int]) -> dict[int, str | None]:
    """Post id -> its region (None: the default one)."""
    if not ids:
        return {}
    return {int(i): r for i, r in session.execute(select(Post.id, Post.region).where(Post.id.in_(ids)))}
