"""Errors of accounts and tokens (Russian messages, for the user)."""

from __future__ import annotations

from pipeline.errors import Refused


class AccountError(Refused):
    """An account change that cannot be done: a bad login, a missing authority, the last admin…"""


class TokenError(AccountError):
    """A token request that cannot be done; the message is for the user (Russian)."""
