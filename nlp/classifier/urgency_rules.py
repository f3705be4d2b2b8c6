"""Transparent urgency rules: danger to life or health that must never wait.

The urgency head learns from few urgent examples and misses many; these rules
(written from the regulations' examples: no heating in frost, burst pipes,
flooding, gas smell, no power in winter, danger to life) mark a *relevant*
post as urgent when they fire. Each rule is an AND of alternatives over the
post's lemmas (``nlp.text.lemmas``); a frost rule also looks for "-25"-style
temperatures in the raw text, because lemmas turn numbers into ``<num>``, and a
cold-room rule for indoor temperatures of at most +14 («+12», «11 градусов»).
Round 4 added rules from common sense about what endangers life or health
(lifts, vital medicines, chemical releases, falling ice, open pits with children,
crash sites, …); see docs/classification.md, "Urgency rules" and "Fourth round".

The sets are compiled at import into one bit per (rule, alternative set), so a
post costs one pass over its lemmas that are in any set and a few integer tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# name -> list of alternative sets; every set must meet the post's lemmas.
# Lemmas are those of ``nlp.text.lemmas``: lower case, «ё» written «е», stop words
# dropped («не», «нет», «без», «ни» are kept).
RULES: dict[str, list[frozenset[str]]] = {
    "gas_smell": [frozenset({"газ"}), frozenset({"запах", "пахнуть", "вонять", "утечка", "шипеть"})],
    "carbon_monoxide": [frozenset({"угарный", "угореть", "задохнуться", "удушье"})],
    "chemical_release": [
        frozenset({"аммиак", "хлор", "ртуть", "химический", "химикат"}),
        frozenset({"выброс", "утечка", "запах", "пахнуть", "вонять", "разлить", "разлив", "облако"}),
    ],
    "burst_pipe": [
        frozenset({"прорыв", "прорвать", "лопнуть", "хлестать", "фонтан", "порыв"}),
        frozenset({"труба", "водопровод", "водовод", "теплотрасса", "стояк", "отопление", "вода"}),
    ],
    "boiling_water": [frozenset({"кипяток"})],
    "flooding": [frozenset({"затопить", "затапливать", "заливать", "залить", "потоп", "подтопление", "паводок"})],
    "live_wires": [
        frozenset({"искрить", "оборвать", "оборванный", "оголить", "оголенный", "дымиться", "висеть", "провиснуть", "упасть", "лежать", "ударить"}),
        frozenset({"провод", "проводка", "щиток", "щит", "кабель", "трансформатор", "лэп"}),
    ],
    "open_manhole": [frozenset({"люк", "колодец"}), frozenset({"открытый", "открыть", "провалиться", "крышка"})],
    "open_pit_children": [
        frozenset({"котлован", "траншея", "обрыв"}),
        frozenset({"ребенок", "школьник", "детвора", "детский"}),
    ],
    "unconscious": [frozenset({"сознание"}), frozenset({"без", "потерять", "терять"})],
    "collapse": [frozenset({"обрушение", "обрушиться", "рухнуть", "обвалиться", "обвал", "обрушить"})],
    "structure_failing": [
        frozenset({"отвалиться", "упасть", "накрениться", "сложиться"}),
        frozenset({"перекрытие", "потолок", "балкон", "козырек", "плита", "кирпич", "перила"}),
    ],
    "falling_danger": [
        frozenset({"упасть", "падать", "рухнуть", "нависать", "обрушиться"}),
        frozenset({"дерево", "тополь", "береза", "сук", "ветка", "столб", "опора", "сосулька", "глыба", "плита", "балкон"}),
    ],
    "ice_from_roof": [
        frozenset({"упасть", "падать", "сойти", "сходить", "свалиться", "лететь", "сползать", "рухнуть"}),
        frozenset({"лед", "снег", "глыба", "наледь", "ком", "лавина"}),
        frozenset({"крыша", "кровля", "карниз", "козырек"}),
    ],
    "icicles": [frozenset({"сосулька", "наледь"})],
    "fire_explosion": [frozenset({"пожар", "взрыв", "взорваться", "задымление", "возгорание"})],
    "open_fire": [frozenset({"гореть", "загореться", "поджечь", "тлеть"}), frozenset({"огонь", "пламя", "дым"})],
    "poisoning": [frozenset({"отравление", "отравиться", "отравить", "рвота"})],
    "dog_attack": [
        frozenset({"покусать", "укусить", "напасть", "кидаться", "бросаться", "нападать", "загрызть"}),
        frozenset({"собака", "стая", "пес", "свора"}),
    ],
    "acute_illness": [frozenset({"инсульт", "инфаркт", "приступ", "судорога", "кислородный"})],
    "vital_medicine": [
        frozenset({"инсулин", "противосудорожный", "аспиратор", "диализ", "гемодиализ", "химиотерапия", "онкобольной"}),
        frozenset({"нет", "кончиться", "закончиться", "заканчиваться", "отсутствовать", "перебой", "выдавать", "давать", "остаться"}),
    ],
    "lift_trapped": [frozenset({"лифт"}), frozenset({"застрять", "зажать", "сорваться", "рухнуть"})],
    "ambulance_delay": [
        frozenset({"скорый"}),
        frozenset({"ждать", "ехать", "приехать", "доехать", "вызвать", "вызов"}),
        frozenset({"час", "отказаться", "не", "нет"}),
    ],
    "pedestrian_hit": [
        frozenset({"сбить", "сбивать"}),
        frozenset({"ребенок", "пешеход", "женщина", "мужчина", "человек", "школьник", "бабушка", "девочка", "мальчик", "пенсионерка"}),
    ],
    "crash_site": [
        frozenset({"авария", "дтп", "кювет", "вылететь"}),
        frozenset({"яма", "гололед", "гололедица", "лед", "каток", "поворот", "перекресток", "переход", "светофор", "спуск", "разметка"}),
    ],
}
#: no heat / power / water when it is freezing
_COLD_NEED = frozenset({"отопление", "тепло", "свет", "электричество", "батарея", "радиатор", "котельная", "котел", "газ"})
_COLD_LACK = frozenset({
    "нет", "без", "отключить", "встать", "ледяной", "холодный", "холодное", "холодно", "замерзать", "замерзнуть",
    "мерзнуть", "отключение", "остыть", "остывать", "вырубить", "отрубить", "пропасть", "греть",
})
_COLD_WORDS = frozenset({"мороз", "минус", "морозный", "стужа"})
_MINUS = re.compile(r"(?:^|[\s(])[-−–]\s?[12345]\d\b")
#: a room too cold to live in: an indoor place, a heating word, and «+14», «12 градусов», «11°»
#: (at most +14) in the raw text — «+1» alone is a reply, not a temperature
_ROOM = frozenset({"квартира", "комната", "палата", "группа", "класс", "кабинет", "спальня", "помещение", "дом", "детский"})
_ROOM_HEAT = frozenset({"батарея", "радиатор", "отопление", "тепло", "холодно", "холод", "мерзнуть", "замерзать", "обогреватель", "куртка", "одеяло"})
_ROOM_TEMP = re.compile(r"(?:^|[\s(:])(?:\+\s?(?:1[0-4]|[5-9])(?![\d]|[.,]\d)|\+?(?:1[0-4]|[5-9])\s?(?:°|градус))", re.IGNORECASE)


def _compile(rules: dict[str, list[frozenset[str]]]) -> tuple[dict[str, int], list[tuple[str, int]], list[int]]:
    """Bit masks: every (rule, alternative set) and each set of the two text-assisted
    rules (frost, cold room) gets one bit; a lemma maps to the bits of the sets it is in.
    A rule fires when all its bits are set."""
    bits: dict[str, int] = {}
    masks: list[tuple[str, int]] = []
    bit = 1
    for name, parts in rules.items():
        mask = 0
        for alt in parts:
            for t in alt:
                bits[t] = bits.get(t, 0) | bit
            mask |= bit
            bit <<= 1
        masks.append((name, mask))
    extra = []
    for words in (_COLD_NEED, _COLD_LACK, _COLD_WORDS, _ROOM, _ROOM_HEAT):
        for t in words:
            bits[t] = bits.get(t, 0) | bit
        extra.append(bit)
        bit <<= 1
    return bits, masks, extra


# Compiled once at import: edit RULES and the sets above in this file, not at run time.
_BITS, _MASKS, (_NEED, _LACK, _COLD, _ROOM_BIT, _HEAT_BIT) = _compile(RULES)
_ROOM_MASK = _ROOM_BIT | _HEAT_BIT
#: the rule that fires on a post without any rule lemma (a rule without parts), if any
_EMPTY = next((name for name, mask in _MASKS if mask == 0), None)


def urgent_rule(text: str, lemmas: Sequence[str]) -> str | None:
    """Name of the first rule that fires, or None."""
    bits = _BITS
    present = 0
    for t in bits.keys() & lemmas:
        present |= bits[t]
    if not present:
        return _EMPTY
    for name, mask in _MASKS:
        if present & mask == mask:
            return name
    if present & _NEED and present & _LACK and (present & _COLD or _MINUS.search(text or "")):
        return "no_heat_or_power_in_frost"
    if present & _ROOM_MASK == _ROOM_MASK and _ROOM_TEMP.search(text or ""):
        return "cold_room"
    return None
