"""Grouping posts into incidents on SQLite and PostgreSQL (no classifier: analyses are given)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from pipeline.incidents import ingest_analysis
from storage import events as ev
from storage.models import Incident, IncidentEvent, IncidentPost
from tests.helpers import A, add_post

T0 = datetime(2026, 11, 16, 1, 0, tzinfo=timezone.utc)  # Monday 08:00 in Kuzbass


HEATING = [
    "Новокузнецк, ул. Кирова 12 — третий день нет отопления, батареи ледяные",
    "Кирова 12 батареи холодные, отопление так и не дали",
    "на Кирова 14 тоже нет отопления, дети мерзнут",
    "когда дадут отопление на Кирова?? звонили в аварийку",
    "Кирова 12 и 14 — отопления нет вторые сутки, УК молчит",
    "нет тепла на Кирова, в квартире +14",
    "холодные батареи Кирова 12 подъезд 3",
    "отопление Кирова!!! сколько можно мерзнуть",
    "аварийка не приезжает, на Кирова отопления нет",
    "у нас на Кирова 16 батареи еле теплые, отопление не включили",
]


def heating_text(i: int) -> str:
    base = HEATING[i % len(HEATING)]
    return base if i < len(HEATING) else f"{base} (уже {i // len(HEATING) + 1}-й раз пишу)"


def count(s, model, *where) -> int:
    return s.scalar(select(func.count()).select_from(model).where(*where))


def test_thirty_posts_about_one_heating_failure_make_one_incident(db, profile):
    with db.session() as s:
        incidents = set()
        for i in range(30):
            at = T0 + timedelta(hours=i * 1.5)  # over ~two days
            post = add_post(s, heating_text(i), at)
            inc = ingest_analysis(s, profile, post, A(), at)
            incidents.add(inc.id)
        assert len(incidents) == 1
        (iid,) = incidents
        inc = s.get(Incident, iid)
        assert count(s, IncidentPost, IncidentPost.incident_id == iid) == 30
        kinds = [e.kind for e in s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == iid).order_by(IncidentEvent.id))]
        assert kinds[:2] == [ev.CREATED, ev.ROUTED_EV]
        assert kinds.count(ev.POST_ADDED) == 29
        assert inc.state == "routed" and inc.authority_id is not None
        assert inc.first_seen_at == T0 and inc.last_post_at == T0 + timedelta(hours=29 * 1.5)


def test_same_problem_elsewhere_or_in_another_sector_is_another_incident(db, profile):
    with db.session() as s:
        first = ingest_analysis(s, profile, add_post(s, HEATING[0], T0), A(), T0)
        other_city = ingest_analysis(s, profile, add_post(s, "Кемерово, Кирова 12 нет отопления", T0), A(municipality="kemerovo"), T0)
        other_sector = ingest_analysis(
            s, profile, add_post(s, "Новокузнецк Кирова 12 нет света, отопление тоже", T0),
            A(sector="energy", category="power_outage"), T0)
        other_category = ingest_analysis(
            s, profile, add_post(s, "Новокузнецк Кирова 12 лифт не работает неделю", T0), A(category="lift"), T0)
        assert len({first.id, other_city.id, other_sector.id, other_category.id}) == 4
        assert other_city.authority_id != first.authority_id  # Kemerovo's administration


def test_post_without_a_place_joins_only_a_close_match(db, profile):
    with db.session() as s:
        town = ingest_analysis(s, profile, add_post(s, HEATING[0], T0), A(), T0)
        # a comment that names no town but the same street, batteries and heating
        same = ingest_analysis(s, profile, add_post(s, HEATING[1], T0 + timedelta(hours=1)), A(municipality=None), T0)
        assert same.id == town.id and town.municipality == "novokuznetsk"
        vague = ingest_analysis(s, profile, add_post(s, "батареи холодные, сделайте что-нибудь", T0), A(municipality=None), T0)
        assert vague.id != town.id and vague.municipality is None


def test_unrelated_text_in_the_same_category_and_city_is_another_incident(db, profile):
    with db.session() as s:
        a = ingest_analysis(s, profile, add_post(s, HEATING[0], T0), A(), T0)
        b = ingest_analysis(s, profile, add_post(s, "Проспект Металлургов 5, холодные радиаторы в школе искусств", T0), A(), T0)
        assert a.id != b.id


def test_time_window_is_measured_from_the_last_post(db, profile):
    with db.session() as s:
        a = ingest_analysis(s, profile, add_post(s, HEATING[0], T0), A(), T0)
        t1 = T0 + timedelta(hours=60)
        assert ingest_analysis(s, profile, add_post(s, HEATING[1], t1), A(), t1).id == a.id
        t2 = t1 + timedelta(hours=70)  # 130 h after the first post, 70 h after the last
        assert ingest_analysis(s, profile, add_post(s, HEATING[2], t2), A(), t2).id == a.id
        t3 = t2 + timedelta(hours=73)
        assert ingest_analysis(s, profile, add_post(s, HEATING[3], t3), A(), t3).id != a.id


def test_repost_joins_by_content_hash_and_resolved_incidents_are_closed(db, profile):
    from pipeline.incidents import resolve

    with db.session() as s:
        text = "Новокузнецк: срочно!!! Кирова 12 нет отопления"
        a = ingest_analysis(s, profile, add_post(s, text, T0), A(), T0)
        repost = add_post(s, text.upper(), T0 + timedelta(minutes=5), source="-200002")
        assert ingest_analysis(s, profile, repost, A(category="other"), T0).id == a.id
        resolve(s, a, "operator", T0 + timedelta(hours=1))
        late = add_post(s, text, T0 + timedelta(hours=2), source="-300003")
        assert ingest_analysis(s, profile, late, A(), T0 + timedelta(hours=2)).id != a.id


def test_unsure_and_irrelevant_posts_make_no_incident_and_reingest_is_idempotent(db, profile):
    with db.session() as s:
        p = add_post(s, HEATING[0], T0)
        assert ingest_analysis(s, profile, p, A(unsure=True), T0) is None
        assert ingest_analysis(s, profile, p, A(relevant=False), T0) is None
        assert count(s, Incident) == 0
        a = ingest_analysis(s, profile, p, A(), T0)
        assert ingest_analysis(s, profile, p, A(), T0).id == a.id
        assert count(s, IncidentPost) == 1


def test_urgent_post_makes_the_incident_urgent_and_tightens_deadlines(db, profile):
    with db.session() as s:
        a = ingest_analysis(s, profile, add_post(s, HEATING[0], T0), A(), T0)
        before = a.first_reply_due
        ingest_analysis(s, profile, add_post(s, HEATING[1] + " срочно, ребенок болеет", T0), A(urgency="high"), T0)
        assert a.urgency == "high"
        assert a.first_reply_due == T0 + timedelta(hours=4) < before
        (rec,) = [e for e in s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == a.id)) if e.kind == ev.RECLASSIFIED]
        assert rec.data["to"]["urgency"] == "high" and rec.data["due"]["first_reply"] == a.first_reply_due.isoformat()
