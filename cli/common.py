"""What the commands share: the application context, progress bars, options of time and actor, logging, output files."""

from __future__ import annotations

import getpass
import logging
from datetime import datetime, timezone, tzinfo
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import click

from config import RegionProfile
from pipeline import timefmt
from pipeline.context import App
from pipeline.errors import ResourceError

from .errors import fail  # the commands' one way to stop with a message

if TYPE_CHECKING:  # rich loads with the first progress bar, not with every command (~0.05-0.09 CPU-s)
    from rich.console import Console
    from rich.progress import Progress


@cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def progress(disable: bool = False) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console(),
        disable=disable,
        transient=False,
    )


def get_app(ctx: click.Context) -> App:
    """The application context (settings, configuration, database) of this run, made once."""
    obj = ctx.ensure_object(dict)
    if "app" not in obj:
        obj["app"] = App()
    return obj["app"]


#: ``--region`` of the commands that read one region (``chosen_region``).
region_option = click.option("--region", "region_code", default=None, metavar="КОД_РЕГИОНА",
                             help="Регион, если установка обслуживает несколько (настройка regions); по умолчанию — основной.")


def chosen_region(app: App, code: str | None) -> RegionProfile:
    """The profile of ``--region CODE`` (a served region), else the default region."""
    if code is None:
        return app.region
    served = {p.code: p for p in app.served}
    if code not in served:
        fail(f"регион {code!r} не обслуживается: обслуживаются {', '.join(served)} (настройки region и regions)")
    return served[code]


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


def parse_now(value: str | None, profile: RegionProfile) -> datetime:
    """``--now``: ISO 8601; a time without an offset is in the region's zone."""
    if not value:
        return datetime.now(timezone.utc)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"не дата и время ISO 8601: {value!r} (пример: 2026-11-20T18:30)", param_hint="--now") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=profile.region.tz)
    return dt.astimezone(timezone.utc)


def local_time(value: datetime | None, tz: tzinfo) -> str:
    """A stored (UTC) time in the region's zone, ``25.12.2026 14:00``; «—» for none."""
    return timefmt.local(value, tz)


def fmt_time(value: datetime | None, profile: RegionProfile) -> str:
    return timefmt.local(value, profile.region.tz)


class RegionTimeFormatter(logging.Formatter):
    """Log times in the region's zone, with its offset (the machine's clock is often UTC)."""

    def __init__(self, fmt: str, tz: tzinfo):
        super().__init__(fmt)
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, self.tz).strftime(datefmt or "%Y-%m-%d %H:%M:%S%z")


def setup_logging(tz: tzinfo) -> None:
    """INFO logs on stderr with times in the region's zone (``cur serve``, ``cur run``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(RegionTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", tz))
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_cur", False):
            root.removeHandler(h)
    handler._cur = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def writable_file(path: Path, option: str = "--output") -> Path:
    """Check that an output file can be created before any work is done: its folder exists and is a folder."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise ResourceError(f"папки {parent} нет: создайте её или укажите другой путь ({option})")
    if not parent.is_dir():
        raise ResourceError(f"{parent} — не папка: укажите другой путь ({option})")
    if path.is_dir():
        raise ResourceError(f"{path} — папка, а нужен файл: укажите имя файла ({option})")
    return path
