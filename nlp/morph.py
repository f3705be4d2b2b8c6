"""Cached pymorphy3 lemmatizer and the Russian stop-word list.

One ``pymorphy3.MorphAnalyzer`` per process, created lazily under a lock on
first use (timings in ``docs/nlp.md``). Lemmas are
cached in a plain dict keyed by the lower-cased token, which is what makes the
hot path fast: on the St Petersburg appeals more than 99 % of tokens hit the
cache after the first few thousand posts. The cache is cleared when it grows
past ``CACHE_LIMIT`` entries so that a long-running process with a stream of
typos cannot grow without bound.

Lemmas are lower case with ``ё`` folded to ``е`` (``ещё`` -> ``еще``), so
that users who type ``е`` and those who type ``ё`` produce the same feature.

Stop words live in ``nlp/stopwords_ru.txt`` (one word a line, ``#``
comments). Negations and words that carry the sense of a complaint (``не``,
``нет``, ``без``, ``никто``, ``опять``, ``уже`` ...) are deliberately absent;
the file header lists them.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from nlp.clean import fold_yo

if TYPE_CHECKING:  # pragma: no cover
    import pymorphy3

__all__ = [
    "CACHE_LIMIT",
    "analyzer",
    "lemma",
    "parse",
    "stop_words",
    "is_stop_word",
    "clear_cache",
    "word_forms",
    "MAX_FORMS",
]

CACHE_LIMIT = 500_000

_lock = threading.Lock()
_analyzer: pymorphy3.MorphAnalyzer | None = None
_lemma_cache: dict[str, str] = {}


def analyzer() -> pymorphy3.MorphAnalyzer:
    """The process-wide ``MorphAnalyzer`` (created on first call, thread-safe)."""
    global _analyzer
    if _analyzer is None:
        with _lock:
            if _analyzer is None:
                import pymorphy3

                _analyzer = pymorphy3.MorphAnalyzer()
    return _analyzer


def parse(word: str):
    """pymorphy3 parses of ``word`` (no caching; for callers that need tags)."""
    return analyzer().parse(word)


def _compute_lemma(token: str) -> str:
    parses = analyzer().parse(token)
    normal = parses[0].normal_form if parses else token
    return fold_yo(normal)


def lemma(token: str) -> str:
    """Lemma of one token: lower case, ``ё`` folded to ``е``, cached."""
    key = token.lower()
    cached = _lemma_cache.get(key)
    if cached is None:
        cached = _compute_lemma(key)
        if len(_lemma_cache) >= CACHE_LIMIT:
            _lemma_cache.clear()
        _lemma_cache[key] = cached
    return cached


def clear_cache() -> None:
    """Forget all cached lemmas (tests, memory pressure)."""
    _lemma_cache.clear()


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """The shipped stop-word list (lower case, ``ё`` folded to ``е``)."""
    raw = resources.files("nlp").joinpath("stopwords_ru.txt").read_text(encoding="utf-8")
    words: set[str] = set()
    for line in raw.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.add(fold_yo(line.lower()))
    return frozenset(words)


def is_stop_word(word: str) -> bool:
    """True if ``word`` (a form or a lemma) is a stop word."""
    return fold_yo(word.lower()) in stop_words()


#: at most this many forms of one word go into a search query
MAX_FORMS = 120


def word_forms(word: str) -> tuple[str, ...]:
    """Every form of the lexemes ``word`` may belong to (lower case, ``ё`` folded), the word first.

    For searching an index that has no Russian stemmer (SQLite FTS5): ``отопления`` gives
    ``отопление, отопления, отоплению …``. Unlikely parses
    are left out (a score under a tenth of the best one), so ``день`` does not bring in ``деть``.
    """
    key = fold_yo(word.lower())
    parses = analyzer().parse(key)
    forms: dict[str, None] = {key: None}
    if parses:
        best = parses[0].score
        for p in parses:
            if p.score < best / 10:
                continue
            for f in p.lexeme:
                forms[fold_yo(f.word.lower())] = None
                if len(forms) >= MAX_FORMS:
                    return tuple(forms)
    return tuple(forms)
