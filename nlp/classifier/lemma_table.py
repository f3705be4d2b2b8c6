"""What ``FeatureSpace.transform`` knows about each lemma, as numpy arrays, and char n-grams in bulk.

``transform`` used to loop over the tokens of a batch in Python, with one cache entry per
lemma. Here every lemma seen gets a row number, and what the transform needs about it lives
in arrays indexed by that row (masked name, word index, IDF weight for the dense block, char
n-gram indices, whether it starts a vocabulary bigram), and every vocabulary bigram whose two
lemmas have rows is in one dict keyed by the two rows. A batch is then a few numpy gathers.

``CharGrams`` finds the char n-gram indices of a batch's new lemmas with numpy too: each
character of the vocabulary's n-grams has a small code, an n-gram is the number its codes
spell (its length on top), the vocabulary a sorted array of such numbers. A window holding a
character that no vocabulary n-gram has gets a zero digit, which no vocabulary number has.
``tests/test_nlp_fast_paths.py`` compares the matrices with the plain construction, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

import numpy as np


class CharGrams:
    """Column indices of the ``lo``..``hi`` char n-grams of lemmas wrapped in spaces
    (``features.char_grams``) that are in the vocabulary ``chars``."""

    def __init__(self, chars: Sequence[str], lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        alphabet = sorted(set("".join(chars)))
        self.bits = max(1, len(alphabet).bit_length())  # codes 1..len(alphabet), 0 = any other character
        #: False when the numbers would not fit in 62 bits: then the caller looks each n-gram up
        self.ok = bool(alphabet) and hi * self.bits + hi.bit_length() <= 62
        if not self.ok:
            return
        self.alpha = np.array([ord(c) for c in alphabet], dtype=np.uint32)
        lens = np.fromiter(map(len, chars), dtype=np.int64, count=len(chars))
        codes, cols = [], []
        for k in range(lo, hi + 1):  # the n-grams of one length as a (count, k) array of characters
            cols_k = np.flatnonzero(lens == k)
            if not len(cols_k):
                continue
            text = "".join([chars[j] for j in cols_k.tolist()])
            u = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).reshape(-1, k)
            digits = np.searchsorted(self.alpha, u).astype(np.int64) + 1
            v = np.full(len(cols_k), k, dtype=np.int64)
            for i in range(k):
                v = (v << self.bits) | digits[:, i]
            codes.append(v << self.bits * (hi - k))
            cols.append(cols_k.astype(np.int32))
        all_codes = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)
        order = np.argsort(all_codes, kind="stable")
        self.codes = all_codes[order]
        self.cols = (np.concatenate(cols) if cols else np.zeros(0, dtype=np.int32))[order]

    def __call__(self, lemmas: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(indices of all lemmas, one lemma after another, each in ``char_grams`` order; count per lemma)."""
        m = len(lemmas)
        lens = np.fromiter(map(len, lemmas), dtype=np.int64, count=m) + 2
        text = "".join([f" {t} " for t in lemmas])
        u = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        seg = np.repeat(np.arange(m, dtype=np.int64), lens)
        pos = np.searchsorted(self.alpha, u)
        pos[pos == len(self.alpha)] = 0
        c = np.where(self.alpha[pos] == u, pos + 1, 0).astype(np.int64)
        bits, hi, n_codes = self.bits, self.hi, len(self.codes)
        win = c
        found_seg, found_col = [], []
        for k in range(2, hi + 1):
            # win[p] spells the k characters from p; the length goes on top, the digits are left-aligned
            win = (win[:-1] << bits) | c[k - 1 :]
            if k < self.lo:
                continue
            code = ((win | (k << bits * k)) << bits * (hi - k)) if len(win) else win
            at = np.searchsorted(self.codes, code)
            at[at == n_codes] = 0
            hit = (self.codes[at] == code) & (seg[: len(win)] == seg[k - 1 :]) if n_codes else np.zeros(len(win), dtype=bool)
            found_seg.append(seg[: len(win)][hit])
            found_col.append(self.cols[at[hit]])
        if not found_seg:
            return np.zeros(0, dtype=np.int32), np.zeros(m, dtype=np.int64)
        lem, col = np.concatenate(found_seg), np.concatenate(found_col)
        order = np.argsort(lem, kind="stable")  # by lemma; within a lemma by length, then position
        return col[order].astype(np.int32, copy=False), np.bincount(lem, minlength=m)


