"""`cur telegram login`: the sign-in flow against a fake telethon client holding a real StringSession; Russian errors."""

from __future__ import annotations

import pytest
from telethon import errors
from telethon.crypto import AuthKey
from telethon.sessions import StringSession

import cli.sources
from pipeline.telegram_login import LoginFailed, login


class FakeLoginClient:
    """What ``pipeline.telegram_login`` calls of telethon's ``TelegramClient``, with telethon's real errors."""

    def __init__(self, api_id: int, api_hash: str, code: str = "12345", password: str | None = None, api_ok: bool = True):
        self.api_id, self.api_hash = api_id, api_hash
        self.session = StringSession()
        self.code, self.password, self.api_ok = code, password, api_ok
        self.authorised = False
        self.code_sent_to: str | None = None
        self.connected = False
        self.code_ok = False

    async def connect(self) -> None:
        if not self.api_ok:
            raise errors.ApiIdInvalidError(request=None)
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    async def is_user_authorized(self) -> bool:
        return self.authorised

    async def send_code_request(self, phone: str) -> None:
        self.code_sent_to = phone

    async def sign_in(self, phone: str | None = None, code: str | None = None, password: str | None = None) -> None:
        if code is not None:
            if code != self.code:
                raise errors.PhoneCodeInvalidError(request=None)
            self.code_ok = True
            if self.password is not None:
                raise errors.SessionPasswordNeededError(request=None)
        elif password is not None:
            if not self.code_ok or password != self.password:
                raise errors.PasswordHashInvalidError(request=None)
        self.authorised = True
        self.session.set_dc(2, "149.154.167.40", 443)
        self.session.auth_key = AuthKey(bytes(range(256)))


def test_login_returns_a_real_session_string():
    made: list[FakeLoginClient] = []

    def factory(api_id, api_hash):
        made.append(FakeLoginClient(api_id, api_hash, password="облако"))
        return made[-1]

    text = login(12345, "abc", "+7 900 123-45-67", code=lambda: " 12345 ", password=lambda: "облако", client_factory=factory)
    restored = StringSession(text)
    assert restored.dc_id == 2 and restored.auth_key.key == bytes(range(256))
    assert made[0].code_sent_to == "+79001234567" and made[0].connected is False  # disconnected after


@pytest.mark.parametrize("kwargs, code, password, message", [
    ({}, "00000", "", "неверный код из Telegram"),
    ({"password": "облако"}, "12345", "не то", "неверный облачный пароль"),
    ({"api_ok": False}, "12345", "", "Telegram не принял API id и API hash"),
])
def test_login_errors_are_russian(kwargs, code, password, message):
    with pytest.raises(LoginFailed) as e:
        login(1, "h", "+79001234567", code=lambda: code, password=lambda: password,
              client_factory=lambda i, h: FakeLoginClient(i, h, **kwargs))
    assert message in str(e.value)


def test_cli_prints_the_session_and_checks_its_arguments(cur, monkeypatch):
    monkeypatch.setattr(cli.sources, "_telegram_client", lambda i, h: FakeLoginClient(i, h, password="облако"))
    r = cur("telegram", "login", "--api-id", "7", "--api-hash", "hash", "--phone", "+79001234567", input="12345\nоблако\n")
    assert r.returncode == 0, r.stderr
    session = r.stdout.strip().splitlines()[-1]
    assert StringSession(session).dc_id == 2
    assert "CUR_TELEGRAM_SESSION" in r.stderr and "Код из Telegram" in r.stderr

    r = cur("telegram", "login", "--phone", "+79001234567")
    assert r.returncode == 2 and "нужны API id и API hash" in r.stderr
    r = cur("telegram", "login", "--api-id", "7", "--api-hash", "hash", "--phone", "8900")
    assert r.returncode == 1 and "нужен полный международный номер" in r.stderr
    r = cur("telegram", "login", "--api-id", "7", "--api-hash", "hash", "--phone", "+79001234567", input="99999\n")
    assert r.returncode == 1 and "Ошибка: неверный код из Telegram" in r.stderr and "Traceback" not in r.stderr
