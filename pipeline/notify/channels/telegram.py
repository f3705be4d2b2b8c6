"""Telegram Bot API ``sendMessage`` over aiohttp (base URL configurable)."""

from __future__ import annotations

from .base import ChannelError, Envelope, http_error

MAX_TEXT = 4096


class TelegramSender:
    channel = "telegram"

    def __init__(self, token: str, base_url: str = "https://api.telegram.org", timeout: float = 30):
        self.token, self.base_url, self.timeout = token, base_url.rstrip("/"), timeout

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/bot{self.token}/sendMessage"

    async def send(self, env: Envelope) -> None:
        import aiohttp  # the HTTP client is imported when a message is sent, not by every command that imports the outbox

        text = f"{env.subject}\n\n{env.body}" if env.subject else env.body
        data = {"chat_id": env.recipient, "text": text[:MAX_TEXT], "disable_web_page_preview": True}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as s:
                async with s.post(self.endpoint, json=data) as r:
                    body = await r.text()
                    if r.status != 200:
                        raise http_error(r.status, body)
                    try:
                        ok = (await r.json(content_type=None)).get("ok")
                    except ValueError:
                        ok = False
                    if not ok:
                        raise ChannelError(f"Telegram: ответ без ok=true: {body[:300]}")
        except aiohttp.ClientError as e:
            raise ChannelError(f"Telegram: {type(e).__name__}: {e}") from e
        except TimeoutError as e:
            raise ChannelError("Telegram: истекло время ожидания") from e
