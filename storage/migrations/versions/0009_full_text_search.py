"""full-text search over post texts and incident titles

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

SQLite: contentless FTS5 tables ``posts_fts(text)`` and ``incidents_fts(title)`` (rowid = the
row's id, ``ё`` folded to ``е``, tokenizer ``unicode61 remove_diacritics 2``), kept current by
triggers on insert, update of the text and delete; filled from the existing rows here.
PostgreSQL: GIN expression indexes on ``to_tsvector('russian', translate(text, 'Ёё', 'Ее'))``
(built over the existing rows by CREATE INDEX). The query side is ``storage/search.py``; the two
expressions must stay the same. Rerunnable: every object is created only if missing.
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

#: table -> (FTS table, indexed column)
SQLITE = {'posts': ('posts_fts', 'text'), 'incidents': ('incidents_fts', 'title')}
PG = {'posts': ('ix_posts_text_fts', 'text'), 'incidents': ('ix_incidents_title_fts', 'title')}


def _fold(expr: str) -> str:
    return f"replace(replace(coalesce({expr}, ''), 'ё', 'е'), 'Ё', 'Е')"


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table, (index, column) in PG.items():
            op.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {table} USING gin (to_tsvector('russian'::regconfig, translate({table}.{column}, 'Ёё', 'Ее')))")
        return
    for table, (fts, column) in SQLITE.items():
        exists = op.get_bind().exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = ?", (fts,)).first()
        if exists is None:
            op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='', columnsize=0, detail=none, tokenize='unicode61 remove_diacritics 2')")
            op.execute(f"INSERT INTO {fts}(rowid, {column}) SELECT id, {_fold(column)} FROM {table}")
        new, old = _fold(f'new.{column}'), _fold(f'old.{column}')
        op.execute(f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN INSERT INTO {fts}(rowid, {column}) VALUES (new.id, {new}); END")
        op.execute(f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, {old}); END")
        op.execute(
            f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {column} ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, {old}); "
            f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, {new}); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for index, _ in PG.values():
            op.execute(f"DROP INDEX IF EXISTS {index}")
        return
    for fts, _ in SQLITE.values():
        for suffix in ('ai', 'ad', 'au'):
            op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {fts}")
