"""Full-text search over post texts and incident titles, on SQLite (FTS5) and PostgreSQL (tsvector).

The index is built by migration 0009 (full_text_search) and kept current by the database itself, whatever writes
the row (collectors, the bulk import, the processing pass, a merge):

- **SQLite**: two contentless FTS5 tables, ``posts_fts(text)`` and ``incidents_fts(title)``, their
  rowid the post's / incident's id, filled by triggers on insert, update of the text and delete.
  The indexed text has ``ё`` folded to ``е``; the ``unicode61`` tokenizer folds case.
  FTS5 has no Russian stemmer, so morphology is on the query side: each query word is expanded
  (by ``pipeline.search`` with the project's pymorphy3 analyser) into all forms of its lexeme,
  ``отопления`` -> ``("отопление" OR "отопления" OR "отоплению" …)``; the words are ANDed.
- **PostgreSQL**: GIN indexes on ``to_tsvector('russian', translate(text, 'Ёё', 'Ее'))`` of
  ``posts.text`` and ``incidents.title``; the query is ``plainto_tsquery('russian', …)`` (Snowball
  stems both sides, stop words are dropped, the words are ANDed). The expression here must stay
  exactly the one of the index, or PostgreSQL will not use it.

An incident matches when its title has every word, or one of its posts has every word, or the
query is its number (``123`` or ``№123``). Callers get SQL subqueries of ids, so a filter on
millions of rows never travels through Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, func, literal_column, select, text, union
from sqlalchemy.orm import Session

from .models import Incident, IncidentPost, Post

#: names of the database objects of the index (left out of the model/migration comparison)
SQLITE_TABLES = ("posts_fts", "incidents_fts")
PG_INDEXES = ("ix_posts_text_fts", "ix_incidents_title_fts")

#: the indexed expression on PostgreSQL (must match migration 0009 (full_text_search) exactly)
PG_POST_DOC = "to_tsvector('russian'::regconfig, translate(posts.text, 'Ёё', 'Ее'))"
PG_TITLE_DOC = "to_tsvector('russian'::regconfig, translate(incidents.title, 'Ёё', 'Ее'))"


def is_index_object(name: str | None) -> bool:
    """True for a table or an index of the search index (FTS5 shadow tables included)."""
    return bool(name) and (any(name == t or name.startswith(t + "_") for t in SQLITE_TABLES) or name in PG_INDEXES)  # type: ignore[union-attr]


def fold(text_: str) -> str:
    """Lower case with ``ё`` folded to ``е``: the form both sides of the index are compared in."""
    return text_.lower().replace("ё", "е")


@dataclass(frozen=True)
class Query:
    """A parsed search query: its words, the forms of each word (SQLite), an incident number.

    Built by ``pipeline.search.parse`` (which knows Russian morphology); storage only runs it.
    """

    words: tuple[str, ...] = ()
    forms: tuple[tuple[str, ...], ...] = field(default=())
    number: int | None = None

    @property
    def empty(self) -> bool:
        return not self.words and self.number is None

    def fts5(self) -> str:
        """The FTS5 MATCH expression: every word (any of its forms)."""
        groups = []
        for forms in self.forms or tuple((w,) for w in self.words):
            quoted = " OR ".join('"' + f.replace('"', '""') + '"' for f in dict.fromkeys(fold(x) for x in forms) if f)
            if quoted:
                groups.append(f"({quoted})")
        return " AND ".join(groups)

    def pg_text(self) -> str:
        return fold(" ".join(self.words))


def _dialect(s: Session) -> str:
    return s.get_bind().dialect.name


def post_ids(dialect: str, query: Query) -> Select:
    """SELECT of the ids of the posts whose text has every word of the query."""
    if not query.words:
        return select(Post.id).where(False)  # type: ignore[arg-type]
    if dialect == "postgresql":
        return select(Post.id).where(literal_column(PG_POST_DOC).bool_op("@@")(func.plainto_tsquery(literal_column("'russian'::regconfig"), query.pg_text())))
    return select(literal_column("rowid").label("id")).select_from(text("posts_fts")).where(text("posts_fts MATCH :q_posts").bindparams(q_posts=query.fts5()))


def _title_ids(dialect: str, query: Query) -> Select:
    if dialect == "postgresql":
        return select(Incident.id).where(literal_column(PG_TITLE_DOC).bool_op("@@")(func.plainto_tsquery(literal_column("'russian'::regconfig"), query.pg_text())))
    return select(literal_column("rowid").label("id")).select_from(text("incidents_fts")).where(text("incidents_fts MATCH :q_titles").bindparams(q_titles=query.fts5()))


def incident_ids(dialect: str, query: Query) -> Select:
    """SELECT of the ids of the incidents the query finds: by title, by the text of a post, by number."""
    parts: list[Select] = []
    if query.number is not None:
        parts.append(select(Incident.id).where(Incident.id == query.number))
    if query.words:
        parts.append(_title_ids(dialect, query))
        parts.append(select(IncidentPost.incident_id).where(IncidentPost.post_id.in_(post_ids(dialect, query))))
    if not parts:
        return select(Incident.id).where(False)  # type: ignore[arg-type]
    if len(parts) == 1:
        return parts[0]
    u = union(*parts).subquery()
    return select(u.c[0])


def incident_filter(s: Session, query: Query) -> Select:
    """``Incident.id.in_(incident_filter(s, q))``: the incidents the query finds, for any list query."""
    return incident_ids(_dialect(s), query)


def post_filter(s: Session, query: Query) -> Select:
    """``Post.id.in_(post_filter(s, q))``: the posts the query finds (the review queue's ``q``)."""
    return post_ids(_dialect(s), query)


def search_posts(s: Session, query: Query, limit: int = 1000) -> list[int]:
    """Ids of the posts the query finds, newest first."""
    if not query.words:
        return []
    return list(s.scalars(select(Post.id).where(Post.id.in_(post_filter(s, query))).order_by(Post.published_at.desc(), Post.id.desc()).limit(limit)))


def search_incidents(s: Session, query: Query, limit: int = 1000) -> list[int]:
    """Ids of the incidents the query finds (merged ones left out), newest first; unscoped (see ``storage.reads``)."""
    if query.empty:
        return []
    stmt = select(Incident.id).where(Incident.id.in_(incident_filter(s, query)), Incident.merged_into_id.is_(None))
    return list(s.scalars(stmt.order_by(Incident.id.desc()).limit(limit)))
