"""Per-token rate limiting: each token gets its own evenly spaced request slots.

A limiter with rate ``r`` grants one slot every ``1.01/r`` seconds (no bursts: VK counts requests per
second and answers error 6 to bursts). A :class:`TokenPool` spreads requests over several tokens,
always taking the token whose next slot comes first. Clock and sleep are injectable for tests.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class RateLimiter:
    rate: float  # slots per second
    clock: Clock = time.monotonic
    next_at: float = 0.0
    #: Slots are spaced (1 + margin) / rate apart, so network jitter cannot put rate + 1 requests
    #: into one second as the server counts them.
    margin: float = 0.01

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")

    def reserve(self) -> float:
        """Take the next slot; return how long to wait until it."""
        now = self.clock()
        start = max(now, self.next_at)
        self.next_at = start + (1.0 + self.margin) / self.rate
        return start - now

    def hold(self, seconds: float) -> None:
        """Grant no slot for ``seconds`` from now (after a flood-control answer)."""
        self.next_at = max(self.next_at, self.clock() + seconds)


@dataclass
class PooledToken:
    kind: str
    token: str
    limiter: RateLimiter
    requests: int = 0


@dataclass
class TokenPool:
    """Tokens of one API, each under its own rate. ``acquire`` waits for the earliest free slot."""

    tokens: list[PooledToken]
    clock: Clock = time.monotonic
    sleep: Sleep = asyncio.sleep

    @classmethod
    def from_specs(
        cls, specs: list[tuple[str, str, float]], clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> "TokenPool":
        """``specs``: (kind, token, requests per second) triples."""
        if not specs:
            raise ValueError("at least one token is needed")
        return cls([PooledToken(k, t, RateLimiter(r, clock)) for k, t, r in specs], clock, sleep)

    async def acquire(self, kinds: tuple[str, ...] | None = None) -> PooledToken:
        candidates = [t for t in self.tokens if kinds is None or t.kind in kinds] or self.tokens
        best = min(candidates, key=lambda t: max(t.limiter.next_at, self.clock()))
        wait = best.limiter.reserve()
        best.requests += 1
        if wait > 0:
            await self.sleep(wait)
        return best
