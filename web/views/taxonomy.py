"""Names of sectors, categories, municipalities and authorities for display and form validation."""

from __future__ import annotations

from typing import Any

from storage import web_repo


def sector_names(profile: Any) -> dict[str, str]:
    return {s.code: s.name for s in profile.sectors}


def category_names(profile: Any) -> dict[tuple[str, str], str]:
    return {(s.code, c.code): c.name for s in profile.sectors for c in s.categories}


def municipality_names(profile: Any) -> dict[str, str]:
    return {m.code: m.name for m in profile.region.municipalities}


def valid_classification(profile: Any, sector: str, category: str) -> bool:
    s = profile.sector(sector)
    return s is not None and s.category(category) is not None


def names(req: Any) -> dict[str, Any]:
    """Template helpers for codes → Russian names."""
    profile = req.profile
    from .wording import Namer

    auths = {a.id: a for a in web_repo.authorities(req.s, profile.region.code)}
    return {
        "N": Namer(req),
        "SECTORS": sector_names(profile),
        "CATEGORIES": category_names(profile),
        "MUNICIPALITIES": municipality_names(profile),
        "AUTHORITIES": auths,
        "profile": profile,
    }
