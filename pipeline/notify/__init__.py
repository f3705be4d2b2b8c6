"""Notifications (being split by job; see the modules of this package)."""

from .outbox import *  # noqa: F401,F403
from .outbox import (  # noqa: F401
    _context,
    _envelope,
    _event_time,
    _missing,
    _notified_event_ids,
    _split,
    render,
)
