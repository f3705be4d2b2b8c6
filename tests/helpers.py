"""Helpers shared by the tests: given analyses and posts stored for real, a movable clock, a free port."""

from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

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


#: argon2id at test-sized costs (the suite signs in hundreds of times; production keeps argon2-cffi's defaults)
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


def add_post(s, text: str, at: datetime, source: str = "-100001", **kw) -> Post:
    """Store a VK post through the real upsert and return it."""
    ext = kw.pop("external_id", f"p{next(_ids)}")
    res = upsert_posts(s, [PostRecord("vk", source, ext, at, text, **kw)])
    return s.get(Post, res.post_ids[0])


class FakeClock:
    """A clock the test moves by hand (the scheduler's ``Clock`` protocol)."""

    def __init__(self, t: datetime):
        self.t = t

    def now(self) -> datetime:
        return self.t

    def advance(self, **kw) -> None:
        self.t += timedelta(**kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def models_dir_with(root, versions: list[tuple[str, str, dict]], active: list[str]):
    """A model registry in its own file layout: ``versions/<v>/meta.json`` for each (name, created_at, metrics),
    then ``active`` activated in turn by the real registry (forced: these versions hold no model files)."""
    import json
    from pathlib import Path

    from nlp.classifier.registry import Registry

    root = Path(root)
    for name, created, metrics in versions:
        d = root / "versions" / name
        d.mkdir(parents=True)
        score = (metrics.get("test") or metrics).get("score")
        meta = {"version": name, "created_at": created, "checksum": "c" * 64, "data_fingerprint": "d" * 64,
                "metrics": metrics, "evaluation": {"score": score, "n": 10}}
        (d / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    reg = Registry(root)
    for name in active:
        reg.activate(name, force=True)
    return root
