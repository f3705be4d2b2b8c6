"""Many regions in one deployment: sources and posts carry a region, and one pass serves every region.

Kuzbass (UTC+7) and Pskov (UTC+3) differ in time zone and in authorities. The same posts
collected in both regions go through one `cur process` of a deployment serving both, and each
region gets exactly what a deployment of that region alone gets: the same incidents, routed to
its own authorities, with deadlines on its own clock — and no incident mixes the two regions.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from config import ConfigError, load_configuration, load_settings
from pipeline.demo import DEMO_POSTS
from pipeline.process import process_pending
from storage import Database, PostRecord, upsert_posts
from storage import incidents as q
from storage.models import Authority, Incident, IncidentEvent, Post, Source
from storage.regions import assign_post_regions
from storage.sources import get_or_create_source
from tests.test_incidents_process import make_app, models_dir  # noqa: F401  (the classifier fixture)

NOW = datetime(2026, 11, 18, 4, 0, tzinfo=timezone.utc)  # Wednesday: 11:00 in Kuzbass, 07:00 in Pskov


def _demo(source_key: str) -> list[PostRecord]:
    out = []
    for line in DEMO_POSTS.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        out.append(PostRecord(platform="vk", source_key=source_key, external_id=d["id"],
                              published_at=datetime.fromisoformat(d["date"]), text=d["text"], author=d.get("author")))
    return out


def _collect(url: str, regions: dict[str, str | None]) -> None:
    """The demo posts once per source key (key -> the region of its source)."""
    db = Database(url)
    with db.session() as s:
        for n, (key, region) in enumerate(regions.items()):
            src, _ = get_or_create_source(s, "vk", "wall", key, url=f"https://vk.com/club{n}")
            src.region = region
            s.flush()
            records = _demo(key)
            half = len(records) // 2
            upsert_posts(s, records[:half], source_id=src.id)  # as a crawl stores them
            upsert_posts(s, records[half:])  # as a file import does: only the source key
    db.dispose()


def _snapshot(url: str) -> dict[str, list]:
    """Per region: what processing made of each post, independent of row ids."""
    db = Database(url)
    out: dict[str, list] = {}
    with db.session() as s:
        ext = {p.id: (p.source_key, p.external_id) for p in s.scalars(select(Post))}
        auth = {a.id: (a.region, a.code) for a in s.scalars(select(Authority))}
        for inc in s.scalars(select(Incident)):
            posts = tuple(sorted(ext[pid][1] for pid in q.post_ids_of(s, inc.id)))
            keys = {ext[pid][0] for pid in q.post_ids_of(s, inc.id)}
            assert len(keys) == 1, f"incident {inc.id} mixes sources of two regions: {keys}"
            events = sorted((e.kind, e.at) for e in s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == inc.id)))
            out.setdefault(inc.region, []).append((posts, inc.sector, inc.category, inc.municipality, inc.urgency, inc.state,
                                                   auth.get(inc.authority_id), inc.first_reply_due, inc.interim_due,
                                                   inc.final_due, tuple(events)))
    db.dispose()
    return {k: sorted(v) for k, v in out.items()}


def _sqlite(tmp_path, name: str) -> str:
    url = f"sqlite:///{tmp_path / name}"
    Database(url).upgrade()
    return url


def test_one_pass_serves_two_regions_each_as_its_own_deployment_would(db_url, models_dir, tmp_path):
    _collect(db_url, {"kuz": None, "psk": "pskov"})  # kuzbass is the default region: its source has no region
    both = make_app(db_url, models_dir, CUR_REGION="kuzbass", CUR_REGIONS="kuzbass,pskov")
    report = process_pending(both, NOW)
    assert report.processed == 48

    refs = {}
    for region, key in (("kuzbass", "kuz"), ("pskov", "psk")):
        url = _sqlite(tmp_path, f"{region}.db")
        _collect(url, {key: None})
        process_pending(make_app(url, models_dir, CUR_REGION=region), NOW)
        refs[region] = _snapshot(url)[region]

    got = _snapshot(db_url)
    assert set(got) == {"kuzbass", "pskov"}
    assert got["kuzbass"] == refs["kuzbass"]
    assert got["pskov"] == refs["pskov"]
    for region, rows in got.items():  # every incident went to an authority of its own region
        assert rows and all(r[6] is not None and r[6][0] == region for r in rows)
    # the same text seen in both regions: Pskov's working day starts four hours later on the clock
    normal = {r[0]: r[7] for r in got["kuzbass"] if r[4] == "normal"}
    later = [(normal[r[0]], r[7]) for r in got["pskov"] if r[0] in normal]
    assert later and any(k != p for k, p in later)
    with Database(db_url).session() as s:  # every post of the Pskov source (crawled or imported) is Pskov's
        assert {p.region for p in s.scalars(select(Post).where(Post.source_key == "psk"))} == {"pskov"}
        assert {p.region for p in s.scalars(select(Post).where(Post.source_key == "kuz"))} == {None}


def test_a_one_region_deployment_ignores_the_region_columns(db_url, models_dir):
    """Without `regions`, every pending post is the region's, as before regions existed."""
    _collect(db_url, {"kuz": None})
    app = make_app(db_url, models_dir)
    assert [p.code for p in app.served] == ["kuzbass"] and not app.many_regions
    assert process_pending(app, NOW).processed == 24
    with Database(db_url).session() as s:
        assert {i.region for i in s.scalars(select(Incident))} == {"kuzbass"}


