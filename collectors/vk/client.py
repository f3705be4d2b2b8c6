"""A small VK API client: aiohttp POST form to ``{api_url}{method}``, per-token rate limits, typed errors.

Why not the ``vk-api`` package: it hard-codes ``https://api.vk.com/method/`` and is synchronous;
the project needs a configurable endpoint (``CUR_VK_API_URL``, fake servers in tests), asyncio, and
its own per-token rate limiting and error classes. The protocol is a plain form POST, so this is short.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..base import CollectorError, RetryLater, SourceFailing
from ..ratelimit import Clock, Sleep, TokenPool

#: Errors that are retried with exponential backoff (too many requests, flood control, internal, rate limit).
RETRY_CODES = {6, 9, 10, 29}
#: Errors that make the source failing: the crawl of other sources goes on.
FAILING_CODES = {
    14: "captcha_needed",
    15: "access_denied",
    18: "user_deleted_or_banned",
    30: "private_profile",
    203: "group_access_denied",
    212: "comments_access_denied",
    113: "invalid_user_id",
}


class VkApiError(CollectorError):
    def __init__(self, code: int, message: str, method: str) -> None:
        super().__init__(f"VK API error {code} in {method}: {message}", str(code))
        self.vk_code = code
        self.method = method


@dataclass
class VkClientOptions:
    api_url: str = "https://api.vk.ru/method/"
    version: str = "5.199"
    max_retries: int = 4  # for RETRY_CODES and network errors
    backoff: float = 1.0  # first retry delay in seconds, doubled each retry
    backoff_max: float = 30.0
    retry_later: float = 300.0  # "come back after" once retries are exhausted
    timeout: float = 30.0


class VkClient:
    """Calls VK API methods under the token pool's rates. One client is shared by all VK sources."""

    def __init__(
        self,
        tokens: list[tuple[str, str, float]],
        options: VkClientOptions | None = None,
        session: aiohttp.ClientSession | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.options = options or VkClientOptions()
        if not self.options.api_url.endswith("/"):
            self.options.api_url += "/"
        self.pool = TokenPool.from_specs(tokens, clock, sleep)
        self._sleep = sleep
        self._session = session
        self._own_session = session is None
        self.requests = 0

    async def __aenter__(self) -> "VkClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.options.timeout))
        return self._session

    async def call(self, method: str, token_kinds: tuple[str, ...] | None = None, **params: Any) -> Any:
        """Call ``method``; return its ``response``. Raises SourceFailing / RetryLater / VkApiError / CollectorError."""
        form = {k: _form_value(v) for k, v in params.items() if v is not None}
        form["v"] = self.options.version
        delay = self.options.backoff
        last: str = ""
        for attempt in range(self.options.max_retries + 1):
            token = await self.pool.acquire(token_kinds)
            self.requests += 1
            try:
                async with self._http().post(
                    self.options.api_url + method, data={**form, "access_token": token.token}
                ) as resp:
                    if resp.status >= 500 or resp.status == 429:
                        raise aiohttp.ClientResponseError(
                            resp.request_info, resp.history, status=resp.status, message=resp.reason or ""
                        )
                    resp.raise_for_status()
                    body = await resp.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
                last = f"{type(e).__name__}: {e}"
                if attempt < self.options.max_retries:
                    await self._sleep(delay)
                    delay = min(delay * 2, self.options.backoff_max)
                    continue
                raise CollectorError(f"VK API {method} unreachable after {attempt + 1} attempts: {last}", "network") from e
            if not isinstance(body, dict):
                raise CollectorError(f"VK API {method}: unexpected answer {str(body)[:200]!r}", "bad_answer")
            if "error" not in body:
                return body.get("response")
            err = body["error"] or {}
            code = int(err.get("error_code", 0))
            msg = str(err.get("error_msg", ""))
            if code in RETRY_CODES:
                last = f"error {code}: {msg}"
                # Keep this token quiet for the backoff (the pool waits it out, or another token
                # takes the retry at once).
                token.limiter.hold(delay)
                if attempt < self.options.max_retries:
                    delay = min(delay * 2, self.options.backoff_max)
                    continue
                raise RetryLater(self.options.retry_later, f"VK {method}: {last} (after {attempt + 1} attempts)")
            if code in FAILING_CODES:
                raise SourceFailing(FAILING_CODES[code], f"VK error {code} in {method}: {msg}")
            raise VkApiError(code, msg, method)
        raise CollectorError(f"VK API {method}: {last}")  # pragma: no cover - loop always returns or raises


def _form_value(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)
