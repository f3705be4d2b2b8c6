"""Generate the appeal-style corpus files from the hand-written statements of ``problems.py``.

    python -m classifier_models.corpus_gen.appeals        # rewrites the two files below

* ``classifier_models/corpus/appeals_style.jsonl`` — problems written like appeals to a
  portal or an official: a polite opening or an addressee, the story (one or two statements
  of the same category with invented addresses and dates), often an earlier appeal with its
  number, a request («прошу принять меры…»), sometimes a signature; some lowercased without
  punctuation, some with typos, some short and informal.
* ``classifier_models/corpus/official_negatives.jsonl`` — official news, announcements and
  ads that use complaint words: not problems.
* ``classifier_models/corpus/questions_style.jsonl`` — one-line citizen questions and
  suggestions to an authority (``questions.py``: «Когда будет…», «Планируется ли…», «Почему
  до сих пор…», «Предлагаю установить…») as problems, in several styles (bare, with a short
  greeting or a short tail, lowercased without punctuation, with typos), and headline-style
  news questions and explainers with the same words as non-problems.

Deterministic (seeded). Every generated text of one core statement shares a ``group`` id, so
a grouped split never puts near-copies on both sides.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from . import vocab as V
from .problems import NEGATIVES, P
from .questions import NEWS_QUESTIONS, Q

OUT = Path(__file__).resolve().parents[1] / "corpus"
WEAK = ("healthcare", "education", "social", "transport", "labour", "energy", "construction", "industry", "waste", "ecology")
#: Texts per weak sector (spread over its categories by their number of statements).
PER_SECTOR = 180
#: Texts per boundary category of the well-covered sectors.
PER_BOUNDARY = 14
#: Generated lines get no typo/case variants at training time (``"augment": false``: they
#: are varied already), so each weighs a fifth of a hand-written post with its four variants.
ORGS = ["ООО «СтройМонтаж»", "АО «Заводская»", "ООО «Агрокомплекс»", "ОАО «Химпром»", "ООО «ЛесПром»",
        "АО «Механический завод»", "ООО «Птицефабрика Северная»", "ООО «ТрансЛогистик»", "МУП «Горэлектросеть»"]
HIGH = re.compile(r"скор|инфаркт|газом|искрит|покусали|нападают|аммиак|взрыв|накренилась|стоит открытая|котлован открыт|"
                  r"инсулин|отравились|провалился|без воды|трескаются|загрызли|по трассе|дымит|ожоги|200")
TYPO_SWAPS = [("ться", "тся"), ("тся", "ться"), ("в течение", "в течении"), ("не ", "ни "), ("пожалуйста", "пожалуста"),
              ("здравствуйте", "здраствуйте"), ("администрация", "адменистрация"), ("обращение", "обрашение"),
              ("что", "што"), ("сейчас", "щас"), ("вообще", "вобще"), ("поликлиник", "полеклиник")]


def _fill(template: str, rng: random.Random) -> str:
    day = rng.randint(1, 28)
    month = rng.randrange(12)
    year = rng.choice([2021, 2022, 2023, 2024, 2025])
    date = rng.choice([f"{day} {V.MONTHS[month]}", f"{day:02d}.{month + 1:02d}.{year}", f"{day} {V.MONTHS[month]} {year} г."])
    d2 = rng.randint(1, 28)
    slots = {
        "street": f"{rng.choice(V.STREET_KIND)} {rng.choice(V.STREETS)}",
        "house": str(rng.randint(1, 120)) + rng.choice(["", "", "", "а", "/2", " корп. 1"]),
        "town": rng.choice(V.TOWNS),
        "village": rng.choice(V.VILLAGES),
        "date": date,
        "date2": f"{d2} {V.MONTHS[(month + rng.randint(1, 2)) % 12]}",
        "num": rng.choice([str(rng.randint(1_000_000, 99_999_999)), f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                           f"ПОС{rng.randint(10**6, 10**7)}"]),
        "n": str(rng.randint(1, 60)),
        "days": str(rng.choice([35, 40, 45, 60, 90])),
        "org": rng.choice(ORGS),
        "name": rng.choice(V.FIRST_NAMES),
        "fio": rng.choice(V.FIO),
    }
    return template.format(**slots)


def _typos(text: str, rng: random.Random) -> str:
    for a, b in rng.sample(TYPO_SWAPS, 3):
        if a in text and rng.random() < 0.6:
            text = text.replace(a, b, 1)
    return text


def appeal(core: str, extra: str | None, rng: random.Random) -> str:
    style = rng.random()
    if style < 0.15:  # short and informal, like a comment under an official post
        parts = [_fill(core, rng), rng.choice(["Примите меры!", "Когда это закончится?", "Помогите пожалуйста.", "Сколько можно?", ""])]
        text = " ".join(p for p in parts if p)
        return _typos(text.lower(), rng) if rng.random() < 0.5 else text
    parts: list[str] = []
    if rng.random() < 0.35:
        parts.append(_fill(rng.choice(V.ADDRESSEES), rng))
    opening = _fill(rng.choice(V.OPENINGS), rng)
    if opening:
        parts.append(opening)
    if rng.random() < 0.25:
        parts.append(_fill(rng.choice(["Я проживаю по адресу {street}, д. {house}.", "Пишем от жителей {village}.",
                                       "Я живу в г. {town}, пенсионерка.", "Пишу по поводу ситуации в {village}.",
                                       "Я мама двоих детей, живём на {street}."]), rng))
    parts.append(_fill(core, rng))
    if extra is not None:
        parts.append(_fill(extra, rng))
    if rng.random() < 0.5:
        parts.append(_fill(rng.choice(V.EARLIER), rng))
    if rng.random() < 0.85:
        parts.append(rng.choice(V.CLOSINGS))
    if rng.random() < 0.3:
        sig = _fill(rng.choice(V.SIGNATURES), rng)
        if sig:
            parts.append(sig)
    text = " ".join(parts)
    if style > 0.85:
        text = re.sub(r"[.,!«»]", "", text).lower()
    if rng.random() < 0.35:
        text = _typos(text, rng)
    return text


def generate(seed: int = 11) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    problems: list[dict] = []
    seen: set[str] = set()
    by_sector: dict[str, list[tuple[str, int]]] = {}
    for (sector, category), cores in P.items():
        by_sector.setdefault(sector, []).extend([(category, len(cores))])
    for (sector, category), cores in P.items():
        if sector in WEAK:
            total = sum(n for _, n in by_sector[sector])
            count = max(6, round(PER_SECTOR * len(cores) / total))
        else:
            count = PER_BOUNDARY
        for k in range(count):
            i = k % len(cores)
            extra = None
            if len(cores) > 2 and rng.random() < 0.3:
                extra = rng.choice([c for j, c in enumerate(cores) if j != i])
            for _ in range(5):
                text = appeal(cores[i], extra, rng)
                if text not in seen:
                    break
            seen.add(text)
            problems.append({
                "text": text, "relevant": True, "sector": sector, "category": category,
                "urgency": "high" if HIGH.search(cores[i]) else "normal", "tone": "negative",
                "group": f"ap-{sector}-{category}-{i}", "augment": False,
            })
    negatives: list[dict] = []
    for i, template in enumerate(NEGATIVES):
        for _ in range(6):
            text = _fill(template, rng)
            if rng.random() < 0.2:
                text = text.lower()
            if text in seen:
                continue
            seen.add(text)
            negatives.append({"text": text, "relevant": False, "sector": None, "category": None, "urgency": None,
                              "tone": "neutral", "group": f"ap-neg-{i}", "augment": False})
    return problems, negatives


QUESTION_OPENINGS = ["Здравствуйте.", "Добрый день!", "Здравствуйте!", "Добрый день.", "Здраствуйте,", "Вопрос:"]
QUESTION_LEADS = ["Хотелось бы узнать,", "Подскажите, пожалуйста,", "Хочу узнать,", "Добрый день, хотелось бы узнать",
                  "Здравствуйте! Подскажите,"]
QUESTION_TAILS = ["Спасибо.", "Ответьте пожалуйста.", "Жители ждут ответа.", "Прошу ответить.", "Заранее спасибо!",
                  "Сколько можно ждать?", "Обращаемся не первый раз."]
#: Texts generated per question template.
PER_QUESTION = 4


def question(template: str, rng: random.Random) -> str:
    text = _fill(template, rng)
    lead = rng.random()
    if lead < 0.15 and text[:1].isupper():  # «Хотелось бы узнать, когда…»
        text = f"{rng.choice(QUESTION_LEADS)} {text[0].lower()}{text[1:]}"
    elif lead < 0.45:
        text = f"{rng.choice(QUESTION_OPENINGS)} {text}"
    if rng.random() < 0.3:
        text = f"{text} {rng.choice(QUESTION_TAILS)}"
    style = rng.random()
    if style < 0.2:
        text = re.sub(r"[.,!«»]", "", text).lower()
    elif style < 0.35:
        text = text.lower()
    if rng.random() < 0.35:
        text = _typos(text, rng)
    return text


def generate_questions(seed: int = 12) -> list[dict]:
    """Citizen questions and suggestions (problems) and news questions (not problems)."""
    rng = random.Random(seed)
    rows: list[dict] = []
    seen: set[str] = set()
    for (sector, category), templates in Q.items():
        for i, template in enumerate(templates):
            for _ in range(PER_QUESTION):
                text = question(template, rng)
                if text in seen:
                    continue
                seen.add(text)
                rows.append({"text": text, "relevant": True, "sector": sector, "category": category, "urgency": "normal",
                             "tone": "negative", "group": f"q-{sector}-{category}-{i}", "augment": False})
    for i, template in enumerate(NEWS_QUESTIONS):
        for _ in range(PER_QUESTION):
            text = _fill(template, rng)
            if rng.random() < 0.2:
                text = text.lower()
            if text in seen:
                continue
            seen.add(text)
            rows.append({"text": text, "relevant": False, "sector": None, "category": None, "urgency": None,
                         "tone": "neutral", "group": f"q-news-{i}", "augment": False})
    return rows


def main() -> None:
    problems, negatives = generate()
    questions = generate_questions()
    for name, rows in (("appeals_style.jsonl", problems), ("official_negatives.jsonl", negatives),
                       ("questions_style.jsonl", questions)):
        with open(OUT / name, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)}")


if __name__ == "__main__":
    main()
