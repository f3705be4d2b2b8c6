"""Public facade of the Russian text pipeline.

``lemmas(text)`` is the hot path used by the classifier:

    clean_text -> words (regex tokenizer) -> lower case -> lemma -> drop stop words

Rules of the output:

* lemmas are lower case, ``ё`` folded to ``е``;
* a token that starts with a digit (``5``, ``1,5``, ``20.12.2020``, ``5-й``)
  becomes the single token ``NUM`` = ``"<num>"``, so the classifier learns
  "a number was here" and not thousands of house numbers;
* stop words (``nlp/stopwords_ru.txt``) are dropped, checked on both
  the surface form and the lemma; negations (``не``, ``нет``, ``без`` ...)
  are kept;
* Latin words are kept lower-cased (pymorphy3 returns them unchanged).

The per-token work is one dict lookup: the feature of every lower-cased token
(its lemma, ``"<num>"`` or ``""`` for a stop word) is cached in a plain dict.
"""

from __future__ import annotations

from collections.abc import Iterable

from nlp.clean import clean_text
from nlp.morph import CACHE_LIMIT, lemma, stop_words
from nlp.tokens import tokenize, words

__all__ = ["NUM", "clean_text", "tokenize", "words", "lemmas", "lemmas_batch", "feature"]

NUM = "<num>"

# lower-cased token -> lemma | NUM | "" (stop word)
_features: dict[str, str] = {}


def feature(token: str) -> str:
    """The lemma feature of one token; ``""`` if it is a stop word."""
    key = token.lower()
    value = _features.get(key)
    if value is None:
        value = _compute(key)
        if len(_features) >= CACHE_LIMIT:
            _features.clear()
        _features[key] = value
    return value


def _compute(key: str) -> str:
    if key[0].isdigit():
        return NUM
    stops = stop_words()
    if key.replace("ё", "е") in stops:
        return ""
    value = lemma(key)
    if value in stops:
        return ""
    return value


def lemmas(text: str | None) -> list[str]:
    """Cleaned, tokenized, lemmatized words of ``text`` without stop words."""
    if not text:
        return []
    tokens = words(clean_text(text).lower())
    values = list(map(_features.get, tokens))  # one C-level pass; None marks a cache miss
    if None in values:
        values = [feature(t) if v is None else v for t, v in zip(tokens, values)]
    return list(filter(None, values))  # "" is a stop word


def lemmas_batch(texts: Iterable[str | None]) -> list[list[str]]:
    """``lemmas`` of every text, in order."""
    return [lemmas(text) for text in texts]
