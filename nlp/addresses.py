"""Street addresses in posts: a street name and a house number, normalised to one key.

``street_addresses(text)`` finds «ул. Весенняя 12», «Весенняя д.12», «Весенней, 12»,
«на Весенней 12», «пр-т Ленина, д. 5к2», «Кирова 12а» and returns keys
``<street lemma>#<house>``: ``весенний#12``, ``ленин#5к2``, ``киров#12а``. The street type
(улица, проспект, ...) is not part of the key: a post seldom writes it, and two streets of one
name and different types in one town are rare.

Rules over tokens and pymorphy3 tags (natasha's ``AddrExtractor`` is two orders of magnitude
slower on the processing pass, see ``docs/incidents.md``):

* a house number is 1–4 digits with an optional letter (``12а``), building (``к2``, ``корп. 2``),
  structure (``с1``, ``стр. 1``) or fraction (``5/1``); it follows the street name, optionally
  after a comma and ``д.``/``дом``;
* the name is one word; it may be lower case after a street type (``ул. весенняя 12``);
  otherwise it is capitalised, and without a street type or ``д.`` it must look like a street
  name: an adjective in the singular (Весенняя, Советской), a surname, first name or place name
  (Кирова, Гагарина) or a noun in the genitive (Мира, Победы) — so «Автобус 15», «Школа 12»,
  «Третий 12» are not addresses;
* a number followed by a unit (дней, часов, градусов, лет, человек, %, ...) is not a house.
"""

from __future__ import annotations

import re
from functools import lru_cache

from nlp.clean import fold_yo
from nlp.morph import lemma, parse

__all__ = ["street_addresses", "normalise_house", "address_labels", "key_label"]

_TYPE = (
    r"(?P<type>ул(?:ица|ице|ицу|ицы|ицей)?|пр-?к?т|просп|проспект(?:е|а|у)?|пер(?:еулок|еулке|еулка)?|"
    r"б-р|бульвар(?:е|а)?|ш|шоссе|мкр|микрорайон(?:е|а)?|пл|площад(?:ь|и)|наб|набережн(?:ая|ой|ую)|"
    r"проезд(?:е|а)?|туп|тупик(?:е|а)?|кв-л|квартал(?:е|а)?)"
)
_NAME = r"(?P<name>[А-ЯЁа-яё][а-яё]+(?:-[А-ЯЁа-яё][а-яё]+)?)"
_HOUSE = (
    r"(?P<marker>(?:д\.?|дом(?:а|е)?)\s*(?:№\s*)?)?(?P<num>\d{1,4})"
    r"(?:\s*(?:к\.?|корп\.?|корпус)\s*(?P<korp>\d{1,2})|(?P<letter>[а-яё])(?![а-яё]))?"
    r"(?:\s*(?:с\.?|стр\.?|строение)\s*(?P<str>\d{1,2}))?"
    r"(?:/(?P<frac>\d{1,3}))?"
)
_UNIT = (
    r"(?:дн|день|дня|дней|сут|час|мин|сек|недел|месяц|год|лет|раз|градус|человек|чел|жител|семей|семь|квартир|"
    r"подъезд|этаж|руб|тыс|млн|км|метр|м\b|см\b|мм\b|%|°|шт|автобус|маршрут|рейс|минут)"
)
_ADDRESS = re.compile(
    r"(?:(?<![\w-])" + _TYPE + r"\.?\s*)?(?<![\w-])" + _NAME + r"\s*,?\s*" + _HOUSE
    + r"(?![\d:.,]\d)(?!\w)(?P<unit>\s*" + _UNIT + r")?",
    re.IGNORECASE,
)
_STREETLIKE_TAGS = ("Surn", "Name", "Patr", "Geox")


@lru_cache(maxsize=20_000)
def _street_like(word: str) -> bool:
    """A capitalised word with no street type or ``д.`` before the number: is it a street's name?"""
    for p in parse(word.lower())[:2]:
        tag = p.tag
        if any(t in tag for t in _STREETLIKE_TAGS):
            return True
        if tag.POS == "ADJF" and "Apro" not in tag and "Anum" not in tag and tag.number != "plur":
            return True
        if tag.POS == "NOUN" and tag.case == "gent":
            return True
    return False


def normalise_house(num: str, letter: str | None = None, korp: str | None = None, structure: str | None = None,
                    frac: str | None = None) -> str:
    """``12``, ``12а``, ``5к2``, ``5с1``, ``5/1`` (lower case, ``ё`` folded)."""
    out = str(int(num))
    if frac:
        out += f"/{int(frac)}"
    if letter:
        out += fold_yo(letter.lower())
    if korp:
        out += f"к{int(korp)}"
    if structure:
        out += f"с{int(structure)}"
    return out