class LemmaTable:
    """One row per lemma a ``FeatureSpace`` has transformed: ``ids`` maps the lemma to its row;
    ``drop`` (a masked name), ``word`` (word index or -1), ``weight`` (IDF weight for the dense
    block), ``has_pairs`` (it starts a vocabulary bigram) are arrays indexed by row, its char
    n-gram indices are ``chars[c_start[row]:c_start[row] + c_len[row]]``. Rows are only added
    (the arrays grow by doubling)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.size = 0
        self.drop = np.zeros(0, dtype=bool)
        self.word = np.zeros(0, dtype=np.int32)
        self.weight = np.zeros(0, dtype=np.float64)
        self.has_pairs = np.zeros(0, dtype=bool)
        self.c_start = np.zeros(0, dtype=np.int64)
        self.c_len = np.zeros(0, dtype=np.int64)
        self.chars = np.zeros(0, dtype=np.int32)
        self.c_size = 0
        #: (left row << 32 | right row) -> word index of the vocabulary bigram "left right",
        #: for every vocabulary bigram whose two lemmas have rows
        self.bigram: dict[int, int] = {}

    def add(
        self,
        lemmas: Sequence[str],
        drop: Sequence[bool],
        word: Sequence[int],
        weight: Sequence[float],
        chars: np.ndarray,
        c_len: np.ndarray,
        pairs: dict[str, dict[str, int]],
        rev_pairs: dict[str, dict[str, int]],
    ) -> None:
        """Rows for new ``lemmas``; ``chars`` holds their char n-gram indices one after another,
        ``c_len`` how many each has; ``pairs`` / ``rev_pairs``: left -> {right: bigram index}
        and right -> {left: bigram index} of the vocabulary."""
        m = len(lemmas)
        start, end = self.size, self.size + m
        if end > len(self.drop):
            cap = max(end, 2 * len(self.drop), 1024)
            for name in ("drop", "word", "weight", "has_pairs", "c_start", "c_len"):
                old = getattr(self, name)
                grown = np.zeros(cap, dtype=old.dtype)
                grown[:start] = old[:start]
                setattr(self, name, grown)
        ids = self.ids
        ids.update(zip(lemmas, range(start, end)))
        self.drop[start:end] = drop
        self.word[start:end] = word
        self.weight[start:end] = weight
        c_end = self.c_size + len(chars)
        if c_end > len(self.chars):
            grown = np.zeros(max(c_end, 2 * len(self.chars), 16384), dtype=np.int32)
            grown[: self.c_size] = self.chars[: self.c_size]
            self.chars = grown
        self.chars[self.c_size : c_end] = chars
        self.c_len[start:end] = c_len
        self.c_start[start:end] = self.c_size + np.cumsum(c_len) - c_len
        self.c_size = c_end
        bigram = self.bigram
        for t, r, dropped in zip(lemmas, range(start, end), drop):
            if dropped:  # a masked name never stands in a bigram
                continue
            right = pairs.get(t)
            if right is not None:
                self.has_pairs[r] = True
                for other, k in right.items():
                    o = ids.get(other)
                    if o is not None:
                        bigram[(r << 32) | o] = k
            left = rev_pairs.get(t)
            if left is not None:
                for other, k in left.items():
                    o = ids.get(other)
                    if o is not None:
                        bigram[(o << 32) | r] = k
        self.size = end

    def bigrams(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Word index of each bigram (left row, right row), -1 when it is not in the vocabulary."""
        codes = ((left << 32) | right).tolist()
        return np.fromiter(map(self.bigram.get, codes, repeat(-1)), dtype=np.int32, count=len(codes))
