"""The fast paths of clean + lemmatize + classify give exactly what the plain code gives.

``clean_text`` skips passes behind pre-tests, ``words`` uses possessive
quantifiers, ``FeatureSpace.transform`` builds the matrix from per-lemma caches
with numpy, ``Classifier.predict`` multiplies fused head weights and evaluates
urgency rules and complaint cues only where they matter. Each is compared here
with a plain reference implementation written the straightforward way
(the code these fast paths replaced), on varied texts: emoji, Latin
look-alikes, odd whitespace, markup, very long posts, empty text, names,
rule words. Feature matrices and predictions must be equal bit for bit, not
merely close: the lead retrains with the same feature builder, and a changed
last bit could flip a post sitting on a threshold.
"""

from __future__ import annotations

import html
import random
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import nlp.clean as C
from nlp.classifier import Classifier, Thresholds
from nlp.classifier.complaint_cues import complaint_cue
from nlp.classifier.data import REPO_MODELS_DIR
from nlp.classifier.dense import shared_embeddings
from nlp.classifier.features import DROP, FeatureSpace, alias, char_grams
from nlp.classifier.notice_cues import notice_cue
from nlp.classifier.urgency_rules import (
    _COLD_LACK,
    _COLD_NEED,
    _COLD_WORDS,
    _MINUS,
    _ROOM,
    _ROOM_HEAT,
    _ROOM_TEMP,
    RULES,
    urgent_rule,
)
from nlp.text import lemmas
from nlp.tokens import words

TEXTS = [
    "",
    " ",
    "\n\n",
    "😡😡👎🏻 ⚡️",
    "Опять нет света 😡😡👎🏻 ⚡️ третий день!!!",
    "мусoр во двoре не вывозят, KAMAЗ стоит",  # Latin o, A, M, K
    "ТЦ Mega и Wi-Fi в автобусе не работают",
    "Ооочень холоднооо в квартире!!! ??? ааа AAA XXI век III этаж",
    "в\u1c80\u1c80\u1c80ода ВВВ",  # Cyrillic rounded ve: a case-insensitive repeat of в
    "много\t\tпробелов\u00a0\u2000и\u205fстрок\r\n\r\n\r\nконец  ",
    "уда\u0301рение и мяг\u00adкий перенос\u200b\ufeff",
    "<p>Яма на <b>Кирова</b></p>&amp;quot;УК&amp;quot; молчит<br>опять",
    "[club1|Администрация Новокузнецка], @kemerovo_adm #ЖКХ_Кемерово #ДорогиКузбасса https://vk.com/wall-1_2",
    "В Новокузнецке Иван Петрович Сидоров жалуется: нет отопления, мороз -30, батареи ледяные",
    "В подъезде сильно пахнет газом, газовая служба не едет",
    "+1 подтверждаю, уже неделю течёт крыша",
    "прорвало трубу, кипяток хлещет во двор, скорая не приехала за час",
    "Опять нет горячей воды в доме 5 по улице Ленина, УК не отвечает. " * 300,
    "а" * 3000,
    "1,5 м 20.12.2020 5-й 12/3 2020г 1й",
    "ёлка ЁЖ ещё Ещё",
    "qwertyuiop asdf zxcv",
    "中文 текст ✓ ☎ ①",
    "\x00\x07\x1f контроль \x85",
    "Спасибо администрации за новую детскую площадку!",
    "Уважаемые жители! В связи с проведением плановых работ 12 марта с 9:00 до 17:00 будет прекращена подача воды",
    "Уважаемые жители, обещали дать воду с 9:00 до 17:00, а у нас её нет уже третий день!",
    "в квартире +13, батареи ледяные, дети в куртках",
    "лифт застрял с ребенком, диспетчер молчит",
]

