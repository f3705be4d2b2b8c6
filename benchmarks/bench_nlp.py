"""Throughput of the Russian text pipeline on the St Petersburg appeals.

Prints posts/s of each stage on one core:

    python benchmarks/bench_nlp.py                 # all 59,889 texts, NER on 300
    python benchmarks/bench_nlp.py --limit 5000    # quicker

Stages: clean_text; razdel tokenize vs the fast regex tokenizer (on cleaned
text); lemmas() cold (fresh caches) and warm (second pass); natasha NER per
post (with and without normalisation) on the first --ner-limit texts; the
gazetteer scan. Also reports how often the fast tokenizer's words equal
razdel's word tokens (razdel's trailing punctuation stripped).

The data set has no licence for redistribution: it is read from
/work/shared/data (or --data) and never copied.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path("/work/shared/data/spb_appeals.csv.gz")


def load_texts(path: Path, limit: int | None) -> list[str]:
    csv.field_size_limit(10**8)
    texts: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["text"] or "")
            if limit and len(texts) >= limit:
                break
    return texts


def rate(fn, items) -> tuple[float, float]:
    start = time.perf_counter()
    for item in items:
        fn(item)
    elapsed = time.perf_counter() - start
    return len(items) / elapsed, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="use the first N texts")
    parser.add_argument("--ner-limit", type=int, default=300, help="texts for the NER timing")
    parser.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    args = parser.parse_args(argv)

    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    texts = load_texts(args.data, args.limit)
    chars = sum(map(len, texts))
    print(f"texts: {len(texts)}, mean length {chars / max(1, len(texts)):.0f} chars, "
          f"cores: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")

    from nlp import morph
    from nlp import text as text_mod
    from nlp.clean import clean_text
    from nlp.tokens import is_word, tokenize, words

    t0 = time.perf_counter()
    morph.analyzer()
    morph.stop_words()
    print(f"pymorphy3 load: {time.perf_counter() - t0:.2f} s")

    r, _ = rate(clean_text, texts)
    print(f"clean_text:               {r:10,.0f} posts/s")
    cleaned = [clean_text(t) for t in texts]
    r_razdel, _ = rate(tokenize, cleaned)
    print(f"tokenize (razdel):        {r_razdel:10,.0f} posts/s")
    r_fast, _ = rate(words, cleaned)
    print(f"words (fast regex):       {r_fast:10,.0f} posts/s  (x{r_fast / r_razdel:.1f})")

    strip = re.compile(r"^[\W_]+|[\W_]+$")
    same = 0
    razdel_words = fast_words = 0
    for t in cleaned:
        ref = [strip.sub("", w) for w in tokenize(t) if is_word(w)]
        got = words(t)
        razdel_words += len(ref)
        fast_words += len(got)
        same += ref == got
    print(f"fast == razdel words:     {same / max(1, len(cleaned)):10.2%} of texts "
          f"({fast_words:,} vs {razdel_words:,} words)")

    morph.clear_cache()
    text_mod._features.clear()
    r_cold, _ = rate(text_mod.lemmas, texts)
    print(f"lemmas (cold caches):     {r_cold:10,.0f} posts/s")
    r_warm, _ = rate(text_mod.lemmas, texts)
    print(f"lemmas (warm caches):     {r_warm:10,.0f} posts/s  ({len(text_mod._features):,} cached tokens)")

    ner_texts = cleaned[: args.ner_limit]
    from nlp.ner import extract_entities, load_models

    t0 = time.perf_counter()
    load_models()
    print(f"natasha load:             {time.perf_counter() - t0:.2f} s")
    extract_entities("Прогрев в Новокузнецке")
    r_ner, _ = rate(extract_entities, ner_texts)
    print(f"NER + normalise:          {r_ner:10,.0f} posts/s  ({1000 / r_ner:.2f} ms/post, {len(ner_texts)} texts)")
    r_ner2, _ = rate(lambda t: extract_entities(t, normalize=False), ner_texts)
    print(f"NER only:                 {r_ner2:10,.0f} posts/s  ({1000 / r_ner2:.2f} ms/post)")

    from nlp.places import Gazetteer

    gaz = Gazetteer(
        [
            {"code": "spb", "name": "Санкт-Петербург", "variants": ["Петербург", "СПб", "Питер"]},
            {"code": "kolpino", "name": "Колпино", "variants": []},
            {"code": "pushkin", "name": "Пушкин", "variants": []},
            {"code": "kronshtadt", "name": "Кронштадт", "variants": []},
        ]
    )
    r_gaz, _ = rate(gaz.resolve, cleaned)
    print(f"gazetteer scan:           {r_gaz:10,.0f} posts/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
