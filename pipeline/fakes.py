"""Possible fakes: the registry of debunked claims, the matcher of the processing pass, decisions, the threshold.

Registry. An operator adds a debunked claim («В Мурманске вода из-под крана отравлена»), its
refutation and a link (web page ``/fakes``, ``cur fakes add|import``, ``POST /api/fakes``). Every
change is an audit entry (``fake_claim.add``, ``fake_claim.remove``, ``fake_mark.confirm`` …) with
who and when; a claim is never deleted, only deactivated (its marks keep naming it).

Matching (``FakeMatcher``, built once per processing pass from the active claims): for every new
post and every claim

* ``lemma_score`` — cosine of TF-IDF vectors over lemmas (``nlp.text.lemmas``; IDF over the claims,
  so words common to many claims weigh less; the post's words outside the claims count in its norm);
* ``vector_score`` — cosine of navec mean vectors of the lemmas (``nlp.classifier.dense``): catches
  the claim told in other words («водопроводная вода ядовитая» for «вода из-под крана отравлена»);
  the best of the whole post and each of its sentences, so a claim inside a long post is found;
* ``score = LEMMA_WEIGHT · lemma_score + (1 − LEMMA_WEIGHT) · vector_score``.

The best claim of a post is marked when ``score ≥ threshold`` — unless the post itself refutes
(«это фейк», «опровергли», «неправда»): spreading the refutation is not spreading the fake.
Claim vectors are computed once per pass; posts are scored a batch at a time with two matrix
products (cost in docs/fakes.md).

Decisions and the threshold. The operator confirms (the post's incident gets the «возможный
фейк» flag, an incident event) or dismisses a mark (a flag a confirmation set is cleared, an
event), and may change the decision; ``tune_threshold`` (``cur fakes tune``, the button on
``/fakes``) picks the threshold that maximises F1 on the decided marks, or lowers it a step when
the marks just above it are nearly all confirmed (``next_threshold``), and stores it with its
figures (``fake_thresholds``); the next pass uses it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from storage import accounts as audit_repo
from storage import fakes as repo
from storage import incidents as incident_repo
from storage.events import OPEN_STATES
from storage.models import FakeClaim, FakeMark, FakeThreshold

from .errors import InvalidInput, NotFound, Refused
from .incidents.lifecycle import mark_fake, unmark_fake

if TYPE_CHECKING:  # numpy/scipy load with the first matcher, not with every command importing this module
    import numpy as np
    import scipy.sparse as sp

log = logging.getLogger(__name__)

#: Threshold before any tuning (chosen on classifier_models/fakes/, see docs/fakes.md).
DEFAULT_THRESHOLD = 0.45
#: Weight of the lemma TF-IDF cosine in the score (the rest is the navec cosine).
LEMMA_WEIGHT = 0.5
#: Tuning never goes below or above these (a handful of decisions must not switch the matcher off or mark everything).
MIN_THRESHOLD, MAX_THRESHOLD = 0.30, 0.95
#: Decided marks needed before ``tune_threshold`` moves the threshold.
MIN_DECIDED = 10
#: Lowering (docs/fakes.md «Tuning the threshold»): marks exist only above the threshold, so the F1 rule alone
#: can only raise it. When the lowest band of decided marks, [threshold, threshold + STEP), holds at least
#: ``BAND_MIN`` decisions of which at least ``LOWER_PRECISION`` are confirmed, and the F1-best threshold is in
#: that band, the threshold goes down by ``STEP``; the decisions on the posts it then marks tell the next tuning
#: whether that went too far (the F1 rule raises it back).
STEP = 0.05
BAND_MIN = 5
LOWER_PRECISION = 0.9
#: Lemmas by which a post refutes rather than repeats a claim.
REFUTES = frozenset({"фейк", "опровергнуть", "опровергать", "опровержение", "неправда", "вранье", "ложь", "недостоверный", "дезинформация"})
LIMITS = {"claim": 2000, "refutation": 4000, "link": 1024}
DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed"}

_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")


# --------------------------------------------------------------------------- the matcher


@dataclass(frozen=True, slots=True)
class Match:
    claim_id: int
    score: float
    lemma_score: float
    vector_score: float


def _refutes(lemmas: Sequence[str]) -> bool:
    if REFUTES.intersection(lemmas):
        return True
    return "подтвердиться" in lemmas and "не" in lemmas


class FakeMatcher:
    """Scores texts against a fixed set of claims; claim vectors are computed once, here."""

    def __init__(self, claims: Sequence[tuple[int, str]], threshold: float = DEFAULT_THRESHOLD,
                 lemma_weight: float = LEMMA_WEIGHT, embeddings: Any = None) -> None:
        import numpy as np

        from nlp.text import lemmas_batch

        self.ids = [cid for cid, _ in claims]
        self.threshold = float(threshold)
        self.lemma_weight = float(lemma_weight)
        docs = lemmas_batch([text for _, text in claims])
        df: dict[str, int] = {}
        for d in docs:
            for t in set(d):
                df[t] = df.get(t, 0) + 1
        n = len(docs)
        self.vocab = {t: i for i, t in enumerate(sorted(df))}
        self.idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in sorted(df)], dtype=np.float64)
        self.oov_idf = math.log(1 + n) + 1.0
        self.claim_matrix = self._tfidf(docs)[0]
        self.embeddings = embeddings
        if self.embeddings is None and self.lemma_weight < 1.0:
            try:
                from nlp.classifier.dense import shared_embeddings

                self.embeddings = shared_embeddings()
            except Exception as e:  # noqa: BLE001 - no vectors: the lemma part alone decides (logged)
                log.warning("векторы navec недоступны (%s): возможные фейки ищутся только по леммам", e)
        self.claim_vectors = self._vectors(docs) if self.embeddings is not None else None

    def __len__(self) -> int:
        return len(self.ids)

    def _tfidf(self, docs: Sequence[Sequence[str]]) -> tuple[sp.csr_matrix, np.ndarray]:
        """Rows L2-normalised over the claims' vocabulary; the second value is each row's norm with the other words."""
        import numpy as np
        import scipy.sparse as sp

        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        norms = np.zeros(len(docs))
        for r, d in enumerate(docs):
            tf: dict[str, int] = {}
            for t in d:
                tf[t] = tf.get(t, 0) + 1
            sq = 0.0
            for t, c in tf.items():
                i = self.vocab.get(t)
                w = c * (self.idf[i] if i is not None else self.oov_idf)
                sq += w * w
                if i is not None:
                    rows.append(r)
                    cols.append(i)
                    vals.append(w)
            norms[r] = math.sqrt(sq)
        m = sp.csr_matrix((vals, (rows, cols)), shape=(len(docs), len(self.vocab)), dtype=np.float64)
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sp.csr_matrix(sp.diags(scale) @ m), norms

    def _vectors(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        import numpy as np

        return np.asarray(self.embeddings.doc_vectors(docs, lambda _t: 1.0), dtype=np.float32)

    def scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[str]]]:
        """(combined, lemma, vector) scores, each (len(texts), len(claims)), and the lemmas of the texts."""
        import numpy as np

        from nlp.text import lemmas_batch

        docs = lemmas_batch(texts)
        shape = (len(texts), len(self.ids))
        if not self.ids or not texts:
            z = np.zeros(shape)
            return z, z, z, docs
        lemma = np.asarray((self._tfidf(docs)[0] @ self.claim_matrix.T).todense(), dtype=np.float64)
        if self.claim_vectors is None:
            return lemma, lemma, np.zeros(shape), docs
        # whole texts and their sentences in one pooled call; a text's vector score is its best part
        parts: list[list[str]] = []
        owner: list[int] = []
        for i, (text, d) in enumerate(zip(texts, docs)):
            parts.append(d)
            owner.append(i)
            sentences = [s for s in _SENTENCE.split(text or "") if s.strip()]
            if len(sentences) > 1:
                for sd in lemmas_batch(sentences):
                    if len(sd) >= 3:
                        parts.append(sd)
                        owner.append(i)
        sims = self._vectors(parts) @ self.claim_vectors.T
        vector = np.full(shape, -1.0)
        np.maximum.at(vector, np.asarray(owner), sims.astype(np.float64))
        vector = np.clip(vector, 0.0, 1.0)
        w = self.lemma_weight
        return w * lemma + (1 - w) * vector, lemma, vector, docs

    def best(self, texts: Sequence[str]) -> list[Match | None]:
        """The best claim of every text, whatever its score (None: no claims, or the text refutes)."""
        import numpy as np

        combined, lemma, vector, docs = self.scores(texts)
        out: list[Match | None] = []
        for i in range(len(texts)):
            if not self.ids or _refutes(docs[i]):
                out.append(None)
                continue
            j = int(np.argmax(combined[i]))
            out.append(Match(self.ids[j], float(combined[i, j]), float(lemma[i, j]), float(vector[i, j])))
        return out

    def match(self, texts: Sequence[str]) -> list[Match | None]:
        """The best claim of every text when it reaches the threshold, else None."""
        return [m if m is not None and m.score >= self.threshold else None for m in self.best(texts)]


def current_threshold(s: Session) -> float:
    row = repo.latest_threshold(s)
    return float(row.threshold) if row is not None else DEFAULT_THRESHOLD


def matcher_for_pass(s: Session) -> FakeMatcher | None:
    """The matcher over the active claims with the threshold in force; None when the registry is empty."""
    active = repo.claims(s)
    if not active:
        return None
    return FakeMatcher([(c.id, c.claim) for c in active], current_threshold(s))


def mark_rows(matches: dict[int, Match], threshold: float, now: datetime) -> list[dict[str, Any]]:
    """``fake_marks`` rows for ``{post_id: match}``."""
    return [dict(post_id=pid, claim_id=m.claim_id, score=round(m.score, 4), lemma_score=round(m.lemma_score, 4),
                 vector_score=round(m.vector_score, 4), threshold=threshold, origin="auto", marked_at=now)
            for pid, m in matches.items()]


# --------------------------------------------------------------------------- the registry


def normalise(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def claim_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def _clean(claim: Any, refutation: Any, link: Any) -> tuple[str, str, str | None]:
    """Checked and trimmed fields; ``InvalidInput`` with a Russian reason naming the field."""
    values = []
    for name, value, required in (("claim", claim, True), ("refutation", refutation, True), ("link", link, False)):
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise InvalidInput(f"поле «{name}» должно быть строкой")
        value = value.replace("\x00", "").strip()
        if required and not value:
            raise InvalidInput({"claim": "не указано утверждение", "refutation": "не указано опровержение"}[name])
        if len(value) > LIMITS[name]:
            raise InvalidInput(f"поле «{name}» длиннее {LIMITS[name]} символов")
        values.append(value)
    claim_text, refutation_text, link_text = values
    if len(claim_text.split()) < 3:
        raise InvalidInput("утверждение слишком короткое: нужно не меньше трёх слов, чтобы сравнивать с ним посты")
    if link_text and not link_text.lower().startswith(("http://", "https://")):
        raise InvalidInput(f"ссылка должна начинаться с http:// или https://: {link_text[:80]!r}")
    return claim_text, refutation_text, link_text or None


def claim_dict(c: FakeClaim) -> dict[str, Any]:
    return {"id": c.id, "claim": c.claim, "refutation": c.refutation, "link": c.link, "added_by": c.added_by,
            "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(), "active": bool(c.is_active)}


def add_claim(s: Session, claim: Any, refutation: Any, link: Any, actor: str, now: datetime, via: str = "web") -> FakeClaim:
    """Add a claim to the registry (audited); ``Refused`` if the same claim is there already."""
    claim_text, refutation_text, link_text = _clean(claim, refutation, link)
    h = claim_hash(claim_text)
    old = repo.claim_by_hash(s, h)
    if old is not None:
        if old.is_active:
            raise Refused(f"такое утверждение уже есть в реестре: №{old.id}")
        before = claim_dict(old)
        old.refutation, old.link, old.is_active, old.updated_at = refutation_text, link_text, True, now
        audit_repo.audit(s, actor, "fake_claim.restore", f"fake_claim:{old.id}", {"via": via, "before": before, "after": claim_dict(old)}, now)
        return old
    c = repo.add_claim(s, claim=claim_text, refutation=refutation_text, link=link_text, claim_hash=h, added_by=actor,
                       created_at=now, updated_at=now, is_active=True)
    audit_repo.audit(s, actor, "fake_claim.add", f"fake_claim:{c.id}", {"via": via, "after": claim_dict(c)}, now)
    return c


def get_claim(s: Session, claim_id: int) -> FakeClaim:
    c = repo.claim(s, claim_id)
    if c is None:
        raise NotFound(f"утверждения №{claim_id} нет в реестре")
    return c


def remove_claim(s: Session, claim_id: int, actor: str, now: datetime, via: str = "web") -> FakeClaim:
    """Deactivate a claim (audited): new posts are no longer compared with it; its marks stay."""
    c = get_claim(s, claim_id)
    if not c.is_active:
        raise Refused(f"утверждение №{claim_id} уже снято с учёта")
    before = claim_dict(c)
    c.is_active, c.updated_at = False, now
    audit_repo.audit(s, actor, "fake_claim.remove", f"fake_claim:{c.id}", {"via": via, "before": before}, now)
    return c


def list_claims(s: Session, active_only: bool = True) -> list[FakeClaim]:
    return repo.claims(s, active_only)


@dataclass
class ImportReport:
    added: int = 0
    known: int = 0
    bad: list[str] = field(default_factory=list)


_HEADERS = {"claim": "claim", "утверждение": "claim", "refutation": "refutation", "опровержение": "refutation",
            "link": "link", "ссылка": "link", "url": "link"}


def _rows(path: Path) -> list[tuple[int, Any]]:
    """(line number, dict or error text) for every non-empty line of a JSONL or CSV file."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{path}: файл не в кодировке UTF-8 (байт {e.start}): ничего не загружено") from None
    except OSError as e:
        raise InvalidInput(f"{path}: файл не читается: {e.strerror or e}") from None
    out: list[tuple[int, Any]] = []
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                out.append((n, f"не JSON: {e.msg}"))
        return out
    if path.suffix.lower() not in (".csv", ".tsv"):
        raise InvalidInput(f"{path}: неизвестный формат файла (ожидается .csv или .jsonl)")
    lines = text.splitlines()
    if not lines:
        return out
    delimiter = "\t" if path.suffix.lower() == ".tsv" else (";" if lines[0].count(";") > lines[0].count(",") else ",")
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = [_HEADERS.get(h.strip().lower(), h.strip().lower()) for h in next(reader)]
    except (csv.Error, StopIteration):
        raise InvalidInput(f"{path}: строка 1: заголовок CSV не читается") from None
    if "claim" not in header or "refutation" not in header:
        raise InvalidInput(f"{path}: строка 1: в заголовке CSV нужны столбцы claim (утверждение) и refutation (опровержение)")
    for values in reader:
        n = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            out.append((n, f"ожидалось {len(header)} столбцов, найдено {len(values)}"))
            continue
        out.append((n, dict(zip(header, values))))
    return out


