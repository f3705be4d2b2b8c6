"""User management for admins, and changing one's own password.

Passwords set by an admin are never typed by the admin: creating an account
or resetting a password generates a random one (``accounts.generate_password``)
and shows it once, on the answer to that POST (no redirect, ``no-store``), so
it is not in any URL, log or browser history. Such a password is temporary
(``users.must_change_password``): after signing in with it the user is sent to
``/account/password`` and every other page and form redirects there until they
set their own (``web.auth.session_middleware``). A deactivated account's
sessions stop at the next request: every request reloads the user and refuses
inactive ones.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pipeline.accounts.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from pipeline.accounts.roles import ROLE_NAMES, ROLES, is_scoped
from pipeline.accounts.users import AccountError, change_role, create_user, reset_password, set_active, user_region
from storage import web_repo
from storage.accounts import user_in_region

from .. import paging
from ..auth import safe_next, set_session_cookie
from ..core import CODEC, Req, page, path_id, redirect
from .system import HOME
from .wording import namer

USERS_PAGE = 50


def _authorities(req: Req) -> list[Any]:
    return web_repo.authorities(req.s, req.region_code)


def _admin_region(req: Req) -> str | None:
    """The one region whose users an admin of a region manages (None: a federal admin, or one region served)."""
    return req.user.region if req.app_ctx.many_regions else None


def _list(req: Req, status: int = 200, error: str | None = None, form: dict[str, str] | None = None) -> web.StreamResponse:
    try:
        pg = paging.fetch("users", {}, req.request.query.get("cursor"), lambda **kw: web_repo.user_page(req.s, limit=USERS_PAGE, region=_admin_region(req), **kw))
    except paging.CursorError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    auths = web_repo.authority_names(req.s, [u.authority_id for u in pg.items])
    return req.render(
        "users.html",
        status=status,
        users=pg.items,
        pager=paging.pager("/users", "users", {}, pg),
        user_authorities=auths,
        authorities=_authorities(req),
        roles=[(r, ROLE_NAMES[r], is_scoped(r)) for r in ROLES],
        form=form or {},
        error=error,
        **_region_choice(req, pg.items),
    )


def _region_choice(req: Req, users: list[Any]) -> dict[str, Any]:
    """For a federal admin of several regions: the regions a new user may belong to, every region's authorities
    (``region:code``) and each listed user's region."""
    if not req.app_ctx.many_regions or _admin_region(req) is not None:
        return {}
    served = req.app_ctx.served
    return {
        "new_user_regions": [(p.code, p.region.name) for p in served],
        "authorities_by_region": [(p.region.name, [(f"{p.code}:{a.code}", a.name) for a in web_repo.authorities(req.s, p.code)])
                                  for p in served],
        "region_names": {p.code: p.region.short_name for p in served},
    }


@page("users.manage")
def users_page(req: Req) -> web.StreamResponse:
    return _list(req)


def _shown_once(req: Req, user: Any, password: str, created: bool) -> web.StreamResponse:
    resp = req.render("password_once.html", target=user, password=password, created=created)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _new_user_region(req: Req) -> tuple[str | None, str, str | None]:
    """(the new user's region, the region of their authority, the authority code) from the form.

    An admin of a region makes users of that region only: another region in the form (``region``, or an authority
    written ``region:code``) is refused. A federal admin of several regions picks the user's region (none: every
    region) and an authority of any served region (``region:code``; authority codes repeat across regions).
    """
    served = {p.code: p for p in req.app_ctx.served}
    asked = (req.form.get("region") or "").strip() or None
    authority = (req.form.get("authority") or "").strip() or None
    authority_region = None
    if authority is not None and ":" in authority:
        authority_region, authority = authority.split(":", 1)
    own = _admin_region(req)
    if own is not None:
        if (asked or own) != own or (authority_region or own) != own:
            raise AccountError(f"администратор региона создаёт пользователей только своего региона ({served[own].region.name})")
        return own, own, authority
    if not req.app_ctx.many_regions:
        return None, req.region_code, authority
    for code in (asked, authority_region):
        if code is not None and code not in served:
            raise AccountError(f"регион «{code}» не обслуживается")
    if asked is not None and authority_region is not None and asked != authority_region:
        raise AccountError(f"орган власти другого региона ({served[authority_region].region.name}), чем выбранный регион "
                           f"пользователя ({served[asked].region.name})")
    return asked, authority_region or asked or req.region_code, authority


@page("users.manage")
def create(req: Req) -> web.StreamResponse:
    f = req.form
    try:
        user_region, authority_region, authority = _new_user_region(req)
        user, password = create_user(req.s, authority_region, f.get("login", ""), f.get("role", ""), authority, req.now,
                                     req.user.login, f.get("full_name"), user_region=user_region)
    except AccountError as e:
        return _list(req, status=400, error=f"Пользователь не создан: {e}.", form=f)
    return _shown_once(req, user, password, created=True)


def _user(req: Req) -> Any:
    u = web_repo.user_by_id(req.s, path_id(req.request, "user_id"))
    region = _admin_region(req)
    if u is None or (region is not None and not user_in_region(req.s, u.id, region)):
        raise web.HTTPNotFound(text="Такого пользователя нет.")  # another region's user: not even their existence
    return u


