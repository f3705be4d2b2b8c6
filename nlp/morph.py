"""Cached pymorphy3 lemmatizer and the Russian stop-word list.

One ``pymorphy3.MorphAnalyzer`` per process, created lazily under a lock on
first use (timings in ``docs/nlp.md``). Lemmas are
cached in a plain dict keyed by the lower-cased token, which is what makes the
hot path fast: on the St Petersburg appeals more than 99 % of tokens hit the
cache after the first few thousand posts. The cache is cleared when it grows
past ``CACHE_LIMIT`` entries so that a long-running process with a stream of
typos cannot grow without bound. A cache miss of a word the dictionary
knows reads its (form, paradigm) pairs and ranks them by P(tag | word) directly
(``_best``), which is what ``parse`` does first, without building every parse;
other words take the full ``parse``.

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
    "preload",
    "top_tag",
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


def preload() -> None:
    """Read the pymorphy3 dictionaries now (when a model is loaded), not on the first post."""
    _fast_parts()


def parse(word: str):
    """pymorphy3 parses of ``word`` (no caching; for callers that need tags)."""
    return analyzer().parse(word)


# The dictionary lookup that pymorphy3 runs first, without building every parse: for a
# word the dictionary knows, ``MorphAnalyzer.parse`` returns the dictionary's (form, paradigm)
# pairs (the initials units after it only take one upper-case letter), ranked by P(tag | word)
# with a stable sort, and ``tag`` ranks the same tags the same way. So the first parse is the
# first pair of the highest probability, and only its normal form needs building.
# ``tests/test_nlp_morph_fast.py`` compares it with ``parse`` and ``tag`` on dictionary words.
_fast: tuple | None = None
_FAST_OFF = ()


def _fast_parts() -> tuple:
    """(similar_items, substitutes, paradigms, gramtab, build_normal_form, P(tag|word) getter
    or None, one-letter words left to the full parse, the plain record lookup, the characters
    the substitutes replace), or ``()`` when the analyzer is not set
    up the way the fast path assumes (then every word takes the full parse)."""
    global _fast
    if _fast is None:
        from pymorphy3.units import DictionaryAnalyzer
        from pymorphy3.units.abbreviations import _InitialsAnalyzer

        m = analyzer()
        units = list(m._units)
        first = []
        for unit in units:
            first.append(unit.analyzer)
            if unit.is_terminal:
                break
        ok = type(first[0]) is DictionaryAnalyzer and all(isinstance(u, _InitialsAnalyzer) for u in first[1:])
        if ok:
            d = m.dictionary
            pe = m.prob_estimator
            letters = frozenset().union(*(u._letters_set for u in first[1:]))
            subs = m.char_substitutes or {}
            _fast = (
                d.words.similar_items,
                subs,
                d.paradigms,
                d.gramtab,
                d.build_normal_form,
                None if pe is None else pe.p_t_given_w.get,
                letters,
                d.words.get,
                tuple(k.decode("utf-8") if isinstance(k, bytes) else k for k in subs),
            )
        else:  # pragma: no cover - another pymorphy3 set-up
            _fast = _FAST_OFF
    return _fast


def _best(word: str, parts: tuple) -> tuple[str, int, int] | None:
    """(dictionary form, paradigm id, form index) of the first parse of a lower-case ``word``
    known to the dictionary, None when the dictionary does not know it."""
    similar_items, subs, paradigms, gramtab, _, prob, _, get, subs_chars = parts
    if any(c in word for c in subs_chars):
        items = similar_items(word, subs)
        if not items:
            return None
        fixed, forms = items[0]
    else:  # nothing to substitute (no «е» to read as «ё»): the word's own record
        forms = get(word)
        if not forms:
            return None
        fixed, items = word, None
    if prob is None or ((items is None or len(items) == 1) and len(forms) == 1):
        para_id, idx = forms[0]
        return fixed, para_id, idx
    best, best_p = None, -1
    for form, pairs in items or ((fixed, forms),):
        for para_id, idx in pairs:
            para = paradigms[para_id]
            p = prob(f"{word}:{gramtab[para[len(para) // 3 + idx]]}", 0)
            if p > best_p:  # strictly: the first of equal probabilities wins, as in a stable sort
                best, best_p = (form, para_id, idx), p
    return best


# word -> its top tag, for dictionary words that are their own lemma: the name mask
# (``nlp.classifier.features.alias``) asks ``top_tag`` about lemmas, and for these the lemma
# lookup has already found the answer. Taken out on use.
_top_tags: dict[str, object] = {}


def _compute_lemma(token: str) -> str:
    parts = _fast_parts()
    if parts and token not in parts[6] and token == token.lower():
        hit = _best(token, parts)
        if hit is not None:
            fixed, para_id, idx = hit
            out = fold_yo(parts[4](para_id, idx, fixed))
            if out == token:
                if len(_top_tags) >= CACHE_LIMIT:
                    _top_tags.clear()
                para = parts[2][para_id]
                _top_tags[token] = parts[3][para[len(para) // 3 + idx]]
            return out
    parses = analyzer().parse(token)
    normal = parses[0].normal_form if parses else token
    return fold_yo(normal)


def top_tag(word: str):
    """The tag pymorphy3 ranks first for a word its dictionary knows (``analyzer().tag(word)[0]``
    when ``analyzer().word_is_known(word)``), None for a word it does not know."""
    known = _top_tags.pop(word, None)
    if known is not None:
        return known
    parts = _fast_parts()
    key = word.lower()
    if parts and word not in parts[6]:
        hit = _best(key, parts)
        if hit is None:
            return None
        para = parts[2][hit[1]]
        return parts[3][para[len(para) // 3 + hit[2]]]
    m = analyzer()  # pragma: no cover - another pymorphy3 set-up
    return m.tag(word)[0] if m.word_is_known(word) else None


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
    _top_tags.clear()


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
