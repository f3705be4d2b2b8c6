"""Transparent urgency rules: danger to life or health that must never wait.

The urgency head learns from few urgent examples and misses many; these rules
(written from the regulations' examples: no heating in frost, burst pipes,
flooding, gas smell, no power in winter, danger to life) mark a *relevant*
post as urgent when they fire. Each rule is an AND of alternatives over the
post's lemmas (``nlp.text.lemmas``); a frost rule also looks for "-25"-style
temperatures in the raw text, because lemmas turn numbers into ``<num>``.
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


def urgent_rule(text: str, lemmas: Sequence[str]) -> str | None:
    """Name of the first rule that fires, or None."""
    present = set(lemmas)
    for name, parts in RULES.items():
        if all(present & alt for alt in parts):
            return name
    if present & _COLD_NEED and present & _COLD_LACK and (present & _COLD_WORDS or _MINUS.search(text or "")):
        return "no_heat_or_power_in_frost"
    return None
