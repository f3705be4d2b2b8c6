"""Sparse TF-IDF features over lemmas: word unigrams + bigrams and in-word character n-grams.

Input is the lemma list of ``nlp.text.lemmas``. Blocks, each L2-normalised
and concatenated (the char block scaled by ``char_weight``):

* words: lemma unigrams and adjacent-lemma bigrams (``"a b"``);
* chars: character 3..5-grams of each lemma wrapped in spaces, which keeps
  typos and unknown word forms close to the right lemma;
* dense (when ``dense_weight`` > 0): the IDF-weighted mean navec vector of the
  lemmas (``dense.py``), scaled by ``dense_weight``.

With ``mask_names`` place and person names are dropped first (``alias``).

Transforming is cheap: the feature indices of each distinct lemma are cached
in a dict, so the per-token cost is one dict lookup; the rest is vectorised
over the batch with numpy/scipy.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .dense import DIM as DENSE_DIM

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
            from nlp.morph import analyzer

            m = analyzer()
            # unknown words (typos, rare towns) are left alone: pymorphy3 would only guess
            tag = m.tag(lemma)[0] if m.word_is_known(lemma) else None
            if tag is not None:
                if "Geox" in tag:
                    hit = GEO
                elif "Name" in tag or "Surn" in tag or "Patr" in tag:
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
    _tok_cache: dict[str, tuple[int, list[int]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._wi = {t: i for i, t in enumerate(self.words)}
        self._ci = {t: i for i, t in enumerate(self.chars)}
        self.idf_words = np.asarray(self.idf_words, dtype=np.float32)
        self.idf_chars = np.asarray(self.idf_chars, dtype=np.float32)

    @property
    def n_features(self) -> int:
        return len(self.words) + len(self.chars) + (DENSE_DIM if self.dense_weight > 0 else 0)

    def _dense(self):  # noqa: ANN202
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

    def _token(self, lemma: str) -> tuple[int, list[int]]:
        hit = self._tok_cache.get(lemma)
        if hit is None:
            ci = self._ci
            hit = (self._wi.get(lemma, -1), [j for j in (ci.get(g) for g in char_grams(lemma)) if j is not None])
            if len(self._tok_cache) >= _CACHE_LIMIT:
                self._tok_cache.clear()
            self._tok_cache[lemma] = hit
        return hit

    def transform(self, docs: Iterable[Sequence[str]]) -> sp.csr_matrix:
        docs = masked(docs) if self.mask_names else (docs if isinstance(docs, list) else list(docs))
        wi = self._wi
        w_idx: list[int] = []
        w_ptr = [0]
        c_idx: list[int] = []
        c_ptr = [0]
        tok = self._token
        for lem in docs:
            prev = None
            for t in lem:
                j, cs = tok(t)
                if j >= 0:
                    w_idx.append(j)
                c_idx.extend(cs)
                if prev is not None:
                    k = wi.get(f"{prev} {t}")
                    if k is not None:
                        w_idx.append(k)
                prev = t
            w_ptr.append(len(w_idx))
            c_ptr.append(len(c_idx))
        xw = _tfidf(w_idx, w_ptr, len(self.words), self.idf_words, 1.0)
        xc = _tfidf(c_idx, c_ptr, len(self.chars), self.idf_chars, self.char_weight)
        blocks = [xw, xc]
        if self.dense_weight > 0:
            xd = self._dense().doc_vectors(docs, self._lemma_weight)
            xd *= self.dense_weight
            blocks.append(sp.csr_matrix(xd))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

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


def _tfidf(idx: list[int], ptr: list[int], n_cols: int, idf: np.ndarray, weight: float) -> sp.csr_matrix:
    indices = np.asarray(idx, dtype=np.int32)
    indptr = np.asarray(ptr, dtype=np.int64)
    data = np.ones(len(indices), dtype=np.float32)
    m = sp.csr_matrix((data, indices, indptr), shape=(len(ptr) - 1, n_cols))
    m.sum_duplicates()
    if m.nnz:
        m.data = (1.0 + np.log(m.data)) * idf[m.indices]
        sq = np.asarray(m.multiply(m).sum(axis=1), dtype=np.float32).ravel()
        scale = np.zeros_like(sq)
        nz = sq > 0
        scale[nz] = weight / np.sqrt(sq[nz])
        m.data *= np.repeat(scale, np.diff(m.indptr))
    return m


def _pack(terms: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8).copy()


def _unpack(a: np.ndarray) -> list[str]:
    s = a.tobytes().decode("utf-8")
    return s.split("\n") if s else []
