"""Accounts: users, API tokens and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, delete, literal, or_, select, update
from sqlalchemy.orm import Session

from .models import ApiIdempotency, ApiToken, AuditEntry, Authority, User
from .paging import Key, Page, keyset_page


def user_by_login(s: Session, login: str) -> User | None:
    return s.scalar(select(User).where(User.login == login))


def user_by_id(s: Session, user_id: int) -> User | None:
    return s.get(User, user_id)


def add_user(
    s: Session, login: str, password_hash: str, role: str, authority_id: int | None, full_name: str | None = None, *, must_change_password: bool = False
) -> User:
    u = User(login=login, password_hash=password_hash, role=role, authority_id=authority_id, full_name=full_name, must_change_password=must_change_password)
    s.add(u)
    s.flush()
    return u


def user_names(s: Session) -> dict[str, str]:
    """login → full name of the accounts that have one."""
    return {login: name for login, name in s.execute(select(User.login, User.full_name)) if name}


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.login)))


USER_KEYS = [Key(User.login, kind=str), Key(User.id)]


def user_page(s: Session, *, limit: int, after: Sequence[Any] | None = None, before: Sequence[Any] | None = None,
              region: str | None = None) -> Page[User]:
    """Users by login, one page; with ``region``, the users of that region only (their own or their authority's)."""
    stmt = select(User)
    if region is not None:
        stmt = stmt.where(of_region(region))
    return keyset_page(s, stmt, USER_KEYS, limit=limit, after=after, before=before)


def of_region(region: str) -> Any:
    """The condition "a user of ``region``": the user's own region, or their authority's."""
    return or_(User.region == region, User.authority_id.in_(select(Authority.id).where(Authority.region == region)))


def user_in_region(s: Session, user_id: int, region: str) -> bool:
    return s.scalar(select(User.id).where(User.id == user_id, of_region(region))) is not None


def user_for_update(s: Session, user_id: int) -> User | None:
    """The user, locked until the transaction ends (PostgreSQL; SQLite serialises writers anyway)."""
    return s.scalar(select(User).where(User.id == user_id).with_for_update())


def active_admin_ids(s: Session, admin_role: str) -> list[int]:
    """Ids of the active admins, locked to the end of the transaction.

    Two admins demoting each other at the same moment cannot both succeed: on
    PostgreSQL the rows are read FOR UPDATE; SQLite ignores FOR UPDATE and
    reads outside the write lock, so a no-op write takes the database's write
    lock first and the read after it sees the latest committed state.
    """
    admins = (User.role == admin_role) & User.is_active.is_(True)
    if s.get_bind().dialect.name == "sqlite":
        s.execute(update(User).where(admins).values(role=User.role))
    return list(s.scalars(select(User.id).where(admins).order_by(User.id).with_for_update()))


def record_login(s: Session, user: User, now: datetime) -> None:
    """A successful sign-in: the time goes to ``users.last_login_at`` (the users page reads it there)."""
    user.last_login_at = now
    s.flush()


def end_sessions(s: Session, user_id: int) -> None:
    """Invalidate every session cookie of the account (sign-out, password change): one atomic increment."""
    s.execute(update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1))
    s.flush()


def set_password(s: Session, user: User, password_hash: str, *, must_change: bool = False) -> None:
    """A new password hash; ``must_change`` when an admin generated it (the user must set their own)."""
    user.password_hash = password_hash
    user.must_change_password = must_change
    s.flush()


def add_api_token(s: Session, authority_id: int, token_hash: str, label: str | None, now: datetime) -> ApiToken:
    t = ApiToken(authority_id=authority_id, token_hash=token_hash, label=label, created_at=now)
    s.add(t)
    s.flush()
    return t


@dataclass(frozen=True)
class TokenUse:
    """A valid (not revoked) token found by its hash: its authority, number and last recorded use."""

    authority: Authority
    token_id: int
    last_used_at: datetime | None


def token_for_api(s: Session, token_hash: str) -> TokenUse | None:
    """The active token with this hash and its authority, in one read (no write)."""
    row = s.execute(
        select(Authority, ApiToken.id, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.authority_id == Authority.id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    ).first()
    return TokenUse(row[0], row[1], row[2]) if row else None


def touch_api_token(s: Session, token_id: int, now: datetime, resolution: timedelta) -> bool:
    """Record a use of the token unless one was recorded less than ``resolution`` ago; True if written.

    A conditional UPDATE: requests racing each other in the same minute write once.
    """
    stale = or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - resolution)
    result = s.execute(update(ApiToken).where(ApiToken.id == token_id, stale).values(last_used_at=now))
    s.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult


def _region_tokens(region: str, authority_id: int | None = None, state: str | None = None, unused_since: datetime | None = None) -> Select:
    """Tokens of the region's authorities; ``state`` is ``active``, ``revoked`` or None (both).

    ``unused_since``: only tokens not used since then (never used, or last used before it).
    """
    stmt = select(ApiToken).join(Authority, Authority.id == ApiToken.authority_id).where(Authority.region == region)
    if authority_id is not None:
        stmt = stmt.where(ApiToken.authority_id == authority_id)
    if state == "active":
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    elif state == "revoked":
        stmt = stmt.where(ApiToken.revoked_at.is_not(None))
    if unused_since is not None:
        stmt = stmt.where(or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < unused_since))
    return stmt


#: newest first
TOKEN_KEYS = [Key(ApiToken.created_at, desc=True, kind=datetime), Key(ApiToken.id, desc=True)]


