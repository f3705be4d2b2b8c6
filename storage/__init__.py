"""Storage: the only package that speaks SQL (SQLAlchemy 2.0 typed ORM, Alembic migrations)."""

from . import models_alerts  # noqa: F401  (registers the alert tables in the models' metadata)
from .db import Database, make_engine
from .posts import PostRecord, UpsertResult, content_hash, count_posts, find_post, iter_posts, post_to_dict, upsert_posts
from .types import utcnow

__all__ = [
    "Database",
    "PostRecord",
    "UpsertResult",
    "content_hash",
    "count_posts",
    "find_post",
    "iter_posts",
    "make_engine",
    "post_to_dict",
    "upsert_posts",
    "utcnow",
]
