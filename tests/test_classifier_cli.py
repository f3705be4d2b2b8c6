"""`cur classify`, `cur models` and `cur train` as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from nlp.classifier import Classifier, TrainOptions, load_corpus, train
from nlp.classifier.data import CORPUS_DIR, load_jsonl
from nlp.classifier.registry import Registry
from tests.conftest import ROOT, run_cur

FAST = TrainOptions(augment=0, max_words=5000, max_chars=5000)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def test_classify_contract_with_the_shipped_model(tmp_path):
    posts = [
        {"id": 17, "text": "Третий день нет горячей воды в доме на School street, УК не отвечает"},
        {"id": "b", "text": "Поздравляем всех с Днём города! Концерт в 19:00 на площади"},
        {"id": 3, "text": ""},
        {"id": 4, "text": "!!!! скорую ждали два часа, отец без сознания, куда смотрит минздрав"},
    ]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = run_cur(["classify", "--input", str(inp), "--output", str(out)], env=_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Классифицировано постов: 4" in r.stdout
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in lines] == [17, "b", 3, 4]
    active = Registry(ROOT / "classifier_models").active_version()
    for x in lines:
        assert {"id", "relevant", "sector", "category", "urgency", "confidence", "model_version"} <= set(x)
        assert x["model_version"] == active
        assert 0.0 <= x["confidence"] <= 1.0
        if not x["relevant"]:
            assert x["sector"] is None and x["category"] is None
    water, greeting, empty, _ = lines
    assert water["relevant"] and water["sector"] == "housing" and water["category"] == "water_supply"
    assert water["urgency"] in ("high", "normal")
    assert not greeting["relevant"] and not empty["relevant"]
    assert greeting["urgency"] is None


def test_classify_reports_the_bad_line(tmp_path):
    """Report, skip, go on (exit 4); --stop-at-first-bad stops at the first bad line and writes nothing."""
    inp = tmp_path / "in.jsonl"
    inp.write_bytes('{"id": 1, "text": "яма на дороге"}\n{"id": 2, "text": \n{"id": 3, "text": ["x"]}\n'
                    '{"id": 4, "text": "нет\\u0000 воды\\ud800"}\n'.encode("utf-8") + "{\"id\": 5, \"text\": \"свет\"}\n".encode("cp1251")
                    + '{"id": 6, "text": "мусор не вывозят"}\n'.encode("utf-8"))
    out = tmp_path / "o.jsonl"
    r = run_cur(["classify", "--input", str(inp), "--output", str(out)], env=_env(), cwd=tmp_path)
    assert r.returncode == 4, r.stderr
    assert "in.jsonl, строка 2: некорректный JSON" in r.stderr and "строка 3, поле «text»" in r.stderr
    assert "строка 5: строка не в кодировке UTF-8" in r.stderr and "Traceback" not in r.stderr
    assert "Классифицировано постов: 3" in r.stdout
    assert [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] == [1, 4, 6]
    out.unlink()
    r = run_cur(["classify", "--stop-at-first-bad", "--input", str(inp), "--output", str(out)], env=_env(), cwd=tmp_path)
    assert r.returncode == 1 and "in.jsonl, строка 2" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() or out.read_text() == ""


@pytest.fixture(scope="module")
def two_models(tmp_path_factory) -> tuple[Path, str, str]:
    """A models dir with a sensible model and one trained on shuffled sectors (on a part of the corpus)."""
    part = tmp_path_factory.mktemp("corpus")
    for name in ("problems.jsonl", "non_problems.jsonl"):
        shutil.copy(CORPUS_DIR / name, part / name)
    corpus = load_corpus(part)
    good = train(corpus, FAST)
    sectors = sorted({e.sector for e in corpus if e.relevant})
    bad_examples = [
        replace(e, sector=sectors[(sectors.index(e.sector) + 1) % len(sectors)]) if e.relevant else e for e in corpus
    ]
    bad = train(bad_examples, FAST)
    good.meta["version"], bad.meta["version"] = "v1-good", "v2-bad"
    root = tmp_path_factory.mktemp("models")
    reg = Registry(root)
    reg.add(good)
    reg.add(bad)
    return root, "v1-good", "v2-bad"


def test_models_activate_refuses_a_worse_model_and_rollback(two_models, tmp_path):
    root, good, bad = two_models
    common = ["--models-dir", str(root), "--data-dir", str(tmp_path / "no-shared-data"), "--no-db"]
    r = run_cur(["models", "activate", good, *common], env=_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (root / "ACTIVE").read_text().strip() == f"versions/{good}"
    r = run_cur(["models", "activate", bad, *common], env=_env(), cwd=tmp_path)
    assert r.returncode == 4
    assert "хуже активной" in r.stderr and bad in r.stderr
    assert Registry(root).active_version() == good
    r = run_cur(["models", "activate", bad, "--force", *common], env=_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert Registry(root).active_version() == bad
    r = run_cur(["models", "list", "--models-dir", str(root)], env=_env(), cwd=tmp_path)
    assert r.returncode == 0
    active_lines = [line for line in r.stdout.splitlines() if line.startswith("* ")]
    assert len(active_lines) == 1 and bad in active_lines[0]
    r = run_cur(["models", "rollback", "--models-dir", str(root)], env=_env(), cwd=tmp_path)
    assert r.returncode == 0 and good in r.stdout
    assert Registry(root).active_version() == good
    assert Classifier.load(root / "versions" / good).version == good
    r = run_cur(["models", "rollback", "--models-dir", str(root)], env=_env(), cwd=tmp_path)
    assert r.returncode != 0 and "нет более ранней активной версии" in r.stderr


@pytest.mark.slow  # trains a model
def test_train_from_corpus_and_reviewed_posts_in_the_database(db_url, tmp_path):
    from storage import Database, PostRecord, upsert_posts
    from storage.models import ModelVersion, ReviewDecision
    from storage.models_registry import list_model_versions, reviewed_examples

    db = Database(db_url)
    now = datetime(2026, 1, 10, 8, 0, tzinfo=timezone.utc)
    texts = ["в деревне Сосновка нет связи и интернета, вышка не работает", "продаю щенков лабрадора, звоните"]
    with db.session() as s:
        res = upsert_posts(s, [PostRecord("vk", "-1", str(i), now, t) for i, t in enumerate(texts)])
        ids = res.post_ids
        s.add(ReviewDecision(post_id=ids[0], reviewer="op", decision="correct", relevant=True, sector="energy", category="other", at=now))
        s.add(ReviewDecision(post_id=ids[1], reviewer="op", decision="not_problem", relevant=False, at=now))
        s.add(ReviewDecision(post_id=ids[1], reviewer="op", decision="merge", relevant=True, at=now))
    with db.session() as s:
        rows = reviewed_examples(s)
    assert [(r["text"], r["relevant"], r["sector"]) for r in rows] == [(texts[0], True, "energy"), (texts[1], False, None)]

    models = tmp_path / "models"
    # a part of the project's corpus (every fourth line of two files; every sector is in it): the loop is what is
    # tested here, on both databases; the whole corpus is trained by the two_models fixture and by `cur train`
    # in benchmarks/bench_real.py
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("problems.jsonl", "non_problems.jsonl"):
        lines = (CORPUS_DIR / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (corpus / name).write_text("".join(lines[::4]), encoding="utf-8")
    assert {e.sector for e in load_corpus(corpus)} == {e.sector for e in load_jsonl(CORPUS_DIR / "problems.jsonl")} | {None}
    r = run_cur(["train", "--models-dir", str(models), "--corpus-dir", str(corpus), "--no-shared", "--full"],
                env=_env(CUR_DATABASE_URL=db_url), cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "проверенные посты из базы: 2" in r.stdout
    reg = Registry(models)
    version = reg.active_version()
    meta = reg.meta(version)
    assert meta["sources"] == {"corpus": len(load_corpus(corpus)), "review": 2}
    assert (models / "versions" / version / "evaluation.json").exists()
    assert (models / "versions" / version / "evaluation.png").exists()
    with db.session() as s:
        rows = list_model_versions(s)
        assert [(x["version"], x["is_active"], x["checksum"]) for x in rows] == [(version, True, meta["checksum"])]
        assert s.get(ModelVersion, 1) is not None
    db.dispose()


def test_evaluate_writes_json_and_png_for_a_labelled_file(tmp_path):
    inp = tmp_path / "labelled.jsonl"
    rows = [
        {"text": "на улице Лесной огромные ямы, асфальта нет", "relevant": True, "sector": "roads", "category": "road_surface"},
        {"text": "в поликлинике нет терапевта уже месяц", "relevant": True, "sector": "healthcare", "category": "staff_shortage"},
        {"text": "Поздравляем с праздником весны!", "relevant": False, "sector": None, "category": None},
    ]
    inp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "ev"
    r = run_cur(["evaluate", "--input", str(inp), "--out", str(out)], env=_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    assert data["n"] == 3 and data["sector"]["n"] == 2
    assert data["model_version"] == Registry(ROOT / "classifier_models").active_version()
    assert (out / "evaluation.png").read_bytes()[:4] == b"\x89PNG"
    assert "macro-F1" in r.stdout


def test_least_sure_analyses_come_first(db_url):
    from storage import Database, PostRecord, upsert_posts
    from storage.models import PostAnalysis, ReviewDecision
    from storage.models_registry import least_sure_analyses

    db = Database(db_url)
    now = datetime(2026, 2, 1, 9, 0, tzinfo=timezone.utc)
    with db.session() as s:
        ids = upsert_posts(s, [PostRecord("vk", "-1", str(i), now, f"пост {i}") for i in range(4)]).post_ids
        for pid, conf, unsure in zip(ids, [0.9, 0.2, 0.5, 0.1], [True, True, True, False]):
            s.add(PostAnalysis(post_id=pid, model_version="v", content_hash="h", relevant=True, relevance_confidence=0.6,
                               sector="roads", category="road_surface", urgency="normal", tone="negative",
                               confidence=conf, unsure=unsure))
        s.add(ReviewDecision(post_id=ids[2], reviewer="op", decision="confirm", relevant=True, sector="roads", category="road_surface", at=now))
    with db.session() as s:
        queue = least_sure_analyses(s)
    assert [q["post_id"] for q in queue] == [ids[1], ids[0]]
    db.dispose()


def test_cli_start_up_does_not_import_the_classifier():
    """`cur --help` stays fast: scikit-learn and the classifier load inside the model commands."""
    import subprocess
    import sys

    code = "import sys, cli.main; print(sorted(m for m in ('sklearn', 'nlp.classifier') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_cli_defaults_match_the_classifier():
    from cli import models as cli_models
    from nlp.classifier import TrainOptions
    from nlp.classifier.data import CORPUS_DIR

    assert cli_models.CORPUS_DIR == CORPUS_DIR
    assert cli_models.DEFAULT_BULK_CAP == TrainOptions.bulk_cap
