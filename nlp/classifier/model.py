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

from .appeal_cues import appeal_cue
from .complaint_cues import complaint_cue
from .features import FeatureSpace
from .heads import LinearHead
from .notice_cues import notice_cue
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
    #: Official-notice / news cue (notice_cues.py): a post with the cue is judged relevant only
    #: when P(relevant) >= notice_relevant and is never leaned relevant; one that falls short
    #: is not relevant but unsure, so it goes to review instead of routing.
    #: notice_relevant <= relevant switches it off. Absent from older bundles: the default applies.
    notice_relevant: float = 0.9
    #: Appeal cue (appeal_cues.py): a post asking an authority to act that would be judged
    #: not relevant is judged relevant but unsure (to review, with a proposed sector) when
    #: P(relevant) >= appeal_relevant; with an official-notice cue too it is relevant and unsure
    #: as well (round 7; the notice cue used to win).
    #: appeal_relevant >= relevant switches it off. Absent from older bundles: the default applies.
    appeal_relevant: float = 0.0
    #: A relevant post with the appeal cue (and no official-notice cue) and P(relevant) at or
    #: above this is sure of its relevance: a request to an authority is a problem, so it is
    #: routed when its sector and category are sure, and goes to review only when they are not.
    #: appeal_sure > 1 switches it off (then the cue only saves posts from "not a problem").
    #: Absent from older bundles: the default applies.
    appeal_sure: float = 0.0
    #: Minimum sector and category (within sector) probabilities for a sure prediction.
    #: sector 0.9: posts routed without review are right >= 95 % of the time on real appeals
    #: never trained on (benchmarks/bench_real.py, coverage-accuracy curve; it was 0.5).
    sector: float = 0.9
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

    def contract(self, id_) -> dict:
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


