"""The processing pass split into tasks, for several workers (``cur worker``; wiring in ``pipeline.workers``).

The one-process pass (``pipeline.process``) does, per batch, the costly part
(classification, places) and then grouping in one transaction. With workers
these are two kinds of task:

1. **analyse** ``[first_id, last_id]`` — any number at once, on any worker:
   classify the pending posts of the id range that have no analysis of their
   current text, find their places, and in one transaction store the analyses
   and mark processed every post that needs no grouping (not a problem, unsure,
   an official account's comment, already in an incident). A redelivered task
   finds its posts analysed or processed and does nothing; two copies of one
   task at once store each analysis once (the rows are locked, the insert is
   ``ON CONFLICT DO NOTHING``).
2. **group** one sector of the region — one task at a time per (region,
   sector), under the lease ``process:<region>:sector:<code>``, which excludes
   the region's lease ``process:<region>`` of ``cur process`` both ways
   (``pipeline.processing_lease``). A post joins only incidents of its own
   sector (of its municipality, or of any municipality when its place is
   unknown), so sectors are independent partitions; within one the task takes
   the analysed pending posts *in id order* and only below the frontier (the
   lowest id still waiting for analysis), placed with the grouping index
   exactly as the one-process pass places them. So however the analyses
   interleave, every partition sees its posts in the same order as one process
   would, and several workers make the same incidents as one
   (``tests/test_workers.py``). A group task that finds the lease taken
   returns at once: the holder looks again after releasing it, so no analysed
   post waits for the next dispatch. Then it records the official accounts'
   replies (``detect_official_replies``) under ``process:<region>:replies``.

Both commit one batch per transaction; a worker killed mid-task leaves each
batch done or untouched, and the broker redelivers the task (acknowledged
only when it returns).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from storage import incidents as q
from storage import work as w
from storage.regions import assign_post_regions, post_regions

from .context import App
from .incidents import GroupingOptions, detect_official_replies, official_account_ids, sync_authorities
from .incidents.index import GroupingIndex
from .process import BATCH, ClassifierLike, Places, SourceDefaults, _analysis_values, locate
from .processing_lease import ProcessingBusy, ProcessingLease

log = logging.getLogger(__name__)

__all__ = ["AnalyseReport", "GroupReport", "analyse_range", "dispatch", "group_pending", "send_groups"]


@dataclass
class AnalyseReport:
    analysed: int = 0
    processed: int = 0
    to_group: int = 0


@dataclass
class GroupReport:
    grouped: int = 0
    incidents_created: int = 0
    posts_joined: int = 0
    replies: int = 0


def analyse_range(app: App, clf: ClassifierLike, first_id: int, last_id: int, now: datetime,
                  places: Places | None = None) -> AnalyseReport:
    """Task 1: analyse the pending, unanalysed posts with ids in ``[first_id, last_id]`` (see the module docstring);
    with several regions, each post with its region's profile (posts of a region not served are left alone)."""
    db = app.db  # migrated: the worker checked at start (`run_worker`), the scheduler too
    report = AnalyseReport()
    with db.session() as s:
        batch = w.unanalysed_rows(s, first_id, last_id)
        appeals = q.appeal_ids(s, [i for i, _, _ in batch])
        regions = post_regions(s, [i for i, _, _ in batch]) if app.many_regions and batch else {}
    if not batch:
        return report
    if not app.many_regions:
        _analyse(app, app.region, clf, batch, appeals, now, places or Places(app.region), report)
        return report
    served = {p.code for p in app.served}
    parts: dict[str, list[tuple[int, str, str]]] = {}
    for row in batch:
        code = regions.get(row[0]) or app.settings.region
        if code in served:
            parts.setdefault(code, []).append(row)
    for code, rows in parts.items():
        profile = app.profile(code)
        _analyse(app, profile, clf, rows, appeals, now,
                 places if places is not None and places.profile.code == code else places_of(profile), report)
    return report


_PLACES: dict[str, Places] = {}


