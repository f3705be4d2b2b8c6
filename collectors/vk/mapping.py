"""VK API objects -> CollectedPost.

VK posts are stored under the owner id of their wall (``"-123"`` for a community) whatever source
found them (wall by screen name, search, one post's comments), so a post is stored once.
Comments get the id ``{post_id}_{comment_id}`` and ``parent_id`` = the post id.
"""

from __future__ import annotations

from typing import Any

from ..base import CollectedPost, utc_from_ts


class Names:
    """Names of authors from ``extended=1`` answers (``profiles`` and ``groups``)."""

    def __init__(self) -> None:
        self._names: dict[int, str] = {}

    def add(self, response: dict[str, Any]) -> None:
        for p in response.get("profiles") or []:
            self._names[int(p["id"])] = f"{p.get('first_name', '')} {p.get('last_name', '')}".strip()
        for g in response.get("groups") or []:
            self._names[-int(g["id"])] = str(g.get("name", ""))

    def get(self, from_id: Any) -> str | None:
        try:
            return self._names.get(int(from_id))
        except (TypeError, ValueError):
            return None


def post_text(item: dict[str, Any]) -> str:
    text = item.get("text") or ""
    if not text and item.get("copy_history"):
        text = item["copy_history"][0].get("text") or ""
    return text


def wall_post(item: dict[str, Any], source_key: str, names: Names, post_id: str | None = None) -> CollectedPost:
    owner, pid = item.get("owner_id"), item["id"]
    from_id = item.get("from_id", item.get("signer_id", owner))
    return CollectedPost(
        platform="vk",
        source_key=source_key if owner is None else str(owner),
        post_id=post_id or str(pid),
        text=post_text(item),
        published_at=utc_from_ts(item.get("date")),
        author=names.get(from_id),
        author_id=None if from_id is None else str(from_id),
        edited_at=utc_from_ts(item.get("edited")),
        deleted=bool(item.get("is_deleted")),
        url=f"https://vk.com/wall{owner}_{pid}",
        raw=item,
    )


def comment(item: dict[str, Any], source_key: str, owner_id: Any, post_id: int, names: Names) -> CollectedPost:
    cid = item["id"]
    from_id = item.get("from_id")
    return CollectedPost(
        platform="vk",
        source_key=str(owner_id),
        post_id=f"{post_id}_{cid}",
        parent_id=str(post_id),
        text=item.get("text") or "",
        published_at=utc_from_ts(item.get("date")),
        author=names.get(from_id),
        author_id=None if from_id is None else str(from_id),
        deleted=bool(item.get("deleted")),
        url=f"https://vk.com/wall{owner_id}_{post_id}?reply={cid}",
        raw=item,
    )
