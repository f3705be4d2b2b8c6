"""Post classifier: relevance, sector, category, urgency and tone with calibrated confidences.

Plain data in and out; knows nothing of storage or web.

    from nlp.classifier import Classifier, uncertainty
    clf = Classifier.load(path)
    for p in clf.predict(["во дворе третий день нет света"]):
        print(p.relevant, p.sector, p.category, p.confidence, p.unsure)
"""

from .data import DataError, Example, fingerprint, load_corpus, load_jsonl, load_rusentiment, load_spb
from .evaluate import evaluate, write_report
from .model import ChecksumError, Classifier, ModelError, Prediction, Thresholds, uncertainty
from .split import group_ids, grouped_split
from .train import TrainOptions, train

__all__ = [
    "ChecksumError",
    "Classifier",
    "DataError",
    "Example",
    "ModelError",
    "Prediction",
    "Thresholds",
    "TrainOptions",
    "evaluate",
    "fingerprint",
    "group_ids",
    "grouped_split",
    "load_corpus",
    "load_jsonl",
    "load_rusentiment",
    "load_spb",
    "train",
    "uncertainty",
    "write_report",
]