def places_of(profile: Any) -> Places:
    """The gazetteer (and NER) of a region, made once per process."""
    if profile.code not in _PLACES:
        _PLACES[profile.code] = Places(profile)
    return _PLACES[profile.code]


def _analyse(app: App, profile: Any, clf: ClassifierLike, batch: list[tuple[int, str, str]], appeals: set[int],
             now: datetime, places: Places, report: AnalyseReport) -> None:
    db = app.db
    extra = {"assume_relevant": [i in appeals for i, _, _ in batch]} if appeals else {}
    preds = clf.predict([t for _, t, _ in batch], sectors=[sec.code for sec in profile.sectors], **extra)
    located = [i for i, p in enumerate(preds) if p.relevant or p.unsure]
    found = dict(zip(located, places.resolve_batch([batch[i][1] for i in located])))
    officials = official_account_ids(profile)
    ids = [i for i, _, _ in batch]
    with db.session() as s:
        w.lock_posts(s, ids)
        posts = q.posts_by_id(s, ids)
        existing: dict[tuple[int, str], Any] = {}
        for version in {str(p.model_version) for p in preds}:
            existing.update({(pid, version): a for pid, a in q.analyses_of_posts(s, ids, version).items()})
        grouped = q.incidents_of_posts(s, ids)
        defaults = SourceDefaults.load(s) if found else SourceDefaults()
        fresh: list[dict[str, Any]] = []
        done: list[int] = []
        for n, ((post_id, text, digest), pred) in enumerate(zip(batch, preds)):
            post = posts.get(post_id)
            if post is None or post.processed_at is not None or post.is_deleted or post.content_hash != digest:
                continue  # changed meanwhile; the next dispatch sees it
            if post.parent_external_id and post.author_id and str(post.author_id) in officials:
                done.append(post_id)  # an answer, not a post to classify
                continue
            municipality, found_places = found.get(n, (None, {}))
            streets: list[str] = []
            if n in found:  # the source's default municipality, the street addresses (as in pipeline.process)
                municipality, found_places, streets = locate(post, municipality, found_places, defaults, text)
            values = _analysis_values(post_id, digest, pred, municipality, found_places, now, streets)
            row = existing.get((post_id, values["model_version"]))
            if row is None:
                fresh.append(values)
            elif row.content_hash == digest:
                continue  # analysed by a copy of this task meanwhile
            else:  # the post was edited: the same model looks again
                for k, v in values.items():
                    setattr(row, k, v)
            report.analysed += 1
            if values["relevant"] and not values["unsure"] and post_id not in grouped:
                report.to_group += 1
            else:
                done.append(post_id)
        q.insert_analyses(s, fresh)
        q.mark_processed(s, done, now)
        report.processed += len(done)


def group_pending(app: App, now: datetime, sector: Any = w.ANY, grouping: GroupingOptions | None = None,
                  batch_size: int = BATCH, region: str | None = None) -> GroupReport | None:
    """Task 2: group the analysed pending posts of one ``sector`` (all of them with ``storage.work.ANY``) of one
    ``region`` (None: the default one) below the region's frontier, then record official replies; None if another
    process holds the lease."""
    db = app.db
    profile = app.profile(region)
    where = _filter(app, profile)
    part = None if sector is w.ANY else f"sector:{sector or '-'}"
    total = GroupReport()
    while True:
        lease = ProcessingLease(db, profile.code, profile.region.tz, part=part)
        try:
            lease.acquire(0)
        except ProcessingBusy:
            return None if total.grouped == 0 else total
        try:
            _group(db, profile, lease, now, sector, grouping or GroupingOptions(), batch_size, total, where)
        finally:
            lease.release()
        with db.session() as s:  # an analysis committed while we held the lease (its group task found it taken)
            more = w.groupable(s, 0, w.frontier(s, where), 1, sector, where)
        if not more:
            break
    total.replies = record_replies(app, now, profile)
    return total


def _filter(app: App, profile: Any) -> Any:
    """The region condition on posts: none in a one-region deployment (every post is the region's)."""
    return app.region_filter(profile) if app.many_regions else None


