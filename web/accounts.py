"""Creating accounts and API tokens (used by the CLI and the demo)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage import web_repo

from .passwords import hash_password, hash_token, new_token
from .roles import ROLES, SPECIALIST


class AccountError(ValueError):
    pass


def add_user(s: Any, region: str, login: str, password: str, role: str, authority_code: str | None, now: datetime, actor: str, full_name: str | None = None) -> Any:
    if role not in ROLES:
        raise AccountError(f"неизвестная роль «{role}»; возможные: {', '.join(ROLES)}")
    if not login or len(login) > 128:
        raise AccountError("логин пуст или длиннее 128 символов")
    if web_repo.user_by_login(s, login) is not None:
        raise AccountError(f"пользователь «{login}» уже есть")
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
    user = web_repo.add_user(s, login, pw_hash, role, authority_id, full_name)
    web_repo.audit(s, actor, "user.add", f"user:{login}", {"role": role, "authority": authority_code}, now)
    return user


def add_token(s: Any, region: str, authority_code: str, now: datetime, actor: str, label: str | None = None) -> str:
    """Create an API token for the authority; the token itself is returned once and never stored."""
    a = web_repo.authority_by_code(s, region, authority_code)
    if a is None:
        raise AccountError(f"в регионе {region} нет органа власти с кодом «{authority_code}»")
    token = new_token()
    web_repo.add_api_token(s, a.id, hash_token(token), label, now)
    web_repo.audit(s, actor, "token.add", f"authority:{authority_code}", {"label": label}, now)
    return token
