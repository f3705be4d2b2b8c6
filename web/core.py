"""Request plumbing shared by all pages: the signed-in user, DB session per request, rendering, audit."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment
from sqlalchemy.orm import Session

from pipeline.accounts import roles
from pipeline.context import App
from storage import web_repo
from storage.web_repo import NotFound, OutOfScope, Scope

from .services import ActionRefused, ServiceUnavailable
from .sessions import SessionCodec, SessionData

# application keys
CTX = web.AppKey("ctx", App)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
JINJA = web.AppKey("jinja", Environment)
CODEC = web.AppKey("codec", SessionCodec)
SECURE = web.AppKey("secure_cookies", bool)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple)
# request keys
USER: web.RequestKey[CurrentUser] = web.RequestKey("user")
SESSION: web.RequestKey[SessionData | None] = web.RequestKey("session")
LOGIN_CSRF = web.RequestKey("login_csrf", str)


@dataclass(frozen=True)
class CurrentUser:
    id: int
    login: str
    role: str
    authority_id: int | None
    full_name: str | None = None
    authority_name: str | None = None
    #: signed in with a password an admin generated: only /account/password (and sign-out) until it is replaced
    must_change_password: bool = False
    #: the one region the user works in (their own, else their authority's); None: every region served
    region: str | None = None

    @property
    def scope(self) -> Scope:
        """The one place that decides which incidents a user may see."""
        if roles.is_scoped(self.role):
            return Scope.authority(self.authority_id)
        return Scope.everything()

    def can(self, permission: str) -> bool:
        return roles.can(self.role, permission)

    @property
    def role_name(self) -> str:
        return roles.ROLE_NAMES.get(self.role, self.role)


@dataclass
class Req:
    """What a page handler gets: the request, an open DB session, the user and the form."""

    request: web.Request
    s: Session
    user: CurrentUser
    now: datetime
    form: dict[str, str] = field(default_factory=dict)
    #: the region of the incident a federal user opened by id (``incident``): the page shows that region
    region_override: str | None = None

    @property
    def app_ctx(self) -> Any:
        return self.request.app[CTX]

    @property
    def region_code(self) -> str:
        """The region this request looks at (see :func:`view_region`)."""
        return self.region_override or view_region(self.request, self.user)

    @property
    def profile(self) -> Any:
        """The profile of the region this request looks at: its time zone, taxonomy, authorities."""
        return self.app_ctx.profile(self.region_code)

    def profile_of(self, incident: Any) -> Any:
        """The profile of an incident's own region."""
        return self.app_ctx.profile_of(incident.region)

    @property
    def post_region(self) -> Any:
        """The condition on posts of the region looked at (``storage.regions.RegionFilter``); None with one region."""
        return self.app_ctx.region_filter(self.profile) if self.app_ctx.many_regions else None

    def sees_post(self, post: Any) -> bool:
        """Is the post of the region looked at (always, with one region)?"""
        return not self.app_ctx.many_regions or (post.region or self.app_ctx.settings.region) == self.region_code

    @property
    def scope(self) -> Scope:
        """The user's scope, within the region looked at when the deployment serves several."""
        return self.user.scope.in_region(self.region_code if self.app_ctx.many_regions else None)

    def incident(self, incident_id: int):
        """The incident, if the user may read it. A federal user (several regions served, the user of none) opens an
        incident of any served region by id (a link in a notification), and the request then shows its region."""
        ctx = self.app_ctx
        if ctx.many_regions and self.user.region is None:
            inc = web_repo.scoped_incident(self.s, self.user.scope, incident_id)
            if inc.region not in {p.code for p in ctx.served}:
                raise NotFound(incident_id)
            self.region_override = inc.region
            return inc
        return web_repo.scoped_incident(self.s, self.scope, incident_id)

    def audit(self, action: str, target: str | None = None, **data: Any) -> None:
        data.setdefault("ip", client_ip(self.request))
        web_repo.audit(self.s, self.user.login, action, target, data, self.now)

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        context.setdefault("region", self.profile)
        if self.app_ctx.many_regions and self.user.region is None:  # a federal user picks the region to look at
            context.setdefault("region_choice", [(p.code, p.region.short_name) for p in self.app_ctx.served])
        return render(self.request, template, status=status, user=self.user, now=self.now, **context)

    def require(self, permission: str) -> None:
        if not self.user.can(permission):
            raise web.HTTPForbidden(text="Недостаточно прав для этого действия.")


#: The cookie with the region a federal user looks at (``/regions/<code>``); ignored for a user of one region.
REGION_COOKIE = "cur_region"


def view_region(request: web.Request, user: CurrentUser | None) -> str:
    """The region a request looks at: the user's own one; for a federal user the one they picked (a served region),
    else the deployment's default region. In a one-region deployment, always that region."""
    ctx = request.app[CTX]
    default = ctx.region.code
    if not ctx.many_regions:
        return default
    if user is not None and user.region is not None:
        return user.region
    picked = request.cookies.get(REGION_COOKIE)
    return picked if picked and picked in {p.code for p in ctx.served} else default