def record_replies(app: App, now: datetime, profile: Any = None) -> int:
    """Official accounts' comments recorded as first replies (``detect_official_replies``), one process at a time."""
    profile = profile or app.region
    lease = ProcessingLease(app.db, profile.code, profile.region.tz, part="replies")
    try:
        lease.acquire(0)
    except ProcessingBusy:
        return 0  # another one records them now; what it misses the next pass finds
    try:
        with app.db.session() as s:
            lease.renew(s)
            return len(detect_official_replies(s, profile, now))
    finally:
        lease.release()


def _group(db: Any, profile: Any, lease: ProcessingLease, now: datetime, sector: Any, grouping: GroupingOptions,
           batch_size: int, total: GroupReport, where: Any = None) -> None:
    index = GroupingIndex(profile, grouping)
    with db.session() as s:
        lease.renew(s)
        sync_authorities(s, profile)
    after = 0
    while True:
        with db.session() as s:
            lease.renew(s)
            rows = w.groupable(s, after, w.frontier(s, where), batch_size, sector, where)
            if not rows:
                break
            after = rows[-1][0]
            ids = [pid for pid, _ in rows]
            posts = q.posts_by_id(s, ids)
            grouped = q.incidents_of_posts(s, ids)
            index.refresh(s)
            done: list[int] = []
            for pid, a in rows:
                post = posts.get(pid)
                if post is None or post.processed_at is not None:
                    continue
                done.append(pid)
                if not a.relevant or a.unsure or pid in grouped:
                    continue  # e.g. analysed by `cur process`, or an unsure one a review will decide
                _incident, created = index.place(s, post, a.sector, a.category, a.urgency or "normal", a.municipality, now,
                                                 unlinked=True)  # not in ``grouped``
                total.grouped += 1
                if created:
                    total.incidents_created += 1
                else:
                    total.posts_joined += 1
            index.flush(s)
            q.mark_processed(s, done, now)


def groupable_sectors(app: App, profile: Any = None) -> list[str | None]:
    """The sectors with posts of the region (None: the default one) ready for grouping now (each gets a group task)."""
    where = _filter(app, profile or app.region)
    with app.db.session() as s:
        return w.groupable_sectors(s, w.frontier(s, where), where)


def send_groups(app: App, send_group: Callable[..., None]) -> None:
    """A group task for every (region, sector) with posts ready: ``send_group(sector)`` in a one-region deployment,
    ``send_group(sector, region)`` with several."""
    if not app.many_regions:
        for sector in groupable_sectors(app):
            send_group(sector)
        return
    for profile in app.served:
        for sector in groupable_sectors(app, profile):
            send_group(sector, profile.code)


def dispatch(app: App, send_analyse: Callable[[int, int], None], send_group: Callable[..., None],
             skip: Callable[[int], bool] = lambda _id: False, batch_size: int = BATCH) -> list[tuple[int, int]]:
    """Send an analyse task for every ``batch_size`` pending unanalysed posts (but those ``skip`` says were sent lately),
    and a group task for every (region, sector) with posts ready for grouping (see ``send_groups``; the analyse tasks
    send those of their own); returns the ``(first id, last id)`` of the analyse tasks sent."""
    db = app.db  # migrated: the worker checked at start (`run_worker`), the scheduler too
    sent: list[tuple[int, int]] = []
    last = 0
    served = [app.region_filter(p) for p in app.served] if app.many_regions else None
    if served is not None:
        with db.session() as s:  # posts of a source of another region than the default one are that region's
            assign_post_regions(s, app.settings.region)
    while True:
        with db.session() as s:
            ids = w.unanalysed_ids(s, last, batch_size * 64, served)
        if not ids:
            break
        last = ids[-1]
        todo = [i for i in ids if not skip(i)]
        for k in range(0, len(todo), batch_size):
            chunk = todo[k:k + batch_size]
            send_analyse(chunk[0], chunk[-1])
            sent.append((chunk[0], chunk[-1]))
    send_groups(app, send_group)
    return sent
