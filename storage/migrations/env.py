"""Alembic environment: runs on the connection handed in by storage.db.Database."""

from alembic import context

import storage.models_alerts  # noqa: F401  (the alert tables)
from storage.models import Base
from storage.search import is_index_object

config = context.config
target_metadata = Base.metadata


#: Tables other libraries own in the same database (APScheduler's job store).
FOREIGN_TABLES = {"apscheduler_jobs"}


def _include(obj, name, type_, reflected, compare_to) -> bool:
    # the full-text index (migration 0008) is raw SQL per dialect, not part of the models
    return not (type_ == "table" and name in FOREIGN_TABLES) and not (type_ in ("table", "index") and is_index_object(name))


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from storage.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
