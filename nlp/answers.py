"""Quality of an official answer: substantive, formulaic, refusal or rude (docs/classification.md).

A small multinomial logistic model over two blocks of features, trained by
``python -m nlp.answers train`` on ``classifier_models/answers/train.jsonl`` (written by
``classifier_models/corpus_gen/answers.py``) and shipped as
``classifier_models/answers/model.json`` (prediction needs only numpy):

* words: TF-IDF (sublinear tf, L2-normalised) of lemma unigrams and bigrams; stop words are
  kept, since «вы», «ваш», «не» and «мы» carry much of the tone of an answer;
* cues: rules over the raw text (``CUES``) — a date or a time frame, a concrete action, a
  responsible person or a phone, a formula of acknowledgement, a refusal, a rude or
  dismissive phrase — each a 0/1 feature weighted by ``CUE_WEIGHT``.

``read(text)`` gives the reading with its probability (the confidence) and the cues found.
A reading whose confidence is below ``REVIEW_BELOW`` is *unsure*: it is kept, and a person
reviews it (the answer counts meanwhile, see ``pipeline/incidents/answer_quality.py``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp.morph import lemma
from nlp.tokens import words

if TYPE_CHECKING:  # numpy loads with the first model, not with every command importing the labels below
    import numpy as np

SUBSTANTIVE, FORMULAIC, REFUSAL, RUDE = "substantive", "formulaic", "refusal", "rude"
QUALITIES = (SUBSTANTIVE, FORMULAIC, REFUSAL, RUDE)
#: Readings that do not close an answer stage by themselves.
NOT_SUBSTANTIVE = (FORMULAIC, REFUSAL, RUDE)
#: Below this probability the reading is unsure and goes to review.
REVIEW_BELOW = 0.6
CUE_WEIGHT = 0.6

ANSWERS_DIR = Path(__file__).resolve().parents[1] / "classifier_models" / "answers"
MODEL_PATH = ANSWERS_DIR / "model.json"
TRAIN_PATH = ANSWERS_DIR / "train.jsonl"
EVAL_PATH = ANSWERS_DIR / "eval.jsonl"

_MONTHS = r"(?:январ|феврал|март|апрел|ма[яй]|июн|июл|август|сентябр|октябр|ноябр|декабр)"
_WEEKDAY = r"(?:понедельник|вторник|сред[уа]|четверг|пятниц|суббот|воскресень)"
#: Rule cues over the lower-cased text. Names are shown to people (Russian, see ``CUE_NAMES``).
CUES: dict[str, re.Pattern[str]] = {
    "date": re.compile(
        rf"\b\d{{1,2}}[./]\d{{1,2}}\b|\b\d{{1,2}}\s+{_MONTHS}|\b\d{{1,2}}:\d{{2}}\b|\bв\s+\d{{1,2}}\s+час|"
        rf"\b(?:до|к|с|в|во)\s+{_WEEKDAY}|\b(?:до|к|в)\s+\d{{1,2}}(?:-?го)?\s+числ|\bзавтра|\bсегодня|"
        r"\bв\s+течени[ея]\s+(?:\d+|одн|дв|тр|суток|недел|месяц)|\bсрок\w*(?:\s+\w+)?\s*(?:—|-|:)?\s*(?:\d|сутк|сутки|недел|месяц|дн|день)|\bдо\s+конца\s+(?:недели|месяца|года|дня)|"
        rf"\b(?:летом|весной|осенью|зимой)\s+\d{{4}}|\bв\s+\S+\s+квартале|\bк\s+(?:утру|вечеру|обеду)|\b{_MONTHS}\w*\s+\d{{4}}"
    ),
    "action": re.compile(
        r"\b(?:выехал[аи]?|выезжал[аи]?|устранен[аоы]?|устранили|отремонтир\w+|замен(?:ен[аоы]?|или|ят|им|ит|а\s)|"
        r"восстановлен[аоы]?|восстановим|восстановят|вывезл?и|вывезен\w*|починил\w*|заделан\w*|засыпал\w*|очищен\w*|"
        r"демонтир\w+|установ(?:лен[аоы]?|ят|им|или)|запущен\w*|запустим|приступ\w+|начн(?:ут|ём|ем)|проведен[аоы]?|проведём|"
        r"проведем|проведут|бригад\w*|подрядчик\w*|предписани\w+|перерасч[её]т\w*|отсыпа\w+|заменят|сделан[аоы]?)\b"
    ),
    "person": re.compile(
        r"\b[А-ЯЁ][а-яё]+\s+[А-ЯЁ]\.\s?[А-ЯЁ]\.|\bтел\.|\b8[\s-]?\(?\d{3,4}\)?[\s-]?\d|\b\d{2,3}-\d{2}-\d{2}\b|"
        r"\bответственн\w+\s*(?:—|-|:|исполнитель)|\bмастер\w*|\bинженер\w*|\bдиспетчер\w*|\bначальник\w*",
    ),
    "formula": re.compile(
        r"обращение\s+(?:передано|направлено|зарегистрировано|принято|получено|будет\s+рассмотрено)|"
        r"к\s+сведению|передан[аоы]?\s+(?:в|по|для|ответственн|специалист|коллег)|направлен[аоы]?\s+(?:в\s+соответств|ответственн|в\s+профильн)|"
        r"на\s+контрол|в\s+установленн\w+\s+(?:законом\s+)?(?:срок|порядк)|в\s+работу|прорабатыва|на\s+рассмотрени|"
        r"разбер[её]мся|разбираемся|будет\s+учтен|ожидайте|вопрос\s+в\s+работе|ведётся|ведется|проводится\s+работа",
    ),
    "refusal": re.compile(
        r"не\s+входит\s+в|не\s+относ|не\s+представляется\s+возможным|невозможн|отказан|не\s+предусмотрен|"
        r"не\s+(?:планир|запланир)|оснований\s+(?:для\s+\S+\s+)?(?:нет|не\s+имеется)|основания\s+\S*\s*отсутству|"
        r"обращайтесь|обратиться\s+в|не\s+к\s+нам|не\s+будем|не\s+может|не\s+положен|не\s+обязаны|не\s+вправе|"
        r"не\s+проводится|не\s+производится|за\s+сч[её]т\s+собственник|компетенци|полномочи",
    ),
    "rude": re.compile(
        r"ерунд|бред|хватит|надоел|нечего|сами\s+виноват|ваши\s+проблемы|не\s+нравится|жалуетесь|жалобщик|ноют|ныть|"
        r"истер|флуд|провокаци|не\s+выдумыва|фантази|диванн|одар[её]нн|в\s+своём\s+уме|в\s+своем\s+уме|заняться\s+нечем|"
        r"в\s+бан|заблокиру|удал[её]н|нагнета|не\s+позорьтесь|смешно|думать\s+надо|думали|сколько\s+(?:раз|можно)|"
        r"не\s+ваше\s+дело|никто\s+ничего\s+не\s+должен|не\s+учите|хамить|паник|возьмите\s+лопату|живите\s+как",
    ),
}
CUE_NAMES = {
    "date": "есть срок или дата",
    "action": "названо действие",
    "person": "назван ответственный или телефон",
    "formula": "формула вежливости без сути",
    "refusal": "отказ или отсылка в другой орган",
    "rude": "грубость или пререкания",
}
QUALITY_NAMES = {
    SUBSTANTIVE: "по существу",
    FORMULAIC: "формальный",
    REFUSAL: "отказ",
    RUDE: "грубый или конфликтный",
}


def cues(text: str) -> list[str]:
    low = (text or "").lower()
    return [name for name, rx in CUES.items() if rx.search(low)]


def _tokens(text: str) -> list[str]:
    out = []
    for w in words((text or "").lower()):
        out.append("<num>" if w[0].isdigit() else lemma(w))
    return out


def terms(text: str) -> list[str]:
    toks = _tokens(text)
    return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:])]


@dataclass
class Reading:
    quality: str
    confidence: float
    probabilities: dict[str, float]
    cues: list[str] = field(default_factory=list)

    @property
    def unsure(self) -> bool:
        return self.confidence < REVIEW_BELOW

    @property
    def substantive(self) -> bool:
        return self.quality == SUBSTANTIVE

    def as_dict(self) -> dict[str, Any]:
        return {"quality": self.quality, "confidence": round(self.confidence, 4), "unsure": self.unsure, "cues": self.cues}


@dataclass
class AnswerModel:
    labels: list[str]
    vocab: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray  # (n_words + n_cues, n_labels)
    intercept: np.ndarray
    fingerprint: str = ""

    def features(self, text: str) -> np.ndarray:
        import numpy as np

        x = np.zeros(len(self.vocab) + len(CUES), dtype=np.float64)
        counts = Counter(t for t in terms(text) if t in self.vocab)
        for t, c in counts.items():
            i = self.vocab[t]
            x[i] = (1 + math.log(c)) * self.idf[i]
        norm = float(np.linalg.norm(x[: len(self.vocab)]))
        if norm:
            x[: len(self.vocab)] /= norm
        found = set(cues(text))
        for j, name in enumerate(CUES):
            x[len(self.vocab) + j] = CUE_WEIGHT if name in found else 0.0
        return x

    def read(self, text: str) -> Reading:
        import numpy as np

        z = self.features(text) @ self.coef + self.intercept
        p = np.exp(z - z.max())
        p /= p.sum()
        k = int(p.argmax())
        return Reading(self.labels[k], float(p[k]), {lab: float(v) for lab, v in zip(self.labels, p)}, cues(text))

    def to_json(self) -> dict[str, Any]:
        inv = sorted(self.vocab, key=self.vocab.__getitem__)
        return {
            "labels": self.labels, "vocab": inv, "idf": [round(float(v), 5) for v in self.idf],
            "coef": [[round(float(v), 5) for v in row] for row in self.coef], "intercept": [round(float(v), 5) for v in self.intercept],
            "cues": list(CUES), "cue_weight": CUE_WEIGHT, "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AnswerModel":
        if d.get("cues") != list(CUES):
            raise ValueError("the answer model was trained with other cues: retrain it (python -m nlp.answers train)")
        import numpy as np

        return cls(list(d["labels"]), {t: i for i, t in enumerate(d["vocab"])}, np.asarray(d["idf"], dtype=np.float64),
                   np.asarray(d["coef"], dtype=np.float64), np.asarray(d["intercept"], dtype=np.float64), d.get("fingerprint", ""))


def load_rows(path: Path) -> list[dict[str, str]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                if row.get("quality") not in QUALITIES:
                    raise ValueError(f"{path}: unknown quality {row.get('quality')!r}")
                rows.append(row)
    return rows


def fingerprint(rows: list[dict[str, str]]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(f"{r['quality']}\t{r['text']}\n".encode())
    h.update(json.dumps([list(CUES), CUE_WEIGHT]).encode())
    return h.hexdigest()[:16]


def train(rows: list[dict[str, str]], *, c: float = 4.0, min_df: int = 2) -> AnswerModel:
    """Fit the model on ``rows`` (``text``, ``quality``); deterministic."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression  # training only

    docs = [terms(r["text"]) for r in rows]
    df = Counter(t for d in docs for t in set(d))
    vocab = {t: i for i, t in enumerate(sorted(t for t, n in df.items() if n >= min_df))}
    n = len(docs)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1 for t in sorted(vocab, key=vocab.__getitem__)])
    model = AnswerModel(sorted(QUALITIES), vocab, idf, np.zeros((len(vocab) + len(CUES), len(QUALITIES))), np.zeros(len(QUALITIES)))
    x = np.vstack([model.features(r["text"]) for r in rows])
    y = [r["quality"] for r in rows]
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    clf.fit(x, y)
    order = [list(clf.classes_).index(lab) for lab in model.labels]
    model.coef = clf.coef_[order].T.copy()
    model.intercept = clf.intercept_[order].copy()
    model.fingerprint = fingerprint(rows)
    return model


