"""Search queries: what a user types in a search box, as a query the storage index can run.

``parse("нет отопления")`` splits the text into words the way the index does (letters and
digits; ``unicode61`` on SQLite), drops stop words (unless nothing else is left), and gives each
word every form of its lexeme (``nlp.morph.word_forms``) so that SQLite FTS5, which has no
Russian stemmer, finds «отопление» for «отопления». PostgreSQL uses the words alone (its
``russian`` configuration stems them). ``123`` or ``№123`` is also an incident number.

The list views use ``incident_filter``/``post_filter`` (SQL subqueries of ids); ``storage.search``
documents the index itself.
"""

from __future__ import annotations

import re

from sqlalchemy import Select
from sqlalchemy.orm import Session

from nlp.morph import is_stop_word, word_forms
from storage import search as index
from storage.search import Query

__all__ = ["Query", "parse", "incident_filter", "post_filter", "search_incidents", "search_posts", "MAX_WORDS"]

#: words of a query beyond this many are ignored (a pasted paragraph is not a query)
MAX_WORDS = 8
_WORD = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"^\s*(?:№|N|#)?\s*(\d{1,12})\s*$", re.IGNORECASE)


def parse(q: str | None) -> Query:
    """The query for a search box's text (empty for none)."""
    q = (q or "").strip()
    if not q:
        return Query()
    number = None
    m = _NUMBER.match(q)
    if m:
        number = int(m.group(1))
    words = [index.fold(w) for w in _WORD.findall(q)]
    kept = [w for w in words if not is_stop_word(w)] or words
    kept = list(dict.fromkeys(kept))[:MAX_WORDS]
    forms = tuple(word_forms(w) if not w.isdigit() else (w,) for w in kept)
    return Query(words=tuple(kept), forms=forms, number=number)


def incident_filter(s: Session, q: str | Query) -> Select:
    """SELECT of the ids of the incidents found by ``q`` (for ``Incident.id.in_(...)``)."""
    return index.incident_filter(s, parse(q) if isinstance(q, str) else q)


def post_filter(s: Session, q: str | Query) -> Select:
    """SELECT of the ids of the posts found by ``q`` (for ``Post.id.in_(...)``: the review queue)."""
    return index.post_filter(s, parse(q) if isinstance(q, str) else q)


def search_posts(s: Session, q: str, limit: int = 1000) -> list[int]:
    return index.search_posts(s, parse(q), limit)


def search_incidents(s: Session, q: str, limit: int = 1000) -> list[int]:
    """Incident ids found by ``q`` (unscoped: list views add the reader's scope through ``storage.reads``)."""
    return index.search_incidents(s, parse(q), limit)
