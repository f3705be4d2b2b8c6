"""The dictionary fast path of ``nlp.morph`` gives what pymorphy3's full ``parse`` and ``tag`` give.

``_compute_lemma`` and ``top_tag`` read the dictionary's (form, paradigm) pairs and rank them
by P(tag | word) themselves instead of building every parse; words the dictionary does not
know still take the full parse. Here they are compared with the plain calls on dictionary
words of every kind (many-parse forms, ``е`` written for ``ё``, names and towns), unknown
words, typos, hyphenated and Latin words, and one-letter words.
"""

from __future__ import annotations

import itertools
import random

import nlp.morph as morph
from nlp.clean import fold_yo
from nlp.morph import _compute_lemma, _fast_parts, analyzer, clear_cache, lemma, top_tag

HAND_PICKED = (
    "стекло мой дали печь пила вина ленина кирова новокузнецк иванов петрович мария еще ещё елка ёлка "
    "все всё осел осёл берег мусор батареи отопления течет течёт затопило прорвало какой-то кто-нибудь "
    "пр-кт жск-533 с-пб строительно-отделочных много-много covid-19 wi-fi lada iii xxi qr "
    "маленькмй рааботники торчещие предвгаю рольставни бутявкать псевдокошка байткод блаблабла qqqzzx "
    "а б в я й ъ ы ь о и к с у x 5 12 1,5 <num> нет не без ни никто опять снова"
).split()


def dictionary_sample(n_per_prefix: int = 40) -> list[str]:
    """Dictionary words under a spread of two-letter prefixes, and each with ``ё`` written ``е``."""
    words = analyzer().dictionary.words
    letters = "абвгдежзийклмнопрстуфхцчшщэюя"
    out: list[str] = []
    for a, b in itertools.product(letters, "аеиоуяр"):
        out.extend(itertools.islice(words.iterkeys(a + b), 0, 2000, 2000 // n_per_prefix))
    out += [fold_yo(w) for w in out if "ё" in w]
    return out


def typos(words: list[str], seed: int) -> list[str]:
    """Words with one letter replaced, doubled or dropped: mostly unknown to the dictionary."""
    rnd = random.Random(seed)
    out = []
    for w in words:
        if len(w) < 3:
            continue
        i = rnd.randrange(len(w))
        out.append(rnd.choice([w[:i] + rnd.choice("аоеымкп") + w[i + 1 :], w[:i] + w[i] + w[i:], w[:i] + w[i + 1 :]]))
    return out


def plain_lemma(token: str) -> str:
    parses = analyzer().parse(token)
    return fold_yo(parses[0].normal_form if parses else token)


def plain_top_tag(word: str):
    m = analyzer()
    return m.tag(word)[0] if m.word_is_known(word) else None


def test_fast_path_is_on_for_the_installed_pymorphy3() -> None:
    assert _fast_parts()  # otherwise every word takes the full parse and this file tests nothing new


def test_lemma_equals_full_parse() -> None:
    sample = dictionary_sample()
    words = HAND_PICKED + sample + typos(sample[:1500], 1)
    assert len(words) > 5000
    got = [_compute_lemma(w) for w in words]
    want = [plain_lemma(w) for w in words]
    assert got == want
    # the sample holds ambiguous forms (ranked by probability) and words only the full parse knows
    parts = _fast_parts()
    ranked = [w for w in words if sum(len(f) for _, f in parts[0](w, parts[1])) > 1]
    assert len(ranked) > 1000
    assert sum(not parts[0](w, parts[1]) for w in words) > 500


def test_top_tag_equals_tag_of_known_words() -> None:
    sample = dictionary_sample(20)
    words = HAND_PICKED + sample + typos(sample[:800], 2) + [plain_lemma(w) for w in sample[:2000]]
    got = [top_tag(w) for w in words]
    assert got == [plain_top_tag(w) for w in words]
    assert any(t is None for t in got) and any(t is not None and "Geox" in t.grammemes for t in got)
    # upper case input is looked up lower-cased, as pymorphy3 does
    assert top_tag("Новокузнецк") == plain_top_tag("Новокузнецк") == top_tag("новокузнецк")


def test_top_tag_of_a_lemma_found_by_the_lemma_lookup() -> None:
    """A dictionary word that is its own lemma leaves its top tag for ``top_tag``: the same."""
    clear_cache()
    sample = dictionary_sample(10)
    words = HAND_PICKED + sample + typos(sample[:400], 3)
    lemmas_ = [lemma(w) for w in words]
    assert len(morph._top_tags) > 200
    got = [top_tag(w) for w in lemmas_]
    assert got == [plain_top_tag(w) for w in lemmas_]
    assert not morph._top_tags.keys() & set(lemmas_)  # taken out on use