# Words to build random posts from: complaint and rule words, names and towns (masked),
# stop words, numbers, look-alikes, emoji, unknown words.
VOCAB = (
    "нет света воды отопления батареи холодно мороз минус газ пахнет прорвало труба кипяток затопило "
    "яма дорога мусор контейнер свалка автобус маршрутка врач талон школа садик зарплата пособие "
    "собака стая покусала сосулька упала дерево провод искрит люк открыт скорая ждали час "
    "опять снова никто почему когда неделю месяц жалоба не и в на по что это уже очень "
    "уважаемые жители в связи с проведением плановых работ будет прекращена подача с 9:00 до 17:00 "
    "информируем завершены задержан продам квартире +13 12 градусов лифт застрял инсулина нет "
    "Новокузнецк Кемерово Иванов Петрович Мария Ленина Кирова 5 12 1,5 -25 −30 "
    "мусoр двoр KAMAЗ Wi-Fi ТЦ Mega 😡 👍🏻 !!! ??? ааа Ооочень qqqzzx блаблабла спасибо"
).split()


def random_posts(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    return [" ".join(rnd.choice(VOCAB) for _ in range(rnd.randint(0, 25))) for _ in range(n)]


def fuzz(n: int, seed: int) -> list[str]:
    alphabet = list("аАоОеЕёЁвВ\u1c80xXaAoOcCkK  \n\t\r\u00a0\u2000\u205f\u1680\u00ad\u0301!?.#@|[]<>/&;wW123_-😀\u200b\ufe0f")
    rnd = random.Random(seed)
    return ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40))) for _ in range(n)]


# ---------------------------------------------------------------------------- cleaning


def reference_clean(text):
    """clean_text with every rewrite pass run unconditionally (markup passes as in clean_text)."""
    if not text:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if "&" in text:
        text = html.unescape(html.unescape(text))
    if "<" in text:
        text = C._BREAK_TAG.sub("\n", text)
        text = C._TAG.sub(" ", text)
    if "/" in text or "www" in text or "WWW" in text:
        text = C._URL.sub(" ", text)
    if "@" in text:
        text = C._EMAIL.sub(" ", text)
        text = C._HASHTAG_COMMUNITY.sub(r"\1", text)
        text = C._HANDLE.sub(" ", text)
    text = C._VK_MENTION.sub(C._mention, text)
    text = C._HASHTAG.sub(C._hashtag, text)
    text = C._JUNK.sub(" ", text)
    text = text.translate(C._TRANSLATE)
    text = C._REPEAT.sub(C._first_letter, text)
    text = C._REPEAT_MARK.sub(r"\1", text)
    text = C._MIXED_WORD.sub(C._fix_word, text)
    text = C._SPACES.sub(" ", text)
    text = C._NEWLINES.sub("\n", text)
    return text.strip()


def test_clean_text_equals_the_unguarded_chain() -> None:
    texts = TEXTS + random_posts(500, 1) + fuzz(3000, 2)
    assert [C.clean_text(t) for t in texts] == [reference_clean(t) for t in texts]
    # the pre-tests do skip work on plain text and still catch what they guard
    assert C.clean_text("Ооочень  холодно\u00a0!!!") == "Очень холодно !"


_ATOM = r"(?:[^\W\d_]+|\d+(?:[.,/\\_]\d+)*)"
REFERENCE_WORD = re.compile(rf"{_ATOM}(?:[-‐‑]{_ATOM})*")


def test_words_equal_the_plain_regex() -> None:
    texts = TEXTS + random_posts(500, 3) + fuzz(3000, 4) + ["a-1-б.2 3.4.5-x 12//3 1__2 -5- ‐а‑б"]
    for t in texts:
        low = C.clean_text(t).lower()
        assert words(low) == REFERENCE_WORD.findall(low), t


# ---------------------------------------------------------------------------- features


