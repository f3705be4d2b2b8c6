"""One classification head: a linear model over the sparse features with
temperature-scaled softmax probabilities.

Training uses scikit-learn's ``LinearSVC`` (one-vs-rest margins, balanced
class weights). Its margins are turned into probabilities by a softmax whose
temperature is fitted on held-out data by minimising the negative
log-likelihood (temperature scaling, Guo et al. 2017). Weights are stored as
float32 and weights whose magnitude is below ``prune`` are zeroed before
saving, which keeps the artefact small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class LinearHead:
    labels: list[str]
    coef: np.ndarray  # (n_features, n_labels) float32
    intercept: np.ndarray  # (n_labels,) float32
    temperature: float = 1.0

    # ------------------------------------------------------------------ training

    @classmethod
    def fit(
        cls,
        x: sp.csr_matrix,
        y: Sequence[str],
        sample_weight: np.ndarray | None = None,
        *,
        c: float = 0.5,
        balanced: bool = True,
    ) -> "LinearHead":
        from sklearn.svm import LinearSVC  # imported here: prediction does not need scikit-learn

        labels = sorted(set(y))
        if len(labels) < 2:
            raise ValueError(f"a head needs at least two classes, got {labels}")
        clf = LinearSVC(C=c, class_weight="balanced" if balanced else None, dual=True, max_iter=3000)
        clf.fit(x, list(y), sample_weight=sample_weight)
        coef = clf.coef_.astype(np.float32)
        intercept = clf.intercept_.astype(np.float32)
        if len(labels) == 2:  # sklearn gives one margin for the positive class
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        return cls([str(v) for v in clf.classes_], np.ascontiguousarray(coef.T), intercept)

    def calibrate(self, x: sp.csr_matrix, y: Sequence[str]) -> float:
        """Fit the softmax temperature on held-out data; return it."""
        from scipy.optimize import minimize_scalar

        index = {lab: i for i, lab in enumerate(self.labels)}
        keep = [i for i, v in enumerate(y) if v in index]
        if len(keep) < 5:
            return self.temperature
        m = self.margins(x[keep])
        t = np.array([index[y[i]] for i in keep])

        def nll(log_s: float) -> float:
            z = m * np.exp(log_s)
            z = z - z.max(axis=1, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=1))
            return float(np.mean(lse - z[np.arange(len(t)), t]))

        res = minimize_scalar(nll, bounds=(-3.0, 4.0), method="bounded")
        self.temperature = float(np.exp(-res.x))
        return self.temperature

    def prune(self, threshold: float) -> float:
        """Zero weights with |w| < threshold; return the share of weights kept."""
        mask = np.abs(self.coef) >= threshold
        self.coef = np.where(mask, self.coef, 0).astype(np.float32)
        return float(mask.mean()) if mask.size else 1.0

    # ------------------------------------------------------------------ prediction

    def margins(self, x: sp.csr_matrix) -> np.ndarray:
        return np.asarray(x @ self.coef) + self.intercept

    def proba(self, x: sp.csr_matrix) -> np.ndarray:
        z = self.margins(x) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    # ------------------------------------------------------------------ persistence

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        c = sp.csc_matrix(self.coef)
        return {
            f"{prefix}.labels": np.frombuffer("\n".join(self.labels).encode(), dtype=np.uint8).copy(),
            f"{prefix}.data": c.data.astype(np.float32),
            f"{prefix}.indices": c.indices.astype(np.int32),
            f"{prefix}.indptr": c.indptr.astype(np.int64),
            f"{prefix}.shape": np.array(c.shape, dtype=np.int64),
            f"{prefix}.intercept": self.intercept.astype(np.float32),
            f"{prefix}.temperature": np.array([self.temperature], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray], prefix: str) -> "LinearHead":
        shape = tuple(int(v) for v in a[f"{prefix}.shape"])
        c = sp.csc_matrix((a[f"{prefix}.data"], a[f"{prefix}.indices"], a[f"{prefix}.indptr"]), shape=shape)
        return cls(
            a[f"{prefix}.labels"].tobytes().decode().split("\n"),
            np.ascontiguousarray(c.toarray(), dtype=np.float32),
            a[f"{prefix}.intercept"].astype(np.float32),
            float(a[f"{prefix}.temperature"][0]),
        )
