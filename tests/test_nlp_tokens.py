"""Full (razdel) and fast (regex) tokenizers agree on words."""

import csv
import gzip
import re
from pathlib import Path

import pytest

from nlp.clean import clean_text
from nlp.tokens import is_word, tokenize, word_spans, words

_STRIP = re.compile(r"^[\W_]+|[\W_]+$")

SOCIAL = [
    "Какой-то провод висит над 1й подъездом, 5-й этаж, уже 3-х дней!",
    "Подтопление на ул. Кирова д.5 к.2 кв.10, воды по колено (1,5 м).",
    "Звонили в ООО \"Жилкомсервис №2\" 20.12.2020 в 10:30 — тишина...",
    "В Ленинске-Кузнецком по-прежнему нет света, т.е. совсем.",
    "Остановка 12/3 на пр-те Ленина, маршрутка 5а ходит раз в час?!",
    "Ёлки-палки, опять яма 2х3 метра на трассе М-53",
]


def razdel_words(text: str) -> list[str]:
    return [_STRIP.sub("", t) for t in tokenize(text) if is_word(t)]


def test_tokenize_keeps_punctuation() -> None:
    assert tokenize("Нет воды, уже 3 дня!") == ["Нет", "воды", ",", "уже", "3", "дня", "!"]


def test_words_examples() -> None:
    assert words("Какой-то провод, 1й подъезд, 1,5 м, 20.12.2020, 2020г.") == [
        "Какой-то", "провод", "1", "й", "подъезд", "1,5", "м", "20.12.2020", "2020", "г",
    ]


@pytest.mark.parametrize("text", SOCIAL)
def test_fast_words_equal_razdel_words(text: str) -> None:
    cleaned = clean_text(text)
    assert words(cleaned) == razdel_words(cleaned)


def test_word_spans_point_into_text() -> None:
    text = "Яма на Кирова, 5"
    assert [(w, text[a:b]) for w, a, b in word_spans(text)] == [
        ("Яма", "Яма"), ("на", "на"), ("Кирова", "Кирова"), ("5", "5"),
    ]


def test_empty_input() -> None:
    assert tokenize("") == [] and words(None) == [] and list(word_spans("")) == []


SPB = Path("/work/shared/data/spb_appeals.csv.gz")


@pytest.mark.skipif(not SPB.exists(), reason="St Petersburg appeals not available")
def test_fast_words_equal_razdel_on_real_appeals() -> None:
    """On 3,000 real appeals (read, never stored) >= 99.5 % of texts give identical words."""
    csv.field_size_limit(10**8)
    with gzip.open(SPB, "rt", encoding="utf-8", newline="") as fh:
        texts = [clean_text(row["text"]) for _, row in zip(range(3000), csv.DictReader(fh))]
    same = sum(words(t) == razdel_words(t) for t in texts)
    assert same / len(texts) >= 0.995
