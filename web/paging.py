"""Keyset (cursor) pagination for the HTML lists and the API.

A cursor is an opaque, URL-safe string: base64 of a small JSON document
``{"l": list name, "f": digest of the filters, "d": "n"|"p", "k": sort key}``.
It names a *position* (the sort key of the last row shown, or of the first
one for «Назад»), not an offset, so rows inserted while someone pages never
shift a page. The list name and the filter digest tie a cursor to the list and
filters it was made for: using it elsewhere is a clear error, not a silently
wrong page. Cursors carry no rights: the reader's scope is applied to every
page regardless of the cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from storage.web_repo import BadCursor, Page

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class CursorError(ValueError):
    """A cursor that cannot be read or belongs to another list; the message is for the user."""


def _digest(filters: Mapping[str, Any]) -> str:
    canon = json.dumps({k: str(v) for k, v in sorted(filters.items()) if v not in (None, "")}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()[:12]


def _enc_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return {"t": v.isoformat()}
    if isinstance(v, float):
        return {"f": v.hex()}  # exact, so the position is exactly the row's key
    return v


def _dec_value(v: Any) -> Any:
    if isinstance(v, dict) and set(v) == {"t"} and isinstance(v["t"], str):
        t = datetime.fromisoformat(v["t"])
        if t.tzinfo is None:
            raise ValueError("time without zone")
        return t
    if isinstance(v, dict) and set(v) == {"f"} and isinstance(v["f"], str):
        return float.fromhex(v["f"])
    if isinstance(v, bool):
        raise ValueError(f"unexpected value {v!r}")
    if isinstance(v, int):
        if not -(2**63) <= v < 2**63:  # a hand-made cursor: the database's BIGINT cannot compare it
            raise ValueError("number out of range")
        return v
    if isinstance(v, str) or v is None:
        return v
    raise ValueError(f"unexpected value {v!r}")


def encode(list_name: str, filters: Mapping[str, Any], key: Sequence[Any], backwards: bool = False) -> str:
    doc = {"l": list_name, "f": _digest(filters), "d": "p" if backwards else "n", "k": [_enc_value(v) for v in key]}
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Position:
    key: tuple
    backwards: bool

    @property
    def after(self) -> tuple | None:
        return None if self.backwards else self.key

    @property
    def before(self) -> tuple | None:
        return self.key if self.backwards else None


def decode(cursor: str | None, list_name: str, filters: Mapping[str, Any]) -> Position | None:
    """The position a cursor names, or None for the first page; CursorError if it does not fit."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("k"), list) or doc.get("d") not in ("n", "p"):
            raise ValueError("bad shape")
        key = tuple(_dec_value(v) for v in doc["k"])
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise CursorError("Неверный курсор страницы (параметр cursor): начните с первой страницы.") from None
    if doc.get("l") != list_name:
        raise CursorError("Курсор страницы (параметр cursor) относится к другому списку: начните с первой страницы.")
    if doc.get("f") != _digest(filters):
        raise CursorError("Курсор страницы (параметр cursor) выдан для других фильтров: начните с первой страницы.")
    return Position(key, doc["d"] == "p")


def parse_limit(value: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise CursorError(f"Параметр limit должен быть целым числом от 1 до {maximum}.") from None
    if not 1 <= n <= maximum:
        raise CursorError(f"Параметр limit должен быть целым числом от 1 до {maximum}.")
    return n


def fetch(list_name: str, filters: Mapping[str, Any], cursor: str | None, load: Callable[..., Page[T]], **kwargs: Any) -> Page[T]:
    """Decode the cursor and load that page (``load(after=..., before=..., **kwargs)``)."""
    pos = decode(cursor, list_name, filters)
    try:
        return load(after=pos.after if pos else None, before=pos.before if pos else None, **kwargs)
    except BadCursor:
        raise CursorError("Неверный курсор страницы (параметр cursor): начните с первой страницы.") from None


def python_page(items: Sequence[T], key: Callable[[T], tuple], *, limit: int, after: Sequence[Any] | None = None, before: Sequence[Any] | None = None) -> Page[T]:
    """Keyset pagination of a list ordered in Python (items already sorted by ``key``)."""
    keys = [key(i) for i in items]
    edge: tuple[Any, ...] | None
    if before is not None:
        edge = _check(before, keys)
        idx = [n for n, k in enumerate(keys) if k < edge]
        chosen = idx[-limit:]
        has_prev, has_next = len(idx) > limit, True
    else:
        edge = _check(after, keys) if after is not None else None
        idx = [n for n, k in enumerate(keys) if edge is None or k > edge]
        chosen = idx[:limit]
        has_prev, has_next = edge is not None, len(idx) > limit
    page_items = [items[n] for n in chosen]
    return Page(page_items, keys[chosen[0]] if chosen else None, keys[chosen[-1]] if chosen else None, has_prev, has_next, total=len(items))


def _check(edge: Sequence[Any], keys: list[tuple]) -> tuple:
    edge = tuple(edge)
    if keys and (len(edge) != len(keys[0]) or any(type(a) is not type(b) for a, b in zip(edge, keys[0]))):
        raise BadCursor("position does not fit this list")
    return edge


@dataclass(frozen=True)
class Pager:
    """What the page navigation template needs."""

    prev_url: str | None
    next_url: str | None
    total: int | None
    shown: int

    @property
    def needed(self) -> bool:
        return bool(self.prev_url or self.next_url)


def pager(path: str, list_name: str, filters: Mapping[str, Any], page: Page[Any], extra: Mapping[str, Any] | None = None) -> Pager:
    """Links «Назад» / «Дальше» keeping the filters (and ``extra`` query parameters)."""
    base = {k: v for k, v in {**filters, **(extra or {})}.items() if v not in (None, "")}

    def url(key: tuple | None, backwards: bool) -> str:
        q = dict(base)
        if key is not None:
            q["cursor"] = encode(list_name, filters, key, backwards)
        return f"{path}?{urlencode(q)}" if q else path

    prev_url = next_url = None
    if page.has_prev:
        prev_url = url(page.first_key, True) if page.first_key is not None else url(None, False)
    if page.has_next and page.last_key is not None:
        next_url = url(page.last_key, False)
    return Pager(prev_url, next_url, page.total, len(page.items))