def api_tokens(s: Session, region: str, authority_id: int | None = None, state: str | None = None, unused_since: datetime | None = None) -> list[ApiToken]:
    """The region's API tokens, newest first (rows only: the hash is never shown to anyone)."""
    stmt = _region_tokens(region, authority_id, state, unused_since).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    return list(s.scalars(stmt))


def api_token_page(
    s: Session,
    region: str,
    *,
    limit: int,
    authority_id: int | None = None,
    state: str | None = None,
    unused_since: datetime | None = None,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
) -> Page[ApiToken]:
    """One page of the region's API tokens, newest first."""
    return keyset_page(s, _region_tokens(region, authority_id, state, unused_since), TOKEN_KEYS, limit=limit, after=after, before=before)


def api_token(s: Session, region: str, token_id: int) -> ApiToken | None:
    """A token of one of the region's authorities, or None."""
    return s.scalar(_region_tokens(region).where(ApiToken.id == token_id))


def revoke_api_token(s: Session, token_id: int, now: datetime) -> bool:
    """Mark the token revoked unless it already is; True if this call revoked it.

    One conditional UPDATE, so two revocations at the same moment (on either
    backend) see exactly one success and the first revocation time is kept.
    """
    result = s.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None)).values(revoked_at=now))
    s.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult


# --------------------------------------------------------------------------- audit


def audit(s: Session, actor: str, action: str, target: str | None, data: dict[str, Any] | None, at: datetime) -> None:
    s.add(AuditEntry(actor=actor, action=action, target=target, data=data or {}, at=at))
    s.flush()


def count_audit(s: Session, action: str, target: str, since: datetime, ip: str | None = None) -> int:
    stmt = select(AuditEntry.data).where(AuditEntry.action == action, AuditEntry.target == target, AuditEntry.at >= since)
    rows = list(s.scalars(stmt))
    if ip is None:
        return len(rows)
    return sum(1 for d in rows if (d or {}).get("ip") == ip)


def audit_times(s: Session, action: str, since: datetime, target: str | None = None) -> list[tuple[datetime, dict]]:
    """(time, data) of the entries of ``action`` since ``since`` (of one ``target``, or of all), oldest first."""
    stmt = select(AuditEntry.at, AuditEntry.data).where(AuditEntry.action == action, AuditEntry.at >= since)
    if target is not None:
        stmt = stmt.where(AuditEntry.target == target)
    return [(at, d or {}) for at, d in s.execute(stmt.order_by(AuditEntry.at, AuditEntry.id))]


def audit_about(s: Session, login: str, limit: int = 30) -> list[AuditEntry]:
    """The latest entries about an account: done to it (``user:LOGIN``) or its sign-ins and failures."""
    stmt = select(AuditEntry).where(or_(AuditEntry.target == f"user:{login}", AuditEntry.target == login))
    return list(s.scalars(stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)))


AUDIT_KEYS = [Key(AuditEntry.at, desc=True, kind=datetime), Key(AuditEntry.id, desc=True)]


def audit_page(s: Session, *, limit: int, after: Sequence[Any] | None = None, before: Sequence[Any] | None = None,
               region: str | None = None, default_region: str | None = None) -> Page[AuditEntry]:
    """The audit log, newest first, one page (no total: counting a long log is not cheap); with ``region``, the
    entries of that region's users (``of_region``), of its authorities' API tokens (``api:<code>`` for the
    ``default_region``'s, ``api:<region>:<code>`` for another's: ``pipeline.accounts.tokens.api_actor``) and about
    its authorities (target ``authority:<code>`` / ``authority:<region>:<code>`` in the same way: the tokens issued
    and revoked for them, whoever did it: ``pipeline.accounts.tokens.authority_target``) only."""
    stmt = select(AuditEntry)
    if region is not None:
        own = region == default_region
        tokens = select(literal("api:" if own else f"api:{region}:", String) + Authority.code).where(Authority.region == region)
        about = select(literal("authority:" if own else f"authority:{region}:", String) + Authority.code).where(Authority.region == region)
        stmt = stmt.where(or_(AuditEntry.actor.in_(select(User.login).where(of_region(region))), AuditEntry.actor.in_(tokens),
                              AuditEntry.target.in_(about)))
    return keyset_page(s, stmt, AUDIT_KEYS, limit=limit, after=after, before=before, count=False)


# --------------------------------------------------------------------------- API idempotency keys

#: How long a stored answer is replayed for a retried request.
IDEMPOTENCY_TTL = timedelta(hours=24)


def idempotent_answer(s: Session, authority_id: int, key: str, now: datetime) -> ApiIdempotency | None:
    """The stored answer for this authority's key (younger than a day), if any."""
    row = s.scalar(select(ApiIdempotency).where(ApiIdempotency.authority_id == authority_id, ApiIdempotency.key == key))
    if row is not None and row.created_at < now - IDEMPOTENCY_TTL:
        s.delete(row)
        s.flush()
        return None
    return row


def store_idempotent_answer(s: Session, authority_id: int, key: str, request_hash: str, status: int, body: Any, now: datetime) -> None:
    """Keep the answer in this transaction (a concurrent duplicate fails on the unique key and rolls back its work)."""
    s.execute(delete(ApiIdempotency).where(ApiIdempotency.created_at < now - IDEMPOTENCY_TTL))
    s.add(ApiIdempotency(authority_id=authority_id, key=key, request_hash=request_hash, status=status, body=body, created_at=now))
    s.flush()

