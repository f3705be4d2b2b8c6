"""Evaluation: per-class precision, recall, F1 and confusion matrices; JSON and PNG output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .data import Example
from .model import Classifier, Prediction


def classification_report(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None) -> dict:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = sorted(set(gold) | set(pred)) if labels is None else list(labels)
    if not gold:
        return {"n": 0, "labels": labels}
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    present = [i for i, lab in enumerate(labels) if s[i] > 0]
    return {
        "n": len(gold),
        "accuracy": float(np.mean(np.array(gold) == np.array(pred))),
        "macro_f1": float(np.mean(f[present])) if present else 0.0,
        "labels": labels,
        "per_class": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "confusion": confusion_matrix(gold, pred, labels=labels).tolist(),
    }


def evaluate(classifier: Classifier, examples: Sequence[Example], predictions: Sequence[Prediction] | None = None) -> dict:
    """Metrics of every head on the examples (heads are scored where gold labels exist)."""
    preds = list(predictions) if predictions is not None else classifier.predict([e.text for e in examples])
    rel_gold = ["yes" if e.relevant else "no" for e in examples]
    rel_pred = ["yes" if p.relevant else "no" for p in preds]
    # problems whose sector is known (real appeals of an ambiguous portal category carry none)
    pos = [(e, p) for e, p in zip(examples, preds) if e.relevant and e.sector]
    # sector/category/urgency are scored on gold-relevant posts using the model's
    # sector answer even when it judged the post not relevant (so the heads are
    # measured separately); the end-to-end figure counts a missed post as wrong.
    topics = classifier.topics([e.text for e, _ in pos])
    sec_gold = [e.sector for e, _ in pos]
    sec_pred = [s for s, _ in topics]
    cats = [(e, t) for (e, _), t in zip(pos, topics) if e.category]
    cat_gold = [f"{e.sector}/{e.category}" for e, _ in cats]
    cat_pred = [f"{s}/{c}" for _, (s, c) in cats]
    e2e = [p.relevant and p.sector == e.sector for e, p in pos]
    urg = [(e.urgency, p.urgency or "normal") for e, p in pos if e.urgency]
    tone = [(e.tone, p.tone) for e, p in zip(examples, preds) if e.tone]
    neg = [p for e, p in zip(examples, preds) if not e.relevant]
    report = {
        "model_version": classifier.version,
        "n": len(examples),
        "relevance": classification_report(rel_gold, rel_pred, ["no", "yes"]),
        "share_judged_relevant_of_non_problems": (sum(p.relevant for p in neg) / len(neg)) if neg else None,
        "sector": classification_report(sec_gold, sec_pred),  # type: ignore[arg-type]  # problem examples all have a sector
        "category": classification_report(cat_gold, cat_pred),
        "end_to_end_sector_accuracy": (float(np.mean(e2e)) if e2e else None),
        "urgency": classification_report([g for g, _ in urg], [p for _, p in urg], ["high", "normal"]),
        "tone": classification_report([g for g, _ in tone], [p for _, p in tone]),  # type: ignore[misc]  # only examples with a tone
        "unsure_share": (sum(p.unsure for p in preds) / len(preds)) if preds else None,
        "calibration": {
            "relevance_ece": expected_calibration_error(
                [p.relevance_confidence for p in preds], [e.relevant for e in examples]
            ),
        },
    }
    report["score"] = score(report)
    return report


def expected_calibration_error(probs: Sequence[float], outcomes: Sequence[bool], bins: int = 10) -> float | None:
    """ECE: |mean predicted probability - observed frequency| averaged over equal-width bins."""
    if not probs:
        return None
    p = np.asarray(probs, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(ece)


def score(report: dict) -> float:
    """One number to compare versions on the same evaluation set (higher is better)."""
    parts = [report["relevance"].get("macro_f1"), report["sector"].get("macro_f1"), report["category"].get("macro_f1")]
    parts = [p for p in parts if p is not None]
    return float(np.mean(parts)) if parts else 0.0


def write_report(report: dict, out_dir: Path, stem: str = "evaluation") -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.png`` (confusion matrices) into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jpath = out_dir / f"{stem}.json"
    jpath.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    panels = [(k, report[k]) for k in ("relevance", "sector", "urgency") if report[k].get("n")]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(6 * max(len(panels), 1), 6), squeeze=False)
    for ax, (name, rep) in zip(axes[0], panels):
        cm = np.array(rep["confusion"], dtype=float)
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        labels = rep["labels"]
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        for i in range(len(labels)):
            for j in range(len(labels)):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if norm[i, j] > 0.5 else "black")
        ax.set_title(f"{name}: macro-F1 {rep.get('macro_f1', 0):.3f}")
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
    fig.suptitle(f"model {report.get('model_version')}, n={report.get('n')}")
    fig.tight_layout()
    ppath = out_dir / f"{stem}.png"
    fig.savefig(ppath, dpi=110)
    plt.close(fig)
    return jpath, ppath