@page("users.manage")
def user_page(req: Req) -> web.StreamResponse:
    u = _user(req)
    authority = web_repo.authority_names(req.s, [u.authority_id]).get(u.authority_id) if u.authority_id else None
    region = user_region(req.s, u)  # the role form offers the authorities of the user's own region
    if region is None and not req.app_ctx.many_regions:
        region = req.app_ctx.region.code
    return req.render(
        "user.html",
        target=u,
        authority=authority,
        authorities=web_repo.authorities(req.s, region) if region is not None else [],
        no_region=region is None,
        roles=[(r, ROLE_NAMES[r], is_scoped(r)) for r in ROLES],
        history=web_repo.audit_about(req.s, u.login, 30),
        is_self=u.id == req.user.id,
        **namer(req),
    )


def _back(req: Req) -> str:
    return f"/users/{path_id(req.request, 'user_id')}"


@page("users.manage")
def reset(req: Req) -> web.StreamResponse:
    _user(req)  # of the admin's region
    try:
        user, password = reset_password(req.s, path_id(req.request, "user_id"), req.now, req.user.login)
    except AccountError as e:
        return redirect(_back(req), err=f"Пароль не сброшен: {e}.")
    return _shown_once(req, user, password, created=False)


@page("users.manage")
def activate(req: Req) -> web.StreamResponse:
    _user(req)  # of the admin's region
    active = req.form.get("active") == "1"
    try:
        user = set_active(req.s, path_id(req.request, "user_id"), active, req.now, req.user.login, req.user.id)
    except AccountError as e:
        return redirect(_back(req), err=f"Не выполнено: {e}.")
    return redirect(_back(req), msg=f"Учётная запись «{user.login}» {'включена' if active else 'отключена: её сеансы завершены'}.")


@page("users.manage")
def role(req: Req) -> web.StreamResponse:
    _user(req)  # of the admin's region
    try:
        # the authority is looked up in the target user's region, not in the one this page shows (change_role)
        user = change_role(req.s, req.app_ctx.region.code, path_id(req.request, "user_id"), req.form.get("role", ""),
                           req.form.get("authority") or None, req.now, req.user.login, req.user.id,
                           many_regions=req.app_ctx.many_regions, admin_region=_admin_region(req))
    except AccountError as e:
        return redirect(_back(req), err=f"Роль не изменена: {e}.")
    return redirect(_back(req), msg=f"Роль «{user.login}»: {ROLE_NAMES.get(user.role, user.role)}.")


# --------------------------------------------------------------------------- one's own password


def _next_of(req: Req) -> str:
    """Where a forced password change goes on to: a local page, else the role's home page."""
    nxt = safe_next(req.form.get("next") or req.request.query.get("next") or "/")
    return HOME.get(req.user.role, "/dashboard") if nxt == "/" else nxt


def _password_form(req: Req, status: int = 200, error: str | None = None) -> web.StreamResponse:
    forced = req.user.must_change_password
    return req.render("account_password.html", status=status, error=error, forced=forced, next=_next_of(req) if forced else "",
                      min_password_length=MIN_PASSWORD_LENGTH)


@page("account.password")
def own_password_page(req: Req) -> web.StreamResponse:
    return _password_form(req)


@page("account.password")
def own_password(req: Req) -> web.StreamResponse:
    f = req.form
    me = web_repo.user_by_id(req.s, req.user.id)
    error = None
    if me is None or not verify_password(me.password_hash, f.get("current", "")):
        error = "Текущий пароль указан неверно."
    elif f.get("new", "") != f.get("repeat", ""):
        error = "Новый пароль и повтор не совпадают."
    elif f.get("new", "") == f.get("current", ""):
        error = "Новый пароль должен отличаться от текущего."
    else:
        try:
            new_hash = hash_password(f.get("new", ""))
        except ValueError as e:
            error = f"Пароль не подходит: {e}."
    if error is not None or me is None:
        req.audit("password.change_failed", f"user:{req.user.login}")
        return _password_form(req, status=400, error=error)
    forced = bool(me.must_change_password)
    web_repo.set_password(req.s, me, new_hash, must_change=False)
    if forced:
        req.audit("password.change", f"user:{req.user.login}", forced=True)
    else:
        req.audit("password.change", f"user:{req.user.login}")
    # the new password hash and a new session generation end every other session; this one gets a fresh cookie
    web_repo.end_sessions(req.s, me.id)
    req.s.refresh(me)
    cookie, _ = req.request.app[CODEC].issue(me.id, new_hash, req.now, me.session_generation)
    if forced:
        resp = redirect(_next_of(req), msg="Пароль изменён: теперь вы входите со своим паролем. Другие сеансы этой учётной записи завершены.")
    else:
        resp = redirect("/account/password", msg="Пароль изменён. Другие сеансы этой учётной записи завершены.")
    set_session_cookie(resp, req.request, cookie)
    return resp


def setup(app: web.Application) -> None:
    app.router.add_get("/users", users_page)
    app.router.add_post("/users", create)
    app.router.add_get("/users/{user_id:\\d+}", user_page)
    app.router.add_post("/users/{user_id:\\d+}/password", reset)
    app.router.add_post("/users/{user_id:\\d+}/active", activate)
    app.router.add_post("/users/{user_id:\\d+}/role", role)
    app.router.add_get("/account/password", own_password_page)
    app.router.add_post("/account/password", own_password)
