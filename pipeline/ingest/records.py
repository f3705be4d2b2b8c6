"""The one ``to_record``: a collected post (plain data from any collector) -> the stored record."""

from __future__ import annotations

import math
import re
from typing import Any

from collectors.base import CollectedPost
from storage import PostRecord
from storage.types import utcnow

#: Lone surrogates (``"\\ud800"`` from a JSON escape): neither UTF-8 nor storable on any backend.
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(value: Any) -> Any:
    """Drop NUL characters (PostgreSQL refuses them in text and JSONB) and replace lone surrogates with U+FFFD.

    Applied to strings, and to the keys and values of dicts and lists, recursively.
    """
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # only lone surrogates fail to encode
                value = _SURROGATE.sub("\ufffd", value)
        return value
    if isinstance(value, dict):
        return {clean(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and Infinity are not JSON (PostgreSQL refuses them in JSONB)
    return value


def _cut(value: str | None, limit: int) -> str | None:
    return None if value is None else clean(value)[:limit]


def to_record(p: CollectedPost) -> PostRecord:
    """The stored form of a post, whichever collector (or file) brought it."""
    return PostRecord(
        platform=clean(p.platform)[:16], source_key=clean(p.source_key)[:255], external_id=clean(p.post_id)[:128],
        published_at=p.published_at or p.edited_at or utcnow(), text=clean(p.text or ""),
        author=_cut(p.author, 512), author_id=_cut(p.author_id, 128), url=_cut(p.url, 1024),
        parent_external_id=_cut(p.parent_id, 128), edited_at=p.edited_at, deleted=p.deleted, raw=clean(p.raw),
        appeal=p.appeal,
    )
