"""One processing pass: classify new posts, store analyses, make and route incidents.

``process_pending(app, now)`` takes posts with ``processed_at IS NULL`` that
are not deleted, in id order, in batches (``BATCH``). For each batch:

1. outside any transaction: classify the texts with the active model, and
   find the municipality of the relevant and unsure posts — the region's
   gazetteer first; natasha NER (batched) only where the gazetteer finds
   nothing but a word could still be a place, or finds a name that could be a
   person's, or several municipalities (``Places.resolve_batch``);
2. in **one transaction**: store the analyses (one multi-row insert), hand
   sure relevant posts to the grouping index (``pipeline.incidents.index``:
   the open incidents of the region kept in memory for the pass, refreshed
   from the database at every batch) which joins them to an incident or makes
   and routes a new one, and set ``processed_at``.

A crash leaves every batch either fully processed or untouched, so a rerun
gives the same database as an uninterrupted pass. The result — incidents,
deadlines, events — is the same as the per-post chain's
(``pipeline.process_reference``, tested in ``tests/test_process_batched.py``).

Unsure predictions are stored and wait for an operator (no incident until a
review confirms them). Comments by an authority's official VK accounts are
not classified: they are answers (see ``detect_official_replies``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from config import RegionProfile
from nlp.addresses import street_addresses
from storage import analyses as qa
from storage import fakes as fq
from storage import incidents as q
from storage.models import Post, PostAnalysis
from storage.regions import RegionFilter, assign_post_regions
from storage.sources import source_municipalities

from . import official
from .context import App
from .errors import ModelUnavailable
from .fakes import FakeMatcher, Match, mark_rows, matcher_for_pass
from .incidents import (
    GroupingOptions,
    check_deadlines,
    detect_official_replies,
    official_account_ids,
    sync_authorities,
)
from .incidents.index import GroupingIndex
from .processing_lease import ProcessingBusy, ProcessingLease

__all__ = ["ModelNotFound", "ProcessingBusy", "ProcessReport", "Places", "SourceDefaults", "find_active_model",
           "load_classifier", "locate", "process_pending", "run_pass"]

#: Posts per batch: one classifier call, one NER call, one transaction.
BATCH = 256


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
    def predict(self, texts: Sequence[str], sectors: Any = None, *, assume_relevant: Any = None) -> Sequence[PredictionLike]: ...


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


#: the classifier last loaded in this process, under the identity of its files (see ``_files_key``)
_loaded: tuple[tuple[Any, ...], ClassifierLike] | None = None
_loaded_lock = threading.Lock()


def _files_key(path: Path) -> tuple[Any, ...]:
    """The model folder and, for each of its files, what any change to it changes (inode, size, mtime, ctime)."""
    from nlp.classifier.model import META_FILE, MODEL_FILE

    out: list[Any] = [str(path.resolve())]
    for name in (META_FILE, MODEL_FILE):
        try:
            st = (path / name).stat()
        except FileNotFoundError:
            return ()  # not loadable: Classifier.load says why
        out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


def load_classifier(app: App) -> ClassifierLike:
    """The active classifier. Loaded (and its checksum verified) once per process while the active model and its
    files stay the same: activating or rolling back another version, or any write to the files, loads it again."""
    global _loaded
    from nlp.classifier import Classifier, ModelError

    path = find_active_model(app)
    key = _files_key(path)
    with _loaded_lock:
        if key and _loaded is not None and _loaded[0] == key:
            return _loaded[1]
        try:
            clf = Classifier.load(path)
        except ModelError as e:
            raise ModelNotFound(f"модель классификатора не загружается: {e}") from None
        if key:
            _loaded = (key, clf)
        return clf


# --------------------------------------------------------------------------- places


class Places:
    """Municipality of a text: the region's gazetteer, with natasha NER where it is needed (loaded once)."""

    def __init__(self, profile: RegionProfile):
        self.profile = profile

    @cached_property
    def gazetteer(self):
        from nlp.places import Gazetteer

        return Gazetteer([m.model_dump() for m in self.profile.region.municipalities])

    def resolve(self, text: str) -> tuple[str | None, dict[str, Any]]:
        """NER, then the gazetteer with the entities (every text)."""
        from nlp.ner import extract_entities

        return self._with_entities(text, extract_entities(text))

    def _with_entities(self, text: str, entities: Sequence[Any]) -> tuple[str | None, dict[str, Any]]:
        match = self.gazetteer.resolve(text, entities=entities)
        data: dict[str, Any] = {
            "entities": [{"kind": e.kind, "text": e.text, "normal": e.normal, "start": e.start, "stop": e.stop} for e in entities],
        }
        if match is not None:
            data["municipality"] = {"code": match.code, "text": match.text, "how": match.how, "score": round(match.score, 3),
                                    "candidates": [c.code for c in match.candidates]}
        return (match.code if match else None), data

    def resolve_batch(self, texts: Sequence[str]) -> list[tuple[str | None, dict[str, Any]]]:
        """``resolve`` of every text, with NER only where it can change the municipality.

        NER changes the gazetteer's answer only by dropping a match inside a
        person's name, by ranking several municipalities (a LOC span scores
        higher than an ORG one), or by a LOC entity whose normal form names a
        municipality the text scan missed. So a text gets NER (all of them in
        one batch) when the gazetteer finds several municipalities, or one in
        a word that can be a name or a surname (``Белова``), or none while some
        word starts like a municipality's name; otherwise the gazetteer's
        match is the answer and ``entities`` is empty with ``"ner": false``.
        """
        from nlp.ner import extract_entities_batch

        gaz = self.gazetteer
        out: list[tuple[str | None, dict[str, Any]] | None] = [None] * len(texts)
        need: list[int] = []
        for i, text in enumerate(texts):
            mentions = gaz.matches(text)
            if mentions:
                if len({m.code for m in mentions}) > 1 or any(self._name_like(text[m.start:m.stop]) for m in mentions):
                    need.append(i)
                    continue
                code, data = self._with_entities(text, ())
                data["ner"] = False
                out[i] = (code, data)
            elif self._could_name_place(text):
                need.append(i)
            else:
                out[i] = (None, {"entities": [], "ner": False})
        for i, entities in zip(need, extract_entities_batch([texts[i] for i in need])):
            out[i] = self._with_entities(texts[i], entities)
        return out  # type: ignore[return-value]

    @cached_property
    def _could_name_place(self):
        from nlp.places import PlaceFilter

        return PlaceFilter(self.gazetteer)

    def _name_like(self, span: str) -> bool:
        from nlp.places import name_like

        return name_like(span)


