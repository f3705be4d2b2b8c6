"""Operators' corrections: merge, split and the review decisions on posts."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy.orm import Session

from config import RegionProfile
from storage import analyses as qa
from storage import events as ev
from storage import incidents as q
from storage.models import Incident, IncidentEvent, Post, ReviewDecision

from .assignment import _change_class, route_incident
from .common import IncidentError, _event, _installed_configuration, _profile, _require_open
from .grouping import DEFAULT_GROUPING, _place_post, _rebuild_signature, _title
from .lifecycle import ALLOWED, mark_fake, transition


def merge(session: Session, target: Incident, others: Sequence[Incident], actor: str, now: datetime) -> IncidentEvent:
    """Move every post of ``others`` into ``target``; the others are closed as merged (logged on both sides)."""
    _require_open(target)
    others = [o for o in others]
    if not others:
        raise IncidentError("не указаны инциденты для объединения")
    for o in others:
        if o.id == target.id:
            raise IncidentError(f"инцидент №{o.id} нельзя объединить с самим собой")
        _require_open(o)
        if o.region != target.region:
            raise IncidentError(f"инциденты №{target.id} и №{o.id} из разных регионов")
    moved: dict[int, list[int]] = {}
    for o in others:
        ids = q.post_ids_of(session, o.id)
        for pid in ids:
            q.attach_post(session, target, pid, now)
        moved[o.id] = ids
        o.merged_into_id = target.id
        q.close_assignment(session, o.id, now)
        if o.urgency == "high":
            target.urgency = "high"
        _event(session, o, ev.MERGED_INTO, actor, now, data={"into_incident_id": target.id, "post_ids": ids})
    session.expire(target, ["posts"])
    _rebuild_signature(session, target)
    return _event(session, target, ev.MERGED, actor, now,
                  data={"from_incident_ids": [o.id for o in others], "post_ids": sorted(p for ids in moved.values() for p in ids)})


def split(
    session: Session, incident: Incident, post_ids: Sequence[int], actor: str, now: datetime,
    profile: RegionProfile | None = None,
) -> Incident:
    """Move ``post_ids`` to a new incident (same classification, routed now); logged on both."""
    _require_open(incident)
    profile = _profile(incident.region, profile)
    have = set(q.post_ids_of(session, incident.id))
    wanted = sorted(set(post_ids))
    if not wanted:
        raise IncidentError("не указаны посты для выделения")
    missing = [p for p in wanted if p not in have]
    if missing:
        raise IncidentError(f"посты {', '.join(map(str, missing))} не входят в инцидент №{incident.id}")
    if len(wanted) == len(have):
        raise IncidentError("нельзя выделить все посты инцидента: в нём должен остаться хотя бы один")
    posts = [session.get(Post, pid) for pid in wanted]
    first = min(posts, key=lambda p: (p.published_at, p.id))  # type: ignore[union-attr]
    new = Incident(
        region=incident.region, title=_title(first.text), sector=incident.sector, category=incident.category,  # type: ignore[union-attr]
        municipality=incident.municipality, urgency=incident.urgency, state=ev.NEW, created_at=now, updated_at=now,
        details={},
    )
    session.add(new)
    session.flush()
    for pid in wanted:
        q.attach_post(session, new, pid, now)
    session.expire(incident, ["posts"])
    _rebuild_signature(session, incident)
    _rebuild_signature(session, new)
    _event(session, new, ev.CREATED, actor, now, to_state=ev.NEW, data={"split_from": incident.id, "post_ids": wanted})
    _event(session, incident, ev.SPLIT, actor, now, data={"post_ids": wanted, "new_incident_id": new.id})
    if incident.state != ev.NEW:
        route_incident(session, profile, new, actor, now)
    return new


def apply_review(
    session: Session, post_id: int, decision: str, reviewer: str, now: datetime,
    sector: str | None = None, category: str | None = None, urgency: str | None = None,
    incident_id: int | None = None, comment: str | None = None, profile: RegionProfile | None = None,
) -> ReviewDecision:
    """Store an operator's decision on a post and apply it.

    * ``confirm`` — the model was right: an unsure post becomes (or joins) an incident;
    * ``correct`` — new sector/category/urgency: the post's incident is reclassified
      (re-routed if needed); a post without an incident gets one;
    * ``not_problem`` — the post leaves its incident; an incident left empty is rejected;
    * ``merge`` — the post (with its incident, if it is the only post) joins ``incident_id``;
    * ``fake`` — the post's incident is marked as a possible fake.

    What the decision changed goes into its ``details`` so that :func:`undo_review` can put it back.
    """
    if decision not in ("confirm", "correct", "not_problem", "merge", "fake"):
        raise IncidentError(f"неизвестное решение {decision!r}")
    post = session.get(Post, post_id)
    if post is None:
        raise IncidentError(f"пост №{post_id} не найден")
    analysis = q.analysis_for(session, post_id)
    current = q.incident_of_post(session, post_id)
    region = current.region if current else (profile.code if profile else _installed_configuration().settings.region)
    profile = _profile(region, profile)
    eff_sector = sector or (current.sector if current else analysis.sector if analysis else None)
    eff_category = category or (current.category if current else analysis.category if analysis else None)
    eff_urgency = urgency or (current.urgency if current else analysis.urgency if analysis else None) or "normal"
    municipality = current.municipality if current else (analysis.municipality if analysis else None)
    target_id = incident_id
    if decision == "correct" and not (sector or category or urgency):
        raise IncidentError("для исправления укажите направление, категорию или срочность")
    if decision == "merge" and incident_id is None:
        raise IncidentError("для объединения укажите инцидент")
    if decision in ("confirm", "correct") and eff_sector is None:
        raise IncidentError("у поста нет направления: используйте «исправить» и укажите его")

    details: dict[str, object] = {"before_incident_id": current.id if current else None}
    if decision in ("confirm", "correct"):
        if current is None:
            inc = _place_post(session, profile, post, eff_sector, eff_category, eff_urgency, municipality, now,
                              DEFAULT_GROUPING, reviewer)
            target_id = inc.id
        else:
            target_id = current.id
            if decision == "correct":
                _require_open(current)
                details["before_class"] = [current.sector, current.category, current.urgency]
                _change_class(session, profile, current, eff_sector, eff_category, eff_urgency, reviewer, now,
                              note=comment)
    elif decision == "not_problem":
        if current is not None:
            _remove_post(session, current, post_id, reviewer, now, "не проблема")
            target_id = current.id
    elif decision == "merge":
        target = q.get_incident(session, incident_id)  # type: ignore[arg-type]
        if target is None:
            raise IncidentError(f"инцидент №{incident_id} не найден")
        if current is None:
            q.attach_post(session, target, post_id, now)
            _rebuild_signature(session, target)
            _event(session, target, ev.POST_ADDED, reviewer, now, data={"post_id": post_id, "review": True})
        elif current.id != target.id:
            if len(q.post_ids_of(session, current.id)) == 1:
                merge(session, target, [current], reviewer, now)
            else:
                _remove_post(session, current, post_id, reviewer, now, f"перенесён в инцидент №{target.id}")
                q.attach_post(session, target, post_id, now)
                _rebuild_signature(session, target)
                _event(session, target, ev.POST_ADDED, reviewer, now, data={"post_id": post_id, "review": True})
    elif decision == "fake":
        if current is not None:
            details["was_fake"] = bool(current.is_possible_fake)
            mark_fake(session, current, reviewer, now, comment)
            target_id = current.id
    return q.add_review_decision(
        session, post_id=post_id, incident_id=target_id, reviewer=reviewer, decision=decision,
        relevant=decision != "not_problem", sector=eff_sector if decision != "not_problem" else None,
        category=eff_category if decision != "not_problem" else None,
        urgency=eff_urgency if decision != "not_problem" else None, comment=comment, at=now, details=details,
    )


def undo_review(
    session: Session, decision_id: int, actor: str, now: datetime, profile: RegionProfile | None = None,
) -> ReviewDecision:
    """Undo a review decision: the post returns to the queue, and what the decision changed is put back.

    The decision row stays (``reverted_at``/``reverted_by`` are set); every change to an incident is a
    new event of its log (``review_undone``, and the post's removal or the class change it takes).
    Only the latest decision in force on a post can be undone; a merge that moved a post out of
    another incident is not undone here (the incident page splits it out again).
    """
    d = qa.review_decision(session, decision_id)
    if d is None:
        raise IncidentError(f"решение №{decision_id} не найдено")
    if d.reverted_at is not None:
        raise IncidentError(f"решение по посту №{d.post_id} уже отменено")
    latest = qa.decision_in_force_for(session, d.post_id)
    if latest is None or latest.id != d.id:
        raise IncidentError(f"по посту №{d.post_id} после этого решения принято другое: отменить можно только последнее")
    details = d.details or {}
    before_id = details.get("before_incident_id")
    current = q.incident_of_post(session, d.post_id)
    undone = {"decision_id": d.id, "post_id": d.post_id, "decision": d.decision}
    if d.decision in ("confirm", "correct", "merge") and current is not None and before_id is None:
        # the decision put the post into an incident: take it out again (an incident left empty is rejected)
        _event(session, current, ev.REVIEW_UNDONE, actor, now, data=undone)
        _remove_post(session, current, d.post_id, actor, now, "решение оператора отменено")
    elif d.decision == "correct" and current is not None and current.id == before_id and details.get("before_class"):
        sector, category, urgency = details["before_class"]
        _require_open(current)
        _event(session, current, ev.REVIEW_UNDONE, actor, now, data=undone)
        _change_class(session, _profile(current.region, profile), current, sector, category, urgency, actor, now,
                      note="решение оператора отменено")
    elif d.decision == "merge" and before_id is not None and (current is None or current.id != before_id):
        raise IncidentError(f"объединение поста №{d.post_id} отменяется на странице инцидента: выделите пост обратно")
    elif d.decision == "not_problem" and before_id is not None and current is None:
        inc = q.get_incident(session, before_id)
        if inc is None or inc.state not in ev.OPEN_STATES or inc.merged_into_id is not None:
            raise IncidentError(f"инцидент №{before_id} уже закрыт: верните пост в него на странице инцидента")
        q.attach_post(session, inc, d.post_id, now)
        session.expire(inc, ["posts"])
        _rebuild_signature(session, inc)
        _event(session, inc, ev.REVIEW_UNDONE, actor, now, data=undone)
    elif d.decision == "fake" and current is not None and details.get("was_fake") is False and current.is_possible_fake:
        current.is_possible_fake = False
        _event(session, current, ev.REVIEW_UNDONE, actor, now, data={**undone, "possible_fake": False})
    d.reverted_at = now
    d.reverted_by = actor
    session.flush()
    return d


def _remove_post(session: Session, incident: Incident, post_id: int, actor: str, now: datetime, reason: str) -> None:
    q.detach_post(session, post_id)
    session.expire(incident, ["posts"])
    _event(session, incident, ev.POST_REMOVED, actor, now, data={"post_id": post_id, "reason": reason})
    if q.post_ids_of(session, incident.id):
        _rebuild_signature(session, incident)
    elif ev.REJECTED in ALLOWED.get(incident.state, frozenset()) and incident.merged_into_id is None:
        transition(session, incident, ev.REJECTED, actor, now, data={"reason": f"в инциденте не осталось постов ({reason})"})
