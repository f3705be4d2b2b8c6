"""Keyset pagination: pages of any list by the sort keys of a row, never by an offset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Integer, Select, and_, case, false, func, or_, select, type_coerce
from sqlalchemy.orm import Session

T = TypeVar("T")


class BadCursor(ValueError):
    """A page position that does not fit the list it is used on."""


@dataclass(frozen=True)
class Key:
    """One sort key of a keyset-paginated list: a SQL expression that is never NULL, and its direction."""

    expr: Any
    desc: bool = False
    kind: type = int


def nulls_last(expr: Any, desc: bool = False, kind: type = datetime) -> list[Key]:
    """A nullable expression as two keys: a 0/1 "is NULL" flag (NULLs last), then the value."""
    flag = case((expr.is_(None), 1), else_=0)
    return [Key(type_coerce(flag, Integer), False, int), Key(expr, desc, kind)]


@dataclass
class Page(Generic[T]):
    """One page of a list: its items, the sort keys of its first and last item, and whether more lie either side."""

    items: list[T]
    first_key: tuple | None = None
    last_key: tuple | None = None
    has_prev: bool = False
    has_next: bool = False
    total: int | None = None


def _check_key(keys: Sequence[Key], values: Sequence[Any]) -> tuple:
    if not isinstance(values, (list, tuple)) or len(values) != len(keys):
        raise BadCursor("position has the wrong number of sort keys")
    out: list[Any] = []
    for k, v in zip(keys, values):
        if v is None:
            out.append(None)
        elif k.kind is int and isinstance(v, int) and not isinstance(v, bool):
            out.append(v)
        elif k.kind is datetime and isinstance(v, datetime) and v.tzinfo is not None:
            out.append(v)
        elif k.kind is str and isinstance(v, str):
            out.append(v)
        else:
            raise BadCursor(f"sort key of type {type(v).__name__} where {k.kind.__name__} is expected")
    return tuple(out)


def _beyond(keys: Sequence[Key], values: Sequence[Any], backwards: bool) -> Any:
    """Rows strictly after ``values`` in the list order (before, if ``backwards``)."""
    clauses = []
    for i, (k, v) in enumerate(zip(keys, values)):
        if v is None:
            continue  # NULLs are grouped behind their flag key: nothing lies after one inside the group
        prefix = [kj.expr.is_(None) if vj is None else kj.expr == vj for kj, vj in zip(keys[:i], values[:i])]
        step = k.expr < v if k.desc != backwards else k.expr > v
        clauses.append(and_(*prefix, step))
    return or_(*clauses) if clauses else false()


def keyset_page(
    s: Session,
    stmt: Select,
    keys: Sequence[Key],
    *,
    limit: int,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
    count: bool = True,
) -> Page[Any]:
    """One page of ``stmt`` (selecting one entity) ordered by ``keys``, after or before a position.

    The position is the key tuple of a row, not an offset, so rows inserted or
    removed elsewhere in the list never shift a page: nothing is shown twice or
    skipped. ``keys`` must end with a unique column (the id).
    """
    total = int(s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0) if count else None
    backwards = before is not None
    edge = _check_key(keys, before) if before is not None else _check_key(keys, after) if after is not None else None
    q = stmt.add_columns(*[k.expr for k in keys])
    if edge is not None:
        q = q.where(_beyond(keys, edge, backwards))
    q = q.order_by(*[(k.expr.asc() if k.desc == backwards else k.expr.desc()) for k in keys]).limit(limit + 1)
    rows = [(r[0], tuple(r[1:])) for r in s.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    items = [r[0] for r in rows]
    first_key = rows[0][1] if rows else None
    last_key = rows[-1][1] if rows else None
    if backwards:
        return Page(items, first_key, last_key, has_prev=more, has_next=True, total=total)
    return Page(items, first_key, last_key, has_prev=edge is not None, has_next=more, total=total)