@dataclass(frozen=True)
class SourceDefaults:
    """The default municipalities of sources (``cur sources add --municipality``): a post that names no place
    takes its source's, found by the post's source id, else by its source key (or URL) — posts imported from
    a file carry only the key."""

    by_id: dict[int, str] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Any) -> SourceDefaults:
        return cls(*source_municipalities(session))

    def of(self, post: Post) -> str | None:
        if post.source_id is not None and post.source_id in self.by_id:
            return self.by_id[post.source_id]
        return self.by_key.get(post.source_key) if self.by_key else None


def locate(post: Post, municipality: str | None, places: dict[str, Any], defaults: SourceDefaults,
           text: str) -> tuple[str | None, dict[str, Any], list[str]]:
    """The municipality (the text's, else the source's default), the places data and the street addresses of a
    relevant or unsure post."""
    if municipality is None:
        default = defaults.of(post)
        if default is not None:
            municipality = default
            places = {**places, "municipality": {"code": default, "how": "source"}}
    return municipality, places, street_addresses(text)


# --------------------------------------------------------------------------- the pass


@dataclass
class ProcessReport:
    processed: int = 0
    relevant: int = 0
    unsure: int = 0
    incidents_created: int = 0
    posts_joined: int = 0
    official_comments: int = 0
    #: residents' comments on official pages: classified, left to the page to answer (``pipeline/official.py``)
    page_comments: int = 0
    #: unanswered problem comments of official pages turned into incidents (new) or joined to one
    page_escalated: int = 0
    #: Official VK replies recorded as first replies in this pass.
    replies: int = 0
    #: Posts marked «возможный фейк» (similar to a debunked claim of the registry, see pipeline.fakes).
    fakes: int = 0
    model_version: str = ""
    incident_ids: list[int] = field(default_factory=list)

    def add(self, other: ProcessReport) -> None:
        """Add another region's pass to this one."""
        for name in ("processed", "relevant", "unsure", "incidents_created", "posts_joined", "official_comments",
                     "page_comments", "page_escalated", "replies", "fakes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.model_version = other.model_version or self.model_version
        self.incident_ids += other.incident_ids

    def __str__(self) -> str:
        return (
            f"обработано постов: {self.processed}; проблемы: {self.relevant} "
            f"(новых инцидентов {self.incidents_created}, присоединено к существующим {self.posts_joined}); "
            f"на проверку оператору: {self.unsure}; комментарии официальных аккаунтов: {self.official_comments}, "
            f"из них засчитано первичным ответом: {self.replies}; возможные фейки: {self.fakes}"
        ) + (f"; комментарии жителей на официальных страницах: {self.page_comments}, "
             f"без ответа страницы переданы в инциденты: {self.page_escalated}" if self.page_comments or self.page_escalated else "")


@dataclass(frozen=True, slots=True)
class _Analysis:
    """What grouping needs of a stored analysis."""

    relevant: bool
    unsure: bool
    sector: str | None
    category: str | None
    urgency: str | None
    municipality: str | None


def _analysis_values(post_id: int, digest: str, pred: PredictionLike, municipality: str | None,
                     places: dict[str, Any], now: datetime, streets: Sequence[str] = ()) -> dict[str, Any]:
    details: dict[str, Any] = {"confidences": dict(getattr(pred, "confidences", {}) or {})}
    if streets:
        details["addresses"] = list(streets)
    return dict(
        post_id=post_id,
        model_version=str(pred.model_version),
        content_hash=digest,
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


def process_pending(
    app: App,
    now: datetime,
    limit: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    classifier: ClassifierLike | None = None,
    grouping: GroupingOptions | None = None,
    batch_size: int = BATCH,
    wait: float = 0.0,
) -> ProcessReport:
    """Process up to ``limit`` pending posts (see the module docstring).

    Holds the region's processing lease (``pipeline.processing_lease``) for the
    pass: waits for it up to ``wait`` seconds, then raises ``ProcessingBusy``.
    """
    db = app.ready_db()
    clf = classifier or load_classifier(app)
    many = app.many_regions  # one region: every pending post is its (no region condition at all)
    if many:
        with db.session() as s:  # posts of a source of another region than the default one are that region's
            assign_post_regions(s, app.settings.region)
    report = ProcessReport()
    for profile in app.served:  # each region with its own profile, lease and grouping
        lease = ProcessingLease(db, profile.code, profile.region.tz)
        lease.acquire(wait)
        try:
            left = None if limit is None else limit - report.processed
            report.add(_process_pending(app, db, profile, clf, lease, now, left, on_progress, grouping, batch_size,
                                        app.region_filter(profile) if many else None))
        finally:
            lease.release()
    return report


def _process_pending(app: App, db: Any, profile: RegionProfile, clf: ClassifierLike, lease: ProcessingLease,
                     now: datetime, limit: int | None, on_progress: Callable[[int], None] | None,
                     grouping: GroupingOptions | None, batch_size: int, region: RegionFilter | None = None) -> ProcessReport:
    places = Places(profile)
    officials = official_account_ids(profile)
    with db.session() as s:
        official.sync_official_sources(s, profile)
        pages = official.page_index(official.pages(s, profile))
    sectors = [s.code for s in profile.sectors]
    report = ProcessReport()
    index = GroupingIndex(profile, grouping or GroupingOptions())
    with db.session() as s:
        lease.renew(s)
        sync_authorities(s, profile)
        defaults = SourceDefaults.load(s)
        fakes = matcher_for_pass(s)  # claim vectors once per pass; None while the registry is empty
    last_id = 0
    while limit is None or report.processed < limit:
        size = batch_size if limit is None else min(batch_size, limit - report.processed)
        with db.session() as s:
            batch = q.pending_post_rows(s, size, after_id=last_id, region=region)
            appeals = q.appeal_ids(s, [i for i, _, _ in batch])
        if not batch:
            break
        last_id = batch[-1][0]
        # appeals from a feedback platform are problems by definition: no relevance question for them
        extra = {"assume_relevant": [i in appeals for i, _, _ in batch]} if appeals else {}
        preds = clf.predict([t for _, t, _ in batch], sectors=sectors, **extra)
        located = [i for i, p in enumerate(preds) if p.relevant or p.unsure]  # an operator may confirm an unsure one
        found = dict(zip(located, places.resolve_batch([batch[i][1] for i in located])))
        matched = _fake_matches(fakes, batch)
        with db.session() as s:
            lease.renew(s)  # first statement: on SQLite the transaction holds the write lock from here
            _process_batch(s, profile, batch, preds, found, officials, index, now, report, on_progress, matched,
                           fakes.threshold if fakes else 0.0, defaults, pages)
    with db.session() as s:  # comments just collected may be the authorities' answers
        lease.renew(s)
        report.replies = len(detect_official_replies(s, profile, now))
    if pages:
        with db.session() as s:  # residents' problems the official pages left unanswered past their time
            lease.renew(s)
            esc = official.escalate_unanswered(s, profile, index, now)
            report.page_escalated = esc.created + esc.joined
            report.incidents_created += esc.created
            report.posts_joined += esc.joined
            report.incident_ids += esc.incident_ids
            report.replies += len(official.record_page_answers(s, profile, now))
    return report


def _fake_matches(fakes: FakeMatcher | None, batch: list[tuple[int, str, str]]) -> dict[int, Match]:
    """Post id -> the debunked claim it repeats (outside the transaction, like the classifier)."""
    if fakes is None:
        return {}
    return {post_id: m for (post_id, _, _), m in zip(batch, fakes.match([t for _, t, _ in batch])) if m is not None}


def _process_batch(s, profile: RegionProfile, batch: list[tuple[int, str, str]], preds: Sequence[PredictionLike],
                   found: dict[int, tuple[str | None, dict[str, Any]]], officials: set[str], index: GroupingIndex,
                   now: datetime, report: ProcessReport, on_progress: Callable[[int], None] | None,
                   fakes: dict[int, Match] | None = None, threshold: float = 0.0,
                   defaults: SourceDefaults | None = None, pages: dict[tuple[str, str], Any] | None = None) -> None:
    """One batch in the caller's transaction: analyses, grouping, possible-fake marks, ``processed_at``;
    residents' comments on official pages are held for the page's answer (``pipeline/official.py``)."""
    ids = [i for i, _, _ in batch]
    posts = q.posts_by_id(s, ids)
    versions = {str(p.model_version) for p in preds}
    existing: dict[tuple[int, str], PostAnalysis] = {}
    for version in versions:
        existing.update({(pid, version): a for pid, a in q.analyses_of_posts(s, ids, version).items()})
    grouped = q.incidents_of_posts(s, ids)
    index.refresh(s)
    fresh: list[dict[str, Any]] = []
    done: list[int] = []
    defaults = defaults or SourceDefaults()
    marked: dict[int, Match] = {}
    for n, ((post_id, text, digest), pred) in enumerate(zip(batch, preds)):
        post = posts.get(post_id)
        if post is None or post.processed_at is not None or post.is_deleted or post.content_hash != digest:
            continue  # changed by someone else meanwhile; the next pass sees it
        done.append(post_id)
        report.processed += 1
        page = pages.get((post.platform, post.source_key)) if pages else None
        if (post.parent_external_id and post.author_id and str(post.author_id) in officials) or (
                page is not None and official.is_page_voice(post, page)):
            report.official_comments += 1  # the authority speaking on its page or answering: not a resident's post
            if on_progress:
                on_progress(1)
            continue
        held = page is not None and post.parent_external_id is not None  # the page answers first
        if fakes and post_id in fakes:
            marked[post_id] = fakes[post_id]
        municipality, places = found.get(n, (None, {}))
        streets: list[str] = []
        if n in found:
            municipality, places, streets = locate(post, municipality, places, defaults, text)
        values = _analysis_values(post_id, digest, pred, municipality, places, now, streets)
        row = existing.get((post_id, values["model_version"]))
        if row is None:
            fresh.append(values)
        else:  # the post was edited: the same model looks again
            for k, v in values.items():
                setattr(row, k, v)
        report.model_version = values["model_version"]
        analysis = _Analysis(values["relevant"], values["unsure"], values["sector"], values["category"],
                             values["urgency"], municipality)
        if analysis.relevant:
            report.relevant += 1
        if held:
            report.page_comments += 1
        elif analysis.relevant and not analysis.unsure and post_id not in grouped:
            incident_id, created = index.place(s, post, analysis.sector, analysis.category, analysis.urgency or "normal",
                                               municipality, now, streets, unlinked=True)
            if created:
                report.incidents_created += 1
            else:
                report.posts_joined += 1
            report.incident_ids.append(incident_id)
        if on_progress:
            on_progress(1)  # inside the transaction: a failure here undoes the batch
    q.insert_analyses(s, fresh)
    index.flush(s)
    if marked:
        fq.upsert_marks(s, mark_rows(marked, threshold, now))
        report.fakes += len(marked)
    q.mark_processed(s, done, now)
    # «на проверку оператору»: this batch's share of the review queue, by the queue's own definition
    report.unsure += qa.review_queue_count(s, qa.QueueFilter(post_ids=done))


@dataclass
class PassReport:
    posts: ProcessReport
    actions: list[Any]
    alerts: Any = None


def run_pass(app: App, now: datetime, limit: int | None = None, on_progress: Callable[[int], None] | None = None,
             classifier: ClassifierLike | None = None, wait: float = 0.0) -> PassReport:
    """``cur process``: new posts and official replies, then the deadline check and emerging problems."""
    posts = process_pending(app, now, limit=limit, on_progress=on_progress, classifier=classifier, wait=wait)
    from .alerts import check_emerging

    actions: list[Any] = []
    alerts = None
    for profile in app.served:
        with app.ready_db().session() as s:
            actions += check_deadlines(s, profile, now)
        with app.ready_db().session() as s:
            found = check_emerging(s, profile, now)
        alerts = found if alerts is None else alerts.merged(found)
    return PassReport(posts, actions, alerts)
