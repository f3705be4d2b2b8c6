"""One processing pass: classify new posts, store analyses, make and route incidents.

``process_pending(app, now)`` takes posts with ``processed_at IS NULL`` that
are not deleted, in id order, classifies them in batches with the active
model, and then handles each post in a transaction of its own: store the
``PostAnalysis``, resolve the municipality (NER + gazetteer, relevant posts
only), hand sure relevant posts to ``pipeline.incidents.ingest_analysis``
(grouping → routing → deadlines) and set ``processed_at``. A crash leaves
every post either fully processed or untouched, so a rerun gives the same
database as an uninterrupted pass.

Unsure predictions are stored and wait for an operator (no incident until a
review confirms them). Comments by an authority's official VK accounts are
not classified: they are answers (see ``detect_official_replies``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from config import RegionProfile
from storage import incidents as q
from storage.models import Post, PostAnalysis

from .context import App
from .errors import ModelUnavailable
from .incidents import (
    GroupingOptions,
    check_deadlines,
    detect_official_replies,
    ingest_analysis,
    official_account_ids,
    sync_authorities,
)

__all__ = ["ModelNotFound", "ProcessReport", "Places", "find_active_model", "load_classifier", "process_pending", "run_pass"]

BATCH = 64


class ModelNotFound(ModelUnavailable):
    """No trained classifier to use (Russian message)."""


class PredictionLike(Protocol):
    relevant: bool
    relevance_confidence: float
    sector: str | None
    category: str | None
    urgency: str | None
    tone: str | None
    confidence: float
    unsure: bool
    model_version: str


class ClassifierLike(Protocol):
    def predict(self, texts: Sequence[str], sectors: Any = None) -> Sequence[PredictionLike]: ...


# --------------------------------------------------------------------------- the model


def find_active_model(app: App) -> Path:
    """Folder of the active model in the file registry (``models_dir`` setting, default ``classifier_models/``)."""
    from nlp.classifier.registry import Registry

    registry = Registry(Path(app.settings.models_dir) if app.settings.models_dir else None)
    version = registry.active_version()
    if not version:
        raise ModelNotFound(f"в {registry.root} нет активной модели классификатора: обучите её (`cur train`)")
    path = registry.path(version)
    if not path.exists():
        raise ModelNotFound(f"активная модель {version} не найдена в {path}")
    return path


def load_classifier(app: App) -> ClassifierLike:
    from nlp.classifier import Classifier, ModelError

    try:
        return Classifier.load(find_active_model(app))
    except ModelError as e:
        raise ModelNotFound(f"модель классификатора не загружается: {e}") from None


# --------------------------------------------------------------------------- places


class Places:
    """Municipality of a text: natasha NER + the region's gazetteer (loaded once)."""

    def __init__(self, profile: RegionProfile):
        self.profile = profile

    @cached_property
    def gazetteer(self):  # noqa: ANN201
        from nlp.places import Gazetteer

        return Gazetteer([m.model_dump() for m in self.profile.region.municipalities])

    def resolve(self, text: str) -> tuple[str | None, dict[str, Any]]:
        from nlp.ner import extract_entities

        entities = extract_entities(text)
        match = self.gazetteer.resolve(text, entities=entities)
        data: dict[str, Any] = {
            "entities": [{"kind": e.kind, "text": e.text, "normal": e.normal, "start": e.start, "stop": e.stop} for e in entities],
        }
        if match is not None:
            data["municipality"] = {"code": match.code, "text": match.text, "how": match.how, "score": round(match.score, 3),
                                    "candidates": [c.code for c in match.candidates]}
        return (match.code if match else None), data


# --------------------------------------------------------------------------- the pass


@dataclass
class ProcessReport:
    processed: int = 0
    relevant: int = 0
    unsure: int = 0
    incidents_created: int = 0
    posts_joined: int = 0
    official_comments: int = 0
    #: Official VK replies recorded as first replies in this pass.
    replies: int = 0
    model_version: str = ""
    incident_ids: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"обработано постов: {self.processed}; проблемы: {self.relevant} "
            f"(новых инцидентов {self.incidents_created}, присоединено к существующим {self.posts_joined}); "
            f"на проверку оператору: {self.unsure}; комментарии официальных аккаунтов: {self.official_comments}, "
            f"из них засчитано первичным ответом: {self.replies}"
        )


