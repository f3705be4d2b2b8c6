"""The per-post processing chain, kept as the reference for the batched one.

``process_pending_per_post`` is the processing pass as it was before
``pipeline.process.process_pending`` learned to work in batches: every post in
a transaction of its own, natasha NER on every relevant or unsure post, the
grouping candidates read from the database for every post
(``pipeline.incidents.ingest_analysis``). It gives the same incidents,
deadlines and events as the batched pass and is about two orders of magnitude
slower; the equivalence tests (``tests/test_process_batched.py``) and
``benchmarks/bench_process.py --mode reference`` use it. Not for production.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from storage import incidents as q
from storage.models import Post, PostAnalysis

from .context import App
from .incidents import GroupingOptions, detect_official_replies, ingest_analysis, official_account_ids, sync_authorities
from .process import ClassifierLike, Places, PredictionLike, ProcessReport, SourceDefaults, load_classifier, locate

__all__ = ["process_pending_per_post"]

BATCH = 64


def _store_analysis(session, post: Post, pred: PredictionLike, municipality: str | None, places: dict[str, Any], now: datetime,
                    streets: list[str] | None = None) -> PostAnalysis:
    version = str(pred.model_version)
    details: dict[str, Any] = {"confidences": dict(getattr(pred, "confidences", {}) or {})}
    if streets:
        details["addresses"] = list(streets)
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
        address=streets[0] if streets else None,
        entities=places,
        details=details,
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


def process_pending_per_post(
    app: App,
    now: datetime,
    limit: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    classifier: ClassifierLike | None = None,
    grouping: GroupingOptions | None = None,
    batch_size: int = BATCH,
) -> ProcessReport:
    """The per-post chain: each post in its own transaction, NER on every relevant post, grouping by queries."""
    db = app.ready_db()
    profile = app.region
    clf = classifier or load_classifier(app)
    places = Places(profile)
    officials = official_account_ids(profile)
    sectors = [s.code for s in profile.sectors]
    report = ProcessReport()
    with db.session() as s:
        sync_authorities(s, profile)
        defaults = SourceDefaults.load(s)
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
                municipality: str | None = None
                found: dict[str, Any] = {}
                streets: list[str] = []
                if pred.relevant or pred.unsure:  # an operator may confirm an unsure one: give it its place
                    municipality, found = places.resolve(text)
                    municipality, found, streets = locate(post, municipality, found, defaults, text)
                analysis = _store_analysis(s, post, pred, municipality, found, now, streets)
                report.model_version = analysis.model_version
                if analysis.relevant:
                    report.relevant += 1
                if analysis.unsure:
                    report.unsure += 1
                before = q.incident_of_post(s, post.id)
                incident = None
                if before is None:
                    incident = ingest_analysis(s, profile, post, analysis, now, grouping or GroupingOptions())
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