def test_posts_of_a_region_not_served_wait(db_url, models_dir):
    _collect(db_url, {"kuz": None, "psk": "pskov", "mur": "murmansk"})
    app = make_app(db_url, models_dir, CUR_REGIONS="pskov")
    assert [p.code for p in app.served] == ["kuzbass", "pskov"]
    assert process_pending(app, NOW).processed == 48
    with Database(db_url).session() as s:
        waiting = {p.source_key for p in s.scalars(select(Post).where(Post.processed_at.is_(None)))}
        assert waiting == {"mur"}
        assert "murmansk" not in {i.region for i in s.scalars(select(Incident))}


def test_pending_posts_take_the_region_of_their_source(db):
    with db.session() as s:
        src, _ = get_or_create_source(s, "vk", "wall", "psk", url="https://vk.com/pskov_news")
        src.region = "pskov"
        home, _ = get_or_create_source(s, "vk", "wall", "kuz")
        s.flush()
        at = NOW - timedelta(hours=1)
        upsert_posts(s, [PostRecord("vk", "psk", "1", at, "текст")], source_id=src.id)
        upsert_posts(s, [PostRecord("vk", "https://vk.com/pskov_news", "2", at, "текст")])  # imported, by URL
        upsert_posts(s, [PostRecord("vk", "kuz", "3", at, "текст")], source_id=home.id)
        assert {p.external_id: p.region for p in s.scalars(select(Post))} == {"1": "pskov", "2": None, "3": None}  # as stored
        assert assign_post_regions(s, "kuzbass") == 1  # the imported one, by its source's URL
        assert {p.external_id: p.region for p in s.scalars(select(Post))} == {"1": "pskov", "2": "pskov", "3": None}
        assert assign_post_regions(s, "kuzbass") == 0


def test_regions_setting_names_known_regions_only():
    cfg = load_configuration(load_settings(env={"CUR_REGIONS": "pskov,kuzbass,pskov"}))
    assert [p.code for p in cfg.served] == ["kuzbass", "pskov"]  # the default region first, each once
    everything = load_configuration(load_settings(env={"CUR_REGIONS": "all"}))
    assert [p.code for p in everything.served][0] == "kuzbass" and len(everything.served) == len(everything.regions) >= 5
    with pytest.raises(ConfigError) as e:
        load_configuration(load_settings(env={"CUR_REGIONS": "pskov,atlantis"}))
    assert any(i.key == "regions" and "atlantis" in i.reason for i in e.value.issues)


