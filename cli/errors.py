"""The CLI's one error boundary: every expected failure becomes one Russian line and a documented exit code.

Exit codes (also in docs/cli.md):

====  =====================================================================================
0     done
1     the action failed or was refused: not found, not allowed now, a wrong value,
      a source that could not be crawled
2     the command line or the configuration is wrong (click's usage errors use 2 as well)
3     the database cannot be used: unreachable, missing, or its schema needs ``cur db upgrade``
4     done, but something was skipped: bad lines of an imported file; a trained or chosen
      model version worse than the active one was not activated
5     a file, folder or network port the command needs cannot be used
====  =====================================================================================

The domain raises :mod:`pipeline.errors`; the lower packages raise their own
errors (configuration, classifier, source addresses); :func:`exit_code_of` is
the only place that turns any of them into an exit code. Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import sys
from dataclasses import dataclass
from typing import NoReturn

import click

from pipeline.errors import CurError, DatabaseError, ResourceError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
EXIT_PARTIAL = 4
EXIT_RESOURCE = 5

#: errno -> what it means for the user
_OS_REASONS = {
    errno.ENOENT: "нет такого файла или папки",
    errno.EACCES: "нет прав доступа",
    errno.EPERM: "нет прав доступа",
    errno.EISDIR: "это папка, а нужен файл",
    errno.ENOTDIR: "часть пути — не папка",
    errno.ENOSPC: "нет места на диске",
    errno.EROFS: "файловая система только для чтения",
    errno.EADDRINUSE: "адрес уже занят другой программой",
    errno.EADDRNOTAVAIL: "такого адреса нет на этом компьютере",
}


class Failure(Exception):
    """A failure a command reports itself (``fail(...)``), with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Stop the command: ``Ошибка: <message>`` on stderr and exit ``code``."""
    raise Failure(message, code)


def os_reason(e: OSError) -> str:
    return _OS_REASONS.get(e.errno or 0) or (e.strerror or str(e))


@dataclass(frozen=True)
class Outcome:
    code: int
    lines: list[str]


def _lower(e: BaseException, module: str, name: str) -> bool:
    """``e`` is an instance of ``module.name`` (only looked up when that module is loaded: keeps start-up light)."""
    cls = getattr(sys.modules.get(module), name, None)
    return isinstance(cls, type) and isinstance(e, cls)


def outcome_of(e: BaseException, database_url: str | None = None) -> Outcome | None:
    """The exit code and the lines to print for an expected failure; None for a bug (re-raised)."""
    from config import ConfigError

    if isinstance(e, Failure):
        return Outcome(e.code, [f"Ошибка: {e}"])
    if isinstance(e, ConfigError):
        return Outcome(EXIT_USAGE, [f"Конфигурация содержит ошибки ({len(e.issues)}):", *(f"  {i}" for i in e.issues)])
    if isinstance(e, DatabaseError):
        return Outcome(EXIT_DATABASE, [f"Ошибка: {e}"])
    if isinstance(e, ResourceError):
        return Outcome(EXIT_RESOURCE, [f"Ошибка: {e}"])
    if isinstance(e, CurError):
        return Outcome(EXIT_FAILED, [f"Ошибка: {e}"])
    if _lower(e, "sqlalchemy.exc", "OperationalError") or _lower(e, "sqlalchemy.exc", "InterfaceError"):
        from pipeline.context import database_error

        return Outcome(EXIT_DATABASE, [f"Ошибка: {database_error(e, database_url)}"])
    if _lower(e, "nlp.classifier.registry", "WorseModelError"):
        return Outcome(EXIT_PARTIAL, [f"Ошибка: {e}"])
    for module, name in (("nlp.classifier.model", "ModelError"), ("nlp.classifier.data", "DataError"),
                         ("collectors.sources", "SourceUrlError")):  # fmt: skip
        if _lower(e, module, name):
            return Outcome(EXIT_FAILED, [f"Ошибка: {e}"])
    if isinstance(e, OSError) and e.errno in _OS_REASONS:
        where = e.filename or ""
        return Outcome(EXIT_RESOURCE, [f"Ошибка: {where + ': ' if where else ''}{os_reason(e)}"])
    return None


def exit_code_of(e: BaseException) -> int | None:
    o = outcome_of(e)
    return None if o is None else o.code


class CurGroup(click.Group):
    """The root group: expected failures of any subcommand end here as one Russian line and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as e:
            app = (ctx.obj or {}).get("app") if isinstance(ctx.obj, dict) else None
            o = outcome_of(e, app.settings.database_url if app is not None else None)
            if o is None:
                raise
            for line in o.lines:
                click.echo(line, err=True)
            ctx.exit(o.code)
