"""The classifier library: grouped split, tiny training, bundle checksum, evaluation output."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from nlp.classifier import (
    ChecksumError,
    Classifier,
    DataError,
    Example,
    ModelError,
    TrainOptions,
    evaluate,
    fingerprint,
    group_ids,
    grouped_split,
    load_corpus,
    load_jsonl,
    train,
    uncertainty,
    write_report,
)
from nlp.classifier.data import normalise

FAST = TrainOptions(augment=0, max_words=5000, max_chars=5000)


@pytest.fixture(scope="module")
def corpus() -> list[Example]:
    return load_corpus()


#: examples of a sector a region adds (`sectors_extra`) that the corpus does not know
NORTH_DELIVERY = [
    Example(t, True, "north_delivery", "fuel", group=f"nd{i}")
    for i, t in enumerate([
        "в посёлок не завезли топливо по северному завозу, солярки нет",
        "северный завоз сорван, продукты в магазине закончились",
        "баржа с углём для котельной не пришла, северный завоз опять сорвали",
        "топливо для дизельной электростанции не доставили до ледостава",
        "северный завоз: в фактории нет муки и бензина",
        "снова сорван северный завоз топлива, котельная на остатках",
    ])
]


@pytest.fixture(scope="module")
def tiny(corpus: list[Example]) -> Classifier:
    """A model trained on the project's own corpus plus six examples of a region's extra sector (a few seconds;
    one training serves every test of the module)."""
    return train(corpus + NORTH_DELIVERY, FAST)


def test_grouped_split_never_separates_duplicates_or_variants():
    base = [f"Текст номер {i} про яму на дороге" for i in range(300)]
    ex = []
    for i, t in enumerate(base):
        ex.append(Example(t, True, "roads", "road_surface", group=f"g{i}"))
        ex.append(Example("  " + t.upper() + " ", True, "roads", "road_surface"))  # same text up to case/space
        ex.append(Example(t + " (вариант с опечаткой)", True, "roads", "road_surface", group=f"g{i}"))
    train_idx, test_idx = grouped_split(ex, 0.3, seed=1)
    assert train_idx and test_idx and len(train_idx) + len(test_idx) == len(ex)
    gid = group_ids(ex)
    assert {gid[i] for i in train_idx}.isdisjoint({gid[i] for i in test_idx})
    assert {normalise(ex[i].text) for i in train_idx}.isdisjoint({normalise(ex[i].text) for i in test_idx})
    # variants sharing only the corpus group id are kept together too
    test_texts = {ex[i].text for i in test_idx}
    for t in base:
        assert (t in test_texts) == (t + " (вариант с опечаткой)" in test_texts)
    # the split does not depend on the order of the examples
    shuffled = ex[:]
    random.Random(5).shuffle(shuffled)
    _, test2 = grouped_split(shuffled, 0.3, seed=1)
    assert {shuffled[i].text for i in test2} == test_texts


def test_corpus_is_valid_and_holdout_is_separate(corpus):
    holdout = load_corpus(holdout=True)
    assert len(corpus) > 700 and len(holdout) > 100
    assert {normalise(e.text) for e in corpus}.isdisjoint({normalise(e.text) for e in holdout})
    from config.loader import load_taxonomy

    tax = load_taxonomy(Path(__file__).resolve().parents[1] / "config" / "taxonomy.yaml")
    for e in corpus + holdout:
        if e.relevant:
            sector = tax.sector(e.sector)
            assert sector is not None and sector.category(e.category) is not None, e
    covered = {(e.sector, e.category) for e in corpus if e.relevant}
    for s in tax.sectors:
        for c in s.categories:
            assert (s.code, c.code) in covered, f"corpus lacks {s.code}/{c.code}"


def test_bad_training_file_names_file_line_and_field(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "ок", "relevant": false, "sector": null, "category": null}\n'
                 '{"text": "яма", "relevant": true, "sector": "roads"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl, line 2: .*'category'"):
        load_jsonl(p)


def test_tiny_model_predicts_saves_and_loads_identically(tiny, tmp_path):
    texts = ["на улице Мира огромная яма, пробил колесо", "Продам велосипед, почти новый", ""]
    preds = tiny.predict(texts)
    assert len(preds) == 3
    road, ad, empty = preds
    assert road.relevant and road.sector == "roads" and road.category == "road_surface"
    assert not ad.relevant and ad.sector is None and ad.category is None and ad.urgency is None
    for p in preds:
        assert 0.0 <= p.confidence <= 1.0 and 0.0 <= uncertainty(p) <= 1.0
    tiny.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "meta.json").read_text(encoding="utf-8"))
    assert meta["data_fingerprint"] == fingerprint(load_corpus() + NORTH_DELIVERY)
    assert len(meta["checksum"]) == 64 and meta["created_at"].endswith("+00:00")
    again = Classifier.load(tmp_path / "m")
    for a, b in zip(preds, again.predict(texts)):
        assert (a.relevant, a.sector, a.category, a.urgency) == (b.relevant, b.sector, b.category, b.urgency)
        assert a.confidence == pytest.approx(b.confidence, abs=1e-3)


def test_checksum_mismatch_is_refused_with_a_clear_error(tiny, tmp_path):
    d = tiny.save(tmp_path / "m")
    blob = bytearray((d / "model.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (d / "model.npz").write_bytes(bytes(blob))
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        Classifier.load(d)
    with pytest.raises(ModelError, match="это не каталог модели"):
        Classifier.load(tmp_path / "nowhere")


def test_sector_restriction_for_a_region(tiny):
    (p,) = tiny.predict(["не вывозят мусор вторую неделю, баки переполнены"], sectors=["housing", "roads"])
    if p.relevant:
        assert p.sector in {"housing", "roads"}


def test_region_extra_sector_is_learnt_from_corpus_examples(corpus, tiny):
    assert "north_delivery" not in {e.sector for e in corpus}
    assert "north_delivery" in tiny.sectors
    (p,) = tiny.predict(["северный завоз топлива в посёлок опять сорван, солярки нет"])
    assert p.relevant and p.sector == "north_delivery" and p.category == "fuel"


def test_evaluation_writes_json_and_png(tiny, tmp_path):
    holdout = load_corpus(holdout=True)
    report = evaluate(tiny, holdout)
    j, png = write_report(report, tmp_path, "evaluation")
    data = json.loads(j.read_text(encoding="utf-8"))
    sector = data["sector"]
    assert sector["n"] == sum(e.relevant for e in holdout)
    assert set(sector["per_class"]["roads"]) == {"precision", "recall", "f1", "support"}
    assert len(sector["confusion"]) == len(sector["labels"])
    assert sum(map(sum, sector["confusion"])) == sector["n"]
    assert data["relevance"]["labels"] == ["no", "yes"]
    assert 0 <= data["score"] <= 1
    assert 0 <= data["calibration"]["relevance_ece"] <= 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_expected_calibration_error():
    from nlp.classifier.evaluate import expected_calibration_error

    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.9] * 10, [False] * 10) == pytest.approx(0.9)


@pytest.mark.parametrize(
    "text, rule",
    [
        ("в подъезде сильно пахнет газом!!", "gas_smell"),
        ("прорвало трубу отопления, кипяток по лестнице", "burst_pipe"),
        ("третий день нет отопления, на улице -32, дети мёрзнут", "no_heat_or_power_in_frost"),
        ("света нет со вчера, мороз под тридцать", "no_heat_or_power_in_frost"),
        ("оборванный провод лежит у площадки и искрит", "live_wires"),
        ("стая собак покусала ребёнка у школы", "dog_attack"),
        ("соседи застряли в лифте между 7 и 8 этажом, лифтёра нет второй час", "lift_trapped"),
        ("у папы диабет, в аптеке на Заводской нет инсулина уже две недели", "vital_medicine"),
        ("в спальне у детей +12, радиаторы чуть тёплые", "cold_room"),
        ("на химзаводе выброс аммиака, дышать нечем", "chemical_release"),
        ("с крыши пятиэтажки сошла глыба снега прямо на тротуар", "ice_from_roof"),
        ("траншею у школы бросили открытой, школьники прыгают через неё", "open_pit_children"),
        ("+1 в квартире холодно, батареи чуть тёплые", None),
        ("в квартире +22, а батареи всё равно жарят", None),
        ("фонари во дворе не горят неделю", None),
        ("нет отопления в гараже, летом не нужно", None),
        ("просим покрасить лавочки", None),
    ],
)
def test_urgency_rules(text, rule):
    from nlp.classifier.urgency_rules import urgent_rule
    from nlp.text import lemmas

    assert urgent_rule(text, lemmas(text)) == rule


def test_a_danger_rule_makes_a_relevant_post_urgent(tiny):
    (p,) = tiny.predict(["в подъезде сильно пахнет газом, аварийка не едет, УК молчит"])
    assert p.relevant and p.urgency == "high" and p.confidences["urgency"] >= 0.9
