"""API tokens of authorities for admins: list, issue (shown once), revoke.

An issued token is shown once, in the answer to the POST that made it (no
redirect, ``Cache-Control: no-store``, ``Referrer-Policy: no-referrer``), as a
generated password is on the users page: it is in no URL, log, audit entry or
browser history, and only its hash is stored. The list shows number, authority,
label, issue time, last use (to the minute) and revocation time — never a token
or its hash; ``state=dormant`` lists the active tokens unused for 30 days.
Revocation takes effect at the API's next request. The page needs
``users.manage`` (admins).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pipeline.accounts.tokens import DORMANT_AFTER, TokenError, issue_token, revoke_token, token_rows
from storage import web_repo

from .. import paging
from ..core import Req, client_ip, page, redirect

TOKENS_PAGE = 50
STATES = {"active": "действующие", "dormant": f"действующие, не использовались {DORMANT_AFTER.days} дней", "revoked": "отозванные"}


def _filters(req: Req, authorities: list[Any]) -> dict[str, Any]:
    q = req.request.query
    codes = {a.code: a.id for a in authorities}
    code = q.get("authority") or None
    if code is not None and code not in codes:
        raise web.HTTPBadRequest(text=f"Параметр authority: органа власти с кодом «{code}» нет.")
    state = q.get("state") or None
    if state is not None and state not in STATES:
        raise web.HTTPBadRequest(text=f"Параметр state: «{state}» — ожидается active, dormant или revoked.")
    return {"authority": code, "state": state, "_authority_id": codes.get(code) if code else None}


def _list(req: Req, status: int = 200, error: str | None = None, form: dict[str, str] | None = None) -> web.StreamResponse:
    authorities = web_repo.authorities(req.s, req.region_code)
    f = _filters(req, authorities)
    filters = {"authority": f["authority"], "state": f["state"]}
    try:
        pg = paging.fetch(
            "tokens",
            filters,
            req.request.query.get("cursor"),
            lambda **kw: web_repo.api_token_page(
                req.s,
                req.region_code,
                limit=TOKENS_PAGE,
                authority_id=f["_authority_id"],
                state="active" if f["state"] == "dormant" else f["state"],
                unused_since=req.now - DORMANT_AFTER if f["state"] == "dormant" else None,
                **kw,
            ),
        )
    except paging.CursorError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    return req.render(
        "tokens.html",
        status=status,
        tokens=token_rows(req.s, pg.items),
        pager=paging.pager("/tokens", "tokens", filters, pg),
        authorities=authorities,
        filters=filters,
        token_states=STATES,
        dormant_days=DORMANT_AFTER.days,
        form=form or {},
        error=error,
    )


@page("users.manage")
def tokens_page(req: Req) -> web.StreamResponse:
    return _list(req)


@page("users.manage")
def issue(req: Req) -> web.StreamResponse:
    f = req.form
    try:
        row, token = issue_token(req.s, req.region_code, f.get("authority", ""), req.now, req.user.login, f.get("label"),
                                 default_region=req.app_ctx.region.code, ip=client_ip(req.request))
    except TokenError as e:
        return _list(req, status=400, error=f"Токен не выпущен: {e}.", form=f)
    resp = req.render("token_once.html", row=row, token=token)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@page("users.manage")
def revoke(req: Req) -> web.StreamResponse:
    token_id = int(req.request.match_info["token_id"])  # revoke_token names an unknown or impossible number itself
    try:
        r = revoke_token(req.s, req.region_code, token_id, req.now, req.user.login, default_region=req.app_ctx.region.code,
                         ip=client_ip(req.request))
    except TokenError as e:
        return redirect("/tokens", err=f"Не выполнено: {e}.")
    who = f"Токен № {r.row.id} ({r.row.authority_name}{', «' + r.row.label + '»' if r.row.label else ''})"
    if not r.now_revoked:
        return redirect("/tokens", msg=f"{who} уже был отозван раньше.")
    return redirect("/tokens", msg=f"{who} отозван: API больше не примет его, начиная со следующего запроса.")


def setup(app: web.Application) -> None:
    app.router.add_get("/tokens", tokens_page)
    app.router.add_post("/tokens", issue)
    app.router.add_post("/tokens/{token_id:\\d+}/revoke", revoke)
