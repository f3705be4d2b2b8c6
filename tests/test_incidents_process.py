"""The processing pass end to end with a real classifier, crash safety, official replies, and the CLI.

The classifier is the shipped active model (``classifier_models/``); while none
is shipped, a model is trained here on the project's own corpus (3 s) and used
through the same file registry.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from config import load_settings
from pipeline.context import App
from pipeline.demo import DEMO_POSTS
from pipeline.importer import import_file
from pipeline.process import process_pending
from storage import Database, PostRecord, upsert_posts
from storage import incidents as q
from storage.models import Authority, Incident, IncidentEvent, IncidentPost, Post, PostAnalysis

NOW = datetime(2026, 11, 18, 4, 0, tzinfo=timezone.utc)  # Wednesday 11:00 in Kuzbass
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> str | None:
    from nlp.classifier.registry import Registry

    if Registry().active_version():
        return None  # the shipped model
    from nlp.classifier import TrainOptions, load_corpus, train

    clf = train(load_corpus(), TrainOptions(augment=1))
    root = tmp_path_factory.mktemp("models")
    reg = Registry(root)
    reg.add(clf)
    reg.activate(clf.version, force=True)
    return str(root)


def make_app(url: str, models_dir: str | None, **extra: str) -> App:
    env = {"CUR_DATABASE_URL": url, **extra}
    if models_dir:
        env["CUR_MODELS_DIR"] = models_dir
    return App(settings=load_settings(env=env))


def snapshot(url: str) -> dict:
    """What processing produced, independent of row ids."""
    db = Database(url)
    with db.session() as s:
        ext = {p.id: p.external_id for p in s.scalars(select(Post))}
        codes = {a.id: a.code for a in s.scalars(select(Authority))}
        key = {}
        incidents = []
        for inc in s.scalars(select(Incident)):
            posts = tuple(sorted(ext[pid] for pid in q.post_ids_of(s, inc.id)))
            key[inc.id] = posts
            incidents.append((posts, inc.sector, inc.category, inc.municipality, inc.urgency, inc.state,
                              codes.get(inc.authority_id), inc.first_reply_due, inc.final_due))
        out = {
            "processed": sorted((ext[p.id], p.processed_at is not None) for p in s.scalars(select(Post))),
            "analyses": sorted((ext[a.post_id], a.relevant, a.sector, a.category, a.urgency, a.municipality, a.unsure)
                               for a in s.scalars(select(PostAnalysis))),
            "incidents": sorted(incidents),
            "events": sorted((key[e.incident_id], e.kind, e.actor, e.at, e.to_state) for e in s.scalars(select(IncidentEvent))),
        }
    db.dispose()
    return out


def test_demo_posts_go_through_the_whole_chain(db_url, models_dir):
    app = make_app(db_url, models_dir)
    db = app.ready_db()
    import_file(db, DEMO_POSTS, app.region.region.tz)
    report = process_pending(app, NOW)
    assert report.processed == 24
    with db.session() as s:
        posts = {p.external_id: p for p in s.scalars(select(Post))}
        assert all(p.processed_at == NOW for p in posts.values())
        analyses = {a.post_id: a for a in s.scalars(select(PostAnalysis))}
        assert len(analyses) == 24
        in_incident = {link.post_id: link.incident_id for link in s.scalars(select(IncidentPost))}
        incidents = s.scalars(select(Incident)).all()
        assert report.incidents_created == len(incidents) >= 5
        for inc in incidents:
            assert inc.state == "routed" and inc.authority_id is not None and inc.first_reply_due is not None
            kinds = [e.kind for e in q.events_of(s, inc.id)]
            assert kinds[:2] == ["created", "routed"]
        for pid, a in analyses.items():
            if pid in in_incident:
                assert a.relevant and not a.unsure
                inc = s.get(Incident, in_incident[pid])
                assert inc.sector == a.sector
            elif a.relevant and not a.unsure:
                pytest.fail(f"sure relevant post {pid} has no incident")
        # posts that are plainly not problems never become incidents
        for ext in ("1009", "1012", "1016", "1023"):  # congratulations, festival, sale, governor's meeting
            assert posts[ext].id not in in_incident, posts[ext].text
        # the Kirova 12 heating failure reported twice a day apart is one incident (when both are sure)
        a, b = posts["1001"].id, posts["1021"].id
        if a in in_incident and b in in_incident:
            assert in_incident[a] == in_incident[b]
        # places were resolved for relevant (or unsure) posts only
        assert analyses[posts["1001"].id].municipality == "novokuznetsk"
        assert all(x.municipality is None and x.entities == {} for x in analyses.values() if not x.relevant and not x.unsure)
        # unsure posts, relevant or not, wait for an operator
        unsure = [x.post_id for x in analyses.values() if x.unsure]
        assert report.unsure == len(unsure)
        assert sorted(p.id for p, _ in q.pending_reviews(s)) == sorted(unsure)
    assert process_pending(app, NOW + timedelta(hours=1)).processed == 0  # nothing twice


def test_crash_mid_processing_then_rerun_equals_an_uninterrupted_pass(db_url, models_dir, tmp_path):
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    ref = make_app(reference, models_dir)
    import_file(ref.ready_db(), DEMO_POSTS, ref.region.region.tz)
    process_pending(ref, NOW, batch_size=5)

    app = make_app(db_url, models_dir)
    import_file(app.ready_db(), DEMO_POSTS, app.region.region.tz)
    calls = []

    def crash_on_eighth(n: int) -> None:
        calls.append(n)
        if len(calls) == 8:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        process_pending(app, NOW, batch_size=5, on_progress=crash_on_eighth)
    half = snapshot(db_url)
    # a batch is one transaction: the first five posts are done, the batch of the eighth was rolled back whole
    assert sum(done for _, done in half["processed"]) == 5
    process_pending(app, NOW, batch_size=5)
    assert snapshot(db_url) == snapshot(reference)


def test_official_comment_is_not_a_post_to_classify_but_the_first_reply(db_url, models_dir, tmp_path):
    text = (ROOT / "config" / "regions" / "kuzbass.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^code: kuzbass$", "code: testkuz", text, count=1, flags=re.M)
    text = text.replace("municipality: novokuznetsk, email: adm-novokuznetsk@kuzbass.example.invalid, telegram_chat_id: null, vk_accounts: []",
                        "municipality: novokuznetsk, email: adm-novokuznetsk@kuzbass.example.invalid, telegram_chat_id: null, vk_accounts: [-555]")
    assert "vk_accounts: [-555]" in text
    regions = tmp_path / "regions"
    regions.mkdir()
    (regions / "testkuz.yaml").write_text(text, encoding="utf-8")
    app = make_app(db_url, models_dir, CUR_REGIONS_DIR=str(regions), CUR_REGION="testkuz")
    db = app.ready_db()
    post_time = NOW - timedelta(hours=3)
    with db.session() as s:
        upsert_posts(s, [PostRecord("vk", "-100001", "77", post_time,
                                    "Новокузнецк, ул. Кирова 12 — третий день нет отопления!!! дети спят в куртках")])
    process_pending(app, NOW)
    reply_at = NOW + timedelta(minutes=40)
    with db.session() as s:  # the re-scan collects the comments
        upsert_posts(s, [
            PostRecord("vk", "-100001", "77_1", reply_at, "Здравствуйте! Аварийная бригада направлена, тепло дадут к вечеру.",
                       author="Администрация Новокузнецка", author_id="-555", parent_external_id="77"),
        ])
    report = process_pending(app, NOW + timedelta(hours=1))
    assert report.official_comments == 1 and report.replies == 1
    with db.session() as s:
        comment = s.scalar(select(Post).where(Post.external_id == "77_1"))
        assert comment.processed_at is not None
        assert s.scalar(select(PostAnalysis).where(PostAnalysis.post_id == comment.id)) is None
        inc = q.incident_of_post(s, s.scalar(select(Post.id).where(Post.external_id == "77")))
        assert inc.region == "testkuz" and inc.first_reply_at == reply_at and inc.state == "answered"
        (resp,) = q.responses_of(s, inc.id)
        assert resp.channel == "vk" and resp.post_id == comment.id


def test_cli_process_list_show_and_manage(cur, cur_env, db_url, models_dir, monkeypatch):
    """`cur process` as a user runs it (a subprocess); the quick commands in-process through click."""
    from click.testing import CliRunner

    from cli.main import main

    if models_dir:
        cur_env["CUR_MODELS_DIR"] = models_dir
    app = make_app(db_url, models_dir)
    import_file(app.ready_db(), DEMO_POSTS, app.region.region.tz)
    r = cur("process", "--quiet", "--now", "2026-11-18T11:00")
    assert r.returncode == 0, r.stderr
    assert "обработано постов: 24" in r.stdout and "Проверка сроков" in r.stdout

    for k, v in cur_env.items():
        if k.startswith("CUR_"):
            monkeypatch.setenv(k, v)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    r = run("incidents", "list")
    assert r.exit_code == 0, r.output
    ids = [int(m) for m in re.findall(r"^\s*(\d+)\s", r.output, flags=re.M)]
    assert len(ids) >= 5
    a, b = ids[0], ids[1]
    r = run("incidents", "answer", str(a), "--kind", "interim", "--text", "Работы идут", "--actor", "spec:ivanov", "--now", "2026-11-18T12:00")
    assert r.exit_code == 0, r.output
    assert run("incidents", "resolve", str(a), "--actor", "spec:ivanov", "--now", "2026-11-18T13:00").exit_code == 0
    r = run("incidents", "resolve", str(a), "--now", "2026-11-18T13:05")
    assert r.exit_code == 1 and "не допускается" in r.output
    assert run("incidents", "reopen", str(a), "--reason", "снова", "--now", "2026-11-19T09:00").exit_code == 0
    assert run("incidents", "reroute", str(a), "head", "--reason", "вручную", "--now", "2026-11-19T10:00").exit_code == 0
    assert run("incidents", "merge", str(a), str(b), "--actor", "operator:petrova").exit_code == 0
    r = run("incidents", "show", str(a))
    assert r.exit_code == 0 and f"Инцидент №{a}" in r.output
    for shown in ("создан", "промежуточный ответ", "решён", "открыт повторно", "перенаправлен", "объединение (принял)",
                  "operator:petrova", "spec:ivanov", "18.11.2026 12:00"):  # local times, as entered
        assert shown in r.output, shown
    post_ids = [int(x) for x in re.findall(r"^\s+№(\d+) ", r.output, flags=re.M)]
    r = run("incidents", "split", str(a), str(post_ids[-1]))
    assert r.exit_code == 0 and "новый инцидент" in r.output, r.output
    r = run("incidents", "reroute", "999999", "head", "--reason", "x")
    assert r.exit_code == 1 and "не найден" in r.output


def test_appeals_skip_the_relevance_question(db_url, models_dir, tmp_path):
    """A post imported with --kind appeals is a problem even when its text alone would not be judged one."""
    import json

    from pipeline.ingest.importer import import_file
    from storage.models import PostAnalysis

    chat = "Вчера ездили с детьми на озеро, погода чудесная, всем хороших выходных"
    app = make_app(db_url, models_dir)
    db = app.ready_db()
    for kind, ident in (("posts", "plain"), ("appeals", "appeal")):
        f = tmp_path / f"{kind}.jsonl"
        f.write_text(json.dumps({"id": ident, "source": "pos", "date": (NOW - timedelta(hours=2)).isoformat(), "text": chat},
                                ensure_ascii=False) + "\n", encoding="utf-8")
        assert import_file(db, f, timezone.utc, kind=kind).stored.inserted == 1
    process_pending(app, NOW)
    with db.session() as s:
        got = {p.external_id: a.relevant for p, a in s.execute(select(Post, PostAnalysis).join(PostAnalysis, PostAnalysis.post_id == Post.id))}
    assert got == {"plain": False, "appeal": True}