def _flags(assume_relevant: bool | Sequence[bool], n: int) -> np.ndarray | None:
    """Per-row appeals-mode flags (None when no row is in appeals mode)."""
    if isinstance(assume_relevant, (bool, np.bool_)):
        return np.ones(n, dtype=bool) if assume_relevant else None
    flags = np.asarray(list(assume_relevant), dtype=bool)
    if flags.shape != (n,):
        raise ValueError(f"assume_relevant: expected {n} flags, got {flags.shape[0] if flags.ndim else 0}")
    return flags if flags.any() else None


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

    def predict(
        self,
        texts: Sequence[str],
        sectors: Iterable[str] | None = None,
        *,
        assume_relevant: bool | Sequence[bool] = False,
    ) -> list[Prediction]:
        """Classify texts. ``sectors`` restricts the answer to a region's enabled sectors.

        ``assume_relevant`` (appeals mode): True, or one flag per text, for texts that are
        citizens' appeals by definition (a feedback-platform export): the "is it a problem"
        question is skipped — the post is relevant, gets a sector, category and urgency, and
        is ``unsure`` only when the sector or category is unsure. ``relevance_confidence``
        still carries the model's own P(relevant), for information; ``confidence`` is then
        P(sector) * P(category | sector)."""
        if not texts:
            return []
        docs = [self.lemmatize(t or "") for t in texts]
        x = self.features.transform(docs)
        forced = _flags(assume_relevant, len(texts))
        # The urgency rules matter only for relevant posts, the complaint cues only for posts
        # in the two-stage band and the notice cue only where it can change the decision,
        # so each is evaluated only for those rows.
        return self._predict(
            x,
            sectors,
            lambda i: urgent_rule(texts[i] or "", docs[i]),
            lambda i: complaint_cue(texts[i] or "", docs[i]),
            lambda i: notice_cue(texts[i] or "", docs[i]),
            forced,
            lambda i: appeal_cue(texts[i] or "", docs[i]),
        )

    def predict_features(
        self,
        x,
        sectors: Iterable[str] | None = None,
        rules: Sequence[str | None] | None = None,
        cues: Sequence[bool] | None = None,
        notices: Sequence[bool] | None = None,
        *,
        assume_relevant: bool | Sequence[bool] = False,
        appeals: Sequence[bool] | None = None,
    ) -> list[Prediction]:
        """Predictions from a feature matrix; ``rules`` are the urgency rules fired per row,
        ``cues`` whether a complaint cue is present (None: no two-stage decision),
        ``notices`` whether the official-notice cue is present (None: no notice cue),
        ``appeals`` whether the appeal cue is present (None: no appeal cue),
        ``assume_relevant`` as in ``predict``."""
        return self._predict(
            x,
            sectors,
            None if rules is None else rules.__getitem__,
            None if cues is None else cues.__getitem__,
            None if notices is None else notices.__getitem__,
            _flags(assume_relevant, x.shape[0]),
            None if appeals is None else appeals.__getitem__,
        )

    def _fused(self) -> dict:
        """The heads' weights side by side, in two groups: relevance and tone are needed
        for every post, sector, category and urgency only for posts that can be relevant.
        One product per group reads each feature's weights of all heads of the group in
        one go (the product per head and column is the same sum in the same order, so the
        margins are bit-for-bit those of ``LinearHead.margins``). Built on first use."""
        key = tuple((id(h), id(h.coef), id(h.intercept)) for h in (self.heads[name] for name in HEADS))
        cached = self.__dict__.get("_fused_cache")
        if cached is not None and cached["key"] == key:
            return cached
        groups = {}
        for group in (("relevance", "tone"), ("sector", "category", "urgency")):
            heads = [self.heads[name] for name in group]
            spans, start = {}, 0
            for name, h in zip(group, heads):
                spans[name] = (start, start + len(h.labels))
                start += len(h.labels)
            groups[group] = (np.ascontiguousarray(np.hstack([h.coef for h in heads]), dtype=np.float32), spans)
        cached = {"key": key, "groups": groups}
        self.__dict__["_fused_cache"] = cached
        return cached

    def _probas(self, x, group: tuple[str, ...]) -> dict[str, np.ndarray]:
        """``LinearHead.proba`` of every head of ``group`` from one product."""
        w, spans = self._fused()["groups"][group]
        m = np.asarray(x @ w)
        out = {}
        for name, (a, b) in spans.items():
            h = self.heads[name]
            z = m[:, a:b] + h.intercept
            z /= h.temperature
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            out[name] = z
        return out

    def _predict(
        self,
        x,
        sectors: Iterable[str] | None,
        rule_of: Callable[[int], str | None] | None,
        cue_of: Callable[[int], bool] | None,
        notice_of: Callable[[int], bool] | None = None,
        forced: np.ndarray | None = None,
        appeal_of: Callable[[int], bool] | None = None,
    ) -> list[Prediction]:
        th = self.thresholds
        rel_h, sec_h, cat_h, urg_h, tone_h = (self.heads[h] for h in HEADS)
        mask = None
        if sectors is not None:
            allowed = set(sectors)
            mask = np.array([lab in allowed for lab in sec_h.labels])
            if not mask.any():
                raise ModelError("модель не знает ни одного из указанных направлений")
        n = x.shape[0]
        first = self._probas(x, ("relevance", "tone"))
        p_rel = first["relevance"][:, rel_h.labels.index("yes")].astype(np.float64)
        p_tone = first["tone"]
        tone_idx = p_tone.argmax(axis=1)
        # posts below both relevance thresholds are never relevant: no topic, no urgency
        can = p_rel >= min(th.relevant, th.lean_relevant)
        if forced is not None:
            can |= forced
        # the appeal cue matters only for posts that would otherwise be judged not relevant
        appealing = np.zeros(n, dtype=bool)
        if appeal_of is not None and th.appeal_relevant < th.relevant:
            for i in np.flatnonzero((p_rel < th.relevant) & (p_rel >= th.appeal_relevant)).tolist():
                if forced is None or not forced[i]:
                    appealing[i] = bool(appeal_of(i))
            can |= appealing
        # ... and, for relevant posts not sure of their relevance, whether it makes them sure
        cued = appealing.copy()
        if appeal_of is not None and th.appeal_sure <= 1.0:
            band = (p_rel >= max(th.relevant, th.appeal_sure)) & (p_rel < th.relevant_sure)
            for i in np.flatnonzero(band).tolist():
                if forced is None or not forced[i]:
                    cued[i] = bool(appeal_of(i))
        rows = np.flatnonzero(can)
        at = np.full(n, -1, dtype=np.int64)
        at[rows] = np.arange(len(rows))
        at = at.tolist()  # plain ints: `relevant` must stay a Python bool
        if len(rows):
            second = self._probas(x if len(rows) == n else x[rows], ("sector", "category", "urgency"))
            p_sec = second["sector"]
            if mask is not None:
                p_sec = p_sec * mask
                p_sec /= np.maximum(p_sec.sum(axis=1, keepdims=True), 1e-12)
            p_urg = second["urgency"][:, urg_h.labels.index("high")]
            sec_lab, sec_p, cat_lab, cat_p = self._topics(p_sec, cat_h, second["category"])
        out: list[Prediction] = []
        version = self.version
        tone_labels = tone_h.labels
        p_rel = p_rel.tolist()
        appeal = forced.tolist() if forced is not None else [False] * n
        for i in range(n):
            pr = p_rel[i]
            r = at[i]
            if appeal[i]:  # appeals mode: relevant by definition, no notice cue
                ti = tone_idx[i]
                sector, ps, category, pc = sec_lab[r], sec_p[r], cat_lab[r], cat_p[r]
                pu = float(p_urg[r])
                rule = rule_of(i) if rule_of is not None else None
                urgency = "high" if pu >= 0.5 or rule else "normal"
                conf = {
                    "relevance": 1.0,
                    "tone": float(p_tone[i, ti]),
                    "sector": ps,
                    "category": pc,
                    "urgency": max(pu, RULE_CONFIDENCE) if rule else (pu if urgency == "high" else 1.0 - pu),
                }
                unsure = ps < th.sector or pc < th.category
                out.append(Prediction(True, pr, sector, category, urgency, tone_labels[ti], conf, ps * pc, unsure, version))
                continue
            relevant = pr >= th.relevant or (
                r >= 0
                and cue_of is not None
                and th.lean_relevant <= pr
                and sec_p[r] >= th.lean_sector
                and bool(cue_of(i))
            )
            # an announcement / news report below notice_relevant is not routed: it is
            # judged not relevant and sent to review (never dropped silently)
            notice = relevant and notice_of is not None and pr < th.notice_relevant and bool(notice_of(i))
            if notice:
                relevant = False
            # a request to an authority is never dropped: relevant, and unsure (to review); with
            # an official-notice cue too («Прошу проверить… в связи с…») it still goes to review
            # (round 7: the notice cue used to win and drop it)
            both = bool(
                (appealing[i] or (notice and appeal_of is not None and th.appeal_relevant < th.relevant and appeal_of(i)))
                and (notice or (notice_of is not None and notice_of(i)))
            )
            appealed = not relevant and (appealing[i] or both)
            if appealed:
                relevant = True
            ti = tone_idx[i]
            conf = {"relevance": pr if relevant else 1.0 - pr, "tone": float(p_tone[i, ti])}
            if relevant:
                sector, ps, category, pc = sec_lab[r], sec_p[r], cat_lab[r], cat_p[r]
                pu = float(p_urg[r])
                rule = rule_of(i) if rule_of is not None else None
                urgency = "high" if pu >= 0.5 or rule else "normal"
                conf.update(sector=ps, category=pc, urgency=max(pu, RULE_CONFIDENCE) if rule else (pu if urgency == "high" else 1.0 - pu))
                confidence = pr * ps * pc
                # a request to an authority (no notice cue) is sure of its relevance
                rel_sure = pr >= th.relevant_sure or (
                    bool(cued[i]) and pr >= th.appeal_sure and not notice and (notice_of is None or not notice_of(i))
                )
                unsure = both or not rel_sure or ps < th.sector or pc < th.category
            else:
                sector = category = urgency = None  # type: ignore[assignment]  # an irrelevant post has no topic
                confidence = 1.0 - pr
                unsure = notice or pr >= th.irrelevant_sure
            out.append(Prediction(relevant, pr, sector, category, urgency, tone_labels[ti], conf, confidence, unsure, version))
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
        """Per row: the top sector, its probability, the top category within that sector
        and its probability renormalised over the sector's categories ("other", 0.0 when
        the sector has no trained categories)."""
        sec_labels = self.heads["sector"].labels
        cat_sector = np.array([lab.split("/", 1)[0] for lab in cat_h.labels])
        cat_code = [lab.split("/", 1)[1] for lab in cat_h.labels]
        sec_idx = p_sec.argmax(axis=1)
        within = cat_sector[None, :] == np.asarray(sec_labels)[:, None]  # (sectors, categories)
        rows = np.where(within[sec_idx], p_cat, 0.0)
        total = rows.sum(axis=1)
        best = rows.argmax(axis=1)
        top = rows[np.arange(len(best)), best]
        sectors = [sec_labels[k] for k in sec_idx]
        ps = p_sec[np.arange(len(sec_idx)), sec_idx].tolist()
        cats, pcs = [], []
        for j, t, v in zip(best.tolist(), total.tolist(), top):
            if t > 0:
                cats.append(cat_code[j])
                pcs.append(float(v / t))
            else:  # a sector without trained categories
                cats.append("other")
                pcs.append(0.0)
        return sectors, ps, cats, pcs

    # ------------------------------------------------------------------ persistence

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = self.features.to_arrays()
        for name in HEADS:
            arrays.update(self.heads[name].to_arrays(name))
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as its bool flag
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
        if lemmatize is None or features.mask_names:
            from nlp.morph import preload

            preload()  # the default lemmatizer and the name mask read the dictionaries: now, not on the first post
        kwargs = {"lemmatize": lemmatize} if lemmatize is not None else {}
        return cls(features, heads, meta, Thresholds.from_dict(meta.get("thresholds")), **kwargs)
