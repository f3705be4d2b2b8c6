"""Precision and recall of the possible-fake matcher (`pipeline.fakes.FakeMatcher`) on the project's set.

    python benchmarks/bench_fakes.py                          # default threshold and weight, plus a sweep
    python benchmarks/bench_fakes.py --threshold 0.5 --lemma-weight 0.4

The set (`classifier_models/fakes/`, written by `make_set.py` there): 15 debunked claims; for each,
posts that repeat it in other words (positives), posts on the same topic that do not repeat it,
and posts that spread its refutation (negatives).

A post counts as found when its best claim reaches the threshold *and* is the claim it repeats
(a mark naming the wrong claim is a false positive and a miss). Printed:

* precision, recall, F1 at the given threshold and weight, and the negatives marked by kind;
* a sweep over thresholds × lemma weights (F1);
* tuning as `cur fakes tune` does it, two-fold over the claims: the F1-best threshold picked on
  the marks (score ≥ 0.3) of half the claims' posts, measured on the other half;
* speed: posts per second of `FakeMatcher.match` (claim vectors built once, as in a pass), with the
  15 claims and with the set's posts added as claims (136).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.fakes import DEFAULT_THRESHOLD, LEMMA_WEIGHT, FakeMatcher, best_threshold  # noqa: E402

SET = ROOT / "classifier_models" / "fakes"


def load() -> tuple[list[dict], list[dict]]:
    claims = [json.loads(x) for x in (SET / "claims.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    posts = [json.loads(x) for x in (SET / "posts.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    return claims, posts


def evaluate(best: list, posts: list[dict], threshold: float) -> dict:
    tp = fp = fn = 0
    wrong_kind = {"topic": 0, "refutes": 0}
    for m, p in zip(best, posts):
        hit = m is not None and m.score >= threshold
        if p["claim"] is not None:
            if hit and m.claim_id == p["claim"]:
                tp += 1
            else:
                fn += 1
                if hit:
                    fp += 1
        elif hit:
            fp += 1
            wrong_kind[p["kind"]] += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn, **wrong_kind}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--lemma-weight", type=float, default=LEMMA_WEIGHT)
    args = ap.parse_args()
    claims, posts = load()
    pairs = [(c["id"], c["claim"]) for c in claims]
    texts = [p["text"] for p in posts]
    positives = sum(1 for p in posts if p["claim"] is not None)
    print(f"set: {len(claims)} claims, {len(posts)} posts ({positives} repeat a claim, "
          f"{sum(p['kind'] == 'topic' for p in posts)} same topic, {sum(p['kind'] == 'refutes' for p in posts)} refute)")

    t0 = time.perf_counter()
    matcher = FakeMatcher(pairs, args.threshold, args.lemma_weight)
    built = time.perf_counter() - t0
    matcher.best(texts)  # warm the lemma and vector caches, as a long pass has them
    t0 = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        best = matcher.best(texts)
    speed = rounds * len(texts) / (time.perf_counter() - t0)
    r = evaluate(best, posts, args.threshold)
    print(f"\nthreshold {args.threshold:.2f}, lemma weight {args.lemma_weight:.2f}: precision {r['precision']:.3f}, "
          f"recall {r['recall']:.3f}, F1 {r['f1']:.3f} (tp {r['tp']}, fp {r['fp']}, fn {r['fn']}; "
          f"negatives marked: same topic {r['topic']}, refuting {r['refutes']})")
    print(f"speed: matcher built in {built:.2f} s (navec load included), {speed:.0f} posts/s scored")
    # the registry grows: the set's posts as extra claims (136), the posts scored in batches of 256 as in a pass
    many = FakeMatcher(pairs + [(1000 + i, p["text"]) for i, p in enumerate(posts)], args.threshold, args.lemma_weight, embeddings=matcher.embeddings)
    batch = texts * 8
    t0 = time.perf_counter()
    for i in range(0, len(batch), 256):
        many.match(batch[i:i + 256])
    print(f"speed with {len(many)} claims: {len(batch) / (time.perf_counter() - t0):.0f} posts/s in batches of 256")

    print("\nF1 by threshold (rows) and lemma weight (columns)")
    weights = [0.0, 0.3, 0.5, 0.7, 1.0]
    scored = {w: FakeMatcher(pairs, 0.0, w, embeddings=matcher.embeddings).best(texts) for w in weights}
    print("thr   " + " ".join(f"w={w:<4}" for w in weights))
    for t in [0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70]:
        print(f"{t:.2f}  " + " ".join(f"{evaluate(scored[w], posts, t)['f1']:.3f} " for w in weights))

    print("\ntuning as `cur fakes tune` (two folds over the claims; marks = best score ≥ 0.30)")
    for fold in (0, 1):
        train = [i for i, p in enumerate(posts) if p["topic"] % 2 == fold]
        test = [i for i, p in enumerate(posts) if p["topic"] % 2 != fold]
        decided = [(best[i].score, best[i].claim_id == posts[i]["claim"]) for i in train if best[i] is not None and best[i].score >= 0.30]
        tuned = best_threshold(decided)
        r = evaluate([best[i] for i in test], [posts[i] for i in test], tuned.threshold)
        print(f"fold {fold}: tuned on {len(decided)} marks -> threshold {tuned.threshold:.3f}; "
              f"held-out precision {r['precision']:.3f}, recall {r['recall']:.3f}, F1 {r['f1']:.3f}")


if __name__ == "__main__":
    main()
