"""The running application's context: settings, configuration and database."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from config import ConfigError, Configuration, RegionProfile, Settings, load_configuration, load_settings
from storage import Database
from storage.db import head_revision
from storage.regions import RegionFilter

from .errors import DatabaseError


class NotMigrated(DatabaseError, RuntimeError):
    """The database schema is older than the code: `cur db upgrade`."""


#: what the driver says (lower case) -> what it means for the user
_DB_REASONS = (
    ("does not exist", "такой базы данных нет на сервере: создайте её или исправьте имя"),
    ("password authentication failed", "сервер не принял имя пользователя или пароль"),
    ("no password supplied", "сервер требует пароль"),
    ("connection refused", "сервер не принимает соединения (не запущен или другой порт)"),
    ("could not translate host name", "неизвестное имя сервера"),
    ("name or service not known", "неизвестное имя сервера"),
    ("timeout expired", "сервер не ответил вовремя"),
    ("timed out", "сервер не ответил вовремя"),
    ("unable to open database file", "файл базы нельзя открыть: папки нет или нет прав на запись"),
    ("database is locked", "база занята другим процессом, повторите позже"),
    ("file is not a database", "это не файл базы данных SQLite"),
    ("no route to host", "сервер недоступен по сети"),
)


def safe_url(url: str) -> str:
    """The database URL with its password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as it is, minus anything after '@'
        return url.split("@")[-1]


def database_error(e: BaseException, url: str | None = None) -> DatabaseError:
    """A driver's connection failure as one Russian line naming the database and what to fix."""
    text = str(getattr(e, "orig", None) or e).lower()
    reason = next((r for needle, r in _DB_REASONS if needle in text), "соединение с базой данных не удалось")
    where = f" {safe_url(url)}" if url else ""
    return DatabaseError(f"база данных{where} недоступна: {reason}; проверьте CUR_DATABASE_URL")


@dataclass
class App:
    settings: Settings = field(default_factory=load_settings)

    @cached_property
    def config(self) -> Configuration:
        return load_configuration(self.settings)

    @property
    def region(self) -> RegionProfile:
        """The default region (``settings.region``)."""
        return self.config.region

    @property
    def served(self) -> list[RegionProfile]:
        """Every region the deployment serves (``settings.regions``), the default one first."""
        return self.config.served

    @property
    def many_regions(self) -> bool:
        return len(self.config.served) > 1

    def profile(self, code: str | None) -> RegionProfile:
        """The profile of region ``code`` (None: the default region)."""
        return self.config.profile(code)

    def profile_of(self, code: str | None) -> RegionProfile:
        """The profile of a stored row's region (an incident's, a source's): the default one for None or a region
        no longer configured."""
        return self.config.regions.get(code or self.settings.region) or self.region

    def region_filter(self, profile: RegionProfile) -> RegionFilter:
        """The rows of ``profile``'s region (with those stored without a region, for the default one)."""
        return RegionFilter(profile.code, default=profile.code == self.settings.region)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    def ready_db(self) -> Database:
        """The database, created on first use; refuses to run on an outdated schema."""
        from sqlalchemy.exc import InterfaceError, OperationalError

        db = self.db
        head = head_revision(db.url)
        try:
            current = db.current_revision()
        except (OperationalError, InterfaceError) as e:
            raise database_error(e, db.url) from None
        if current is None:
            db.upgrade(default_region=self.settings.region)
        elif current != head:
            raise NotMigrated(
                f"схема базы данных устарела (версия {current}, нужна {head}): выполните `cur db upgrade`"
            )
        return db


__all__ = ["App", "ConfigError", "NotMigrated", "database_error", "safe_url"]
