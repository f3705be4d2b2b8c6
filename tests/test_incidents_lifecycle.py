"""State machine, events with actor and time, reroute history, merge/split, reviews, official VK replies."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from pipeline import incidents as svc
from storage import events as ev
from storage import incidents as q
from storage.models import Assignment, Authority, Incident, IncidentEvent, Post, PostAnalysis, ReviewDecision
from tests.helpers import A
from tests.helpers import add_post as _add_post

T0 = datetime(2026, 11, 16, 3, 0, tzinfo=timezone.utc)  # Monday 10:00 in Kuzbass
H = timedelta(hours=1)


def add_post(s, text: str, at: datetime = T0, source: str = "-100001", **kw) -> Post:
    return _add_post(s, text, at, source, **kw)


def new_incident(s, profile, text="Новокузнецк Кирова 12 нет отопления", **kw) -> Incident:
    return svc.ingest_analysis(s, profile, add_post(s, text), A(**kw), T0)


def events(s, inc) -> list[IncidentEvent]:
    return q.events_of(s, inc.id)


def code_of(s, authority_id) -> str:
    return s.get(Authority, authority_id).code


def test_every_state_change_is_an_event_with_actor_and_time(db, profile):
    with db.session() as s:
        inc = new_incident(s, profile)
        svc.acknowledge(s, inc, "spec:ivanov", T0 + 1 * H)
        svc.record_response(s, inc, "first_reply", "Разбираемся, бригада выехала", "spec:ivanov", "web", T0 + 2 * H, profile=profile)
        svc.record_response(s, inc, "interim", "Устраняем порыв", "spec:ivanov", "web", T0 + 3 * H, profile=profile)
        svc.record_response(s, inc, "final", "Отопление дали", "spec:ivanov", "web", T0 + 5 * H, profile=profile)
        svc.resolve(s, inc, "operator:petrova", T0 + 6 * H)
        svc.reopen(s, inc, "operator:petrova", T0 + 30 * H, "снова нет отопления", profile=profile)
        svc.reject(s, inc, "head:sidorov", T0 + 31 * H, "дубль обращения")
        got = [(e.kind, e.from_state, e.to_state, e.actor, e.at) for e in events(s, inc)]
    assert got == [
        (ev.CREATED, None, "new", "system", T0),
        (ev.ROUTED_EV, "new", "routed", "system", T0),
        (ev.ACKNOWLEDGED_EV, "routed", "acknowledged", "spec:ivanov", T0 + 1 * H),
        (ev.ANSWER_FIRST, "acknowledged", "answered", "spec:ivanov", T0 + 2 * H),
        (ev.ANSWER_INTERIM, "answered", "answered", "spec:ivanov", T0 + 3 * H),
        (ev.ANSWER_FINAL, "answered", "answered", "spec:ivanov", T0 + 5 * H),
        (ev.RESOLVED_EV, "answered", "resolved", "operator:petrova", T0 + 6 * H),
        (ev.REOPENED_EV, "resolved", "reopened", "operator:petrova", T0 + 30 * H),
        (ev.REJECTED_EV, "reopened", "rejected", "head:sidorov", T0 + 31 * H),
    ]


def test_answers_set_times_and_the_final_deadline_follows_the_interim_answer(db, profile):
    with db.session() as s:
        inc = new_incident(s, profile)
        planned_final = inc.final_due
        svc.record_response(s, inc, "interim", "Заявка принята, ремонт в среду", "spec", "web", T0 + 2 * H, profile=profile)
        assert inc.first_reply_at == inc.interim_at == T0 + 2 * H and inc.state == "answered"
        # 7 working days after the interim answer (Mon 12:00 local -> Wed 25 Nov 12:00 local = 05:00 UTC)
        assert inc.final_due == datetime(2026, 11, 25, 5, 0, tzinfo=timezone.utc) != planned_final
        reopened_final = inc.final_due
        svc.record_response(s, inc, "final", "Готово", "spec", "web", T0 + 4 * H, profile=profile)
        svc.resolve(s, inc, "operator", T0 + 5 * H)
        svc.reopen(s, inc, "operator", T0 + 48 * H, "опять холодно", profile=profile)
        assert inc.final_at is None and inc.resolved_at is None and inc.final_due > reopened_final
        assert len(q.responses_of(s, inc.id)) == 2



def test_a_reopened_final_deadline_stays_put_until_a_reroute(db, profile):
    """Reopening fixes the final due time (answers do not move it); a reroute counts it afresh."""
    with db.session() as s:
        inc = new_incident(s, profile)
        svc.record_response(s, inc, "final", "Готово", "spec", "web", T0 + 4 * H, profile=profile)
        svc.resolve(s, inc, "operator", T0 + 5 * H)
        svc.reopen(s, inc, "operator", T0 + 48 * H, "опять холодно", profile=profile)
        pinned = inc.final_due
        assert inc.final_due_pinned and inc.deadline_start_at == T0  # the countdown of the assignment is kept
        svc.record_response(s, inc, "interim", "Снова выехали", "spec", "web", T0 + 50 * H, profile=profile)
        assert inc.final_due == pinned  # an interim answer would recount it from the answer, but it is pinned
        other = next(a.code for a in profile.region.authorities if a.code != code_of(s, inc.authority_id))
        svc.reroute(s, inc, other, "operator", "не их зона", T0 + 51 * H, profile=profile)
        assert not inc.final_due_pinned and inc.deadline_start_at == T0 + 51 * H and inc.final_due != pinned
    with db.session() as s:  # kept in columns, not in details
        row = s.get(Incident, inc.id)
        assert row.deadline_start_at == T0 + 51 * H and row.final_due_pinned is False
        assert not {"deadline_start", "pinned_due"} & set(row.details or {})


def test_illegal_transitions_are_refused_and_write_nothing(db, profile):
    with db.session() as s:
        inc = new_incident(s, profile)
        n = len(events(s, inc))
        with pytest.raises(svc.TransitionError, match="не допускается"):
            svc.reopen(s, inc, "operator", T0, "нет", profile=profile)
        with pytest.raises(svc.TransitionError):
            svc.transition(s, inc, "new", "operator", T0)
        svc.reject(s, inc, "operator", T0 + H, "не проблема")
        with pytest.raises(svc.TransitionError):
            svc.record_response(s, inc, "first_reply", "текст", "spec", "web", T0 + 2 * H, profile=profile)
        with pytest.raises(svc.IncidentError):
            svc.reject(s, inc, "operator", T0 + H, "  ")
        assert len(events(s, inc)) == n + 1 and inc.state == "rejected"


def test_reroute_keeps_the_history(db, profile):
    with db.session() as s:
        inc = new_incident(s, profile)
        first_authority = code_of(s, inc.authority_id)
        old_due = inc.first_reply_due
        svc.reroute(s, inc, "capital_repair_fund", "operator:petrova", "это капремонт", T0 + 3 * H, profile=profile)
        svc.reroute(s, inc, "min_housing_roads", "head", "региональный уровень", T0 + 4 * H, profile=profile)
        rows = q.assignments_of(s, inc.id)
        assert [code_of(s, a.authority_id) for a in rows] == [first_authority, "capital_repair_fund", "min_housing_roads"]
        assert [a.ended_at for a in rows] == [T0 + 3 * H, T0 + 4 * H, None]
        assert [a.actor for a in rows] == ["system", "operator:petrova", "head"]
        rer = [e for e in events(s, inc) if e.kind == ev.REROUTED]
        assert [code_of(s, e.data["from_authority_id"]) for e in rer] == [first_authority, "capital_repair_fund"]
        assert rer[0].data["reason"] == "это капремонт" and rer[0].data["old_due"]["first_reply"] == old_due.isoformat()
        assert inc.first_reply_due > old_due  # the new authority gets its full time from the reroute
        with pytest.raises(svc.IncidentError, match="уже направлен"):
            svc.reroute(s, inc, "min_housing_roads", "head", "ещё раз", T0 + 5 * H, profile=profile)
        kept = inc.first_reply_due
        svc.reroute(s, inc, "head_housing_roads", "head", "без пересчёта", T0 + 6 * H, profile=profile, recompute_deadlines=False)
        assert inc.first_reply_due == kept


def test_reclassify_reroutes_when_the_competence_changes(db, profile):
    with db.session() as s:
        inc = new_incident(s, profile)
        svc.reclassify(s, inc, "housing", "capital_repair", None, "operator", T0 + H, profile=profile)
        assert code_of(s, inc.authority_id) == "capital_repair_fund"
        kinds = [e.kind for e in events(s, inc)]
        assert kinds[-2:] == [ev.RECLASSIFIED, ev.REROUTED]
        with pytest.raises(svc.IncidentError, match="нет категории"):
            svc.reclassify(s, inc, "housing", "potholes", None, "operator", T0 + H, profile=profile)


def test_merge_and_split_are_logged_on_both_sides(db, profile):
    with db.session() as s:
        a = new_incident(s, profile, "Новокузнецк Кирова 12 нет отопления")
        b = new_incident(s, profile, "Бардина 30 холодные батареи", municipality="novokuznetsk", category="other")
        c = new_incident(s, profile, "Тепла нет во всём доме", municipality=None)
        assert len({a.id, b.id, c.id}) == 3
        svc.merge(s, a, [b, c], "operator:petrova", T0 + H)
        assert b.merged_into_id == a.id and c.merged_into_id == a.id
        moved = q.post_ids_of(s, a.id)
        assert len(moved) == 3
        merged = [e for e in events(s, a) if e.kind == ev.MERGED][0]
        assert merged.data["from_incident_ids"] == [b.id, c.id] and merged.actor == "operator:petrova"
        assert [e.kind for e in events(s, b)][-1] == ev.MERGED_INTO
        assert q.current_assignment(s, b.id) is None
        with pytest.raises(svc.IncidentError, match="объединён"):
            svc.acknowledge(s, b, "spec", T0 + 2 * H)

        new = svc.split(s, a, moved[1:], "operator:petrova", T0 + 2 * H, profile=profile)
        assert q.post_ids_of(s, a.id) == moved[:1] and q.post_ids_of(s, new.id) == moved[1:]
        split_ev = [e for e in events(s, a) if e.kind == ev.SPLIT][0]
        assert split_ev.data == {"post_ids": moved[1:], "new_incident_id": new.id}
        assert [(e.kind, e.actor) for e in events(s, new)][:2] == [(ev.CREATED, "operator:petrova"), (ev.ROUTED_EV, "operator:petrova")]
        assert new.state == "routed" and new.first_reply_due is not None
        with pytest.raises(svc.IncidentError, match="хотя бы один"):
            svc.split(s, a, moved[:1], "operator", T0 + 3 * H, profile=profile)


def analysed_post(s, text, **kw) -> Post:
    p = add_post(s, text)
    s.add(PostAnalysis(post_id=p.id, model_version="t", content_hash=p.content_hash, relevant=True, relevance_confidence=0.6,
                       sector=kw.get("sector", "housing"), category=kw.get("category", "heating"), urgency="normal",
                       confidence=0.3, unsure=True, municipality=kw.get("municipality", "novokuznetsk")))
    s.flush()
    return p


def test_reviews_confirm_correct_not_problem_merge_fake(db, profile):
    with db.session() as s:
        p1 = analysed_post(s, "Новокузнецк Кирова 12 вроде батареи холодные?")
        assert q.pending_reviews(s)[0][0].id == p1.id
        d = svc.apply_review(s, p1.id, "confirm", "media:orlova", T0, profile=profile)
        inc = s.get(Incident, d.incident_id)
        assert inc.state == "routed" and q.post_ids_of(s, inc.id) == [p1.id]
        assert q.pending_reviews(s) == []

        svc.apply_review(s, p1.id, "correct", "media:orlova", T0 + H, category="capital_repair", profile=profile)
        assert inc.category == "capital_repair" and code_of(s, inc.authority_id) == "capital_repair_fund"

        p2 = analysed_post(s, "а на Бардина крыша течёт", category="roof_facade")
        d2 = svc.apply_review(s, p2.id, "merge", "media:orlova", T0 + H, incident_id=inc.id, profile=profile)
        assert d2.incident_id == inc.id and sorted(q.post_ids_of(s, inc.id)) == sorted([p1.id, p2.id])

        svc.apply_review(s, p2.id, "fake", "media:orlova", T0 + 2 * H, comment="бот", profile=profile)
        assert inc.is_possible_fake

        svc.apply_review(s, p1.id, "not_problem", "media:orlova", T0 + 3 * H, profile=profile)
        svc.apply_review(s, p2.id, "not_problem", "media:orlova", T0 + 3 * H, profile=profile)
        assert q.post_ids_of(s, inc.id) == [] and inc.state == "rejected"
        assert [e.kind for e in events(s, inc)][-3:] == [ev.POST_REMOVED, ev.POST_REMOVED, ev.REJECTED_EV]
        decisions = s.scalars(select(ReviewDecision).order_by(ReviewDecision.id)).all()
        assert [(r.decision, r.relevant) for r in decisions] == [
            ("confirm", True), ("correct", True), ("merge", True), ("fake", True), ("not_problem", False), ("not_problem", False)]
        with pytest.raises(svc.IncidentError):
            svc.apply_review(s, p1.id, "maybe", "media:orlova", T0, profile=profile)


def test_official_vk_reply_counts_as_the_first_reply(db, profile):
    adm = profile.region.authority("adm_novokuznetsk")
    prof = dataclasses.replace(profile, region=profile.region.model_copy(update={
        "authorities": [a.model_copy(update={"vk_accounts": [-555]}) if a.code == adm.code else a for a in profile.region.authorities]
    }))
    with db.session() as s:
        post = add_post(s, "Новокузнецк Кирова 12 нет отопления", external_id="900")
        inc = svc.ingest_analysis(s, prof, post, A(), T0)
        # a citizen's comment and the administration's official reply, collected by the re-scan
        add_post(s, "поддерживаю, у нас тоже", T0 + H, external_id="900_1", parent_external_id="900", author_id="42")
        reply_at = T0 + 2 * H
        add_post(s, "Здравствуйте! Бригада уже работает, подача тепла к 18:00.", reply_at, external_id="900_2",
                 parent_external_id="900", author_id="-555", author="Администрация Новокузнецка")
        # the same account under someone else's post is not an answer to this incident
        add_post(s, "Ответ по другому вопросу", reply_at, external_id="901_1", parent_external_id="901", author_id="-555")
        got = svc.detect_official_replies(s, prof, T0 + 3 * H)
        assert len(got) == 1
        assert inc.first_reply_at == reply_at and inc.state == "answered"
        (resp,) = q.responses_of(s, inc.id)
        assert (resp.channel, resp.kind, code_of(s, resp.authority_id)) == ("vk", "first_reply", "adm_novokuznetsk")
        assert svc.detect_official_replies(s, prof, T0 + 4 * H) == []  # once
        assert s.scalar(select(func.count()).select_from(Assignment)) == 1
