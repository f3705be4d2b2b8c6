"""The filters of the incident lists (``/incidents``, ``/inbox``, ``/api/incidents``), read from the URL.

The URL contract, the same on the three lists (other pages link to it: dashboard bars, cells,
numbers)::

    ?q=&state=&sector=&category=&municipality=&authority=&urgency=&source=
     &from=YYYY-MM-DD&to=YYYY-MM-DD&overdue=1&sort=due|opened|-opened

``from``/``to`` are days in the region's time zone (both included) of the incident's opening;
``overdue=1``: open, with a stage not done past its deadline; ``q``: full-text search
(``pipeline.search``); ``sort=due``: the nearest deadline not yet met first. A specialist's
authority is forced by their scope whatever ``authority`` says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from pipeline import search

#: parameters of the contract, in the order they appear in URLs
PARAMS = ("q", "state", "sector", "category", "municipality", "authority", "urgency", "source", "from", "to", "overdue", "sort")
#: ``sort`` value -> order of ``storage.reads.INCIDENT_ORDERS``
SORTS = {"due": "next_due", "opened": "opened", "-opened": "-opened"}
SORT_NAMES = {"due": "по сроку", "opened": "сначала старые", "-opened": "сначала новые"}
MAX_Q = 200


@dataclass
class ListFilters:
    """The filters of one list view: the URL values and what the storage query needs."""

    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    authority: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def params(self, drop: tuple[str, ...] = ()) -> dict[str, str]:
        """The non-empty URL parameters, in contract order (for pager links and the CSV link)."""
        return {k: self.values[k] for k in PARAMS if self.values.get(k) and k not in drop}

    @property
    def order(self) -> str | None:
        return SORTS.get(self.get("sort"))

    @property
    def active(self) -> bool:
        return bool(self.params(drop=("sort",)))

    def storage_kwargs(self, tz: tzinfo, now: datetime) -> dict[str, Any]:
        """Keyword arguments of ``storage.reads.incident_page`` (``authority_id`` included)."""
        kw: dict[str, Any] = {
            "state": self.get("state") or None,
            "sector": self.get("sector") or None,
            "category": self.get("category") or None,
            "municipality": self.get("municipality") or None,
            "urgency": self.get("urgency") or None,
            "source": self.get("source") or None,
            "authority_id": self.authority,
        }
        if self.get("q"):
            kw["q"] = search.parse(self.get("q"))
        if self.date_from is not None:
            kw["opened_from"] = day_start(self.date_from, tz)
        if self.date_to is not None:
            kw["opened_before"] = day_start(self.date_to + timedelta(days=1), tz)
        if self.get("overdue") == "1":
            kw["overdue_at"] = now
        return kw


def day_start(day: date, tz: tzinfo) -> datetime:
    """Midnight of ``day`` in the region's zone, as UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def _date(value: str, label: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"Дата «{value[:20]}» в поле «{label}» не распознана: нужна дата вида 2026-12-01.")
        return None


def parse(query: Mapping[str, str], *, restricted: bool = False) -> ListFilters:
    """The filters in a query string; wrong values are left out with a message in ``errors``.

    ``restricted``: the reader sees one authority only (a specialist): the URL's ``authority`` is
    ignored and not kept in links (the reader's scope does the filtering).
    """
    values = {k: (query.get(k) or "").strip() for k in PARAMS}
    values["q"] = values["q"][:MAX_Q]
    f = ListFilters(values=values)
    if restricted:
        values["authority"] = ""
    elif values["authority"]:
        try:
            f.authority = int(values["authority"])
            if not 1 <= f.authority < 2**63:
                raise ValueError
        except ValueError:
            f.errors.append("Орган власти в адресе указан неверно.")
            values["authority"] = ""
            f.authority = None
    f.date_from = _date(values["from"], "с", f.errors)
    f.date_to = _date(values["to"], "по", f.errors)
    if f.date_from is None:
        values["from"] = ""
    if f.date_to is None:
        values["to"] = ""
    if values["overdue"] not in ("", "1"):
        values["overdue"] = "1" if values["overdue"].lower() in ("true", "yes", "on", "да") else ""
    if values["sort"] and values["sort"] not in SORTS:
        f.errors.append(f"Порядок «{values['sort'][:20]}» неизвестен: возможны due, opened, -opened.")
        values["sort"] = ""
    return f