def client_ip(request: web.Request) -> str:
    """The client's address: the peer, or, when the peer is a trusted reverse proxy (``cur serve --behind-proxy``),
    the right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy. Without trusted proxies
    the header is ignored, so a client cannot choose the address the login limiter and the audit log see."""
    peer = request.remote or "?"
    trusted = request.app.get(TRUSTED_PROXIES) or ()
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _valid_ip(hop):
            return peer  # a malformed chain: fall back to the proxy itself
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _is_trusted(addr: str, trusted: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def trusted_networks(items: Any) -> tuple:
    """``["127.0.0.1", "10.0.0.0/24"]`` → networks (for ``create_app(trusted_proxies=...)``)."""
    return tuple(ipaddress.ip_network(str(i).strip(), strict=False) for i in items or () if str(i).strip())


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    env = request.app[JINJA]
    ctx = request.app[CTX]
    session = request.get(SESSION)
    msg, err = flash_messages(request)
    context.setdefault("region", ctx.region)
    html = env.get_template(template).render(
        csrf_token=session.csrf if session else request.get(LOGIN_CSRF, ""),
        msg=msg,
        err=err,
        path=request.path,
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


FLASH = web.ResponseKey("flash", tuple)


def redirect(location: str, msg: str | None = None, err: str | None = None) -> web.Response:
    """A 303 redirect (returned, not raised, so the transaction still commits).

    ``msg`` / ``err`` go into the target URL with a signature (``fs``) that
    :func:`sign_flash` adds as the response is sent; a page shows only signed
    messages, so a link with ``?msg=<any text>`` made by someone else shows nothing.
    """
    resp = web.Response(status=303, headers={"Location": location})
    if msg:
        resp[FLASH] = ("msg", msg)
    elif err:
        resp[FLASH] = ("err", err)
    return resp


def sign_flash(request: web.Request, resp: web.StreamResponse) -> None:
    """Put a redirect's message and its signature into its ``Location`` (called from on_response_prepare)."""
    flash = resp.get(FLASH) if isinstance(resp, web.StreamResponse) else None
    if not flash or "Location" not in resp.headers:
        return
    kind, text = flash
    location = resp.headers["Location"]
    sep = "&" if "?" in location else "?"
    fs = request.app[CODEC].sign_flash(kind, text, request.app[CLOCK]())
    resp.headers["Location"] = f"{location}{sep}{kind}={quote(text)}&fs={quote(fs)}"


def flash_messages(request: web.Request) -> tuple[str | None, str | None]:
    """(msg, err) of the URL, each only if this server signed it recently."""
    codec, now, fs = request.app[CODEC], request.app[CLOCK](), request.query.get("fs")
    out: list[str | None] = []
    for kind in ("msg", "err"):
        text = request.query.get(kind)
        out.append(text if text and codec.flash_ok(kind, text, fs, now) else None)
    return out[0], out[1]


Handler = Callable[[Req], web.StreamResponse]


def page(permission: str) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Wrap a synchronous page handler: check the permission, run it in a thread with one DB transaction."""

    def deco(fn: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(fn)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            user: CurrentUser = request[USER]
            if not user.can(permission):
                raise web.HTTPForbidden(text="Недостаточно прав для этой страницы.")
            form: dict[str, str] = {}
            if request.method == "POST":
                form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
                bad = next((k for k, v in form.items() if "\x00" in v), None)
                if bad is not None:  # PostgreSQL cannot store it; no text of ours needs it
                    raise web.HTTPBadRequest(text=f"Поле «{bad}» содержит недопустимый символ NUL.")
            now = request.app[CLOCK]()
            db = request.app[CTX].db

            def work() -> web.StreamResponse:
                try:
                    with db.session() as s:
                        return fn(Req(request, s, user, now, form))
                except NotFound:
                    raise web.HTTPNotFound(text="Не найдено.") from None
                except OutOfScope:
                    raise web.HTTPForbidden(text="Этот инцидент направлен другому органу власти.") from None

            try:
                return await asyncio.to_thread(work)
            except (ActionRefused, ServiceUnavailable) as e:
                await asyncio.to_thread(_audit_refused, db, user, request, now, str(e))
                back = request.headers.get("Referer") or request.path
                return redirect(_strip_msgs(back), err=f"Действие не выполнено: {e}")

        return wrapped

    return deco


def _audit_refused(db: Any, user: CurrentUser, request: web.Request, now: datetime, reason: str) -> None:
    with db.session() as s:
        web_repo.audit(s, user.login, "refused", request.path, {"reason": reason, "ip": client_ip(request)}, now)


def _strip_msgs(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path or "/"


#: The largest id a database column holds (BIGINT); a larger number in a URL or form is "no such row", never a 500.
MAX_DB_INT = 2**63 - 1


def parse_int(value: Any, lo: int = 1, hi: int = MAX_DB_INT) -> int | None:
    """A whole number written with ASCII digits within [lo, hi], else None (``"²"``, ``"1e3"``, 20 digits, …)."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    n = int(value)
    return n if lo <= n <= hi else None


def path_id(request: web.Request, name: str) -> int:
    """A row id from the URL path; 404 when it cannot be one."""
    n = parse_int(request.match_info.get(name))
    if n is None:
        raise web.HTTPNotFound(text="Не найдено.")
    return n


def int_field(form: dict[str, str], name: str) -> int:
    n = parse_int(str(form.get(name, "")).strip())
    if n is None:
        raise web.HTTPBadRequest(text=f"Поле «{name}» должно быть целым положительным числом.")
    return n
