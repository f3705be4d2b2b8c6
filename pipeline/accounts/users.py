"""Accounts and API tokens: creation (CLI, demo, users page) and the admin's changes on the users page.

Every change is written to the audit log with the acting login. The rules an
admin cannot break: nobody deactivates or changes the role of their own
account, and the last active admin stays an active admin (checked under a
lock, so two admins demoting each other at once cannot both succeed).
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage import web_repo

from .errors import AccountError
from .passwords import hash_password
from .roles import ADMIN, ROLE_NAMES, ROLES, SPECIALIST, is_scoped
from .tokens import issue_token

#: letters and digits that cannot be mistaken for one another when read aloud or copied by hand
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
GENERATED_LENGTH = 16  # about 92 bits


def generate_password() -> str:
    """A random password for a new account or a reset: shown to the admin once, never stored in clear."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(GENERATED_LENGTH))
    return "-".join(body[i : i + 4] for i in range(0, GENERATED_LENGTH, 4))


def add_user(
    s: Any,
    region: str,
    login: str,
    password: str,
    role: str,
    authority_code: str | None,
    now: datetime,
    actor: str,
    full_name: str | None = None,
    *,
    must_change_password: bool = False,
    user_region: str | None = None,
) -> Any:
    """A new account; ``region``: where ``authority_code`` is looked up; ``must_change_password``: the user must set
    their own password at the next sign-in; ``user_region``: the one region the user works in (None: every region
    served) — when given, ``region`` must be it (a user of region B gets an authority of B)."""
    if role not in ROLES:
        raise AccountError(f"неизвестная роль «{role}»; возможные: {', '.join(ROLES)}")
    if not login or len(login) > 128:
        raise AccountError("логин пуст или длиннее 128 символов")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in login):
        raise AccountError("в логине не должно быть пробелов и управляющих символов")
    if web_repo.user_by_login(s, login) is not None:
        raise AccountError(f"пользователь «{login}» уже есть")
    if user_region is not None and region != user_region:
        # the authority of a user of region B is one of B's (authority codes repeat across regions)
        raise AccountError(f"орган власти ищется в регионе {region}, а пользователь — региона {user_region}: "
                           "орган власти должен быть из региона пользователя")
    authority_id = None
    if authority_code:
        a = web_repo.authority_by_code(s, region, authority_code)
        if a is None:
            raise AccountError(f"в регионе {region} нет органа власти с кодом «{authority_code}»")
        authority_id = a.id
    if role == SPECIALIST and authority_id is None:
        raise AccountError("специалисту нужен орган власти: --authority КОД")
    try:
        pw_hash = hash_password(password)
    except ValueError as e:
        raise AccountError(str(e)) from None
    user = web_repo.add_user(s, login, pw_hash, role, authority_id, full_name, must_change_password=must_change_password)
    user.region = user_region
    data: dict[str, Any] = {"role": role, "authority": authority_code}
    if user_region is not None:
        data["region"] = user_region
    if must_change_password:
        data["must_change_password"] = True
    web_repo.audit(s, actor, "user.add", f"user:{login}", data, now)
    return user


@dataclass(frozen=True)
class UserRow:
    """What a list of accounts shows (never the password hash)."""

    login: str
    role: str
    authority_code: str | None
    is_active: bool
    must_change_password: bool
    last_login_at: datetime | None


def list_users(s: Any) -> list[UserRow]:
    """Every account with its authority's code, as the user list shows them."""
    users = web_repo.list_users(s)
    names = web_repo.authority_names(s, [u.authority_id for u in users])
    return [
        UserRow(u.login, u.role, names[u.authority_id].code if u.authority_id in names else None,
                bool(u.is_active), bool(u.must_change_password), u.last_login_at)
        for u in users
    ]  # fmt: skip


def add_token(s: Any, region: str, authority_code: str, now: datetime, actor: str, label: str | None = None) -> str:
    """Create an API token for the authority; the token itself is returned once and never stored."""
    return issue_token(s, region, authority_code, now, actor, label)[1]


# --------------------------------------------------------------------------- the admin's changes (users page)


def _target(s: Any, user_id: int) -> Any:
    u = web_repo.user_for_update(s, user_id)
    if u is None:
        raise AccountError("такого пользователя нет")
    return u


def _locked(s: Any, user_id: int, actor_id: int) -> tuple[Any, list[int]]:
    """The target account and the active admins, locked in one order (admins first) so changes never deadlock.

    The actor must still be an active admin when the lock is held: an admin
    deactivated a moment ago by another admin cannot act any more.
    """
    admins = web_repo.active_admin_ids(s, ADMIN)
    if actor_id not in admins:
        raise AccountError("ваша учётная запись больше не администратор")
    return _target(s, user_id), admins


def _keep_an_admin(target: Any, admins: list[int]) -> None:
    if target.id in admins and len(admins) <= 1:
        raise AccountError("это последний действующий администратор: сначала назначьте другого")


