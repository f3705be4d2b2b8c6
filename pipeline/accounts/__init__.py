"""Accounts of the web application and API tokens of authorities: the domain's rules, used by `cur` and the web.

* ``roles`` — the roles and what each may do;
* ``passwords`` — argon2id for passwords, SHA-256 for random tokens;
* ``users`` — creating accounts and the admin's changes (never lock out the last admin);
* ``tokens`` — issuing, listing and revoking API tokens;
* ``errors`` — ``AccountError``/``TokenError`` (``pipeline.errors.Refused``).
"""

from .errors import AccountError, TokenError

__all__ = ["AccountError", "TokenError"]
