"""Calls into the business services (pipeline.incidents, ratings, reports, model registry).

The web layer never changes incidents itself: it calls these services. A
service that is not installed yields :class:`ServiceUnavailable`, shown to the
user as a clear message instead of a crash.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable


class ServiceUnavailable(RuntimeError):
    pass


class ActionRefused(RuntimeError):
    """The service refused the action (illegal transition, bad value...)."""


def service(module: str, name: str) -> Callable[..., Any]:
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise ServiceUnavailable(f"модуль {module} недоступен: {e}") from None
    fn = getattr(mod, name, None)
    if fn is None:
        raise ServiceUnavailable(f"функция {module}.{name} недоступна")
    return fn


def _service_errors(module: str) -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [ValueError, LookupError]
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return tuple(errs)
    for obj in vars(mod).values():
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == mod.__name__:
            errs.append(obj)
    return tuple(errs)


def call(module: str, name: str, /, *args: Any, **pool: Any) -> Any:
    """Call ``module.name(*args, ...)`` passing those of ``pool`` the function accepts.

    Keyword values whose parameter the function does not have are dropped, so
    optional extras (``reason``, ``comment``) never break a call.
    """
    fn = service(module, name)
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    accepts_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    kwargs = {k: v for k, v in pool.items() if accepts_kw or k in sig.parameters}
    try:
        return fn(*args, **kwargs)
    except TypeError as e:
        if "argument" in str(e):
            raise ServiceUnavailable(f"{module}.{name}: несовместимый вызов ({e})") from None
        raise
    except _service_errors(module) as e:
        raise ActionRefused(str(e) or e.__class__.__name__) from e


INCIDENTS = "pipeline.incidents"
