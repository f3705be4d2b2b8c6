"""The independent evaluation sets (classifier_models/eval/) and benchmarks/bench_blind.py.

Only labels and sizes of the blind set are checked here; no test looks at its texts'
content beyond "is it unique and not in dev".
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "classifier_models" / "eval"
SECTORS = {"housing", "waste", "roads", "transport", "healthcare", "education", "social", "labour", "energy",
           "ecology", "improvement", "construction", "industry"}


def _bench():
    spec = importlib.util.spec_from_file_location("bench_blind", ROOT / "benchmarks" / "bench_blind.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench():
    return _bench()


@pytest.mark.parametrize(("name", "size", "per_sector"), [("dev", 250, 7), ("blind", 400, 12)])
def test_shipped_sets_have_the_promised_composition(bench, name, size, per_sector):
    rows = bench.load_set(EVAL / f"{name}.jsonl")  # also validates every code against the taxonomy
    assert len(rows) == size
    problems = [r for r in rows if r["relevant"]]
    assert 0.5 <= len(problems) / size <= 0.6
    by_sector = Counter(r["sector"] for r in problems)
    assert set(by_sector) == SECTORS
    assert min(by_sector.values()) >= per_sector
    assert {r["urgency"] for r in problems} == {"high", "normal"}
    assert len({r["region"] for r in rows}) == 6  # the five seed regions and "other"
    lengths = [len(r["text"]) for r in rows]
    assert min(lengths) <= 15 and max(lengths) >= 600
    assert len({r["text"] for r in rows}) == size


def test_second_blind_set_is_from_unseen_regions_and_covers_every_sector(bench):
    rows = bench.load_set(EVAL / "blind2.jsonl")
    assert 450 <= len(rows) <= 560
    problems = [r for r in rows if r["relevant"]]
    by_sector = Counter(r["sector"] for r in problems)
    assert set(by_sector) == SECTORS and min(by_sector.values()) >= 18
    assert {r["region"] for r in rows} == {"other"}  # none of the five profiled regions
    assert {r["urgency"] for r in problems} == {"high", "normal"}
    assert len({r["text"].casefold() for r in rows}) == len(rows)
    earlier = {r["text"].casefold() for name in ("dev", "blind") for r in bench.load_set(EVAL / f"{name}.jsonl")}
    assert not earlier & {r["text"].casefold() for r in rows}


def test_blind_sets_are_not_close_to_training_posts(bench):
    """A blind figure means something only if its posts are not (near) copies of training posts."""
    for name in ("blind", "blind2"):
        texts = [r["text"] for r in bench.load_set(EVAL / f"{name}.jsonl")]
        o = bench.corpus_overlap(texts)
        assert o["identical"] == 0, name
        assert o["near"] <= 0.02 * len(texts), (name, o)


def test_below_scores_only_posts_unlike_every_corpus_post(bench, tmp_path, capsys):
    from nlp.classifier.data import load_corpus

    seen = load_corpus()[0].text  # a training post itself: similarity 1
    rows = [{"text": seen, "relevant": False, "sector": None, "category": None, "urgency": None, "region": "other", "style": "chat"},
            {"text": "Зюзюка мармелад сиреневый космодром", "relevant": False, "sector": None, "category": None, "urgency": None,
             "region": "other", "style": "chat"}]  # fmt: skip
    (tmp_path / "blind2.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = bench.main(["--eval-dir", str(tmp_path), "--sets", "blind2", "--below", "0.4", "--no-overlap"])
    assert out["files"]["blind2"]["counts"]["posts"] == 1
    assert "1 of 2 posts share less than 0.4" in capsys.readouterr().out


def test_dev_and_blind_share_no_text(bench):
    dev = {r["text"].casefold() for r in bench.load_set(EVAL / "dev.jsonl")}
    blind = {r["text"].casefold() for r in bench.load_set(EVAL / "blind.jsonl")}
    assert not dev & blind


@pytest.mark.parametrize(("record", "message"), [
    ({"sector": "housing", "category": "potholes"}, "'category' 'potholes' is not a category of 'housing'"),
    ({"sector": "space"}, "'sector' 'space' is not a taxonomy sector"),
    ({"urgency": "urgent"}, "'urgency' must be high, normal or null"),
    ({"relevant": False}, "a non-problem must have sector, category and urgency null"),
    ({"relevant": "yes"}, "'relevant' must be true or false"),
])
def test_bad_records_are_rejected_naming_file_line_and_field(bench, tmp_path, record, message):
    good = {"text": "опять нет света", "relevant": True, "sector": "energy", "category": "power_outage",
            "urgency": "normal", "region": "other", "style": "short"}
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n" + json.dumps({**good, **record}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    with pytest.raises(bench.EvalDataError) as e:
        bench.load_set(path)
    assert f"{path}:2:" in str(e.value) and message in str(e.value)


def test_missing_field_and_broken_json(bench, tmp_path):
    path = tmp_path / "blind.jsonl"
    path.write_text('{"text": "x", "relevant": false}\n', encoding="utf-8")
    with pytest.raises(bench.EvalDataError, match=r"blind.jsonl:1: field 'sector' is missing"):
        bench.load_set(path)
    path.write_text('{"text": \n', encoding="utf-8")
    with pytest.raises(bench.EvalDataError, match=r"blind.jsonl:1: not valid JSON"):
        bench.load_set(path)


def test_benchmark_scores_the_active_model_without_printing_texts(bench, tmp_path, capsys):
    from nlp.classifier.registry import load_active

    posts = [
        ("В подъезде дома на Советской 12 сильно пахнет газом, аварийка не едет", True, "energy", "gas_supply", "high"),
        ("Мусор не вывозят вторую неделю, баки переполнены, ул. Мира 3", True, "waste", "collection", "normal"),
        ("Ямы на дороге по ул. Кирова такие, что колёса пробиваем", True, "roads", "road_surface", "normal"),
        ("Поздравляем любимую бабушку с юбилеем!", False, None, None, None),
        ("Продаю зимнюю резину, почти новая", False, None, None, None),
    ]
    for name in ("dev", "blind"):
        with (tmp_path / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for text, rel, sec, cat, urg in posts:
                f.write(json.dumps({"text": text, "relevant": rel, "sector": sec, "category": cat, "urgency": urg,
                                    "region": "other", "style": "plain"}, ensure_ascii=False) + "\n")
    out = tmp_path / "figures.json"
    bench.main(["--eval-dir", str(tmp_path), "--json", str(out)])
    printed = capsys.readouterr().out
    assert not any(text in printed for text, *_ in posts)
    assert "non-problems judged relevant" in printed

    figures = json.loads(out.read_text(encoding="utf-8"))
    clf = load_active()
    assert figures["model_version"] == clf.version
    preds = clf.predict([p[0] for p in posts])
    s = figures["files"]["blind"]
    assert s["counts"] == {
        "posts": 5, "problems": 3, "non_problems": 2, "urgent_problems": 1,
        "judged_relevant": sum(p.relevant for p in preds),
        "problems_judged_relevant": sum(p.relevant for p in preds[:3]),
        "non_problems_judged_relevant": sum(p.relevant for p in preds[3:]),
    }
    right = sum(p.relevant and p.sector == gold[2] for p, gold in zip(preds[:3], posts))
    assert s["sector_end_to_end"]["accuracy"] == pytest.approx(right / 3)
    assert s["relevance"]["share_non_problems_judged_relevant"] == pytest.approx(sum(p.relevant for p in preds[3:]) / 2)
