"""Unseen-region proxy: sector accuracy / macro-F1 on the holdout corpus, and the
share of ordinary VK posts (RuSentiment, the grouped test side never trained on)
judged relevant.

The holdout corpus (classifier_models/corpus/holdout_*.jsonl) is the project's
own writing in another style, naming towns of regions absent from training; it
is never trained on. It is a proxy for real posts from unseen regions.

    python benchmarks/bench_holdout.py [--model classifier_models/versions/<v>] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlp.classifier import Classifier, evaluate, grouped_split, load_corpus, load_rusentiment, load_spb
from nlp.classifier.data import DEFAULT_DATA_DIR
from nlp.classifier.registry import load_active

TEST_SIZE, SEED = 0.2, 0  # the split `cur train` uses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="model bundle directory (default: the active shipped model)")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = ap.parse_args()
    clf = Classifier.load(args.model) if args.model else load_active()
    print(f"model {clf.version}")

    holdout = load_corpus(holdout=True)
    r = evaluate(clf, holdout)
    pos = [e for e in holdout if e.relevant]
    print(f"holdout corpus: {len(holdout)} posts ({len(pos)} problems, {len(holdout) - len(pos)} non-problems)")
    print(f"  sector accuracy (sector head, on problem posts): {r['sector']['accuracy']:.4f}")
    print(f"  sector macro-F1: {r['sector']['macro_f1']:.4f}")
    print(f"  end-to-end (judged relevant AND right sector): {r['end_to_end_sector_accuracy']:.4f}")
    print(f"  category accuracy: {r['category']['accuracy']:.4f}, macro-F1 {r['category']['macro_f1']:.4f}")
    rel = r["relevance"]["per_class"]
    print(f"  relevance: recall of problems {rel['yes']['recall']:.4f}, precision {rel['yes']['precision']:.4f}; "
          f"non-problems judged relevant {r['share_judged_relevant_of_non_problems']:.4f}")
    print(f"  urgency macro-F1: {r['urgency']['macro_f1']:.4f}")

    # RuSentiment: only the side of the grouped split that `cur train` holds out.
    corpus = load_corpus()
    allx = corpus + load_spb(args.data_dir) + load_rusentiment(args.data_dir)
    _, test = grouped_split(allx, TEST_SIZE, SEED)
    rus = [allx[i] for i in test if allx[i].source == "rusentiment"]
    preds = clf.predict([e.text for e in rus])
    share = sum(p.relevant for p in preds) / len(preds)
    print(f"RuSentiment VK posts (held-out side, n={len(rus)}): judged relevant {share:.4f}")


if __name__ == "__main__":
    main()
