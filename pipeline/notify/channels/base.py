"""What every channel gets and how it reports failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Envelope:
    """One outbox message as handed to a channel (plain data, no ORM object)."""

    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    payload: dict[str, Any] = field(default_factory=dict)
    dedup_key: str = ""


class ChannelError(Exception):
    """Delivery failed. ``permanent`` failures are not retried."""

    def __init__(self, message: str, permanent: bool = False, status: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status = status


class Sender(Protocol):
    channel: str

    async def send(self, envelope: Envelope) -> None: ...


def http_error(status: int, text: str) -> ChannelError:
    """Classify an HTTP failure: 408/425/429 and 5xx are worth retrying, other 4xx are not."""
    retry = status >= 500 or status in (408, 425, 429)
    return ChannelError(f"HTTP {status}: {text[:300]}", permanent=not retry, status=status)
