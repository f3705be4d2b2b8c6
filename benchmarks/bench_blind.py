"""Independent evaluation: the shipped classifier on hand-written regional posts it never saw.

The sets in classifier_models/eval/ were written by an engineer other than the
classifier's author, without reading the training corpus: realistic VK/Telegram
posts from towns of many regions (comments, very short posts, rants, sarcasm,
typos, slang, dialect, emoji) and hard non-problems (planned outages, repair
news, thanks, ads, pets, events, weather, opinions, crime news, figurative
"problem" words). `dev.jsonl` may be read for error analysis; `blind.jsonl` and
`blind2.jsonl` are never trained on, tuned on or read by anyone: this script
prints figures only, never their texts, and for them only headline figures
(per-sector and per-style breakdowns are given for dev alone, so a blind set
offers nothing to tune against). `blind2.jsonl` was written later by another
writer, all from regions outside the five profiles, after `blind.jsonl` had been
used to steer tuning; it is the clean measurement.

For each set it also counts posts whose lemma set is close (Jaccard >= 0.6) to
a training-corpus post: a blind figure is only worth something if that count
is ~0.

    python benchmarks/bench_blind.py [--model classifier_models/versions/<v>] [--json OUT] [--sets dev,blind2] [--below 0.4]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.metrics import f1_score, precision_recall_fscore_support  # noqa: E402

from config.loader import load_taxonomy  # noqa: E402
from nlp.classifier import Classifier  # noqa: E402
from nlp.classifier.model import Prediction  # noqa: E402
from nlp.classifier.registry import load_active  # noqa: E402

EVAL_DIR = ROOT / "classifier_models" / "eval"
FILES = ("dev", "blind", "blind2")
DETAILED = {"dev"}  # the only set whose breakdowns may be printed
NEAR = 0.6  # lemma-set Jaccard above which an eval post counts as close to a training post
MISSED = "<not relevant>"  # the "sector" of a true problem the model judged not relevant
URGENCY = {"high", "normal", None}


class EvalDataError(ValueError):
    pass


def load_set(path: Path, taxonomy_path: Path = ROOT / "config" / "taxonomy.yaml") -> list[dict]:
    """Read and validate an evaluation JSONL file; errors name the file, line and field."""
    taxonomy = load_taxonomy(taxonomy_path)
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise EvalDataError(f"{where}: not valid JSON ({e.msg})") from None
            for key in ("text", "relevant", "sector", "category", "urgency", "region", "style"):
                if key not in r:
                    raise EvalDataError(f"{where}: field {key!r} is missing")
            if not isinstance(r["text"], str) or not r["text"].strip():
                raise EvalDataError(f"{where}: field 'text' must be a non-empty string")
            if not isinstance(r["relevant"], bool):
                raise EvalDataError(f"{where}: field 'relevant' must be true or false")
            if r["urgency"] not in URGENCY:
                raise EvalDataError(f"{where}: field 'urgency' must be high, normal or null")
            if r["relevant"]:
                sector = taxonomy.sector(r["sector"]) if isinstance(r["sector"], str) else None
                if sector is None:
                    raise EvalDataError(f"{where}: field 'sector' {r['sector']!r} is not a taxonomy sector")
                if sector.category(r["category"]) is None:
                    raise EvalDataError(f"{where}: field 'category' {r['category']!r} is not a category of {sector.code!r}")
                if r["urgency"] is None:
                    raise EvalDataError(f"{where}: field 'urgency' must be high or normal on a problem")
            elif r["sector"] is not None or r["category"] is not None or r["urgency"] is not None:
                raise EvalDataError(f"{where}: a non-problem must have sector, category and urgency null")
            rows.append(r)
    return rows


def _prf(gold: Sequence[bool], pred: Sequence[bool]) -> dict:
    p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=[True], zero_division=0)
    return {"precision": float(p[0]), "recall": float(r[0]), "f1": float(f[0])}


def _sector_scores(gold: Sequence[str], pred: Sequence[str]) -> dict:
    if not gold:
        return {"n": 0, "accuracy": None, "macro_f1": None}
    labels = sorted(set(gold))  # macro over true sectors; MISSED only ever costs recall
    return {
        "n": len(gold),
        "accuracy": sum(g == p for g, p in zip(gold, pred)) / len(gold),
        "macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
    }


def score(rows: Sequence[dict], preds: Sequence[Prediction], topics: Sequence[tuple[str, str]]) -> dict:
    """All figures of one file. ``topics``: (sector, category) of the heads alone, for true problems."""
    gold_rel = [r["relevant"] for r in rows]
    pred_rel = [p.relevant for p in preds]
    neg = [p for r, p in zip(rows, preds) if not r["relevant"]]
    pos = [(r, p) for r, p in zip(rows, preds) if r["relevant"]]

    sec_gold = [r["sector"] for r, _ in pos]
    sec_e2e = [p.sector if p.relevant else MISSED for _, p in pos]
    judged = [(r, p) for r, p in pos if p.relevant]
    cat_e2e = [p.relevant and p.sector == r["sector"] and p.category == r["category"] for r, p in pos]
    right_sector = [(r, p) for r, p in judged if p.sector == r["sector"]]

    gold_high = [r["urgency"] == "high" for r in rows]
    pred_high = [p.urgency == "high" for p in preds]

    per_sector = {}
    for s in sorted(set(sec_gold)):
        idx = [i for i, g in enumerate(sec_gold) if g == s]
        per_sector[s] = {
            "n": len(idx),
            "judged_relevant": sum(pos[i][1].relevant for i in idx),
            "right_sector_end_to_end": sum(sec_e2e[i] == s for i in idx),
        }
    per_style = {}
    for st in sorted({r["style"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["style"] == st]
        per_style[st] = {
            "n": len(idx),
            "problems": sum(gold_rel[i] for i in idx),
            "relevance_correct": sum(gold_rel[i] == pred_rel[i] for i in idx),
        }
    return {
        "counts": {
            "posts": len(rows),
            "problems": len(pos),
            "non_problems": len(neg),
            "urgent_problems": sum(gold_high),
            "judged_relevant": sum(pred_rel),
            "problems_judged_relevant": len(judged),
            "non_problems_judged_relevant": sum(p.relevant for p in neg),
        },
        "relevance": {
            **_prf(gold_rel, pred_rel),
            "accuracy": sum(g == p for g, p in zip(gold_rel, pred_rel)) / len(rows),
            "share_non_problems_judged_relevant": (sum(p.relevant for p in neg) / len(neg)) if neg else None,
        },
        # on every true problem; "judged not relevant" counts as a wrong sector
        "sector_end_to_end": _sector_scores(sec_gold, sec_e2e),
        # on true problems the model judged relevant
        "sector_on_judged_relevant": _sector_scores([r["sector"] for r, _ in judged], [p.sector for _, p in judged]),
        # the sector head alone, whatever the relevance head said
        "sector_head_alone": _sector_scores(sec_gold, [s for s, _ in topics]),
        "category": {
            "end_to_end_accuracy": (sum(cat_e2e) / len(pos)) if pos else None,
            "accuracy_given_right_sector": (
                sum(p.category == r["category"] for r, p in right_sector) / len(right_sector) if right_sector else None
            ),
            "head_alone_accuracy": (
                sum(t == (r["sector"], r["category"]) for (r, _), t in zip(pos, topics)) / len(pos) if pos else None
            ),
        },
        "urgency_high": {
            **{k: v for k, v in _prf(gold_high, pred_high).items()},
            "gold_high": sum(gold_high),
            "predicted_high": sum(pred_high),
        },
        "per_sector": per_sector,
        "per_style": per_style,
    }


def corpus_similarity(texts: Sequence[str], corpus_dir: Path | None = None) -> list[tuple[bool, float]]:
    """For each text: (identical to a training-corpus post?, highest lemma-set Jaccard with one)."""
    from nlp.classifier.data import CORPUS_DIR, load_corpus
    from nlp.text import lemmas

    def bag(t: str) -> frozenset[str]:
        return frozenset(w for w in lemmas(t) if len(w) > 2)

    examples = load_corpus(corpus_dir or CORPUS_DIR)
    corpus = [bag(e.text) for e in examples]
    exact = {e.text.casefold().strip() for e in examples}
    index: dict[str, list[int]] = {}
    for i, b in enumerate(corpus):
        for w in b:
            index.setdefault(w, []).append(i)
    out = []
    for t in texts:
        b = bag(t)
        shared: dict[int, int] = {}
        for w in b:
            for i in index.get(w, ()):
                shared[i] = shared.get(i, 0) + 1
        best = max((k / (len(b) + len(corpus[i]) - k) for i, k in shared.items()), default=0.0)
        out.append((t.casefold().strip() in exact, best))
    return out


def corpus_overlap(texts: Sequence[str], corpus_dir: Path | None = None) -> dict:
    """How many ``texts`` equal or nearly equal (lemma Jaccard >= NEAR) a training-corpus post."""
    sims = corpus_similarity(texts, corpus_dir)
    return {"identical": sum(same for same, _ in sims), "near": sum(best >= NEAR for _, best in sims), "threshold": NEAR}


def _f(x: float | None) -> str:
    return "  n/a " if x is None else f"{x:.3f}"


def report(name: str, s: dict, detail: bool) -> None:
    c, rel = s["counts"], s["relevance"]
    print(f"\n== {name}: {c['posts']} posts ({c['problems']} problems, {c['non_problems']} non-problems, "
          f"{c['urgent_problems']} urgent)")
    print(f"  relevance: precision {_f(rel['precision'])}  recall {_f(rel['recall'])}  F1 {_f(rel['f1'])}  "
          f"accuracy {_f(rel['accuracy'])}")
    print(f"  non-problems judged relevant: {_f(rel['share_non_problems_judged_relevant'])} "
          f"({c['non_problems_judged_relevant']}/{c['non_problems']})")
    e, j, h = s["sector_end_to_end"], s["sector_on_judged_relevant"], s["sector_head_alone"]
    print(f"  sector, all true problems (missed = wrong): accuracy {_f(e['accuracy'])}  macro-F1 {_f(e['macro_f1'])}  n={e['n']}")
    print(f"  sector, problems judged relevant:           accuracy {_f(j['accuracy'])}  macro-F1 {_f(j['macro_f1'])}  n={j['n']}")
    print(f"  sector head alone (ignoring relevance):     accuracy {_f(h['accuracy'])}  macro-F1 {_f(h['macro_f1'])}")
    cat = s["category"]
    print(f"  category: end-to-end accuracy {_f(cat['end_to_end_accuracy'])}; given right sector "
          f"{_f(cat['accuracy_given_right_sector'])}; heads alone {_f(cat['head_alone_accuracy'])}")
    u = s["urgency_high"]
    print(f"  urgency high: recall {_f(u['recall'])}  precision {_f(u['precision'])}  "
          f"(gold {u['gold_high']}, predicted {u['predicted_high']})")
    if "corpus_overlap" in s:
        o = s["corpus_overlap"]
        print(f"  close to a training-corpus post: {o['identical']} identical, {o['near']} with lemma Jaccard >= {o['threshold']}")
    if not detail:  # blind: headline figures only, no breakdown to tune against
        return
    print("  per sector (n / judged relevant / right sector end-to-end): " + ", ".join(
        f"{k} {v['n']}/{v['judged_relevant']}/{v['right_sector_end_to_end']}" for k, v in s["per_sector"].items()))
    print("  relevance correct per style (right/n): " + ", ".join(
        f"{k} {v['relevance_correct']}/{v['n']}" for k, v in s["per_style"].items()))


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="model bundle directory (default: the active shipped model)")
    ap.add_argument("--eval-dir", type=Path, default=EVAL_DIR, help="directory with dev.jsonl, blind.jsonl, blind2.jsonl")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the figures to this JSON file")
    ap.add_argument("--sets", default=",".join(FILES), help="comma-separated sets to score (missing files are skipped)")
    ap.add_argument("--no-overlap", action="store_true", help="skip the training-corpus overlap count")
    ap.add_argument("--below", type=float, metavar="J",
                    help="score only the posts whose lemma Jaccard with every training-corpus post is below J")  # fmt: skip
    args = ap.parse_args(argv)
    clf: Classifier = Classifier.load(args.model) if args.model else load_active()
    print(f"model {clf.version}")
    out: dict = {"model_version": clf.version, "files": {}}
    for name in [n.strip() for n in args.sets.split(",") if n.strip()]:
        if name not in FILES:
            ap.error(f"unknown set {name!r}: choose from {', '.join(FILES)}")
        path = args.eval_dir / f"{name}.jsonl"
        if not path.exists():
            print(f"\n== {name}: {path} not found, skipped")
            continue
        rows = load_set(path)
        if args.below is not None:
            kept = [r for r, (_, best) in zip(rows, corpus_similarity([r["text"] for r in rows])) if best < args.below]
            print(f"\n{name}: {len(kept)} of {len(rows)} posts share less than {args.below} (lemma Jaccard) with every corpus post")
            rows = kept
        texts = [r["text"] for r in rows]
        preds = clf.predict(texts)
        topics = clf.topics([r["text"] for r in rows if r["relevant"]])
        s = score(rows, preds, topics)
        if not args.no_overlap:
            s["corpus_overlap"] = corpus_overlap(texts)
        detail = name in DETAILED
        if not detail:
            del s["per_sector"], s["per_style"]
        out["files"][name] = s
        report(name, s, detail)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"\nfigures written to {args.json}")
    return out


if __name__ == "__main__":
    main()
