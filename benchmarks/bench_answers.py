"""Answer-quality classifier: precision and recall on the hand-written evaluation set.

    python benchmarks/bench_answers.py [--json OUT] [--retrain]

Reads ``classifier_models/answers/eval.jsonl`` (written by hand, in wording of its own, never
trained on) and scores the shipped model ``classifier_models/answers/model.json`` (or, with
``--retrain``, a model trained now on ``classifier_models/answers/train.jsonl``). Prints
per-class precision/recall/F1, the confusion matrix, the share of unsure readings, and the
figures of the decision the pipeline takes: an answer is *held back* (does not close its
stage) when it is read formulaic, refusal or rude with confidence ≥ ``REVIEW_BELOW``.
Also prints the same figures on the training set (a sanity check, optimistic by construction).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlp import answers as A


def show(name: str, s: dict) -> None:
    print(f"\n{name}: {s['n']} ответов, accuracy {s['accuracy']:.3f}, неуверенных {s['unsure_share']:.1%}")
    print(f"  {'класс':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'n':>4}")
    for lab, m in s["per_class"].items():
        print(f"  {lab:<12} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} {m['support']:4d}")
    h = s["held_back"]
    print(f"  удержано (не закрывает этап): precision {h['precision']:.3f}, recall {h['recall']:.3f}, "
          f"ответов по существу удержано ошибочно: {h['substantive_held_back']}")
    print("  матрица ошибок (строка — разметка, столбец — чтение):")
    for g, row in s["confusion"].items():
        print(f"    {g:<12} " + " ".join(f"{lab[:5]}={row.get(lab, 0)}" for lab in A.QUALITIES))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--retrain", action="store_true")
    args = ap.parse_args()
    t = time.perf_counter()
    train_rows = A.load_rows(A.TRAIN_PATH)
    model = A.train(train_rows) if args.retrain else A.shipped_model()
    ev = A.load_rows(A.EVAL_PATH)
    res = {"eval": A.scores(model, ev), "train": A.scores(model, train_rows)}
    show("оценочный набор (eval.jsonl)", res["eval"])
    show("обучающий набор (train.jsonl, для проверки)", res["train"])
    t_read = time.perf_counter()
    for r in ev:
        model.read(r["text"])
    per = (time.perf_counter() - t_read) / max(len(ev), 1) * 1000
    print(f"\nчтение одного ответа: {per:.2f} мс; всего {time.perf_counter() - t:.1f} с")
    if args.json:
        Path(args.json).write_text(json.dumps(res, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
