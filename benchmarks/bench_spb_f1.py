"""15-category macro-F1 on the St Petersburg appeals with a grouped split.

Identical texts (up to case and whitespace) are one group and never straddle
train and test, so duplicates cannot leak. Features and heads are the
production ones (nlp.classifier: lemma TF-IDF + char n-grams, linear SVM).

    python benchmarks/bench_spb_f1.py [--data-dir ../shared/data] [--seed 0] [--test-size 0.2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from nlp.classifier.data import DEFAULT_DATA_DIR, Example, read_spb_rows  # noqa: E402
from nlp.classifier.features import FeatureSpace  # noqa: E402
from nlp.classifier.heads import LinearHead  # noqa: E402
from nlp.classifier.split import grouped_split  # noqa: E402
from nlp.text import lemmas  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-size", type=float, default=0.2)
    ap.add_argument("--c", type=float, default=0.5)
    args = ap.parse_args()

    t0 = time.perf_counter()
    rows = [r for r in read_spb_rows(args.data_dir) if r["text"].strip()]
    examples = [Example(text=r["text"], relevant=True, sector="spb", category=r["category"]) for r in rows]
    train_idx, test_idx = grouped_split(examples, args.test_size, args.seed)
    docs = {}
    for e in examples:
        if e.text not in docs:
            docs[e.text] = lemmas(e.text)
    fs = FeatureSpace.fit([docs[examples[i].text] for i in train_idx])
    x_train = fs.transform([docs[examples[i].text] for i in train_idx])
    x_test = fs.transform([docs[examples[i].text] for i in test_idx])
    y_train = [examples[i].category for i in train_idx]
    y_test = [examples[i].category for i in test_idx]
    head = LinearHead.fit(x_train, y_train, c=args.c)
    proba = head.margins(x_test)
    pred = [head.labels[j] for j in proba.argmax(axis=1)]
    macro = f1_score(y_test, pred, average="macro")
    acc = float(np.mean(np.array(pred) == np.array(y_test)))
    train_texts = {" ".join(examples[i].text.lower().split()) for i in train_idx}
    leaked = sum(" ".join(examples[i].text.lower().split()) in train_texts for i in test_idx)
    print(f"SPb appeals: {len(rows)} rows, train {len(train_idx)}, test {len(test_idx)} "
          f"(grouped by identical text; test texts also in train: {leaked})")
    print(f"15-category macro-F1: {macro:.4f}")
    print(f"accuracy: {acc:.4f}")
    per = f1_score(y_test, pred, average=None, labels=head.labels)
    for lab, f in sorted(zip(head.labels, per), key=lambda t: -t[1]):
        print(f"  {f:.3f}  {lab}")
    print(f"time: {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