def import_claims(s: Session, path: Path, actor: str, now: datetime) -> ImportReport:
    """Claims from CSV (claim, refutation, link; Russian headers too) or JSONL; bad lines named by number, the rest added."""
    report = ImportReport()
    for n, row in _rows(path):
        if isinstance(row, str):
            report.bad.append(f"строка {n}: {row}")
            continue
        if not isinstance(row, dict):
            report.bad.append(f"строка {n}: ожидается объект с полями claim, refutation, link")
            continue
        row = {_HEADERS.get(str(k).strip().lower(), str(k)): v for k, v in row.items()}
        try:
            add_claim(s, row.get("claim"), row.get("refutation"), row.get("link"), actor, now, via=f"import:{path.name}")
            report.added += 1
        except Refused:
            report.known += 1
        except InvalidInput as e:
            report.bad.append(f"строка {n}: {e}")
    return report


# --------------------------------------------------------------------------- decisions and the threshold


def decide_mark(s: Session, mark_id: int, decision: str, actor: str, now: datetime) -> FakeMark:
    """``confirm`` or ``dismiss`` a mark (audited), or change the decision taken (the same one twice is refused).

    Confirming flags the post's open incident «возможный фейк» (a ``marked_fake`` event naming the mark).
    Dismissing clears the flag (an ``unmarked_fake`` event) when a mark's confirmation set it and no
    other confirmed mark of the incident's posts remains; a flag an operator set by hand stays."""
    if decision not in DECISIONS:
        raise InvalidInput(f"неизвестное решение «{decision}»: ожидается confirm или dismiss")
    m = repo.mark(s, mark_id)
    if m is None:
        raise NotFound(f"метки №{mark_id} нет")
    if m.decision == DECISIONS[decision]:
        raise Refused(f"по метке №{mark_id} уже принято решение: {DECISION_NAMES[m.decision]}")
    before = m.decision
    repo.set_decision(m, DECISIONS[decision], actor, now)
    data: dict[str, Any] = {"mark": m.id, "claim": m.claim_id, "score": m.score}
    if before is not None:
        data["before"] = before
    audit_repo.audit(s, actor, f"fake_mark.{decision}", f"post:{m.post_id}", data, now)
    inc = incident_repo.incident_of_post(s, m.post_id)
    if inc is None or inc.merged_into_id is not None:
        return m
    if decision == "confirm":
        if not inc.is_possible_fake and inc.state in OPEN_STATES:
            mark_fake(s, inc, actor, now, comment=f"пост {m.post_id} повторяет опровергнутое утверждение №{m.claim_id}", mark_id=m.id)
    elif inc.is_possible_fake and fake_flag_from_marks(s, inc.id) and not any(
            other.decision == "confirmed" for other, _c, _p in repo.marks_of_incident(s, inc.id)):
        unmark_fake(s, inc, actor, now, comment=f"метка поста {m.post_id} (утверждение №{m.claim_id}) отклонена", mark_id=m.id)
    return m


