"""One processing pass at a time per region: the ``process:<region>`` row of ``scheduler_leases``.

``cur process``, the scheduler's processing job and anything else that calls
``pipeline.process.process_pending`` take this lease first; a second pass
either waits for it (``wait`` seconds) or stops with ``ProcessingBusy``, one
Russian line naming the holder (host, pid, since when). The pass renews the
lease as the first statement of every batch's transaction, so on SQLite that
transaction holds the write lock from its start, and a pass that lost the
lease (it stalled longer than ``TTL``) stops before writing anything.

A holder killed without releasing the lease is replaced when the lease
expires, or at once when it ran on this host and its pid is gone.

Workers (``pipeline.distributed``) group one part of a region at a time (a
sector: incidents never span sectors) under ``process:<region>:<part>``.
The region's lease and its parts' exclude each other: whoever takes one then
looks for a holder of the other kind and, finding one, gives its own back and
waits (of two that take theirs at once, at least one sees the other).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session

from storage import coordination as co

from .errors import Busy

__all__ = ["ProcessingBusy", "ProcessingLease", "TTL"]

#: The lease lapses this long after the last batch renewed it.
TTL = timedelta(minutes=5)
_POLL = 0.5


class ProcessingBusy(Busy):
    """Another process is processing the region's posts (Russian message)."""


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _local(at: datetime | None, tz: Any) -> str:
    return at.astimezone(tz).strftime("%d.%m.%Y %H:%M:%S") if at else "?"


class ProcessingLease:
    def __init__(self, db: Any, region: str, tz: Any = None, ttl: timedelta = TTL, part: str | None = None) -> None:
        self.db, self.region, self.tz, self.ttl = db, region, tz or timezone.utc, ttl
        self.part = part
        self.name = f"process:{region}" if part is None else f"process:{region}:{part}"
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.holder = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lease, waiting up to ``wait`` seconds; ``ProcessingBusy`` if another holds it."""
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            with self.db.session() as s:
                ours, info = co.acquire_lease(s, self.name, self.holder, self.host, self.pid, self.now(), self.ttl)
                if not ours and info.host == self.host and info.holder and not _alive(info.pid):
                    ours = co.take_over_lease(s, self.name, info.holder, self.holder, self.host, self.pid, self.now(), self.ttl)
            if ours:
                other = self._conflict()
                if other is None:
                    return
                self.release()
                info = other
            if time.monotonic() >= deadline:
                raise ProcessingBusy(
                    f"посты региона {self.region} уже обрабатывает другой процесс (хост {info.host}, pid {info.pid}, "
                    f"с {_local(info.acquired_at, self.tz)}): дождитесь окончания или запустите с --wait СЕКУНДЫ"
                )
            time.sleep(_POLL)

    def _conflict(self) -> co.LeaseInfo | None:
        """A holder of the other kind: a part's for the region's lease, the region's for a part's."""
        now = self.now()
        with self.db.session() as s:
            if self.part is None:
                held = co.held_leases(s, f"{self.name}:", now)
                return held[0] if held else None
            info = co.get_lease(s, f"process:{self.region}")
        return info if info is not None and info.held_at(now) else None

    def renew(self, session: Session) -> None:
        """Renew inside the caller's transaction (its first write); ``ProcessingBusy`` if the lease was lost."""
        ours, info = co.acquire_lease(session, self.name, self.holder, self.host, self.pid, self.now(), self.ttl)
        if not ours:
            raise ProcessingBusy(
                f"обработка остановлена: аренду обработки региона {self.region} перехватил другой процесс "
                f"(хост {info.host}, pid {info.pid}); обработанное до этого сохранено"
            )

    def release(self) -> None:
        try:
            with self.db.session() as s:
                co.release_lease(s, self.name, self.holder, self.now())
        except Exception:  # noqa: BLE001  (it expires by itself)
            pass
