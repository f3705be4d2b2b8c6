"""``cur telegram login``: sign in to Telegram once and get a ``StringSession`` for ``CUR_TELEGRAM_SESSION``.

The MTProto collector (``collectors/telegram.py``) connects with an API id and
hash (from my.telegram.org) and a session string. This signs a phone number in
with telethon — the code Telegram sends, then the cloud password if the
account has one — and returns the session string. Every failure is one
Russian line (``LoginFailed``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from .errors import InvalidInput, Refused

__all__ = ["LoginFailed", "login", "new_client"]


class LoginFailed(Refused):
    """Telegram refused the sign-in (Russian message)."""


def new_client(api_id: int, api_hash: str) -> Any:
    """A telethon client on a new, empty ``StringSession``."""
    from telethon import TelegramClient
    from telethon.sessions import StringSession

    return TelegramClient(StringSession(), api_id, api_hash)


def _reason(e: BaseException) -> str | None:
    from telethon import errors

    table: list[tuple[type[BaseException], str]] = [
        (errors.ApiIdInvalidError, "Telegram не принял API id и API hash: проверьте их на my.telegram.org (раздел API development tools)"),
        (errors.PhoneNumberInvalidError, "Telegram не принял номер телефона: укажите его полностью, с кодом страны (+79001234567)"),
        (errors.PhoneNumberBannedError, "этот номер заблокирован в Telegram"),
        (errors.PhoneCodeInvalidError, "неверный код из Telegram: запустите вход заново"),
        (errors.PhoneCodeExpiredError, "код из Telegram истёк: запустите вход заново и введите новый код сразу"),
        (errors.PasswordHashInvalidError, "неверный облачный пароль (двухэтапная проверка) Telegram"),
    ]
    for cls, text in table:
        if isinstance(e, cls):
            return text
    if isinstance(e, errors.FloodWaitError):
        return f"Telegram просит подождать {getattr(e, 'seconds', '?')} с перед следующей попыткой входа"
    return None


def check_phone(phone: str) -> str:
    digits = phone.strip().replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    if not digits.startswith("+") or not digits[1:].isdigit() or not 8 <= len(digits) - 1 <= 15:
        raise InvalidInput(f"номер телефона {phone!r} — нужен полный международный номер, например +79001234567")
    return digits


def login(api_id: int, api_hash: str, phone: str, code: Callable[[], str], password: Callable[[], str],
          client_factory: Callable[[int, str], Any] = new_client) -> str:
    """Sign ``phone`` in and return the session string; ``code`` and ``password`` ask the user when needed."""
    phone = check_phone(phone)
    return asyncio.run(_login(client_factory(api_id, api_hash), phone, code, password))


async def _login(client: Any, phone: str, code: Callable[[], str], password: Callable[[], str]) -> str:
    from telethon import errors

    try:
        await client.connect()
        if not await client.is_user_authorized():
            await client.send_code_request(phone)
            try:
                await client.sign_in(phone=phone, code=code().strip())
            except errors.SessionPasswordNeededError:
                await client.sign_in(password=password())
        return str(client.session.save())
    except (errors.RPCError, ConnectionError, OSError) as e:
        reason = _reason(e)
        if reason is None:
            reason = f"вход в Telegram не удался ({type(e).__name__}: {e})"
        raise LoginFailed(reason) from None
    finally:
        await client.disconnect()