def fake_flag_from_marks(s: Session, incident_id: int) -> bool:
    """Did a mark's confirmation set the incident's «возможный фейк» flag (its last ``marked_fake`` event names a mark)?"""
    data = repo.last_flag_data(s, incident_id)
    return data is not None and data.get("mark_id") is not None


DECISION_NAMES = {"confirmed": "подтверждено", "dismissed": "отклонено"}


@dataclass(frozen=True)
class Tuning:
    threshold: float
    precision: float
    recall: float
    f1: float
    decided: int


def best_threshold(decided: Sequence[tuple[float, bool]]) -> Tuning:
    """The threshold maximising F1 over (score, is_fake) pairs; ties go to the higher precision, then the lower threshold.

    Every observed score is a candidate (a mark counts as found when ``score ≥ t``). Recall is
    measured over the fakes among the decided marks, which only the marked posts can be.
    """
    positives = sum(1 for _, y in decided if y)
    best: Tuning | None = None
    for t in sorted({round(sc, 4) for sc, _ in decided}):
        tp = sum(1 for sc, y in decided if y and sc >= t)
        fp = sum(1 for sc, y in decided if not y and sc >= t)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / positives if positives else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        cand = Tuning(t, p, r, f1, len(decided))
        if best is None or (f1, p) > (best.f1, best.precision):
            best = cand
    assert best is not None
    return best