@lru_cache(maxsize=1)
def shipped_model() -> AnswerModel:
    with MODEL_PATH.open(encoding="utf-8") as f:
        return AnswerModel.from_json(json.load(f))


def read(text: str) -> Reading:
    """The reading of one official answer by the shipped model."""
    return shipped_model().read(text)


def scores(model: AnswerModel, rows: list[dict[str, str]]) -> dict[str, Any]:
    """Per-class precision/recall/F1, accuracy, the share sent to review, and the figures of the
    binary question the pipeline asks: "not substantive?" (formulaic, refusal or rude)."""
    preds = [model.read(r["text"]) for r in rows]
    gold = [r["quality"] for r in rows]
    out: dict[str, Any] = {"n": len(rows), "accuracy": sum(p.quality == g for p, g in zip(preds, gold)) / max(len(rows), 1)}
    per: dict[str, dict[str, float]] = {}
    for lab in QUALITIES:
        tp = sum(p.quality == lab and g == lab for p, g in zip(preds, gold))
        pp = sum(p.quality == lab for p in preds)
        gp = sum(g == lab for g in gold)
        prec, rec = (tp / pp if pp else 0.0), (tp / gp if gp else 0.0)
        per[lab] = {"precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0, "support": gp}
    out["per_class"] = per
    flagged = [p.quality in NOT_SUBSTANTIVE and not p.unsure for p in preds]
    bad = [g in NOT_SUBSTANTIVE for g in gold]
    tp = sum(f and b for f, b in zip(flagged, bad))
    out["held_back"] = {"precision": tp / max(sum(flagged), 1), "recall": tp / max(sum(bad), 1),
                        "substantive_held_back": sum(f and not b for f, b in zip(flagged, bad))}
    out["unsure_share"] = sum(p.unsure for p in preds) / max(len(rows), 1)
    out["confusion"] = {g: dict(Counter(p.quality for p, gg in zip(preds, gold) if gg == g)) for g in QUALITIES}
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["train"]:
        rows = load_rows(TRAIN_PATH)
        model = train(rows)
        MODEL_PATH.write_text(json.dumps(model.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"модель качества ответов: {len(rows)} примеров, {len(model.vocab)} признаков → {MODEL_PATH}")
        return 0
    print("usage: python -m nlp.answers train", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
