"""Throughput of clean + lemmatize + classify on St Petersburg texts: one process, one core.

    python benchmarks/bench_throughput.py [--n 20000] [--batch 512] [--model DIR]

Two passes over different texts: the first starts with empty lemma/feature
caches (cold), the second continues with the caches a long-running process
has (warm). Named-entity extraction is not part of this chain: the pipeline
runs it only on posts judged relevant.

Each pass prints wall-clock posts/s and posts per CPU-second of this process
(``time.process_time``). On a shared machine the wall-clock figure drops when
other jobs take the core; the CPU figure moves much less, so use it to compare
code changes (an idle machine gives about the same for both).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlp.classifier import Classifier
from nlp.classifier.data import DEFAULT_DATA_DIR, read_spb_rows
from nlp.classifier.registry import load_active


def run(clf: Classifier, texts: list[str], batch: int) -> tuple[float, float]:
    """(posts per wall-clock second, posts per CPU-second of this process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for i in range(0, len(texts), batch):
        n += len(clf.predict(texts[i : i + batch]))
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def morph_reader() -> str:
    from pymorphy3.dawg import EXTENSION_AVAILABLE

    return "C (DAWG2)" if EXTENSION_AVAILABLE else "pure Python (install pymorphy3[fast] for the C reader)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--model", type=Path)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = ap.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    clf = Classifier.load(args.model) if args.model else load_active()
    texts = [r["text"] for r in read_spb_rows(args.data_dir)]
    cold, cold_cpu = run(clf, texts[: args.n], args.batch)
    warm, warm_cpu = run(clf, texts[args.n : 2 * args.n], args.batch)
    print(f"model {clf.version}; CPU affinity {sorted(os.sched_getaffinity(0))}; batch {args.batch}")
    print(f"pymorphy3 dictionary reader: {morph_reader()}; load average {os.getloadavg()[0]:.2f}")
    print(f"cold caches: {cold:,.0f} posts/s ({args.n} SPb texts); {cold_cpu:,.0f} posts per CPU-second")
    print(f"warm caches: {warm:,.0f} posts/s (next {args.n} SPb texts); {warm_cpu:,.0f} posts per CPU-second")


if __name__ == "__main__":
    main()
