"""Who: the region's authorities (synced from the profile) and the recipient of an escalation."""

from __future__ import annotations

from sqlalchemy.orm import Session

from config import RegionProfile
from storage import incidents as q
from storage.models import Authority, Incident

from ..routing import escalation_authority
from .common import IncidentError, _tx_cache


def _authority(session: Session, profile: RegionProfile, code: str) -> Authority:
    cache = _tx_cache(session)
    key = ("authority", profile.code, code)
    row = cache.get(key)
    if row is not None:
        return row
    row = q.authority_by_code(session, profile.code, code)
    if row is None:
        sync_authorities(session, profile)
        row = q.authority_by_code(session, profile.code, code)
    if row is None:
        raise IncidentError(f"в профиле региона {profile.code} нет органа {code!r}")
    cache[key] = row
    return row


def sync_authorities(session: Session, profile: RegionProfile) -> dict[str, Authority]:
    """Create or update the region's authorities from its profile (by code)."""
    region = profile.code
    _tx_cache(session).clear()  # the rows are rewritten: no cached authority survives
    for a in profile.region.authorities:
        q.upsert_authority(
            session,
            region,
            a.code,
            {
                "name": a.name,
                "role": a.role.value,
                "email": a.email,
                "telegram_chat_id": a.telegram_chat_id,
                "webhook_url": a.webhook_url,
                "details": {
                    "sectors": list(a.sectors),
                    "municipality": a.municipality,
                    "vk_accounts": [str(x) for x in a.vk_accounts],
                    "telegram_accounts": list(a.telegram_accounts),
                },
            },
        )
    session.flush()
    return q.authorities_by_code(session, region)


def escalation_recipient(session: Session, profile: RegionProfile, incident: Incident, role: str) -> str | None:
    """Authority code that receives an escalation (or reminder) addressed to ``role``
    (``pipeline.routing.escalation_authority``)."""
    assigned = None
    if role == "specialist" and incident.authority_id:
        a = session.get(Authority, incident.authority_id)
        assigned = a.code if a else None
    return escalation_authority(profile, role, incident.sector, assigned)