def _authority_id(s: Any, region: str, role: str, authority_code: str | None) -> tuple[int | None, str | None]:
    """The authority a role is bound to: required for scoped roles, none for the others."""
    if not is_scoped(role):
        return None, None
    if not authority_code:
        raise AccountError(f"для роли «{ROLE_NAMES[role]}» нужен орган власти")
    a = web_repo.authority_by_code(s, region, authority_code)
    if a is None:
        raise AccountError(f"в регионе {region} нет органа власти с кодом «{authority_code}»")
    return a.id, a.code


def create_user(s: Any, region: str, login: str, role: str, authority_code: str | None, now: datetime, actor: str,
                full_name: str | None = None, user_region: str | None = None) -> tuple[Any, str]:
    """A new account with a generated password; returns (user, password) — the password is shown once.
    ``region``: where the authority code is looked up; ``user_region``: the user's own region (None: every region;
    when given, ``region`` must be it: a user of region B gets an authority of B).

    The user must replace it with their own at the first sign-in (``must_change_password``).
    """
    if not role:
        raise AccountError("выберите роль")
    if role not in ROLES:
        raise AccountError(f"неизвестная роль «{role}»")
    if user_region is not None and region != user_region:
        raise AccountError(f"орган власти ищется в регионе {region}, а пользователь — региона {user_region}: "
                           "орган власти должен быть из региона пользователя")
    _, code = _authority_id(s, region, role, authority_code)
    password = generate_password()
    user = add_user(s, region, login.strip(), password, role, code, now, actor, (full_name or "").strip() or None, must_change_password=True,
                    user_region=user_region)
    return user, password


def reset_password(s: Any, user_id: int, now: datetime, actor: str) -> tuple[Any, str]:
    """Replace the password with a generated one (shown once); every session of the user ends with it.

    The user must replace it with their own at the next sign-in (``must_change_password``).
    """
    user = _target(s, user_id)
    password = generate_password()
    web_repo.set_password(s, user, hash_password(password), must_change=True)
    web_repo.audit(s, actor, "user.password_reset", f"user:{user.login}", {}, now)
    return user, password


def set_active(s: Any, user_id: int, active: bool, now: datetime, actor: str, actor_id: int) -> Any:
    """Deactivate (sessions stop at the next request) or reactivate an account."""
    if user_id == actor_id:
        raise AccountError("нельзя отключить или включить собственную учётную запись")
    user, admins = _locked(s, user_id, actor_id)
    if not active:
        _keep_an_admin(user, admins)
    if bool(user.is_active) == active:
        return user
    user.is_active = active
    s.flush()
    web_repo.audit(s, actor, "user.activate" if active else "user.deactivate", f"user:{user.login}", {}, now)
    return user


def user_region(s: Any, user: Any) -> str | None:
    """The region a user belongs to: their own (``users.region``), else their authority's (a specialist's); None:
    every region (federal)."""
    if user.region is not None:
        return str(user.region)
    if user.authority_id is not None:
        a = web_repo.authority_names(s, [user.authority_id]).get(user.authority_id)
        if a is not None:
            return str(a.region)
    return None


def change_role(s: Any, default_region: str, user_id: int, role: str, authority_code: str | None, now: datetime, actor: str,
                actor_id: int, *, many_regions: bool, admin_region: str | None = None) -> Any:
    """Change the role and the authority (authority only for scoped roles); takes effect at the next request.

    The authority is looked up in the target user's own region (``user_region``), never in the region the admin's
    page shows: authority codes repeat across regions. A user of no region (federal) of a deployment serving several
    regions cannot get a scoped role; in a deployment of one region such a user is of ``default_region``.
    ``admin_region``: an admin of one region changes that region's users only. A user whose region came from the
    authority they lose keeps that region (a specialist of Pskov made an operator stays a Pskov operator).
    """
    if role not in ROLES:
        raise AccountError(f"неизвестная роль «{role}»")
    if user_id == actor_id:
        raise AccountError("нельзя менять роль собственной учётной записи")
    user, admins = _locked(s, user_id, actor_id)
    target_region = user_region(s, user)
    if admin_region is not None and target_region != admin_region:
        raise AccountError("такого пользователя нет")  # another region's user: not even their existence
    if role != ADMIN:
        _keep_an_admin(user, admins)
    if target_region is None:
        if many_regions and is_scoped(role):
            raise AccountError(f"у пользователя не задан регион (поле «Регион»): роль «{ROLE_NAMES[role]}» привязана "
                               "к органу власти одного региона — создайте пользователя этого региона")
        target_region = default_region
    authority_id, code = _authority_id(s, target_region, role, authority_code)
    before = {"role": user.role, "authority_id": user.authority_id}
    if before == {"role": role, "authority_id": authority_id}:
        return user
    old_code = None
    if user.authority_id is not None:
        old = web_repo.authority_names(s, [user.authority_id]).get(user.authority_id)
        old_code = old.code if old else None
    if many_regions and user.region is None and user.authority_id is not None:
        user.region = target_region  # the region came with the authority: it stays when the authority goes
    user.role, user.authority_id = role, authority_id
    s.flush()
    data: dict[str, Any] = {"role": [before["role"], role], "authority": [old_code, code]}
    if many_regions:
        data["region"] = target_region
    web_repo.audit(s, actor, "user.change", f"user:{user.login}", data, now)
    return user
