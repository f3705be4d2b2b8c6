"""Resolve a post's municipality from the region's gazetteer.

``Gazetteer`` is built from plain data, a list of dicts shaped like
``config.schema.Municipality`` (``code``, ``name``, optional ``variants``,
``kind``; other keys are ignored)::

    gaz = Gazetteer([m.model_dump() for m in region.municipalities])
    match = gaz.resolve(text, entities=extract_entities(text))

Every name and variant is a *key*: a sequence of words. A text word matches a
key word when

* it is the same word (lower case, ``ё`` = ``е``), or has the same pymorphy3
  lemma (``Новокузнецке`` -> ``новокузнецк``), or
* it is the key word's stem plus a case ending (``Кемерово`` -> ``Кемерове``,
  ``Ленинске-Кузнецком``), stems of at least 4 letters only, or
* (for one-word names of municipalities given *without* variants) it is an
  adjective derived from the name (``новокузнецкие дворы``, ``кемеровские
  дороги``): the match is *derived* and scores lower. When a municipality
  lists variants they are taken as its full set of adjectives and demonyms
  (the Kuzbass profile leaves out ``мариинский`` on purpose: the theatre),
  and only their inflections are added. A derived adjective followed by ``район``/``округ``/
  ``муниципальный``/``поселение`` is not the city but a district of the same
  name, and is left to a key that spells the district out.

A name like ``Кемеровский городской округ (г. Кемерово)`` gives two keys,
the part outside and the part inside the brackets (``г.`` dropped); a
``X муниципальный округ/район`` also gives ``X район`` and ``X округ``.

Keys are matched longest first, so ``Новокузнецкий район`` wins over
``Новокузнецк``. Matches right after a street word (``ул. Кемеровская``,
``проспект Кузнецкий``) are ignored: streets are named after other towns.

Scores: 1.0 for a name form, 0.7 for a derived adjective; inside a natasha
LOC span the match is ``how="ner"`` and keeps its score, elsewhere it is
``how="gazetteer"`` and gets x0.8; inside an ORG span x0.6; inside a PER span
it is dropped (``Белов`` is a surname). A LOC entity whose normal form matches
a key but whose text did not (odd inflection) is added as ``how="ner"``.
Each municipality's best mention gets +0.05 for every further mention (up to
+0.15, score capped at 1.0); ties go to more mentions, then to the earlier
one. ``resolve`` returns the best municipality with all candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from nlp.clean import fold_yo
from nlp.morph import lemma as _lemma
from nlp.morph import parse as _parse

__all__ = ["Gazetteer", "PlaceMatch", "GazetteerError"]

How = Literal["ner", "gazetteer"]

_ADJ_ENDINGS = frozenset(
    "ий ый ой ая яя ое ее ие ые ого его ому ему ым им ом ем ую юю ей ых их ыми ими".split()
)
_NOUN_ENDINGS = frozenset("а я у ю е о ом ем ой ей ы и ам ям ами ями ах ях ов ев".split()) | {""}
_TERRITORIAL = frozenset(
    "район округ муниципальный городской поселение сельсовет поселок село деревня сельский "
    "область край республика театр".split()
)
_STREET = frozenset(
    "ул улица пр пр-т проспект пер переулок ш шоссе б-р бульвар пл площадь проезд наб набережная "
    "тракт мкр микрорайон тупик аллея".split()
)
_DISTRICT = re.compile(r"(\w+(?:-\w+)?)\s+муниципальн\w*\s+(?:район|округ)", re.I)
_PAREN = re.compile(r"\(([^()]*)\)")
_CITY_PREFIX = re.compile(r"^\s*(?:г|гор|город|пгт|пос|п|с)\.?\s+", re.I)
_VOWEL_TAIL = "аяоеёыиуюьй"
_MIN_STEM = 4
_WORD = re.compile(r"[^\W\d_]+|\d+")
_YO = str.maketrans("ёЁ", "еЕ")


class GazetteerError(ValueError):
    """Bad municipality data (names the item and the field)."""


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """A municipality found in a text."""

    code: str
    name: str
    text: str
    how: How
    score: float
    start: int
    stop: int
    #: How many times this municipality is mentioned in the text.
    mentions: int = 1
    #: All municipalities found, best first (includes this one); empty on items of the list.
    candidates: tuple[PlaceMatch, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class _KeyWord:
    word: str  # folded lower-case form
    lemma: str
    stem: str  # "" if too short for stem matching
    endings: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Key:
    code: str
    name: str
    words: tuple[_KeyWord, ...]
    adj_stems: tuple[str, ...]  # derived adjective stems (one-word keys only)


@dataclass(frozen=True, slots=True)
class _Token:
    word: str
    lemma: str
    start: int
    stop: int


def _fold(word: str) -> str:
    return word.lower().translate(_YO)


def _key_lemma(word: str) -> str:
    """Lemma of a gazetteer word, preferring a place-name (Geox) reading:
    ``Белове`` -> ``белово`` (not the surname ``Белов``), ``Мариинском`` ->
    ``мариинск`` (not the adjective ``мариинский``)."""
    parses = _parse(word)
    for p in parses:
        if "Geox" in p.tag:
            return fold_yo(p.normal_form)
    return fold_yo(parses[0].normal_form) if parses else word


def _key_word(word: str) -> _KeyWord:
    lem = _key_lemma(word)
    if len(lem) > 4 and lem.endswith(("ий", "ый", "ой")) and word[-2:] in _ADJ_ENDINGS | {"ая", "ое"}:
        # an adjective (Берёзовский, новокузнецких): any adjective ending
        stem, endings = lem[:-2], _ADJ_ENDINGS
    elif word[-1] in _VOWEL_TAIL:
        # Кемерово -> кемеров + {е, а, ...}; never the bare stem (Белово vs Белов)
        stem, endings = word.rstrip(_VOWEL_TAIL), _NOUN_ENDINGS - {""}
    else:
        stem, endings = word, _NOUN_ENDINGS
    if len(stem) < _MIN_STEM:
        stem = ""
    return _KeyWord(word, lem, stem, endings)


def _adj_stems(kw: _KeyWord) -> tuple[str, ...]:
    if not kw.stem or kw.endings is _ADJ_ENDINGS:
        return ()
    stems = {kw.stem}
    if not kw.stem.endswith("ск"):
        stems.add(kw.stem + "ск")
    return tuple(sorted(stems))


def _tokens(text: str) -> list[_Token]:
    out = []
    for m in _WORD.finditer(text):
        word = _fold(m.group(0))
        out.append(_Token(word, _lemma(word), m.start(), m.end()))
    return out


class Gazetteer:
    """Municipalities of one region, searchable in Russian text."""

    def __init__(self, municipalities: Iterable[Mapping[str, Any]], *, derive_adjectives: bool = True) -> None:
        self._derive = derive_adjectives
        self._keys: list[_Key] = []
        self._names: dict[str, str] = {}
        # first-word lookups -> keys
        self._by_word: dict[str, list[_Key]] = {}
        self._by_stem: dict[str, list[_Key]] = {}
        self._by_adj: dict[str, list[_Key]] = {}
        for index, item in enumerate(municipalities):
            if not isinstance(item, Mapping):
                raise GazetteerError(f"municipality #{index}: expected a mapping, got {type(item).__name__}")
            code, name = item.get("code"), item.get("name")
            if not code or not isinstance(code, str):
                raise GazetteerError(f"municipality #{index}: field 'code' is missing or not a string")
            if not name or not isinstance(name, str):
                raise GazetteerError(f"municipality {code!r}: field 'name' is missing or not a string")
            variants = item.get("variants") or []
            if not isinstance(variants, Sequence) or isinstance(variants, str):
                raise GazetteerError(f"municipality {code!r}: field 'variants' must be a list of strings")
            self._names[code] = name
            derive = self._derive and not variants
            for spelling in self._spellings(name, variants):
                self._add_key(code, name, spelling, derive)

    @staticmethod
    def _spellings(name: str, variants: Sequence[Any]) -> list[str]:
        # "Кемеровский городской округ (г. Кемерово)" -> both parts
        inner = [_CITY_PREFIX.sub("", p) for p in _PAREN.findall(name)]
        spellings = [_PAREN.sub(" ", name).strip(), *inner, *[str(v) for v in variants if v]]
        # "Новокузнецкий муниципальный район" is also written "Новокузнецкий район".
        # People still say "район" after districts became "муниципальный округ".
        for s in list(spellings):
            m = _DISTRICT.fullmatch(s.strip())
            if m:
                spellings.extend(f"{m.group(1)} {noun}" for noun in ("район", "округ"))
        return spellings

    def _add_key(self, code: str, name: str, spelling: str, derive: bool) -> None:
        words = [_fold(w) for w in _WORD.findall(spelling)]
        if not words:
            return
        kws = tuple(_key_word(w) for w in words)
        adj = _adj_stems(kws[0]) if derive and len(kws) == 1 else ()
        key = _Key(code, name, kws, adj)
        self._keys.append(key)
        first = kws[0]
        self._by_word.setdefault(first.word, []).append(key)
        self._by_word.setdefault(first.lemma, []).append(key)
        if first.stem:
            self._by_stem.setdefault(first.stem, []).append(key)
        for stem in adj:
            self._by_adj.setdefault(stem, []).append(key)

    def __len__(self) -> int:
        return len(self._names)

    # -- matching -----------------------------------------------------------

    @staticmethod
    def _word_matches(kw: _KeyWord, tok: _Token) -> bool:
        if tok.word == kw.word or tok.lemma == kw.lemma:
            return True
        return bool(kw.stem) and tok.word.startswith(kw.stem) and tok.word[len(kw.stem):] in kw.endings

    @staticmethod
    def _is_derived(key: _Key, tok: _Token) -> bool:
        for stem in key.adj_stems:
            if tok.word.startswith(stem) and tok.word[len(stem):] in _ADJ_ENDINGS:
                return True
        return False

    def _candidates_at(self, tok: _Token) -> list[_Key]:
        found: dict[int, _Key] = {}
        for key in [*self._by_word.get(tok.word, ()), *self._by_word.get(tok.lemma, ())]:
            found[id(key)] = key
        word = tok.word
        for k in range(len(word), max(_MIN_STEM, len(word) - 4) - 1, -1):
            prefix = word[:k]
            for key in self._by_stem.get(prefix, ()):
                found[id(key)] = key
            for key in self._by_adj.get(prefix, ()):
                found[id(key)] = key
        return list(found.values())

    def _scan(self, tokens: list[_Token]) -> list[tuple[_Key, int, int, bool]]:
        """Longest-first matches: (key, first token, last token + 1, derived)."""
        out = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            best: tuple[_Key, int, bool] | None = None
            for key in self._candidates_at(tok):
                n = len(key.words)
                if i + n > len(tokens):
                    continue
                derived = False
                if not self._word_matches(key.words[0], tok):
                    if n == 1 and self._is_derived(key, tok):
                        derived = True
                    else:
                        continue
                if not all(self._word_matches(kw, tokens[i + j]) for j, kw in enumerate(key.words[1:], 1)):
                    continue
                if best is None or n > best[1] or (n == best[1] and best[2] and not derived):
                    best = (key, n, derived)
            if best is None:
                i += 1
                continue
            key, n, derived = best
            prev = tokens[i - 1].word if i else ""
            nxt = tokens[i + n].word if i + n < len(tokens) else ""
            nxt_lemma = tokens[i + n].lemma if nxt else ""
            # "в Гурьевском районе": the form is both Гурьевск (instr.) and the
            # adjective; before a territorial word it is the district.
            adjectival = derived or (n == 1 and tok.lemma != key.words[0].lemma and tok.word != key.words[0].word)
            if prev in _STREET or (adjectival and (nxt_lemma in _TERRITORIAL or nxt_lemma in _STREET)):
                i += n
                continue
            out.append((key, i, i + n, derived))
            i += n
        return out

    def matches(self, text: str | None, entities: Sequence[Any] | None = None) -> list[PlaceMatch]:
        """Every mention of a municipality in ``text`` (in text order)."""
        if not text:
            return []
        tokens = _tokens(text)
        spans = [(e.kind, e.start, e.stop) for e in (entities or ())]
        found: list[PlaceMatch] = []
        for key, a, b, derived in self._scan(tokens):
            start, stop = tokens[a].start, tokens[b - 1].stop
            score = 0.7 if derived else 1.0
            kinds = {kind for kind, s, e in spans if s < stop and start < e}
            if "PER" in kinds and "LOC" not in kinds:
                continue
            if "LOC" in kinds:
                how: How = "ner"
            elif "ORG" in kinds:
                how, score = "gazetteer", score * 0.6
            else:
                how, score = "gazetteer", score * 0.8
            found.append(PlaceMatch(key.code, key.name, text[start:stop], how, round(score, 3), start, stop))
        # LOC entities the text scan missed: try their normal form.
        for e in entities or ():
            if e.kind != "LOC" or any(m.start < e.stop and e.start < m.stop for m in found):
                continue
            for key, _a, _b, derived in self._scan(_tokens(e.normal)):
                score = 0.7 if derived else 1.0
                found.append(PlaceMatch(key.code, key.name, e.text, "ner", score, e.start, e.stop))
                break
        found.sort(key=lambda m: m.start)
        return found

    def resolve(self, text: str | None, entities: Sequence[Any] | None = None) -> PlaceMatch | None:
        """The best municipality for ``text`` with all candidates, or ``None``.

        ``entities`` are ``nlp.ner.Entity`` objects found in the same text
        (optional; without them every match is ``how="gazetteer"``).
        """
        mentions = self.matches(text, entities)
        if not mentions:
            return None
        best_by_code: dict[str, tuple[PlaceMatch, int]] = {}
        for m in mentions:
            current = best_by_code.get(m.code)
            if current is None:
                best_by_code[m.code] = (m, 1)
            else:
                top = m if m.score > current[0].score else current[0]
                best_by_code[m.code] = (top, current[1] + 1)
        ranked = []
        for m, count in best_by_code.values():
            bonus = min(0.15, 0.05 * (count - 1))
            score = round(min(1.0, m.score + bonus), 3)
            ranked.append(PlaceMatch(m.code, m.name, m.text, m.how, score, m.start, m.stop, count))
        ranked.sort(key=lambda m: (-m.score, -m.mentions, m.start))
        top = ranked[0]
        return PlaceMatch(
            top.code, top.name, top.text, top.how, top.score, top.start, top.stop, top.mentions,
            candidates=tuple(ranked),
        )


# -- cheap tests that tell whether NER can change a gazetteer answer -----------

_NAME_TAGS = frozenset({"Surn", "Name", "Patr"})


def _prefix(form: str) -> str:
    """The part of a key word's form an inflected text word still starts with: all but the last letter
    (``ленинск`` -> ``ленинс``, ``юрга`` -> ``юрг``), at least three letters."""
    return form[:-1] if len(form) >= 4 else form


class PlaceFilter:
    """Whether a text could name a municipality however NER reads it.

    The gazetteer looks a key up by the first word of a LOC entity's normal
    form and then matches every word of the key; a normal form is the
    nominative of words of the text, so each of those words starts like the
    key word's form, lemma, stem or derived stem without its last letter. A
    text in which, for every key, some key word has no such word, cannot get
    a municipality from NER: ``Places.resolve_batch`` skips NER on it.
    """

    def __init__(self, gazetteer: Gazetteer) -> None:
        self._keys: list[tuple[frozenset[str], ...]] = []
        for key in gazetteer._keys:
            words = []
            for i, kw in enumerate(key.words):
                forms = {kw.word, kw.lemma, kw.stem, *(key.adj_stems if i == 0 else ())}
                words.append(frozenset(_prefix(f) for f in forms if f))
            self._keys.append(tuple(words))
        self._longest = max((len(p) for k in self._keys for w in k for p in w), default=0)
        #: prefix of a first key word -> the keys (their other words) it starts: only those are checked further
        self._by_first: dict[str, list[tuple[frozenset[str], ...]]] = {}
        for words_ in self._keys:
            for prefix in words_[0]:
                self._by_first.setdefault(prefix, []).append(words_[1:])

    def __call__(self, text: str | None) -> bool:
        starts: set[str] = set()
        for m in _WORD.finditer(text or ""):
            w = _fold(m.group(0))
            starts.update(w[:n] for n in range(3, min(len(w), self._longest) + 1))
        by_first = self._by_first
        for start in starts:
            for rest in by_first.get(start, ()):
                if all(not forms.isdisjoint(starts) for forms in rest):
                    return True
        return False


_name_cache: dict[str, bool] = {}


def name_like(span: str) -> bool:
    """Some word of ``span`` can be a first name, surname or patronymic (pymorphy3 tags)."""
    for word in _WORD.findall(span):
        key = _fold(word)
        hit = _name_cache.get(key)
        if hit is None:
            hit = any(_NAME_TAGS & p.tag.grammemes for p in _parse(key))
            if len(_name_cache) > 100_000:
                _name_cache.clear()
            _name_cache[key] = hit
        if hit:
            return True
    return False