def street_addresses(text: str | None) -> list[str]:
    """The addresses a text names, as ``<street lemma>#<house>`` keys, in order of appearance, no repeats."""
    if not text or not any(ch.isdigit() for ch in text):
        return []
    out: list[str] = []
    for m in _ADDRESS.finditer(text):
        name = m.group("name")
        typed = m.group("type") is not None
        if m.group("unit") and not m.group("marker"):
            continue
        if not typed:
            if not name[0].isupper():
                continue
            if not m.group("marker") and not _street_like(name):
                continue
        key = f"{lemma(name)}#" + normalise_house(
            m.group("num"), m.group("letter"), m.group("korp"), m.group("str"), m.group("frac"))
        if key not in out:
            out.append(key)
    return out


#: How a street type is written in a label, and the gender its adjective name takes («ул. Весенняя», «пр-т Советский»).
_TYPE_LABELS: tuple[tuple[str, str, str], ...] = (
    ("ул", "ул.", "femn"), ("пр", "пр-т", "masc"), ("просп", "пр-т", "masc"), ("пер", "пер.", "masc"),
    ("б-р", "б-р", "masc"), ("бульвар", "б-р", "masc"), ("шоссе", "ш.", "neut"), ("ш", "ш.", "neut"),
    ("мкр", "мкр", "masc"), ("микрорайон", "мкр", "masc"), ("пл", "пл.", "femn"), ("наб", "наб.", "femn"),
    ("проезд", "проезд", "masc"), ("туп", "туп.", "masc"), ("кв-л", "кв-л", "masc"), ("квартал", "кв-л", "masc"),
)


def _type_label(written: str | None) -> tuple[str, str]:
    """(label, gender) of a written street type; «ул.» for none (most addresses in posts are streets)."""
    w = (written or "").lower()
    for prefix, label, gender in _TYPE_LABELS:
        if w.startswith(prefix):
            return label, gender
    return "ул.", "femn"


def _name_label(name: str, gender: str) -> str:
    """The street name as a label writes it: an adjective in the nominative of the type's gender
    («Весенней» → «Весенняя»), any other word in the genitive («Кирова», «Мира», «Победы»)."""
    parts = name.split("-")
    if len(parts) > 1:  # «Мамина-Сибиряка»: kept as written
        return "-".join(p[:1].upper() + p[1:].lower() for p in parts)
    word = name.lower()
    parses = parse(word)
    adj = next((p for p in parses[:2] if p.tag.POS == "ADJF"), None)
    form = None
    if adj is not None:
        form = adj.inflect({"nomn", "sing", gender})
    elif parses and not any(p.tag.case == "gent" for p in parses[:3]):
        form = parses[0].inflect({"gent", "sing"})
    out = form.word if form is not None else word
    return out[:1].upper() + out[1:]


def address_labels(text: str | None) -> dict[str, str]:
    """``{key: label}`` of the addresses a text names (``street_addresses`` keys), labels as people write
    them: «ул. Весенняя, 12», «пр-т Ленина, 5к2», «ул. Кирова, 12а»."""
    keys = street_addresses(text)
    out: dict[str, str] = {}
    if not keys:
        return out
    for m in _ADDRESS.finditer(text or ""):
        key = f"{lemma(m.group('name'))}#" + normalise_house(
            m.group("num"), m.group("letter"), m.group("korp"), m.group("str"), m.group("frac"))
        if key in keys and key not in out:
            type_label, gender = _type_label(m.group("type"))
            out[key] = f"{type_label} {_name_label(m.group('name'), gender)}, {key.split('#', 1)[1]}"
    return out


def key_label(key: str) -> str:
    """A label from a key alone (no text at hand): «весенний#12» → «ул. Весенняя, 12», «киров#5» → «ул. Кирова, 5»."""
    name, _, house = key.partition("#")
    if not house:
        return key
    if "-" in name:
        return f"ул. {_name_label(name, 'femn')}, {house}"
    own = [p for p in parse(name) if fold_yo(p.normal_form) == name] or parse(name)[:1]
    adj = next((p for p in own if p.tag.POS == "ADJF"), None)
    form = adj.inflect({"nomn", "sing", "femn"}) if adj is not None else (own[0].inflect({"gent", "sing"}) if own else None)
    word = form.word if form is not None else name
    return f"ул. {word[:1].upper() + word[1:]}, {house}"
