"""Calls from the web into the domain, and the domain's expected failures as web outcomes.

Handlers import the domain's services directly (``pipeline.incidents``,
``pipeline.ratings``, ``pipeline.reports``, ``pipeline.models``) and call them
through :func:`call` with exactly the arguments the service takes. The error
tree of ``pipeline.errors`` is mapped, not flattened:

* ``NotFound`` → :class:`NotFoundError` (404 on pages and in the API);
* ``Refused`` (an illegal transition, an account rule, ``Busy``) and
  ``InvalidInput`` → :class:`ActionRefused` (the page shows «Действие не
  выполнено: …»; the API answers 409);
* ``ModelUnavailable``, ``DatabaseError``, ``ResourceError`` →
  :class:`ServiceUnavailable` (503 in the API).

Anything else is a bug and reaches the server's error page.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from pipeline import incidents
from pipeline.errors import CurError, InvalidInput, NotFound, Refused
from storage import web_repo

T = TypeVar("T")


class ServiceUnavailable(RuntimeError):
    """The service cannot work now (no classifier model, the database, a file)."""


class ActionRefused(RuntimeError):
    """The service refused the action (illegal transition, bad value...)."""


class NotFoundError(web_repo.NotFound):
    """What the action names does not exist (pages and the API answer 404, as for any missing row)."""


def web_error(e: CurError) -> Exception:
    """The web outcome of one of the domain's expected failures."""
    if isinstance(e, NotFound):
        return NotFoundError(str(e))
    if isinstance(e, (Refused, InvalidInput)):
        return ActionRefused(str(e))
    return ServiceUnavailable(str(e))


def call(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``; the domain's expected failures become the web's (see the module docstring)."""
    try:
        return fn(*args, **kwargs)
    except CurError as e:
        raise web_error(e) from e


#: the state changes pages and the API offer
STATE_CHANGES = ("acknowledge", "resolve", "reject", "reopen")


def change_state(s: Any, incident: Any, action: str, actor: str, now: Any, text: str | None, profile: Any) -> Any:
    """One of :data:`STATE_CHANGES` with the arguments that service takes.

    ``text`` is the comment of ``resolve`` and the reason of ``reject`` and
    ``reopen`` (both required by the domain); acknowledging takes none.
    """
    if action == "acknowledge":
        return call(incidents.acknowledge, s, incident, actor, now)
    if action == "resolve":
        return call(incidents.resolve, s, incident, actor, now, comment=text)
    if action == "reject":
        return call(incidents.reject, s, incident, actor, now, reason=text or "")
    if action == "reopen":
        return call(incidents.reopen, s, incident, actor, now, reason=text or "", profile=profile)
    raise ActionRefused(f"неизвестное действие «{action}»")
