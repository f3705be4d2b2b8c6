"""The running application's context: settings, configuration and database."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from config import Configuration, ConfigError, RegionProfile, Settings, load_configuration, load_settings
from storage import Database
from storage.db import alembic_config

from .errors import DatabaseError


class NotMigrated(DatabaseError, RuntimeError):
    """The database schema is older than the code: `cur db upgrade`."""


@dataclass
class App:
    settings: Settings = field(default_factory=load_settings)

    @cached_property
    def config(self) -> Configuration:
        return load_configuration(self.settings)

    @property
    def region(self) -> RegionProfile:
        return self.config.region

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    def ready_db(self) -> Database:
        """The database, created on first use; refuses to run on an outdated schema."""
        from alembic.script import ScriptDirectory

        db = self.db
        head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
        current = db.current_revision()
        if current is None:
            db.upgrade()
        elif current != head:
            raise NotMigrated(
                f"схема базы данных устарела (версия {current}, нужна {head}): выполните `cur db upgrade`"
            )
        return db


__all__ = ["App", "ConfigError", "NotMigrated"]
