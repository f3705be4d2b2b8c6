"""Demo accounts for `cur demo`: one per role, printed on start."""

from __future__ import annotations

from typing import Any

from storage import web_repo
from storage.types import utcnow

from .accounts import add_user

#: (login, password, role, authority code or None: the specialist takes the first sector head)
DEMO_ACCOUNTS = [
    ("admin", "demo-admin-1", "admin", None),
    ("operator", "demo-operator-1", "operator", None),
    ("specialist", "demo-specialist-1", "specialist", "@sector_head"),
    ("analyst", "demo-analyst-1", "analyst", None),
    ("curator", "demo-curator-1", "curator", None),
]


def _specialist_authority(s: Any, profile: Any) -> str:
    """The authority holding the most open incidents (so the demo inbox is not empty), else a sector head."""
    busiest = web_repo.busiest_authority(s, profile.code)
    if busiest is not None:
        return busiest
    for a in profile.region.authorities:
        if a.role.value == "sector_head":
            return a.code
    return profile.region.authorities[0].code


def seed_demo_accounts(app: Any) -> list[tuple[str, str, str]]:
    """Create the demo accounts (idempotent) and return (login, password, role) for printing."""
    from pipeline.incidents import sync_authorities

    profile = app.region
    out = []
    with app.db.session() as s:
        sync_authorities(s, profile)
        for login, password, role, authority in DEMO_ACCOUNTS:
            code = _specialist_authority(s, profile) if authority == "@sector_head" else authority
            if web_repo.user_by_login(s, login) is None:
                add_user(s, profile.code, login, password, role, code, utcnow(), "demo", full_name=None)
            out.append((login, password, role))
    return out
