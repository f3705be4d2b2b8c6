"""Roles and what each may do. Handlers ask ``can(user, permission)``; nothing else decides."""

from __future__ import annotations

ADMIN, OPERATOR, SPECIALIST, ANALYST, CURATOR = "admin", "operator", "specialist", "analyst", "curator"
ROLES = (ADMIN, OPERATOR, SPECIALIST, ANALYST, CURATOR)

ROLE_NAMES = {
    ADMIN: "администратор",
    OPERATOR: "оператор (работа с массмедиа)",
    SPECIALIST: "специалист отраслевого блока",
    ANALYST: "аналитик",
    CURATOR: "куратор (только просмотр)",
}

#: permission -> roles that hold it
PERMISSIONS: dict[str, frozenset[str]] = {
    "review.view": frozenset({ADMIN, OPERATOR, CURATOR}),
    "review.act": frozenset({ADMIN, OPERATOR}),
    "incidents.view": frozenset({ADMIN, OPERATOR, SPECIALIST, ANALYST, CURATOR}),
    "incidents.manage": frozenset({ADMIN, OPERATOR}),  # reroute, merge, fake, reject, reopen
    "incidents.answer": frozenset({ADMIN, OPERATOR, SPECIALIST}),  # record answers, acknowledge, resolve
    "inbox.view": frozenset({ADMIN, OPERATOR, SPECIALIST, CURATOR}),
    "dashboard.view": frozenset({ADMIN, OPERATOR, SPECIALIST, ANALYST, CURATOR}),
    "models.view": frozenset({ADMIN, ANALYST, CURATOR}),
    "models.act": frozenset({ADMIN, ANALYST}),
    "audit.view": frozenset({ADMIN, CURATOR}),
    "fakes.view": frozenset({ADMIN, OPERATOR, ANALYST, CURATOR}),  # the registry of debunked claims, the marks
    "fakes.manage": frozenset({ADMIN, OPERATOR}),  # add / remove claims, tune the threshold
    "fakes.decide": frozenset({ADMIN, OPERATOR}),  # confirm or dismiss a «возможный фейк» mark
    "users.manage": frozenset({ADMIN}),
    "account.password": frozenset({ADMIN, OPERATOR, SPECIALIST, ANALYST, CURATOR}),  # change one's own password  # users page: create, reset password, (de)activate, change role
}


def can(role: str | None, permission: str) -> bool:
    return role is not None and role in PERMISSIONS[permission]


def is_scoped(role: str) -> bool:
    """Roles that see only their own authority's incidents."""
    return role == SPECIALIST
