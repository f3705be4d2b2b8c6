"""Dense document vectors: the IDF-weighted mean of navec word embeddings of the lemmas.

Sparse TF-IDF only knows the words seen in training; a complaint written with
other words («батареи ледяные» where training had «холодные батареи») gets no
signal from them. The mean of pre-trained word vectors puts such texts near the
training texts of the same meaning. The vectors are natasha's shipped navec
model (``navec_news_v1_1B_250K_300d_100q.tar``, 250 k words, 300 dimensions,
product-quantised); nothing is downloaded. The model file is not copied into
the classifier artefact: it is an installed dependency, found in the natasha
package (or at ``CUR_NAVEC_PATH``).

Cost: one dict lookup per token, one sparse-by-dense product per batch over the
vectors of the lemmas seen so far (decoded once, cached). ``pooled`` takes the
batch as one flat lemma list with per-token weights, which is how
``FeatureSpace.transform`` calls it (the weights come from its per-lemma cache).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

NAVEC_FILE = "navec_news_v1_1B_250K_300d_100q.tar"
DIM = 300
_CACHE_LIMIT = 500_000


class EmbeddingError(RuntimeError):
    """The navec vectors cannot be found or read."""


def navec_path() -> Path:
    env = os.environ.get("CUR_NAVEC_PATH")
    if env:
        return Path(env)
    try:
        import natasha
    except ImportError as e:  # pragma: no cover - natasha is a project dependency
        raise EmbeddingError("пакет natasha не установлен: векторы navec недоступны") from e
    return Path(natasha.__file__).resolve().parent / "data" / "emb" / NAVEC_FILE


class Embeddings:
    """Lemma → navec vector, decoded lazily and cached."""

    def __init__(self, path: Path | None = None) -> None:
        path = Path(path) if path else navec_path()
        if not path.exists():
            raise EmbeddingError(f"{path}: файл векторов navec не найден")
        from nlp.vectors import load_navec

        nv = load_navec(path)  # read once per process, shared with natasha's taggers (nlp.ner)
        self._word_ids = nv.vocab.word_ids
        self._indexes = nv.pq.indexes  # (n_words, qdim) uint8
        self._codes = nv.pq.codes.astype(np.float32)  # (qdim, centroids, subdim)
        self._qrange = np.arange(self._codes.shape[0])
        self.dim = int(self._codes.shape[0] * self._codes.shape[2])
        self._row: dict[str, int] = {}  # lemma -> row of self._table, -1 when unknown
        # decoded vectors; rows [0, _size) are in use, capacity doubles when full so
        # that adding a batch's new lemmas does not copy the whole table
        self._buf = np.zeros((0, self.dim), dtype=np.float32)
        self._size = 0
        self._lock = threading.Lock()

    @property
    def _table(self) -> np.ndarray:
        return self._buf[: self._size]

    def _rows(self, lemmas: Iterable[str]) -> None:
        """Decode and cache the vectors of lemmas not seen yet."""
        new = [t for t in set(lemmas) if t not in self._row]
        if not new:
            return
        with self._lock:
            if len(self._row) + len(new) > _CACHE_LIMIT:
                self._row.clear()
                self._buf = np.zeros((0, self.dim), dtype=np.float32)
                self._size = 0
                new = list(set(lemmas))
            ids: list[int] = []
            base = self._size
            for t in new:
                i = self._word_ids.get(t)
                if i is None:
                    self._row[t] = -1
                else:
                    self._row[t] = base + len(ids)
                    ids.append(i)
            if ids:
                vec = self._codes[self._qrange, self._indexes[np.asarray(ids)]].reshape(len(ids), self.dim)
                end = base + len(ids)
                if end > len(self._buf):
                    # a lemma has at most one row: never more rows than navec has words
                    cap = max(end, min(max(2 * len(self._buf), 1024), len(self._indexes)))
                    grown = np.zeros((cap, self.dim), dtype=np.float32)
                    grown[:base] = self._buf[:base]
                    self._buf = grown
                self._buf[base:end] = vec
                self._size = end

    def doc_vectors(self, docs: Sequence[Sequence[str]], weight_of) -> np.ndarray:
        """(n_docs, dim) float32: L2-normalised weighted mean of the known lemma vectors."""
        flat: list[str] = []
        ptr = [0]
        for d in docs:
            flat.extend(d)
            ptr.append(len(flat))
        return self.pooled(flat, [weight_of(t) for t in flat], ptr)

    def pooled(self, lemmas: Sequence[str], weights: Sequence[float], ptr: Sequence[int]) -> np.ndarray:
        """``doc_vectors`` on flat input: document ``i`` is ``lemmas[ptr[i]:ptr[i+1]]``,
        ``weights`` gives each token's weight. (n_docs, dim) float32."""
        n = len(ptr) - 1
        self._rows(lemmas)
        table = self._table
        try:
            rows = np.fromiter(map(self._row.__getitem__, lemmas), dtype=np.int64, count=len(lemmas))
        except KeyError:  # another thread reset the cache meanwhile: those lemmas count as unknown
            rows = np.fromiter((self._row.get(t, -1) for t in lemmas), dtype=np.int64, count=len(lemmas))
            rows[rows >= table.shape[0]] = -1
        known = rows >= 0
        seen = np.zeros(len(lemmas) + 1, dtype=np.int64)
        np.cumsum(known, out=seen[1:])
        indptr = seen[np.asarray(ptr, dtype=np.int64)]
        m = sp.csr_matrix(
            (np.asarray(weights, dtype=np.float32)[known], rows[known], indptr),
            shape=(n, table.shape[0]),
        )
        out = np.asarray(m @ table, dtype=np.float32)
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norm, out=out, where=norm > 0)
        return out


_shared: Embeddings | None = None
_shared_lock = threading.Lock()


def shared_embeddings() -> Embeddings:
    """One process-wide instance (the model file is read once)."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = Embeddings()
    return _shared