def _store_analysis(session, post: Post, pred: PredictionLike, municipality: str | None, places: dict[str, Any], now: datetime) -> PostAnalysis:  # noqa: ANN001
    version = str(pred.model_version)
    row = q.analysis_for(session, post.id, version)
    values = dict(
        content_hash=post.content_hash,
        relevant=bool(pred.relevant),
        relevance_confidence=float(pred.relevance_confidence),
        sector=pred.sector,
        category=pred.category,
        urgency=pred.urgency or "normal",
        tone=pred.tone,
        confidence=float(pred.confidence),
        unsure=bool(pred.unsure),
        municipality=municipality,
        entities=places,
        details={"confidences": dict(getattr(pred, "confidences", {}) or {})},
        created_at=now,
    )
    if row is None:
        row = PostAnalysis(post_id=post.id, model_version=version, **values)
        session.add(row)
    else:  # the post was edited: the same model looks again
        for k, v in values.items():
            setattr(row, k, v)
    session.flush()
    return row


def process_pending(
    app: App,
    now: datetime,
    limit: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    classifier: ClassifierLike | None = None,
    grouping: GroupingOptions | None = None,
    batch_size: int = BATCH,
) -> ProcessReport:
    """Process up to ``limit`` pending posts (see the module docstring)."""
    db = app.ready_db()
    profile = app.region
    clf = classifier or load_classifier(app)
    places = Places(profile)
    officials = official_account_ids(profile)
    sectors = [s.code for s in profile.sectors]
    report = ProcessReport()
    with db.session() as s:
        sync_authorities(s, profile)
    last_id = 0
    while limit is None or report.processed < limit:
        size = batch_size if limit is None else min(batch_size, limit - report.processed)
        with db.session() as s:
            batch = [(p.id, p.text or "", p.content_hash) for p in q.pending_posts(s, size, after_id=last_id)]
        if not batch:
            break
        last_id = batch[-1][0]
        preds = clf.predict([t for _, t, _ in batch], sectors=sectors)
        for (post_id, text, digest), pred in zip(batch, preds):
            with db.session() as s:
                post = s.get(Post, post_id)
                if post is None or post.processed_at is not None or post.is_deleted or post.content_hash != digest:
                    continue  # changed by someone else meanwhile; the next pass sees it
                if post.parent_external_id and post.author_id and str(post.author_id) in officials:
                    post.processed_at = now
                    report.official_comments += 1
                    report.processed += 1
                    if on_progress:
                        on_progress(1)
                    continue
                municipality, found = (None, {})
                if pred.relevant or pred.unsure:  # an operator may confirm an unsure one: give it its place
                    municipality, found = places.resolve(text)
                analysis = _store_analysis(s, post, pred, municipality, found, now)
                report.model_version = analysis.model_version
                if analysis.relevant:
                    report.relevant += 1
                if analysis.unsure:
                    report.unsure += 1
                before = q.incident_of_post(s, post.id)
                incident = None
                if before is None:
                    incident = ingest_analysis(s, profile, post, analysis, now, grouping or GroupingOptions(), known_unplaced=True)
                if incident is not None:
                    if len(q.post_ids_of(s, incident.id)) == 1:
                        report.incidents_created += 1
                    else:
                        report.posts_joined += 1
                    report.incident_ids.append(incident.id)
                post.processed_at = now
                report.processed += 1
                if on_progress:
                    on_progress(1)  # inside the transaction: a failure here undoes this post
    with db.session() as s:  # comments just collected may be the authorities' answers
        report.replies = len(detect_official_replies(s, profile, now))
    return report


@dataclass
class PassReport:
    posts: ProcessReport
    actions: list[Any]


def run_pass(app: App, now: datetime, limit: int | None = None, on_progress: Callable[[int], None] | None = None,
             classifier: ClassifierLike | None = None) -> PassReport:
    """``cur process``: new posts and official replies, then the deadline check."""
    posts = process_pending(app, now, limit=limit, on_progress=on_progress, classifier=classifier)
    with app.ready_db().session() as s:
        actions = check_deadlines(s, app.region, now)
    return PassReport(posts, actions)