def _tfidf_block(rows: list[list[int]], n_cols: int, idf: np.ndarray, weight: float) -> sp.csr_matrix:
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.array([j for r in rows for j in r], dtype=np.int32)
    m = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(rows), n_cols))
    m.sum_duplicates()
    if m.nnz:
        m.data = (1.0 + np.log(m.data)) * idf[m.indices]
        sq = np.asarray(m.multiply(m).sum(axis=1), dtype=np.float32).ravel()
        scale = np.zeros_like(sq)
        nz = sq > 0
        scale[nz] = weight / np.sqrt(sq[nz])
        m.data *= np.repeat(scale, np.diff(m.indptr))
    return m


def reference_transform(fs: FeatureSpace, docs: list[list[str]]) -> sp.csr_matrix:
    """Block by block: names dropped, term lists per doc, a CSR matrix of ones with
    duplicates summed, TF-IDF and norms with scipy, the dense mean vectors, hstack."""
    if fs.mask_names:
        docs = [[t for t in d if alias(t) not in DROP] for d in docs]
    wi = {t: i for i, t in enumerate(fs.words)}
    ci = {t: i for i, t in enumerate(fs.chars)}
    w_rows = [
        [wi[t] for t in d if t in wi] + [wi[f"{a} {b}"] for a, b in zip(d, d[1:]) if f"{a} {b}" in wi] for d in docs
    ]
    c_rows = [[ci[g] for t in d for g in char_grams(t) if g in ci] for d in docs]
    blocks = [
        _tfidf_block(w_rows, len(fs.words), fs.idf_words, 1.0),
        _tfidf_block(c_rows, len(fs.chars), fs.idf_chars, fs.char_weight),
    ]
    if fs.dense_weight > 0:
        emb = shared_embeddings()
        emb._rows([t for d in docs for t in d])
        default = float(np.median(fs.idf_words))
        cols, vals, ptr = [], [], [0]
        for d in docs:
            for t in d:
                if emb._row[t] >= 0:
                    cols.append(emb._row[t])
                    vals.append(float(fs.idf_words[wi[t]]) if t in wi else default)
            ptr.append(len(cols))
        table = emb._table
        m = sp.csr_matrix((np.asarray(vals, dtype=np.float32), np.asarray(cols), np.asarray(ptr)), shape=(len(docs), len(table)))
        xd = np.asarray(m @ table, dtype=np.float32)
        norm = np.linalg.norm(xd, axis=1, keepdims=True)
        np.divide(xd, norm, out=xd, where=norm > 0)
        xd *= fs.dense_weight
        blocks.append(sp.csr_matrix(xd))
    return sp.hstack(blocks, format="csr", dtype=np.float32)


def assert_same_matrix(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data.view(np.uint32), b.data.view(np.uint32))  # bit for bit


def docs_for_features() -> list[list[str]]:
    docs = [lemmas(t) for t in TEXTS + random_posts(400, 5)]
    # lemmas a custom lemmatizer may give: spaces, repeats, the mask tokens themselves
    return docs + [[], ["qqqzzx"], ["<geo>", "новокузнецк", "батарея"], ["нет свет", "вода"], ["нет", "свет вода"], ["батарея"] * 40]


@pytest.mark.parametrize(("mask_names", "dense_weight"), [(False, 0.0), (True, 0.0), (True, 0.5), (False, 0.3)])
def test_fitted_feature_space_transform_equals_reference(mask_names: bool, dense_weight: float) -> None:
    docs = docs_for_features()
    fs = FeatureSpace.fit(docs[:300], min_df=1, max_df=0.9, mask_names=mask_names, dense_weight=dense_weight)
    fs.words.append("нет свет")  # a vocabulary term with a space, as a custom lemmatizer can produce
    fs = FeatureSpace(fs.words, fs.chars, np.append(fs.idf_words, 1.5), fs.idf_chars, fs.char_weight, dense_weight, mask_names)
    assert_same_matrix(fs.transform(docs), reference_transform(fs, docs))
    # batch size does not matter, and an empty batch is an empty matrix
    assert_same_matrix(sp.vstack([fs.transform([d]) for d in docs[:40]], format="csr"), reference_transform(fs, docs[:40]))
    assert fs.transform([]).shape == (0, fs.n_features)


