"""Tokenization: razdel for the full token stream, a regex for the hot path.

``tokenize`` returns every razdel token (words, numbers, punctuation). It is
the reference tokenizer, but razdel is too slow for the classification budget
(see ``docs/nlp.md``), so ``words`` is a precompiled regex that returns only
the *word-like* tokens (those containing a letter or a digit) and is built to
match razdel's word tokens on real appeals:

* letters and digits are separate tokens (``1й`` -> ``1``, ``й``;
  ``2020г`` -> ``2020``, ``г``), as in razdel;
* hyphens join parts (``какой-то``, ``5-й``, ``Ленинск-Кузнецкий``);
* numbers keep inner ``.``, ``,`` and ``/`` between digits (``1,5``,
  ``20.12.2020``, ``12/3``);
* the underscore is not part of a word.

``word_spans`` gives the same tokens with their character offsets (used by
the gazetteer).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from razdel import tokenize as _razdel_tokenize

__all__ = ["tokenize", "words", "word_spans", "is_word"]

# Possessive quantifiers (Python 3.11+): everything after the first atom is
# optional, so a match never needs to give characters back, and not keeping
# backtracking points makes the scan ~15 % faster with the same matches.
_ATOM = r"(?:[^\W\d_]++|\d++(?:[.,/\\_]\d++)*+)"
WORD_RE = re.compile(rf"{_ATOM}(?:[-‐‑]{_ATOM})*+")
_HAS_ALNUM = re.compile(r"[^\W_]")


def tokenize(text: str | None) -> list[str]:
    """All razdel tokens of ``text`` (words, numbers and punctuation)."""
    if not text:
        return []
    return [token.text for token in _razdel_tokenize(text)]


def words(text: str | None) -> list[str]:
    """Word-like tokens of ``text`` (fast path; equal to razdel's word tokens)."""
    if not text:
        return []
    return WORD_RE.findall(text)


def word_spans(text: str | None) -> Iterator[tuple[str, int, int]]:
    """Yield ``(token, start, stop)`` for every word-like token of ``text``."""
    if not text:
        return
    for match in WORD_RE.finditer(text):
        yield match.group(0), match.start(), match.end()


def is_word(token: str) -> bool:
    """True if ``token`` holds a letter or a digit (razdel tokens filter)."""
    return _HAS_ALNUM.search(token) is not None
