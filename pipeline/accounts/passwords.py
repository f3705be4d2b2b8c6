"""Password and API-token hashing: argon2id for passwords, SHA-256 for random tokens."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

#: Hash checked when the login is unknown, so timing does not reveal which logins exist: made on first
#: use (the web application makes it at start-up, :func:`prepare`), not at import, so the CLI commands and
#: workers that never check a password do not pay for a production-cost hash.
_DUMMY: str | None = None

#: ASVS 2.1.1: at least 12 characters (no other composition rules, ASVS 2.1.9).
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"пароль должен быть не короче {MIN_PASSWORD_LENGTH} символов")
    return _hasher.hash(password)


def prepare() -> str:
    """The dummy hash, made now if it is not yet (so the first unknown login is as slow as any other)."""
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = _hasher.hash("not-a-password")
    return _DUMMY


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or prepare(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A random API token (shown once) ..."""
    return "cur_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """... of which only this hash is stored (tokens are random, so no slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