def next_threshold(decided: Sequence[tuple[float, bool]], current: float) -> tuple[float, Tuning, str]:
    """The threshold tuning stores (within [MIN, MAX]), the F1 figures it rests on, and the rule that chose it:
    ``f1`` (the F1-best threshold, up or down within the decided scores) or ``step_down`` (see ``STEP``)."""
    t = best_threshold(decided)
    band = [y for sc, y in decided if current <= sc < current + STEP]
    if (t.threshold < current + STEP and len(band) >= BAND_MIN and sum(band) / len(band) >= LOWER_PRECISION
            and current - STEP >= MIN_THRESHOLD - 1e-9):
        return round(current - STEP, 4), t, "step_down"
    return min(MAX_THRESHOLD, max(MIN_THRESHOLD, t.threshold)), t, "f1"


def threshold_change(before: float, after: float) -> str:
    """«0.450 → 0.400 (снижен)» for the messages of tuning."""
    if abs(after - before) < 5e-4:
        return f"{after:.3f} (не изменился)"
    return f"{before:.3f} → {after:.3f} ({'снижен' if after < before else 'повышен'})"


def tune_threshold(s: Session, actor: str, now: datetime, min_decided: int = MIN_DECIDED) -> FakeThreshold:
    """``cur fakes tune``: store the threshold ``next_threshold`` picks over the decided marks."""
    decided = [(sc, d == "confirmed") for sc, d in repo.decided_marks(s)]
    if len(decided) < min_decided:
        raise Refused(f"решений по меткам пока {len(decided)}: для подбора порога нужно не меньше {min_decided}")
    if not any(y for _, y in decided):
        raise Refused("для подбора порога нужны подтверждённые метки: пока все отклонены")
    current = current_threshold(s)
    value, t, rule = next_threshold(decided, current)
    row = repo.add_threshold(s, threshold=value, precision=t.precision, recall=t.recall, f1=t.f1, decided=t.decided, actor=actor, at=now)
    audit_repo.audit(s, actor, "fake_threshold.tune", "fake_threshold", {"threshold": value, "before": current, "rule": rule,
                                                                           "precision": round(t.precision, 3), "recall": round(t.recall, 3),
                                                                           "f1": round(t.f1, 3), "decided": t.decided}, now)
    return row


def set_threshold(s: Session, value: float, actor: str, now: datetime) -> FakeThreshold:
    if not (MIN_THRESHOLD <= value <= MAX_THRESHOLD):
        raise InvalidInput(f"порог должен быть от {MIN_THRESHOLD} до {MAX_THRESHOLD}")
    row = repo.add_threshold(s, threshold=value, precision=None, recall=None, f1=None, decided=0, actor=actor, at=now)
    audit_repo.audit(s, actor, "fake_threshold.set", "fake_threshold", {"threshold": value}, now)
    return row
