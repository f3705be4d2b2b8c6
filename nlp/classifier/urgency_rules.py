"""Transparent urgency rules: danger to life or health that must never wait.

The urgency head learns from few urgent examples and misses many; these rules
(written from the regulations' examples: no heating in frost, burst pipes,
flooding, gas smell, no power in winter, danger to life) mark a *relevant*
post as urgent when they fire. Each rule is an AND of alternatives over the
post's lemmas (``nlp.text.lemmas``); a frost rule also looks for "-25"-style
temperatures in the raw text, because lemmas turn numbers into ``<num>``.

The sets are compiled at import into one bit per (rule, alternative set), so a
post costs one pass over its lemmas that are in any set and a few integer tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# name -> list of alternative sets; every set must meet the post's lemmas
RULES: dict[str, list[frozenset[str]]] = {
    "gas_smell": [frozenset({"газ"}), frozenset({"запах", "пахнуть", "вонять", "утечка", "шипеть"})],
    "burst_pipe": [
        frozenset({"прорыв", "прорвать", "лопнуть", "хлестать", "фонтан", "порыв"}),
        frozenset({"труба", "водопровод", "водовод", "теплотрасса", "стояк", "отопление", "вода"}),
    ],
    "boiling_water": [frozenset({"кипяток"})],
    "flooding": [frozenset({"затопить", "затапливать", "заливать", "залить", "потоп", "подтопление", "паводок"})],
    "live_wires": [
        frozenset({"искрить", "оборвать", "оборванный", "оголить", "оголённый", "оголенный", "дымиться"}),
        frozenset({"провод", "проводка", "щиток", "щит", "кабель", "трансформатор", "столб", "лэп"}),
    ],
    "open_manhole": [frozenset({"люк", "колодец"}), frozenset({"открытый", "открыть", "провалиться", "крышка"})],
    "unconscious": [frozenset({"без"}), frozenset({"сознание"})],
    "collapse": [frozenset({"обрушение", "обрушиться", "рухнуть", "обвалиться", "обвал", "обрушить"})],
    "falling_danger": [
        frozenset({"упасть", "падать", "рухнуть", "нависать", "обрушиться"}),
        frozenset({"дерево", "ветка", "столб", "опора", "сосулька", "глыба", "плита", "балкон"}),
    ],
    "icicles": [frozenset({"сосулька", "наледь"})],
    "fire_explosion": [frozenset({"пожар", "взрыв", "задымление", "возгорание"})],
    "poisoning": [frozenset({"отравление", "отравиться", "отравить"})],
    "dog_attack": [
        frozenset({"покусать", "напасть", "кидаться", "бросаться", "нападать", "загрызть"}),
        frozenset({"собака", "стая", "пёс", "пес"}),
    ],
    "acute_illness": [frozenset({"инсульт", "инфаркт", "приступ", "судорога", "кислородный"})],
    "ambulance_delay": [
        frozenset({"скорый"}),
        frozenset({"ждать", "ехать", "приехать", "доехать", "вызвать", "вызов"}),
        frozenset({"час", "отказаться", "не", "нет"}),
    ],
}
#: no heat / power / water when it is freezing
_COLD_NEED = frozenset({"отопление", "тепло", "свет", "электричество", "батарея", "котельная", "котёл", "котел", "газ"})
_COLD_LACK = frozenset({"нет", "без", "отключить", "встать", "ледяной", "холодный", "холодно", "замерзать", "отключение"})
_COLD_WORDS = frozenset({"мороз", "минус", "морозный", "стужа"})
_MINUS = re.compile(r"(?:^|[\s(])[-−–]\s?[12345]\d\b")



def _compile(rules: dict[str, list[frozenset[str]]]) -> tuple[dict[str, int], list[tuple[str, int]], int, int, int]:
    """Bit masks: every (rule, alternative set) and the three frost sets get one bit;
    a lemma maps to the bits of the sets it is in. A rule fires when all its bits are set."""
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
    frost = []
    for words in (_COLD_NEED, _COLD_LACK, _COLD_WORDS):
        for t in words:
            bits[t] = bits.get(t, 0) | bit
        frost.append(bit)
        bit <<= 1
    return bits, masks, frost[0], frost[1], frost[2]


# Compiled once at import: edit RULES and the frost sets in this file, not at run time.
_BITS, _MASKS, _NEED, _LACK, _COLD = _compile(RULES)
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
    return None
