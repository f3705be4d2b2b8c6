"""API tokens of authorities: issue, list and revoke (shared by `cur tokens`, the admin's /tokens page and the API).

A token is shown once, when it is issued, and only its SHA-256 is stored; no
listing ever shows the token or its hash. Revocation sets ``revoked_at``; the
API looks the token up on every request and ignores revoked ones, so a revoked
token is refused from the next request on. Revoking is idempotent: a token
that is already revoked keeps its first revocation time and no second audit
entry is written. Every issue and revocation is an audit entry (``token.add``,
``token.revoke``) whose target is the authority — ``authority:CODE`` for the
default region's, ``authority:REGION:CODE`` for another region's
(:func:`authority_target`, as :func:`api_actor`: codes repeat across regions) —
and whose data names the token's number and label — never the token.

The API records when a token was last used (``last_used_at``) to the minute:
the token's row is read on every request anyway, and it is written only when
the recorded use is a minute old or more, so a busy token costs one write a
minute, not one per request. Lists show it, and ``dormant`` ones (active, not
used for :data:`DORMANT_AFTER`) can be listed on their own.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from storage import web_repo

from .errors import TokenError
from .passwords import hash_token, new_token


def api_actor(region: str, code: str, default_region: str) -> str:
    """Who acted through an authority's token, as the audit log and the event log name it: ``api:CODE`` for an
    authority of the default region (as before regions existed), ``api:REGION:CODE`` for another region's — authority
    codes repeat across regions (every profile has a ``curator``), so the region is part of the name."""
    return f"api:{code}" if region == default_region else f"api:{region}:{code}"


def authority_target(region: str, code: str, default_region: str | None = None) -> str:
    """The audit target naming an authority, in the form of :func:`api_actor`: ``authority:CODE`` for the default
    region's (as before regions existed; ``default_region`` None: ``region`` is the default), ``authority:REGION:CODE``
    for another region's."""
    return f"authority:{code}" if default_region is None or region == default_region else f"authority:{region}:{code}"


MAX_LABEL = 255
#: ``last_used_at`` is written at most this often per token.
LAST_USE_RESOLUTION = timedelta(minutes=1)
#: An active token not used for this long is dormant (a candidate for revocation).
DORMANT_AFTER = timedelta(days=30)


def use_is_stale(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a request at ``now`` should record a use (none recorded, or one a minute old or more)."""
    return last_used_at is None or now - last_used_at >= LAST_USE_RESOLUTION


@dataclass(frozen=True)
class TokenRow:
    """What a token list shows: everything except the token and its hash."""

    id: int
    authority_code: str
    authority_name: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _authority(s: Any, region: str, code: str) -> Any:
    a = web_repo.authority_by_code(s, region, code) if code else None
    if a is None:
        raise TokenError(f"в регионе {region} нет органа власти с кодом «{code}»" if code else "выберите орган власти")
    return a


def _clean_label(label: str | None) -> str | None:
    label = (label or "").strip()
    if not label:
        return None
    if len(label) > MAX_LABEL:
        raise TokenError(f"пометка длиннее {MAX_LABEL} символов")
    if any(unicodedata.category(ch).startswith("C") for ch in label):
        raise TokenError("в пометке не должно быть управляющих символов")
    return label


def issue_token(s: Any, region: str, authority_code: str, now: datetime, actor: str, label: str | None = None, *,
                default_region: str | None = None, **audit_data: Any) -> tuple[TokenRow, str]:
    """A new token for the authority: (its row, the token itself — to be shown once and forgotten).
    ``default_region``: the deployment's default region (None: ``region`` is it), for the audit target."""
    a = _authority(s, region, authority_code)
    label = _clean_label(label)
    token = new_token()
    t = web_repo.add_api_token(s, a.id, hash_token(token), label, now)
    web_repo.audit(s, actor, "token.add", authority_target(region, a.code, default_region), {"token_id": t.id, "label": label, **audit_data}, now)
    return TokenRow(t.id, a.code, a.name, t.label, t.created_at, t.revoked_at), token


def _rows(s: Any, tokens: list[Any]) -> list[TokenRow]:
    names = web_repo.authority_names(s, [t.authority_id for t in tokens])
    return [TokenRow(t.id, names[t.authority_id].code, names[t.authority_id].name, t.label, t.created_at, t.revoked_at, t.last_used_at) for t in tokens]


def list_tokens(s: Any, region: str, authority_code: str | None = None, state: str | None = None, unused_since: datetime | None = None) -> list[TokenRow]:
    """The region's tokens, newest first; ``state``: ``active``, ``revoked`` or None for both.

    ``unused_since``: only tokens not used since then (never, or last before it).
    """
    authority_id = _authority(s, region, authority_code).id if authority_code else None
    return _rows(s, web_repo.api_tokens(s, region, authority_id, state, unused_since))


def token_rows(s: Any, tokens: list[Any]) -> list[TokenRow]:
    """Rows for token objects read elsewhere (a page of the web list)."""
    return _rows(s, tokens)


@dataclass(frozen=True)
class Revoked:
    row: TokenRow
    now_revoked: bool  # False: it had been revoked before (nothing changed)


def revoke_token(s: Any, region: str, token_id: int, now: datetime, actor: str, *, default_region: str | None = None,
                 **audit_data: Any) -> Revoked:
    """Revoke one token by number; an unknown number is a TokenError naming it."""
    t = web_repo.api_token(s, region, token_id) if 0 < token_id < 2**63 else None
    if t is None:
        raise TokenError(f"токена № {token_id} нет (регион {region})")
    changed = web_repo.revoke_api_token(s, t.id, now)
    s.refresh(t)
    (row,) = _rows(s, [t])
    if changed:
        web_repo.audit(s, actor, "token.revoke", authority_target(region, row.authority_code, default_region),
                       {"token_id": t.id, "label": t.label, **audit_data}, now)
    return Revoked(row, changed)


def revoke_tokens(s: Any, region: str, token_ids: list[int], now: datetime, actor: str, *, default_region: str | None = None,
                  **audit_data: Any) -> list[Revoked]:
    """Revoke several tokens, all or none: every number is checked before any is revoked."""
    unknown = [i for i in dict.fromkeys(token_ids) if not 0 < i < 2**63 or web_repo.api_token(s, region, i) is None]
    if unknown:
        listed = ", ".join(f"№ {i}" for i in unknown)
        raise TokenError(f"{'токена' if len(unknown) == 1 else 'токенов'} {listed} нет (регион {region}); ничего не отозвано")
    return [revoke_token(s, region, i, now, actor, default_region=default_region, **audit_data) for i in dict.fromkeys(token_ids)]


def revoke_authority_tokens(s: Any, region: str, authority_code: str, now: datetime, actor: str, *, default_region: str | None = None,
                            **audit_data: Any) -> list[Revoked]:
    """Revoke every active token of the authority; returns those revoked by this call."""
    a = _authority(s, region, authority_code)
    out = [revoke_token(s, region, t.id, now, actor, default_region=default_region, **audit_data)
           for t in web_repo.api_tokens(s, region, a.id, "active")]
    return [r for r in out if r.now_revoked]
