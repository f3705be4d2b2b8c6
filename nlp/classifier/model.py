"""The trained classifier bundle: prediction API, save and load with checksum.

A bundle is a directory with two files:

* ``model.npz`` — feature vocabularies, IDF weights and the linear heads
  (numpy arrays only; no pickle is ever loaded);
* ``meta.json`` — version id, creation time (UTC), data fingerprint, metrics,
  thresholds, and the sha256 checksum of ``model.npz``, verified on load.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .features import FeatureSpace
from .complaint_cues import complaint_cue
from .heads import LinearHead
from .urgency_rules import urgent_rule

MODEL_FILE = "model.npz"
META_FILE = "meta.json"
FORMAT = 1
HEADS = ("relevance", "sector", "category", "urgency", "tone")
#: Confidence reported for urgency when a danger rule (urgency_rules.py) fires.
RULE_CONFIDENCE = 0.9


class ModelError(RuntimeError):
    """A model bundle cannot be used (missing, corrupt, or of another format)."""


class ChecksumError(ModelError):
    """The artefact does not match the checksum recorded in its metadata."""


@dataclass
class Thresholds:
    """When a prediction is «unsure» and goes to human review instead of routing."""

    #: P(relevant) at or above which a post is judged relevant.
    relevant: float = 0.5
    #: Relevant posts with P(relevant) below this are unsure.
    relevant_sure: float = 0.7
    #: Non-relevant posts with P(relevant) at or above this are unsure (borderline) and go
    #: to the review queue instead of being dropped silently.
    irrelevant_sure: float = 0.25
    #: Two-stage decision: a post with lean_relevant <= P(relevant) < relevant is judged
    #: relevant (and unsure, so it goes to review) when P(sector) >= lean_sector and a
    #: complaint cue (complaint_cues.py) is present. lean_relevant >= relevant switches it off.
    lean_relevant: float = 0.35
    lean_sector: float = 0.6
    #: Minimum sector and category (within sector) probabilities for a sure prediction.
    sector: float = 0.5
    category: float = 0.35

    @classmethod
    def from_dict(cls, d: dict | None) -> "Thresholds":
        d = dict(d or {})
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ModelError(f"неизвестные пороги: {', '.join(sorted(unknown))}")
        return cls(**{k: float(v) for k, v in d.items()})


@dataclass
class Prediction:
    relevant: bool
    relevance_confidence: float  # P(relevant)
    sector: str | None
    category: str | None
    urgency: str | None
    tone: str | None
    #: Probability of each head's answer (relevance: of the relevant/not decision).
    confidences: dict[str, float]
    #: Probability that the whole label is right: P(decision) * P(sector) * P(category | sector).
    confidence: float
    unsure: bool
    model_version: str

    def as_dict(self) -> dict:
        return asdict(self)

    def contract(self, id_) -> dict:  # noqa: ANN001
        """The ``cur classify`` output line."""
        return {
            "id": id_,
            "relevant": self.relevant,
            "sector": self.sector,
            "category": self.category,
            "urgency": self.urgency,
            "confidence": round(self.confidence, 4),
            "model_version": self.model_version,
            "tone": self.tone,
            "unsure": self.unsure,
        }


def uncertainty(prediction: Prediction) -> float:
    """How unsure the model is, in [0, 1]; reviewers see the highest first."""
    p = prediction.relevance_confidence
    rel_margin = abs(2 * p - 1)  # 0 on the decision boundary
    u = 1.0 - prediction.confidence if prediction.relevant else 1.0 - rel_margin
    return float(min(1.0, max(0.0, u)))


def _default_lemmas() -> Callable[[str], list[str]]:
    from nlp.text import lemmas

    return lemmas


@dataclass
class Classifier:
    features: FeatureSpace
    heads: dict[str, LinearHead]
    meta: dict = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    lemmatize: Callable[[str], list[str]] = field(default_factory=_default_lemmas, repr=False)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unversioned"))

    @property
    def sectors(self) -> list[str]:
        return list(self.heads["sector"].labels)

    # ------------------------------------------------------------------ prediction

    def predict(self, texts: Sequence[str], sectors: Iterable[str] | None = None) -> list[Prediction]:
        """Classify texts. ``sectors`` restricts the answer to a region's enabled sectors."""
        if not texts:
            return []
        docs = [self.lemmatize(t or "") for t in texts]
        x = self.features.transform(docs)
        rules = [urgent_rule(t, d) for t, d in zip(texts, docs)]
        cues = [complaint_cue(t, d) for t, d in zip(texts, docs)]
        return self.predict_features(x, sectors, rules, cues)

    def predict_features(
        self,
        x,  # noqa: ANN001
        sectors: Iterable[str] | None = None,
        rules: Sequence[str | None] | None = None,
        cues: Sequence[bool] | None = None,
    ) -> list[Prediction]:
        """Predictions from a feature matrix; ``rules`` are the urgency rules fired per row,
        ``cues`` whether a complaint cue is present (None: no two-stage decision)."""
        th = self.thresholds
        rel_h, sec_h, cat_h, urg_h, tone_h = (self.heads[h] for h in HEADS)
        p_rel = rel_h.proba(x)[:, rel_h.labels.index("yes")]
        p_sec = sec_h.proba(x)
        if sectors is not None:
            allowed = set(sectors)
            mask = np.array([lab in allowed for lab in sec_h.labels])
            if not mask.any():
                raise ModelError("модель не знает ни одного из указанных направлений")
            p_sec = p_sec * mask
            p_sec /= np.maximum(p_sec.sum(axis=1, keepdims=True), 1e-12)
        p_cat = cat_h.proba(x)
        p_urg = urg_h.proba(x)[:, urg_h.labels.index("high")]
        p_tone = tone_h.proba(x)
        sec_lab, sec_p, cat_lab, cat_p = self._topics(p_sec, cat_h, p_cat)
        tone_idx = p_tone.argmax(axis=1)
        out: list[Prediction] = []
        version = self.version
        for i in range(x.shape[0]):
            pr = float(p_rel[i])
            relevant = pr >= th.relevant or (
                cues is not None and cues[i] and th.lean_relevant <= pr and sec_p[i] >= th.lean_sector
            )
            tone = tone_h.labels[tone_idx[i]]
            conf = {"relevance": pr if relevant else 1.0 - pr, "tone": float(p_tone[i, tone_idx[i]])}
            if relevant:
                sector, ps, category, pc = sec_lab[i], sec_p[i], cat_lab[i], cat_p[i]
                pu = float(p_urg[i])
                rule = rules[i] if rules is not None else None
                urgency = "high" if pu >= 0.5 or rule else "normal"
                conf.update(sector=ps, category=pc, urgency=max(pu, RULE_CONFIDENCE) if rule else (pu if urgency == "high" else 1.0 - pu))
                confidence = pr * ps * pc
                unsure = pr < th.relevant_sure or ps < th.sector or pc < th.category
            else:
                sector = category = urgency = None
                confidence = 1.0 - pr
                unsure = pr >= th.irrelevant_sure
            out.append(Prediction(relevant, pr, sector, category, urgency, tone, conf, confidence, unsure, version))
        return out

    def topics(self, texts: Sequence[str]) -> list[tuple[str, str]]:
        """(sector, category) the model gives each text as if it were relevant (for evaluation)."""
        if not texts:
            return []
        x = self.features.transform([self.lemmatize(t or "") for t in texts])
        cat_h = self.heads["category"]
        s, _, c, _ = self._topics(self.heads["sector"].proba(x), cat_h, cat_h.proba(x))
        return list(zip(s, c))

    def _topics(self, p_sec: np.ndarray, cat_h: LinearHead, p_cat: np.ndarray):
        sec_labels = self.heads["sector"].labels
        cat_sector = np.array([lab.split("/", 1)[0] for lab in cat_h.labels])
        cat_code = [lab.split("/", 1)[1] for lab in cat_h.labels]
        sec_idx = p_sec.argmax(axis=1)
        sectors, ps, cats, pcs = [], [], [], []
        for i, k in enumerate(sec_idx):
            sector = sec_labels[k]
            row = np.where(cat_sector == sector, p_cat[i], 0.0)
            total = float(row.sum())
            if total > 0:
                j = int(row.argmax())
                cats.append(cat_code[j])
                pcs.append(float(row[j] / total))
            else:  # a sector without trained categories
                cats.append("other")
                pcs.append(0.0)
            sectors.append(sector)
            ps.append(float(p_sec[i, k]))
        return sectors, ps, cats, pcs

    # ------------------------------------------------------------------ persistence

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = self.features.to_arrays()
        for name in HEADS:
            arrays.update(self.heads[name].to_arrays(name))
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        blob = buf.getvalue()
        (directory / MODEL_FILE).write_bytes(blob)
        meta = dict(self.meta)
        meta.update(
            format=FORMAT,
            checksum=hashlib.sha256(blob).hexdigest(),
            size_bytes=len(blob),
            thresholds=asdict(self.thresholds),
        )
        meta.setdefault("created_at", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self.meta = meta
        (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, path: Path, *, lemmatize: Callable[[str], list[str]] | None = None) -> "Classifier":
        """Load a bundle directory (or its ``meta.json``); the checksum is verified."""
        path = Path(path)
        directory = path.parent if path.is_file() else path
        meta_path, model_path = directory / META_FILE, directory / MODEL_FILE
        if not meta_path.exists() or not model_path.exists():
            raise ModelError(f"{directory}: это не каталог модели (нужны {META_FILE} и {MODEL_FILE})")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ModelError(f"{meta_path}: некорректный JSON ({e.msg}, строка {e.lineno})") from None
        if meta.get("format") != FORMAT:
            raise ModelError(f"{meta_path}: неподдерживаемый формат модели {meta.get('format')!r} (нужен {FORMAT})")
        blob = model_path.read_bytes()
        actual = hashlib.sha256(blob).hexdigest()
        if actual != meta.get("checksum"):
            raise ChecksumError(
                f"{model_path}: контрольная сумма не совпадает (checksum mismatch) — в метаданных "
                f"{meta.get('checksum')}, у файла {actual}; файл повреждён или изменён после обучения, модель не загружена"
            )
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        features = FeatureSpace.from_arrays(arrays)
        if features.dense_weight > 0:
            from .dense import EmbeddingError, shared_embeddings

            try:
                shared_embeddings()  # read the word vectors now, not on the first post
            except EmbeddingError as e:
                raise ModelError(f"{directory}: модель использует векторы navec, но они недоступны: {e}") from None
        heads = {name: LinearHead.from_arrays(arrays, name) for name in HEADS}
        kwargs = {"lemmatize": lemmatize} if lemmatize is not None else {}
        return cls(features, heads, meta, Thresholds.from_dict(meta.get("thresholds")), **kwargs)
