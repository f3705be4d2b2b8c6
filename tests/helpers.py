"""Helpers shared by the incident tests: given analyses and posts stored for real."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from storage import PostRecord, upsert_posts
from storage.models import Post

_ids = itertools.count(1)


@dataclass
class A:
    """What the classifier says about a post (the fields ingest_analysis reads)."""

    sector: str | None = "housing"
    category: str | None = "heating"
    municipality: str | None = "novokuznetsk"
    urgency: str = "normal"
    relevant: bool = True
    unsure: bool = False


def add_post(s, text: str, at: datetime, source: str = "-100001", **kw) -> Post:  # noqa: ANN001
    """Store a VK post through the real upsert and return it."""
    ext = kw.pop("external_id", f"p{next(_ids)}")
    res = upsert_posts(s, [PostRecord("vk", source, ext, at, text, **kw)])
    return s.get(Post, res.post_ids[0])
