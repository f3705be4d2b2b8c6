"""Signed JSON webhooks.

The body is the message payload as compact JSON (UTF-8). Headers:

* ``X-CUR-Signature: sha256=<hex>`` — HMAC-SHA256 of the exact body bytes with
  the shared ``webhook_secret``;
* ``X-CUR-Delivery: <outbox message id>`` — the same on every retry, so the
  receiver can drop repeats of an at-least-once delivery;
* ``X-CUR-Event: <event kind>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from .base import ChannelError, Envelope, http_error


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature or "")


def encode(env: Envelope) -> bytes:
    doc = {"delivery_id": env.id, **env.payload}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class WebhookSender:
    channel = "webhook"

    def __init__(self, secret: str, timeout: float = 30):
        if not secret:
            raise ValueError("webhook_secret is required to sign webhooks")
        self.secret, self.timeout = secret, timeout

    async def send(self, env: Envelope) -> None:
        import aiohttp  # imported on sending (see telegram.py)

        body = encode(env)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-CUR-Signature": sign(self.secret, body),
            "X-CUR-Delivery": str(env.id),
            "X-CUR-Event": str(env.payload.get("event", "")),
            "User-Agent": "cur-monitor-webhook/1",
        }
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as s:
                async with s.post(env.recipient, data=body, headers=headers) as r:
                    if not 200 <= r.status < 300:
                        raise http_error(r.status, await r.text())
        except aiohttp.InvalidURL as e:
            raise ChannelError(f"webhook: неверный адрес {env.recipient!r}", permanent=True) from e
        except aiohttp.ClientError as e:
            raise ChannelError(f"webhook {env.recipient}: {type(e).__name__}: {e}") from e
        except TimeoutError as e:
            raise ChannelError(f"webhook {env.recipient}: истекло время ожидания") from e
