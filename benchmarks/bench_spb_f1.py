"""15-category macro-F1 on the St Petersburg appeals with a grouped split.

Identical texts (up to case and whitespace) are one group and never straddle
train and test, so duplicates cannot leak (the script counts test texts seen
in training and prints 0). Features are the production ones (nlp.text lemmas
-> nlp.classifier.features: lemma uni/bigram TF-IDF + in-word char n-grams +
the navec mean-vector block, names masked, as in TrainOptions; --no-dense for
the sparse blocks alone);
the head is the production linear SVM trained on the 125 fine reasons (each
reason belongs to one category) and read out at the 15-category level.

    python benchmarks/bench_spb_f1.py [--data-dir ../shared/data] [--seeds 0 1 2] [--test-size 0.2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sklearn.metrics import f1_score

from nlp.classifier.data import DEFAULT_DATA_DIR, Example, normalise, read_spb_rows
from nlp.classifier.features import FeatureSpace
from nlp.classifier.heads import LinearHead
from nlp.classifier.split import grouped_split
from nlp.classifier.train import TrainOptions
from nlp.text import lemmas


def run(rows: list[dict], docs: dict[str, list[str]], seed: int, test_size: float, c: float, coarse: bool, dense: bool = True) -> tuple[float, float, int, int, int, dict]:
    examples = [Example(text=r["text"], relevant=True, sector="spb", category=r["category"]) for r in rows]
    train_idx, test_idx = grouped_split(examples, test_size, seed)
    fs = FeatureSpace.fit([docs[rows[i]["text"]] for i in train_idx], max_words=200_000, max_chars=150_000, char_weight=1.0,
                         dense_weight=TrainOptions.dense_weight if dense else 0.0, mask_names=TrainOptions.mask_names)
    x_train = fs.transform([docs[rows[i]["text"]] for i in train_idx])
    x_test = fs.transform([docs[rows[i]["text"]] for i in test_idx])
    label = (lambda r: r["category"]) if coarse else (lambda r: r["category"] + "||" + r["reason"])
    head = LinearHead.fit(x_train, [label(rows[i]) for i in train_idx], c=c, balanced=False)
    pred = [head.labels[j].split("||")[0] for j in head.margins(x_test).argmax(axis=1)]
    gold = [rows[i]["category"] for i in test_idx]
    seen = {normalise(rows[i]["text"]) for i in train_idx}
    leaked = sum(normalise(rows[i]["text"]) in seen for i in test_idx)
    labels = sorted(set(gold))
    per = dict(zip(labels, f1_score(gold, pred, average=None, labels=labels)))
    acc = float(np.mean(np.array(pred) == np.array(gold)))
    return f1_score(gold, pred, average="macro"), acc, len(train_idx), len(test_idx), leaked, per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--test-size", type=float, default=0.2)
    ap.add_argument("--c", type=float, default=0.5)
    ap.add_argument("--coarse", action="store_true", help="train on the 15 categories directly instead of the 125 reasons")
    ap.add_argument("--no-dense", action="store_true", help="sparse TF-IDF blocks only (no navec block)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    rows = [r for r in read_spb_rows(args.data_dir) if r["text"].strip()]
    docs: dict[str, list[str]] = {}
    for r in rows:
        if r["text"] not in docs:
            docs[r["text"]] = lemmas(r["text"])
    scores = []
    for seed in args.seeds:
        macro, acc, n_train, n_test, leaked, per = run(rows, docs, seed, args.test_size, args.c, args.coarse, not args.no_dense)
        scores.append(macro)
        print(f"seed {seed}: train {n_train} rows, test {n_test} rows, test texts also in train: {leaked}; "
              f"15-category macro-F1 {macro:.4f}, accuracy {acc:.4f}")
    print("per-category F1 (last seed):")
    for lab, f in sorted(per.items(), key=lambda t: -t[1]):
        print(f"  {f:.3f}  {lab}")
    print(f"15-category macro-F1: mean {np.mean(scores):.4f}, min {np.min(scores):.4f}, max {np.max(scores):.4f} "
          f"over seeds {args.seeds} ({'15 categories' if args.coarse else 'trained on 125 reasons'})")
    print(f"time: {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
