"""The per-lemma table behind ``FeatureSpace.transform`` gives the plain construction's matrix.

``CharGrams`` finds char n-gram indices with numpy; it is compared with the dict lookup of
every ``char_grams`` string, including characters no vocabulary n-gram has, astral and lone
surrogate characters, spaces inside lemmas and empty lemmas. The transform is compared with
the reference of ``tests/test_nlp_fast_paths.py`` (bit for bit) when the alphabet is too
large for the numeric codes, across a table reset, and with vocabulary bigrams whose lemmas
hold spaces and come in any order.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import nlp.classifier.features as F
from nlp.classifier.features import CHAR_MAX, CHAR_MIN, FeatureSpace, char_grams
from nlp.classifier.lemma_table import CharGrams
from tests.test_nlp_fast_paths import assert_same_matrix, docs_for_features, reference_transform

ODD = ["", "а", "аб", "a b", "  ", "вода", "нет свет", "ёж", "😀вода😀", "\U0001f600", "\ud800ка", "x" * 40, "<num>", "中文"]


def plain(chars: list[str], lemmas: list[str]) -> list[list[int]]:
    ci = {t: i for i, t in enumerate(chars)}
    return [[ci[g] for g in char_grams(t) if g in ci] for t in lemmas]


def split(flat: np.ndarray, lens: np.ndarray) -> list[list[int]]:
    return [a.tolist() for a in np.split(flat, np.cumsum(lens)[:-1])] if len(lens) else []


def test_char_grams_equal_dict_lookup() -> None:
    rnd = random.Random(1)
    words = [t for d in docs_for_features() for t in d] + ODD
    # a vocabulary from some of the words (and a gram with a character seen nowhere else)
    # n-grams with inner spaces, which a window across two wrapped lemmas (" а  в ") would spell
    spaced = ["\ud800ка", "  ", "а ", " в", "а  в", "а   "]
    chars = sorted({g for t in words[::3] + spaced for g in char_grams(t)} | {"ъъъ", "zz"})
    rnd.shuffle(chars)
    coder = CharGrams(chars, CHAR_MIN, CHAR_MAX)
    assert coder.ok
    lemmas = words + ["а", "в", "а", " ", "в"] + [rnd.choice(words) + rnd.choice(words) for _ in range(500)]
    flat, lens = coder(lemmas)
    assert flat.dtype == np.int32 and len(lens) == len(lemmas)
    assert split(flat, lens) == plain(chars, lemmas)  # same indices, same order
    assert sum(lens) > 1000
    assert coder([])[1].tolist() == [] and coder([""])[1].tolist() == [0]


def test_char_grams_of_an_empty_vocabulary() -> None:
    assert not CharGrams([], CHAR_MIN, CHAR_MAX).ok


def test_transform_with_an_alphabet_too_large_for_codes() -> None:
    docs = docs_for_features()
    fs = FeatureSpace.fit(docs[:300], min_df=1, max_df=0.9, mask_names=True)
    big = [chr(0x4E00 + i) * 3 for i in range(3000)]  # 3000 more characters: codes would not fit 62 bits
    fs = FeatureSpace(fs.words, fs.chars + big, fs.idf_words, np.append(fs.idf_chars, np.ones(3000, dtype=np.float32)), fs.char_weight, 0.0, True)
    docs = docs + [["" + chr(0x4E00 + 7) * 4, "вода"]]
    assert_same_matrix(fs.transform(docs), reference_transform(fs, docs))
    assert not fs._char_grams.ok


def test_transform_across_a_table_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(F, "_CACHE_LIMIT", 50)
    docs = docs_for_features()
    fs = FeatureSpace.fit(docs[:300], min_df=1, max_df=0.9, mask_names=True, dense_weight=0.5)
    tables = []
    for i in range(0, len(docs), 37):
        assert_same_matrix(fs.transform(docs[i : i + 37]), reference_transform(fs, docs[i : i + 37]))
        tables.append(fs._table)
    assert len({id(t) for t in tables}) > 3  # the table was reset (a batch's own lemmas always fit)


def test_bigrams_of_lemmas_with_spaces_in_any_order() -> None:
    """Vocabulary terms "a b c" are the bigrams "a"+"b c" and "a b"+"c"; a bigram is found
    whichever of its lemmas the table met first, and a masked name between two lemmas joins them."""
    words = ["вода", "нет", "свет", "нет свет", "свет вода", "нет свет вода", "вода вода", "нет вода"]
    chars = sorted({g for t in ["вода", "нет", "свет"] for g in char_grams(t)})
    fs = FeatureSpace(words, chars, np.linspace(1, 2, len(words), dtype=np.float32), np.ones(len(chars), dtype=np.float32), 0.6, 0.0, True)
    batches = [
        [["вода"], ["нет"]],
        [["нет свет", "вода"], ["нет", "свет вода"], ["вода", "вода", "вода"]],
        [["нет", "новокузнецк", "вода"], ["свет"], ["нет", "свет", "вода"]],
    ]
    for docs in batches:
        got = fs.transform(docs)
        assert_same_matrix(got, reference_transform(fs, docs))
    # the last batch: "нет вода" across the masked town, "нет свет" and "свет вода"
    row0 = got[0].indices[got[0].indices < len(words)].tolist()
    assert words.index("нет вода") in row0
    assert {words.index("нет свет"), words.index("свет вода")} <= set(got[2].indices.tolist())
