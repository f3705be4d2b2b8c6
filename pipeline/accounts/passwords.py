"""Password and API-token hashing: argon2id for passwords, SHA-256 for random tokens."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def dummy_hash() -> str:
    """Hash checked when the login is unknown, so timing does not reveal which logins exist.

    Computed once, on first use rather than at import: a production-cost argon2 hash
    is too dear for every `cur` command that merely imports this module. The web app
    warms it when it is created, so its first unknown login costs what any other does.
    """
    return _dummy_of(_hasher)


@cache
def _dummy_of(hasher: PasswordHasher) -> str:
    return hasher.hash("not-a-password")


#: ASVS 2.1.1: at least 12 characters (no other composition rules, ASVS 2.1.9).
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"пароль должен быть не короче {MIN_PASSWORD_LENGTH} символов")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A random API token (shown once) ..."""
    return "cur_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """... of which only this hash is stored (tokens are random, so no slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