def shipped_versions() -> list[Path]:
    return sorted(p for p in (REPO_MODELS_DIR / "versions").iterdir() if (p / "model.npz").exists())


@pytest.fixture(scope="module", params=shipped_versions(), ids=lambda p: p.name)
def shipped(request: pytest.FixtureRequest) -> Classifier:
    return Classifier.load(request.param)


def test_shipped_feature_space_transform_equals_reference(shipped: Classifier) -> None:
    docs = docs_for_features()
    assert_same_matrix(shipped.features.transform(docs), reference_transform(shipped.features, docs))


# ---------------------------------------------------------------------------- predictions


def reference_rule(text: str, lemmas_: list[str]) -> str | None:
    present = set(lemmas_)
    for name, parts in RULES.items():
        if all(present & alt for alt in parts):
            return name
    if present & _COLD_NEED and present & _COLD_LACK and (present & _COLD_WORDS or _MINUS.search(text or "")):
        return "no_heat_or_power_in_frost"
    if present & _ROOM and present & _ROOM_HEAT and _ROOM_TEMP.search(text or ""):
        return "cold_room"
    return None


def test_urgent_rule_equals_set_reference() -> None:
    vocab = sorted(set().union(*[a for parts in RULES.values() for a in parts], _COLD_NEED, _COLD_LACK, _COLD_WORDS, _ROOM, _ROOM_HEAT))
    rnd = random.Random(6)
    fired = set()
    # random lemma bags, and bags holding one lemma of every part of a rule plus noise
    bags = [[rnd.choice(vocab + ["дом", "<num>"]) for _ in range(rnd.randint(0, 6))] for _ in range(30000)]
    for parts in [*RULES.values(), [_COLD_NEED, _COLD_LACK, _COLD_WORDS], [_ROOM, _ROOM_HEAT]]:
        for _ in range(300):
            bags.append([rnd.choice(sorted(alt)) for alt in parts] + [rnd.choice(vocab) for _ in range(rnd.randint(0, 3))])
    for d in bags:
        rnd.shuffle(d)
        text = rnd.choice(["", "мороз -30", "−25 градусов", "x", "в квартире +13", "12 градусов", "+1 у нас"])
        got = urgent_rule(text, d)
        assert got == reference_rule(text, d), (text, d)
        fired.add(got)
    # every rule, the frost and the cold-room rule were reached
    assert fired >= set(RULES) | {"no_heat_or_power_in_frost", "cold_room", None}


def reference_predict(clf: Classifier, texts: list[str], sectors=None) -> list[dict]:
    """Every head's proba on the whole matrix, topics row by row, rules and cues for every post."""
    docs = [clf.lemmatize(t or "") for t in texts]
    x = reference_transform(clf.features, docs)
    th, heads = clf.thresholds, clf.heads
    rel_h, sec_h, cat_h, urg_h, tone_h = (heads[h] for h in ("relevance", "sector", "category", "urgency", "tone"))
    p_rel = rel_h.proba(x)[:, rel_h.labels.index("yes")]
    p_sec = sec_h.proba(x)
    if sectors is not None:
        mask = np.array([lab in set(sectors) for lab in sec_h.labels])
        p_sec = p_sec * mask
        p_sec /= np.maximum(p_sec.sum(axis=1, keepdims=True), 1e-12)
    p_cat, p_urg, p_tone = cat_h.proba(x), urg_h.proba(x)[:, urg_h.labels.index("high")], tone_h.proba(x)
    cat_sector = np.array([lab.split("/", 1)[0] for lab in cat_h.labels])
    out = []
    for i, (text, doc) in enumerate(zip(texts, docs)):
        k = int(p_sec[i].argmax())
        sector, ps = sec_h.labels[k], float(p_sec[i, k])
        row = np.where(cat_sector == sector, p_cat[i], 0.0)
        total = float(row.sum())
        j = int(row.argmax())
        category, pc = (cat_h.labels[j].split("/", 1)[1], float(row[j] / total)) if total > 0 else ("other", 0.0)
        pr = float(p_rel[i])
        relevant = pr >= th.relevant or (complaint_cue(text, doc) and th.lean_relevant <= pr and ps >= th.lean_sector)
        notice = relevant and pr < th.notice_relevant and notice_cue(text, doc)
        relevant = relevant and not notice
        ti = int(p_tone[i].argmax())
        p = {"relevant": relevant, "relevance_confidence": pr, "tone": tone_h.labels[ti]}
        conf = {"relevance": pr if relevant else 1.0 - pr, "tone": float(p_tone[i, ti])}
        if relevant:
            pu, rule = float(p_urg[i]), reference_rule(text, doc)
            urgency = "high" if pu >= 0.5 or rule else "normal"
            conf.update(sector=ps, category=pc, urgency=max(pu, 0.9) if rule else (pu if urgency == "high" else 1.0 - pu))
            p.update(sector=sector, category=category, urgency=urgency, confidence=pr * ps * pc)
            p["unsure"] = pr < th.relevant_sure or ps < th.sector or pc < th.category
        else:
            p.update(sector=None, category=None, urgency=None, confidence=1.0 - pr, unsure=notice or pr >= th.irrelevant_sure)
        p["confidences"] = conf
        out.append(p)
    return out


