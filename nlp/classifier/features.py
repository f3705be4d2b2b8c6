"""Sparse TF-IDF features over lemmas: word unigrams + bigrams and in-word character n-grams.

Input is the lemma list of ``nlp.text.lemmas``. Blocks, each L2-normalised
and concatenated (the char block scaled by ``char_weight``):

* words: lemma unigrams and adjacent-lemma bigrams (``"a b"``);
* chars: character 3..5-grams of each lemma wrapped in spaces, which keeps
  typos and unknown word forms close to the right lemma;
* dense (when ``dense_weight`` > 0): the IDF-weighted mean navec vector of the
  lemmas (``dense.py``), scaled by ``dense_weight``.

With ``mask_names`` place and person names are dropped first (``alias``).

Transforming is cheap: everything ``transform`` needs about a distinct lemma
(whether it is a masked name, its word index, its character n-gram indices,
whether it starts a bigram of the vocabulary, its IDF weight for the dense
block) is computed once, for a batch's new lemmas together, into a row of
arrays (``lemma_table.py``), so the per-token cost is one dict lookup to the
row number and numpy gathers. The rest is
vectorised over the batch with numpy too: term counts by one sort of
``row * n_cols + col`` keys, TF-IDF and L2 norms on flat arrays, the dense
block's CSR arrays without an index search, and one ``hstack`` of the blocks. The result is bit-for-bit the
matrix of the plain per-block construction (``tests/test_nlp_fast_paths.py``
keeps a reference implementation and compares them).
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .dense import DIM as DENSE_DIM
from .lemma_table import CharGrams, LemmaTable

CHAR_MIN, CHAR_MAX = 3, 5
_CACHE_LIMIT = 500_000
GEO, NAME = "<geo>", "<name>"
_alias_cache: dict[str, str] = {}


def alias(lemma: str) -> str:
    """``<geo>`` for a place name, ``<name>`` for a person's name or surname
    (pymorphy3's top parse has Geox / Name, Surn, Patr), else the lemma itself.

    Towns and streets («Кирова 14», «в Новокузнецке») tell nothing about whether a
    post is a complaint or what it is about, but a linear model learns them as
    evidence: the St Petersburg appeals had their addresses removed while the
    RuSentiment posts keep towns and people's names, so names ended up meaning
    "not a problem", and posts from other regions carry names never seen in
    training. ``masked`` drops them, which makes every region look the same.
    """
    hit = _alias_cache.get(lemma)
    if hit is None:
        hit = lemma
        if len(lemma) >= 3 and lemma.isalpha() and not lemma.isascii():
            from nlp.morph import top_tag

            # unknown words (typos, rare towns) are left alone: pymorphy3 would only guess
            tag = top_tag(lemma)
            if tag is not None:
                g = tag.grammemes
                if "Geox" in g:
                    hit = GEO
                elif "Name" in g or "Surn" in g or "Patr" in g:
                    hit = NAME
        if len(_alias_cache) >= _CACHE_LIMIT:
            _alias_cache.clear()
        _alias_cache[lemma] = hit
    return hit


DROP = {GEO, NAME}


def masked(docs: Iterable[Sequence[str]]) -> list[list[str]]:
    """Docs without place and person names (see ``alias``)."""
    get = _alias_cache.get
    out = []
    for d in docs:
        out.append([a for a in ((get(t) or alias(t)) for t in d) if a not in DROP])
    return out


#: ``transform`` adds rows to a ``LemmaTable`` (and resets it): one batch at a time
_lock = threading.Lock()


def char_grams(lemma: str) -> list[str]:
    w = f" {lemma} "
    n = len(w)
    return [w[i : i + k] for k in range(CHAR_MIN, CHAR_MAX + 1) for i in range(n - k + 1)]


def word_terms(lemmas: Sequence[str]) -> list[str]:
    return list(lemmas) + [f"{a} {b}" for a, b in zip(lemmas, lemmas[1:])]


def _prune(df: Counter, n_docs: int, min_df: int, max_features: int, max_df: float) -> list[str]:
    limit = max_df * n_docs
    kept = [(c, t) for t, c in df.items() if min_df <= c <= limit]
    kept.sort(key=lambda ct: (-ct[0], ct[1]))
    return sorted(t for _, t in kept[:max_features])


@dataclass
class FeatureSpace:
    """Vocabularies and IDF weights of the two feature blocks."""

    words: list[str]
    chars: list[str]
    idf_words: np.ndarray
    idf_chars: np.ndarray
    char_weight: float = 0.6
    #: Scale of the dense block (navec mean vectors, ``dense.py``); 0 = no dense block.
    dense_weight: float = 0.0
    #: Replace place and person names by ``<geo>`` / ``<name>`` (see ``alias``).
    mask_names: bool = False
    _wi: dict[str, int] = field(default_factory=dict, repr=False)
    _ci: dict[str, int] = field(default_factory=dict, repr=False)
    #: what ``transform`` needs about every lemma seen so far (``lemma_table.py``), built on first use
    _table: LemmaTable | None = field(default=None, repr=False)
    _char_grams: CharGrams | None = field(default=None, repr=False)
    #: left lemma -> {right lemma: index of the term "left right"} for every vocabulary
    #: term with a space (so that a bigram lookup needs no string concatenation)
    _pairs: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)
    #: right lemma -> {left lemma: bigram index}: the same pairs seen from the right
    _rev_pairs: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._wi = {t: i for i, t in enumerate(self.words)}
        self._ci = {t: i for i, t in enumerate(self.chars)}
        self.idf_words = np.asarray(self.idf_words, dtype=np.float32)
        self.idf_chars = np.asarray(self.idf_chars, dtype=np.float32)
        pairs: dict[str, dict[str, int]] = {}
        for i, term in enumerate(self.words):
            k = term.find(" ")
            while k >= 0:  # every split: "a b c" is "a"+"b c" and "a b"+"c"
                pairs.setdefault(term[:k], {})[term[k + 1 :]] = i
                k = term.find(" ", k + 1)
        self._pairs = pairs
        rev: dict[str, dict[str, int]] = {}
        for left, right in pairs.items():
            for other, i in right.items():
                rev.setdefault(other, {})[left] = i
        self._rev_pairs = rev

    @property
    def n_features(self) -> int:
        return len(self.words) + len(self.chars) + (DENSE_DIM if self.dense_weight > 0 else 0)

    def _dense(self):
        from .dense import shared_embeddings

        return shared_embeddings()

    def _lemma_weight(self, lemma: str) -> float:
        j = self._wi.get(lemma, -1)
        return float(self.idf_words[j]) if j >= 0 else self._idf_default

    @functools.cached_property
    def _idf_default(self) -> float:
        return float(np.median(self.idf_words)) if len(self.idf_words) else 1.0

    # ------------------------------------------------------------------ fitting

    @classmethod
    def fit(
        cls,
        docs: Sequence[Sequence[str]],
        *,
        min_df: int = 2,
        max_words: int = 60_000,
        max_chars: int = 40_000,
        max_df: float = 0.5,
        char_weight: float = 0.6,
        dense_weight: float = 0.0,
        mask_names: bool = False,
    ) -> "FeatureSpace":
        if mask_names:
            docs = masked(docs)
        wdf: Counter = Counter()
        cdf: Counter = Counter()
        grams: dict[str, list[str]] = {}
        for lem in docs:
            wdf.update(set(word_terms(lem)))
            cs: set[str] = set()
            for t in set(lem):
                g = grams.get(t)
                if g is None:
                    g = grams[t] = char_grams(t)
                cs.update(g)
            cdf.update(cs)
        n = max(len(docs), 1)
        words = _prune(wdf, n, min_df, max_words, max_df)
        chars = _prune(cdf, n, min_df, max_chars, max_df)
        idf_w = np.log((1 + n) / (1 + np.array([wdf[t] for t in words], dtype=np.float64))) + 1
        idf_c = np.log((1 + n) / (1 + np.array([cdf[t] for t in chars], dtype=np.float64))) + 1
        return cls(words, chars, idf_w.astype(np.float32), idf_c.astype(np.float32), char_weight, dense_weight, mask_names)

    # ------------------------------------------------------------------ transform

    def _add(self, tab: LemmaTable, lemmas: list[str]) -> None:
        """Rows of ``tab`` for new lemmas: masked name?, word index or -1, IDF weight for the
        dense block, char n-gram indices, bigrams."""
        wi, idf, default = self._wi, self.idf_words, self._idf_default
        drop = [alias(t) in DROP for t in lemmas] if self.mask_names else [False] * len(lemmas)
        word = [-1 if d else wi.get(t, -1) for t, d in zip(lemmas, drop)]
        weight = [0.0 if d else float(idf[j]) if j >= 0 else default for d, j in zip(drop, word)]
        kept = [("" if d else t) for t, d in zip(lemmas, drop)]  # "" has no n-gram: a masked name has none
        coder = self.__dict__.get("_char_grams")
        if coder is None:
            coder = self._char_grams = CharGrams(self.chars, CHAR_MIN, CHAR_MAX)
        if coder.ok:
            chars, c_len = coder(kept)
        else:  # an alphabet too large for the numbers: one dict lookup per n-gram
            ci = self._ci
            grams = [[k for k in map(ci.get, char_grams(t)) if k is not None] for t in kept]
            chars = np.array([k for g in grams for k in g], dtype=np.int32)
            c_len = np.array([len(g) for g in grams], dtype=np.int64)
        tab.add(lemmas, drop, word, weight, chars, c_len, self._pairs, self._rev_pairs)

    def transform(self, docs: Iterable[Sequence[str]]) -> sp.csr_matrix:
        """(n_docs, n_features) float32 CSR matrix with sorted indices: the word block, the
        char block and (when ``dense_weight`` > 0) the dense block, side by side."""
        docs = docs if isinstance(docs, list) else list(docs)
        n = len(docs)
        lens = np.fromiter(map(len, docs), dtype=np.int64, count=n)
        flat: list[str] = list(itertools.chain.from_iterable(docs))
        dense = self.dense_weight > 0
        with _lock:  # the table grows and is reset in place: one batch at a time
            tab = self.__dict__.get("_table")
            new = set(flat).difference(tab.ids) if tab is not None else set(flat)
            if tab is None or len(tab.ids) + len(new) > _CACHE_LIMIT:
                tab = self._table = LemmaTable()
                new = set(flat)
            if new:
                self._add(tab, sorted(new))
            ids = np.fromiter(map(tab.ids.__getitem__, flat), dtype=np.int64, count=len(flat))
            doc = np.repeat(np.arange(n, dtype=np.int64), lens)
            keep = ~tab.drop[ids]
            all_kept = bool(keep.all())
            if not all_kept:  # masked place and person names leave the doc (a bigram spans them)
                ids, doc = ids[keep], doc[keep]
            # word block: unigrams, then the bigrams of adjacent lemmas of a doc
            wj = tab.word[ids]
            known = wj >= 0
            w_doc, w_idx = [doc[known]], [wj[known]]
            if len(ids) > 1:
                left = ids[:-1]
                pair = (doc[:-1] == doc[1:]) & tab.has_pairs[left]
                if pair.any():
                    k = tab.bigrams(left[pair], ids[1:][pair])
                    found = k >= 0
                    w_doc.append(doc[:-1][pair][found])
                    w_idx.append(k[found])
            # char block: the n-gram indices of each lemma, in doc order
            cl = tab.c_len[ids]
            total = int(cl.sum())
            ends = np.cumsum(cl)
            gather = np.repeat(tab.c_start[ids] - (ends - cl), cl) + np.arange(total, dtype=np.int64)
            c_idx = tab.chars[gather]
            c_doc = np.repeat(doc, cl)
            weights = tab.weight[ids] if dense else None
        blocks = [
            _tfidf(np.concatenate(w_doc), np.concatenate(w_idx), n, len(self.words), self.idf_words, 1.0),
            _tfidf(c_doc, c_idx, n, len(self.chars), self.idf_chars, self.char_weight),
        ]
        if dense:
            kept = flat if all_kept else list(itertools.compress(flat, keep.tolist()))
            k_ptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(doc, minlength=n), out=k_ptr[1:])
            xd = self._dense().pooled(kept, weights, k_ptr)
            xd *= self.dense_weight
            blocks.append(_dense_csr(xd))
        widths = [len(self.words), len(self.chars)] + ([xd.shape[1]] if dense else [])
        return sp.hstack(
            [sp.csr_matrix((data, idx, ptr), shape=(n, width)) for (ptr, idx, data), width in zip(blocks, widths)],
            format="csr",
            dtype=np.float32,
        )

    # ------------------------------------------------------------------ persistence

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "vocab_words": _pack(self.words),
            "vocab_chars": _pack(self.chars),
            "idf_words": self.idf_words,
            "idf_chars": self.idf_chars,
            "char_weight": np.array([self.char_weight], dtype=np.float32),
            "dense_weight": np.array([self.dense_weight], dtype=np.float32),
            "mask_names": np.array([int(self.mask_names)], dtype=np.int8),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> "FeatureSpace":
        return cls(
            _unpack(a["vocab_words"]),
            _unpack(a["vocab_chars"]),
            a["idf_words"],
            a["idf_chars"],
            float(a["char_weight"][0]),
            float(a["dense_weight"][0]) if "dense_weight" in a else 0.0,
            bool(a["mask_names"][0]) if "mask_names" in a else False,
        )


def _tfidf(rows: np.ndarray, idx: np.ndarray, n: int, n_cols: int, idf: np.ndarray, weight: float):
    """One TF-IDF block of ``n`` rows as CSR parts ``(indptr, indices, data)`` with sorted indices.

    ``(rows[i], idx[i])`` is one occurrence of term column ``idx[i]`` in row ``rows[i]``, in any
    order, repeats counted.
    Values: (1 + ln count) * idf, each row scaled to L2 norm ``weight`` — the same
    float32 operations, in the same order, as summing duplicates of a CSR matrix
    of ones and normalising it with ``multiply(...).sum(axis=1)``.
    """
    indptr = np.zeros(n + 1, dtype=np.int64)
    if not len(idx):
        return indptr, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    key_type = np.int32 if n * n_cols < 2**31 else np.int64
    keys: np.ndarray = rows.astype(key_type)
    keys *= n_cols
    keys += idx
    keys.sort()
    first = np.empty(len(keys), dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=len(keys))
    keys = keys[starts]
    rows = keys // n_cols
    cols = (keys - rows * n_cols).astype(np.int32)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    data = (1.0 + np.log(counts.astype(np.float32))) * idf[cols]
    filled = np.flatnonzero(np.diff(indptr))
    sq = np.zeros(n, dtype=np.float32)
    sq[filled] = np.add.reduceat(data * data, indptr[filled])
    scale = np.zeros_like(sq)
    nz = sq > 0
    scale[nz] = weight / np.sqrt(sq[nz])
    data *= np.repeat(scale, np.diff(indptr))
    return indptr, cols, data


def _dense_csr(x: np.ndarray):
    """CSR parts ``(indptr, indices, data)`` of the nonzeros of a dense float32 matrix
    (what ``scipy.sparse.csr_matrix(x)`` stores). Mean vectors have no zero component,
    so rows are either full or empty (no known lemma), which needs no index search."""
    n, width = x.shape
    nz = x != 0
    counts = nz.sum(axis=1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    full = counts == width
    if (full | (counts == 0)).all():
        k = int(full.sum())
        data = x[full].ravel() if k < n else x.ravel()
        return indptr, np.tile(np.arange(width, dtype=np.int32), k), data
    return indptr, np.nonzero(nz)[1].astype(np.int32), x[nz]


def _pack(terms: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8).copy()


def _unpack(a: np.ndarray) -> list[str]:
    s = a.tobytes().decode("utf-8")
    return s.split("\n") if s else []
