"""Signed session cookies.

The cookie carries ``{uid, csrf, iat, pw}`` signed with HMAC-SHA256 under the
secret key. ``pw`` is a fingerprint of the user's password hash and session generation
(``users.session_generation``), so changing a password or signing out ends
every session of that user on the server side: a copied cookie stops working
at once; ``iat`` bounds a session's life.
The cookie is HttpOnly and SameSite=Lax; ``Secure`` is configurable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

COOKIE_NAME = "cur_session"
MAX_AGE = timedelta(hours=12)


@dataclass(frozen=True)
class SessionData:
    user_id: int
    csrf: str
    issued_at: datetime
    pw: str


def password_fingerprint(password_hash: str, generation: int = 0) -> str:
    """Ties a cookie to the account's password hash and session generation (``users.session_generation``):
    a new password, a sign-out or a password change makes every earlier cookie of the account invalid."""
    return hashlib.sha256(f"{generation}:{password_hash}".encode("utf-8")).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    def __init__(self, secret: bytes):
        self._key = hashlib.sha256(b"cur-session:" + secret).digest()

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, user_id: int, password_hash: str, now: datetime, generation: int = 0) -> tuple[str, SessionData]:
        data = SessionData(user_id, secrets.token_urlsafe(24), now, password_fingerprint(password_hash, generation))
        body = json.dumps({"uid": data.user_id, "csrf": data.csrf, "iat": int(now.timestamp()), "pw": data.pw}, separators=(",", ":"))
        payload = _b64(body.encode("utf-8"))
        return f"{payload}.{self._sign(payload)}", data

    def read(self, cookie: str | None, now: datetime) -> SessionData | None:
        if not cookie or "." not in cookie:
            return None
        payload, _, sig = cookie.rpartition(".")
        if not hmac.compare_digest(sig, self._sign(payload)):
            return None
        try:
            d = json.loads(_unb64(payload))
            issued = datetime.fromtimestamp(int(d["iat"]), tz=now.tzinfo)
            data = SessionData(int(d["uid"]), str(d["csrf"]), issued, str(d["pw"]))
        except (ValueError, KeyError, TypeError):
            return None
        if now - issued > MAX_AGE or issued - now > timedelta(minutes=5):
            return None
        return data

    # ------------------------------------------------------------------ flash messages
    #: how long a signed message link shows its message
    FLASH_MAX_AGE = timedelta(minutes=10)

    def _flash_sig(self, kind: str, text: str, ts: int) -> str:
        msg = f"flash\x00{kind}\x00{ts}\x00{text}".encode("utf-8")
        return _b64(hmac.new(self._key, msg, hashlib.sha256).digest()[:18])

    def sign_flash(self, kind: str, text: str, now: datetime) -> str:
        """The ``fs`` value that makes ``?msg=`` / ``?err=`` (``kind``) with this text shown by the page."""
        ts = int(now.timestamp())
        return f"{ts}.{self._flash_sig(kind, text, ts)}"

    def flash_ok(self, kind: str, text: str, fs: str | None, now: datetime) -> bool:
        """True when ``fs`` was issued by this server for this message and is recent."""
        if not fs or "." not in fs:
            return False
        ts_text, _, sig = fs.partition(".")
        if not ts_text.isascii() or not ts_text.isdigit() or len(ts_text) > 12:
            return False
        ts = int(ts_text)
        if not hmac.compare_digest(sig, self._flash_sig(kind, text, ts)):
            return False
        age = now.timestamp() - ts
        return -300 <= age <= self.FLASH_MAX_AGE.total_seconds()