def as_plain(predictions) -> list[dict]:
    out = []
    for p in predictions:
        d = p.as_dict()
        del d["model_version"]
        out.append(d)
    return out


def test_shipped_predictions_equal_reference(shipped: Classifier) -> None:
    texts = TEXTS + random_posts(300, 7)
    got = as_plain(shipped.predict(texts))
    assert got == reference_predict(shipped, texts)
    assert all(type(p["relevant"]) is bool and type(p["relevance_confidence"]) is float for p in got)
    # both outcomes and both urgency sources occur, so the lazy parts were exercised
    assert {p["relevant"] for p in got} == {True, False}
    assert any(p["urgency"] == "high" for p in got)
    sectors = shipped.sectors[:2]
    assert as_plain(shipped.predict(texts, sectors=sectors)) == reference_predict(shipped, texts, sectors)
    assert as_plain(shipped.predict(texts[:7])) == got[:7]  # batch size does not matter


def test_two_stage_band_equals_reference(shipped: Classifier) -> None:
    """A wide two-stage band puts many posts where the complaint cue decides."""
    wide = Classifier(shipped.features, shipped.heads, shipped.meta, Thresholds(relevant=0.9, lean_relevant=0.1, lean_sector=0.3), shipped.lemmatize)
    texts = TEXTS + random_posts(300, 8)
    got = as_plain(wide.predict(texts))
    assert got == reference_predict(wide, texts)
    leaned = [p for p in got if p["relevant"] and p["relevance_confidence"] < 0.9]
    declined = [p for p in got if not p["relevant"] and 0.1 <= p["relevance_confidence"]]
    assert len(leaned) >= 10 and len(declined) >= 3


def test_notice_band_equals_reference(shipped: Classifier) -> None:
    """A notice threshold above every P(relevant) lets the notice cue decide for every
    relevant-looking post, including those leaned relevant by the two-stage band."""
    wide = Classifier(
        shipped.features, shipped.heads, shipped.meta,
        Thresholds(relevant=0.5, lean_relevant=0.1, lean_sector=0.3, notice_relevant=1.01), shipped.lemmatize,
    )
    texts = TEXTS + random_posts(300, 9)
    got = as_plain(wide.predict(texts))
    assert got == reference_predict(wide, texts)
    docs = [lemmas(t) for t in texts]
    cued = [p for p, t, d in zip(got, texts, docs) if p["relevance_confidence"] >= 0.5 and notice_cue(t, d)]
    # each would be relevant without the cue; with it, none is routed and all go to review
    assert len(cued) >= 5 and not any(p["relevant"] for p in cued) and all(p["unsure"] for p in cued)
