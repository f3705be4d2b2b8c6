"""Times shown to people: stored in UTC, shown in the region's time zone.

One place for the formats, used by notifications, reports, the scheduler's
status line, the web pages and the CLI.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

#: ``25.12.2026 14:00``
DATE_TIME = "%d.%m.%Y %H:%M"
#: What is shown for a time that is not set.
NO_TIME = "—"


def local(value: datetime | None, tz: tzinfo, fmt: str = DATE_TIME) -> str:
    """``value`` in the region's time zone as ``fmt`` (default ``25.12.2026 14:00``); «—» for no time."""
    if value is None:
        return NO_TIME
    return value.astimezone(tz).strftime(fmt)


def utc_offset(moment: datetime, tz: tzinfo) -> str:
    """The zone's offset at ``moment`` as ``UTC+07:00``."""
    off = moment.astimezone(tz).strftime("%z")
    return f"UTC{off[:3]}:{off[3:]}"


def zone_label(moment: datetime, tz: tzinfo) -> str:
    """The zone as people in Russia name it, with its offset at ``moment``: «МСК (UTC+03:00)», «МСК+4 (UTC+07:00)»."""
    offset = moment.astimezone(tz).utcoffset()
    hours = (offset.total_seconds() if offset else 0) / 3600 - 3
    msk = "МСК" if hours == 0 else f"МСК{hours:+g}".replace(".", ",")
    return f"{msk} ({utc_offset(moment, tz)})"


def local_time(value: datetime | str | None, tz: tzinfo) -> str:
    """``25.12.2026 14:00 (UTC+07:00)`` in the region's time zone; «—» for no time."""
    if value is None:
        return NO_TIME
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{local(value, tz)} ({utc_offset(value, tz)})"
