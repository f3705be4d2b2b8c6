"""Times shown to people: stored in UTC, shown in the region's time zone."""

from __future__ import annotations

from datetime import datetime, tzinfo


def local_time(value: datetime | str | None, tz: tzinfo) -> str:
    """``25.12.2026 14:00 (UTC+07:00)`` in the region's time zone; «—» for no time."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(tz)
    off = local.strftime("%z")
    return f"{local:%d.%m.%Y %H:%M} (UTC{off[:3]}:{off[3:]})"
