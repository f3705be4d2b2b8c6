"""Answer quality: the corpus, the shipped model, the gate on answer stages, review, notifications, ratings."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from classifier_models.corpus_gen import answers as gen
from nlp import answers as A
from pipeline import incidents as svc
from pipeline.ratings import assignments_from_events, figures
from storage import events as ev
from storage import incidents as q
from storage.models import Authority, IncidentEvent, OutboxMessage
from tests.helpers import A as Analysis
from tests.helpers import add_post

T0 = datetime(2026, 11, 16, 3, 0, tzinfo=timezone.utc)  # Monday 10:00 in Kuzbass
H = timedelta(hours=1)
FORMULAIC = "Добрый день. Ваше обращение передано в управляющую компанию. Информация принята к сведению."
RUDE = "Хватит писать сюда всякую ерунду, сами виноваты."
SUBSTANTIVE = "Здравствуйте! Аварийная бригада выехала, порыв устранят до 18:00, ответственный — мастер Петров А. С."


def test_the_corpus_is_what_the_generator_writes_and_the_model_is_trained_on_it():
    shipped = [json.loads(line) for line in A.TRAIN_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert shipped == gen.generate()  # deterministic: rerunning the generator changes nothing
    counts = {lab: sum(r["quality"] == lab for r in shipped) for lab in A.QUALITIES}
    assert min(counts.values()) >= 100 and len(shipped) >= 600
    assert A.shipped_model().fingerprint == A.fingerprint(shipped)  # retrain after changing the corpus or the cues


def test_the_evaluation_set_is_separate_from_the_corpus():
    train = {r["text"] for r in A.load_rows(A.TRAIN_PATH)}
    ev_rows = A.load_rows(A.EVAL_PATH)
    assert len(ev_rows) >= 100 and not train & {r["text"] for r in ev_rows}
    assert {r["quality"] for r in ev_rows} == set(A.QUALITIES)


def test_figures_on_the_evaluation_set_stay_at_the_published_level():
    s = A.scores(A.shipped_model(), A.load_rows(A.EVAL_PATH))
    # docs/classification.md «Качество ответов»: held-back precision 1.000, recall 0.753 at publication
    assert s["held_back"]["precision"] >= 0.95 and s["held_back"]["recall"] >= 0.7
    assert s["per_class"]["substantive"]["recall"] >= 0.9


def test_readings_with_cues():
    r = A.read(SUBSTANTIVE)
    assert r.quality == A.SUBSTANTIVE and not r.unsure and {"date", "action", "person"} <= set(r.cues)
    f = A.read(FORMULAIC)
    assert f.quality == A.FORMULAIC and not f.unsure and "formula" in f.cues and "date" not in f.cues
    assert A.read(RUDE).quality == A.RUDE
    assert A.read("Данный вопрос не входит в компетенцию администрации, обращайтесь в управляющую компанию.").quality == A.REFUSAL
    assert A.read("текст").unsure  # nothing to go on: a person looks


def _incident(s, profile):
    post = add_post(s, "Новокузнецк Кирова 12 нет отопления", T0, "-100001")
    return svc.ingest_analysis(s, profile, post, Analysis(), T0)


def test_a_formulaic_answer_does_not_close_the_first_reply_and_flags_the_incident(db, profile):
    with db.session() as s:
        inc = _incident(s, profile)
        due = inc.first_reply_due
        e = svc.record_response(s, inc, "first_reply", FORMULAIC, "spec", "web", T0 + H, profile=profile)
        assert e.kind == ev.ANSWER_FLAGGED and e.data["quality"] == "formulaic" and e.data["kind"] == "first_reply"
        assert inc.state == "routed" and inc.first_reply_at is None and inc.first_reply_due == due
        assert inc.answer_flag == "formulaic"
        (resp,) = q.responses_of(s, inc.id)
        assert (resp.quality, resp.counted, resp.quality_review) == ("formulaic", False, False)
        assert resp.quality_confidence >= A.REVIEW_BELOW and "formula" in resp.quality_cues
        # the ЦУР head is told, by e-mail (the kuzbass profile gives the head an address)
        head = s.scalar(select(Authority).where(Authority.region == profile.code, Authority.code == "head"))
        msgs = s.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == inc.id, OutboxMessage.recipient == head.email)).all()
        assert len(msgs) == 1 and "формальный" in msgs[0].subject and "Ваше обращение передано" in msgs[0].body
        assert "formulaic" not in msgs[0].body  # no internal codes for people
        # a rude answer is held back too; a substantive one closes the stage at its time
        assert svc.record_response(s, inc, "first_reply", RUDE, "spec", "vk", T0 + 2 * H, profile=profile).kind == ev.ANSWER_FLAGGED
        ok = svc.record_response(s, inc, "first_reply", SUBSTANTIVE, "spec", "web", T0 + 3 * H, profile=profile)
        assert ok.kind == ev.ANSWER_FIRST and ok.data["quality"] == "substantive"
        assert inc.state == "answered" and inc.first_reply_at == T0 + 3 * H
        assert inc.answer_flag == "rude"  # the last held-back reading; stays until a person looks
        assert [r.counted for r in q.responses_of(s, inc.id)] == [False, False, True]


def test_review_counts_a_held_back_answer_at_its_own_time_and_clears_the_flag(db, profile):
    with db.session() as s:
        inc = _incident(s, profile)
        svc.record_response(s, inc, "first_reply", FORMULAIC, "spec", "web", T0 + H, profile=profile)
        (resp,) = q.responses_of(s, inc.id)
        e = svc.review_answer(s, inc, resp.id, "substantive", "head:ivanova", T0 + 5 * H, profile=profile)
        assert e.kind == ev.ANSWER_REVIEWED and e.data == {"response_id": resp.id, "from": "formulaic", "to": "substantive", "counted": True}
        assert inc.first_reply_at == T0 + H and inc.state == "answered" and inc.answer_flag is None
        answer = [x for x in q.events_of(s, inc.id) if x.kind == ev.ANSWER_FIRST]
        assert [(x.at, x.actor) for x in answer] == [(T0 + H, "head:ivanova")]
        assert (resp.quality, resp.quality_reviewed_by, resp.counted) == ("substantive", "head:ivanova", True)


def test_an_unsure_reading_counts_and_asks_for_review(db, profile):
    with db.session() as s:
        inc = _incident(s, profile)
        e = svc.record_response(s, inc, "first_reply", "текст", "spec", "web", T0 + H, profile=profile)
        assert e.kind == ev.ANSWER_FIRST and e.data["unsure"] is True
        assert inc.first_reply_at == T0 + H and inc.answer_flag == "review"
        (resp,) = q.responses_of(s, inc.id)
        svc.review_answer(s, inc, resp.id, "formulaic", "head", T0 + 2 * H, profile=profile)
        assert inc.answer_flag is None and inc.first_reply_at == T0 + H  # a counted answer keeps its stage closed


def test_the_quality_term_of_the_rating_comes_from_the_event_log():
    at = T0

    def E(kind, t, data=None, id_=None):
        return IncidentEvent(id=id_, incident_id=1, kind=kind, actor="x", at=t, authority_id=7, data=data or {})

    events = [
        E(ev.ROUTED_EV, at, {"due": {"first_reply": (at + 8 * H).isoformat()}}, 1),
        E(ev.ANSWER_FLAGGED, at + H, {"response_id": 10, "quality": "formulaic"}, 2),
        E(ev.ANSWER_FLAGGED, at + 2 * H, {"response_id": 11, "quality": "rude"}, 3),
        E(ev.ANSWER_FIRST, at + 3 * H, {"response_id": 12, "quality": "substantive"}, 4),
        E(ev.ANSWER_FINAL, at + 4 * H, {"response_id": 13, "quality": "substantive"}, 5),
        E(ev.ANSWER_REVIEWED, at + 5 * H, {"response_id": 11, "from": "rude", "to": "substantive"}, 6),
    ]
    f = figures(assignments_from_events(events, at + 10 * H), at + 10 * H)
    # by hand: 4 answers read, 3 substantive after the review (12, 13, and 11 re-read)
    assert (f.answers_read, f.answers_substantive, f.substantive_share) == (4, 3, 0.75)
    assert f.replied == 1 and f.first_reply_on_time == 1  # the held-back answers do not count as replies


# --------------------------------------------------------------------------- web page and API


async def test_incident_page_shows_the_reading_the_flag_and_takes_a_review(db_url, aiohttp_client):
    from storage.models import Incident, Response
    from tests.test_web_security import add_users, csrf_of, login, make_ctx
    from web.app import create_app
    from web.sample import seed_sample

    app = make_ctx(db_url)
    seed_sample(app, datetime.now(timezone.utc))
    add_users(app, [("op", "operator", None)])
    try:
        with app.db.session() as s:
            inc_id = s.scalar(select(Incident.id).where(Incident.state == "routed").order_by(Incident.id))
        client = await aiohttp_client(create_app(app))
        assert (await login(client, "op")).status == 303
        url = f"/incidents/{inc_id}"
        page = await client.get(url)
        r = await client.post(url + "/answer", data={"csrf_token": csrf_of(await page.text()), "kind": "first_reply", "text": FORMULAIC},
                              allow_redirects=False)
        assert r.status == 303
        html = await (await client.get(url)).text()
        assert "этап не закрыт" in html and "формальный ответ без срока и действия" in html
        visible = re.sub(r"<[^>]+>", " ", html)
        assert "формула вежливости без сути" in visible and "formulaic" not in visible  # no internal codes on the page
        with app.db.session() as s:
            resp = s.scalar(select(Response).where(Response.incident_id == inc_id))
            assert (resp.quality, resp.counted) == ("formulaic", False)
            resp_id = resp.id
        r = await client.post(url + "/answer-review", data={"csrf_token": csrf_of(html), "response_id": str(resp_id), "quality": "refusal"},
                              allow_redirects=False)
        assert r.status == 303
        html = await (await client.get(url)).text()
        assert 'id="answer-flag"' not in html and "отказ, проверено, этап не закрыт" in html
        with app.db.session() as s:
            inc = s.get(Incident, inc_id)
            assert inc.answer_flag is None and inc.first_reply_at is None and inc.state == "routed"
    finally:
        app.db.dispose()


# --------------------------------------------------------------------------- migration


@pytest.mark.postgres
def test_migration_0011_keeps_old_answers_counted(tmp_path, fresh_pg_url):
    """Answers written before the readings: no reading, counted; down and up again; no schema diff."""
    from sqlalchemy import inspect, text

    from storage import Database
    from storage.models import Response
    from tests.test_storage import _insert_0004_incident, _no_autogenerate_diff

    for url in (f"sqlite:///{tmp_path / 'm11.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade("0010")
        inc = _insert_0004_incident(db, {})
        with db.engine.begin() as c:
            c.execute(text("INSERT INTO responses (incident_id, kind, text, author, channel, at) "
                           "VALUES (:i, 'first_reply', 'Информация принята', 'spec', 'web', CURRENT_TIMESTAMP)"), {"i": inc})
        db.upgrade("0011")
        db.upgrade("0011")  # rerunnable
        with db.session() as s:
            (r,) = s.scalars(select(Response)).all()
            assert (r.quality, r.counted, r.quality_review) == (None, True, False)
        db.downgrade("0010")
        assert "counted" not in {c["name"] for c in inspect(db.engine).get_columns("responses")}
        db.upgrade()
        assert _no_autogenerate_diff(db) == [], url
        db.dispose()


def test_the_report_shows_the_share_of_answers_by_substance(db, profile, tmp_path):
    from openpyxl import load_workbook

    from pipeline.reports import build_report, render_html, write_xlsx

    with db.session() as s:
        inc = _incident(s, profile)
        svc.record_response(s, inc, "first_reply", FORMULAIC, "spec", "web", T0 + H, profile=profile)
        svc.record_response(s, inc, "first_reply", SUBSTANTIVE, "spec", "web", T0 + 2 * H, profile=profile)
        rep = build_report(s, profile, "2026-11", T0 + 30 * 24 * H)
    (line,) = [r for r in rep.ratings if r.figures.answers_read]
    assert (line.figures.answers_read, line.figures.substantive_share, line.figures.not_substantive) == (2, 0.5, 1)
    assert "Ответы по существу" in render_html(rep)
    write_xlsx(rep, tmp_path / "r.xlsx")
    (row,) = [r for r in load_workbook(tmp_path / "r.xlsx")["Рейтинг"].iter_rows(min_row=2, values_only=True) if r[1] == line.code]
    assert row[11:13] == (0.5, 1)


async def test_the_dashboard_rating_shows_the_share_of_answers_by_substance(db_url, aiohttp_client):
    from tests.test_web_security import add_users, login, make_ctx
    from web.app import create_app

    app = make_ctx(db_url)
    try:
        with app.db.session() as s:
            inc = _incident(s, app.region)
            svc.record_response(s, inc, "first_reply", FORMULAIC, "spec", "web", T0 + H, profile=app.region)
            svc.record_response(s, inc, "first_reply", SUBSTANTIVE, "spec", "web", T0 + 2 * H, profile=app.region)
            code = s.get(Authority, inc.authority_id).code
        add_users(app, [("op", "operator", None)])
        client = await aiohttp_client(create_app(app))
        assert (await login(client, "op")).status == 303
        html = await (await client.get("/dashboard?month=2026-11")).text()
    finally:
        app.db.dispose()
    assert "<th title=" in html and "Ответы по существу</th>" in html
    row = re.search(rf'<tr data-authority="{code}">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'<td class="num substantive" title="не по существу: 1 из 2">50%</td>', row), row


def test_cur_incidents_show_prints_the_reading_of_each_answer(db, profile, cur):
    with db.session() as s:
        inc = _incident(s, profile)
        svc.record_response(s, inc, "first_reply", FORMULAIC, "spec", "web", T0 + H, profile=profile)
        svc.record_response(s, inc, "first_reply", SUBSTANTIVE, "spec", "web", T0 + 2 * H, profile=profile)
        inc_id = inc.id
    r = cur("incidents", "show", str(inc_id))
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stdout.splitlines() if "(web, spec)" in x]
    assert len(lines) == 2 and "[формальный, этап не закрыт]: Добрый день." in lines[0] and "[по существу]: Здравствуйте!" in lines[1], r.stdout
    assert "formulaic" not in r.stdout.split("журнал:")[0]  # no internal codes before the raw event log