def test_monthly_reports_and_deadline_checks_cover_every_region(db_url, models_dir, tmp_path):
    from pipeline import scheduler as sch
    from tests.helpers import FakeClock

    _collect(db_url, {"kuz": None, "psk": "pskov"})
    app = make_app(db_url, models_dir, CUR_REGIONS="pskov")
    sch.set_runtime(sch.Runtime(app, FakeClock(NOW), senders={}, report_dir=tmp_path / "reports"))
    sch.job_process()
    with app.db.session() as s:
        assert {i.region for i in s.scalars(select(Incident))} == {"kuzbass", "pskov"}
    clock = FakeClock(datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc))
    sch.set_runtime(sch.Runtime(app, clock, senders={}, report_dir=tmp_path / "reports"))
    sch.job_monthly_report()  # the default region's job
    sch.job_monthly_report("pskov")  # the job of every other region, at 06:00 of its own time zone
    for region, name in (("kuzbass", "Кузбасс"), ("pskov", "Псковская область")):
        html = (tmp_path / "reports" / region / "report-2026-11.html").read_text(encoding="utf-8")
        assert name in html
    clock.advance(days=2)  # every incident is late by now, in both regions
    actions = sch.job_deadlines()
    with app.db.session() as s:
        late = {s.get(Incident, a.incident_id).region for a in actions}
    assert late == {"kuzbass", "pskov"}
    # the CLI reads one region at a time: the default one, or the one named
    from tests.conftest import run_cur

    env = {"PATH": "/usr/bin:/bin", "CUR_DATABASE_URL": db_url, "CUR_REGIONS": "pskov"}
    with app.db.session() as s:
        counts = {r: len(list(s.scalars(select(Incident.id).where(Incident.region == r, Incident.merged_into_id.is_(None)))))
                  for r in ("kuzbass", "pskov")}
    for region, arg in (("kuzbass", []), ("pskov", ["--region", "pskov"])):
        r = run_cur(["export", "incidents", "--format", "jsonl", *arg], env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        codes = {a.code for a in load_configuration(load_settings(env={})).regions[region].region.authorities}
        assert len(rows) >= counts[region] > 0 and all(x["authority_code"] in codes for x in rows)
        offset = "+07:00" if region == "kuzbass" else "+03:00"
        assert all(x["created_at"].endswith(offset) for x in rows)  # times with the region's own offset
    r = run_cur(["incidents", "list", "--region", "murmansk"], env=env, cwd=tmp_path)
    assert r.returncode != 0 and "регион 'murmansk' не обслуживается" in r.stdout + r.stderr


def test_sources_add_with_a_region(db_url, tmp_path):
    from tests.conftest import run_cur

    env = {"PATH": "/usr/bin:/bin", "CUR_DATABASE_URL": db_url, "CUR_REGIONS": "pskov"}

    def cur(*args: str):
        return run_cur(list(args), env=env, cwd=tmp_path)

    r = cur("sources", "add", "https://vk.com/pskov_news", "--region", "pskov", "--municipality", "pskov")
    assert r.returncode == 0, r.stdout + r.stderr
    r = cur("sources", "add", "https://vk.com/other", "--region", "murmansk")
    assert r.returncode != 0 and "регион 'murmansk' не обслуживается" in r.stdout + r.stderr
    r = cur("sources", "add", "https://vk.com/other", "--region", "pskov", "--municipality", "novokuznetsk")
    assert r.returncode != 0 and "муниципалитета 'novokuznetsk' нет в профиле региона" in r.stdout + r.stderr
    with Database(db_url).session() as s:
        assert [(x.key, x.region, x.municipality) for x in s.scalars(select(Source))] == [("pskov_news", "pskov", "pskov")]
    r = cur("sources", "list")
    assert "регион: Псковская область" in r.stdout
    r = cur("report", "--month", "2026-11", "--region", "all", "--output", str(tmp_path / "rep"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Псковская область" in (tmp_path / "rep" / "pskov" / "report-2026-11.html").read_text(encoding="utf-8")
    assert (tmp_path / "rep" / "kuzbass" / "report-2026-11.xlsx").exists()
    r = cur("report", "--month", "2026-11", "--region", "murmansk")
    assert r.returncode != 0 and "регион 'murmansk' не обслуживается" in r.stdout + r.stderr


def test_workers_serve_two_regions_like_one_pass(db_url, models_dir, tmp_path):
    """The task split (`cur worker`): analyse tasks over both regions' posts in any order, then one group task per
    (region, sector) — the same incidents as one `cur process` of the two regions."""
    import random

    from pipeline.distributed import analyse_range, dispatch, group_pending, send_groups
    from pipeline.process import load_classifier

    reference = _sqlite(tmp_path, "reference.db")
    for url in (reference, db_url):
        _collect(url, {"kuz": None, "psk": "pskov"})
    process_pending(make_app(reference, models_dir, CUR_REGIONS="pskov"), NOW)

    app = make_app(db_url, models_dir, CUR_REGIONS="pskov")
    ranges: list[tuple[int, int]] = []
    groups: list[tuple] = []
    dispatch(app, lambda a, b: ranges.append((a, b)), lambda *g: groups.append(g), batch_size=7)
    assert len(ranges) > 5 and groups == []
    random.Random(3).shuffle(ranges)
    clf = load_classifier(app)
    for k, (a, b) in enumerate(ranges):
        analyse_range(app, clf, a, b, NOW)
        if k % 2 == 0:  # grouping while later analyses are still to come
            batch: list[tuple] = []
            send_groups(app, lambda *g, out=batch: out.append(g))
            for sector, region in batch:
                group_pending(app, NOW, sector, region=region)
            groups += batch
    assert {region for _, region in groups} == {"kuzbass", "pskov"}  # a group task names its region
    last: list[tuple] = []
    send_groups(app, lambda *g: last.append(g))
    for sector, region in last:
        group_pending(app, NOW, sector, region=region)
    with app.db.session() as s:
        assert not list(s.scalars(select(Post.id).where(Post.processed_at.is_(None))))
    assert _snapshot(db_url) == _snapshot(reference)


def test_each_region_has_its_monthly_report_at_six_of_its_own_time(db_url, tmp_path):
    from pipeline import scheduler as sch
    from tests.helpers import FakeClock

    app = make_app(db_url, None, CUR_REGIONS="pskov")
    sched = sch.build_scheduler(app, FakeClock(NOW))
    sched.start(paused=True)
    try:
        jobs = {j.id: j for j in sched.get_jobs()}
    finally:
        sched.shutdown(wait=True)
    for job_id, hours in (("monthly_report", 7), ("monthly_report:pskov", 3)):
        nxt = jobs[job_id].next_run_time.astimezone(timezone(timedelta(hours=hours)))
        assert (nxt.day, nxt.hour, nxt.minute) == (1, 6, 0), job_id
    assert jobs["monthly_report:pskov"].args == ("pskov",)
    assert "monthly_report:kuzbass" not in jobs


@pytest.mark.postgres
def test_migration_0015_puts_existing_rows_in_the_default_region(tmp_path, fresh_pg_url):
    """Sources and posts stored before regions are the default region's; users stay of every region; down and up."""
    from sqlalchemy import inspect, text

    from tests.test_storage import _no_autogenerate_diff

    for url in (f"sqlite:///{tmp_path / 'm15.db'}", fresh_pg_url):
        db = Database(url)
        db.upgrade("0014")
        with db.engine.begin() as c:
            c.execute(text("INSERT INTO sources (platform, kind, key, options, interval_minutes, enabled, created_at, posts_collected) "
                           "VALUES ('vk', 'wall', 'kuz', '{}', 15, true, CURRENT_TIMESTAMP, 0)"))
            c.execute(text("INSERT INTO posts (platform, source_key, external_id, published_at, text, content_hash, raw, collected_at, "
                           "updated_at, edit_count, is_deleted, is_appeal) VALUES ('vk', 'kuz', '1', CURRENT_TIMESTAMP, 'т', 'h', '{}', "
                           "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0, false, false)"))
            c.execute(text("INSERT INTO users (login, password_hash, role, is_active, created_at, must_change_password, session_generation) "
                           "VALUES ('op', 'x', 'operator', true, CURRENT_TIMESTAMP, false, 0)"))
        db.upgrade(default_region="kuzbass")
        db.upgrade(default_region="kuzbass")  # rerunnable
        with db.engine.begin() as c:
            assert c.execute(text("SELECT region FROM sources")).scalar() == "kuzbass"
            assert c.execute(text("SELECT region FROM posts")).scalar() == "kuzbass"
            assert c.execute(text("SELECT region FROM users")).scalar() is None  # a user of every region served
        db.downgrade("0014")
        assert "region" not in {c["name"] for c in inspect(db.engine).get_columns("posts")}
        db.upgrade()  # without a default region: the rows stay without one, which means the same
        assert _no_autogenerate_diff(db) == [], url
        db.dispose()
