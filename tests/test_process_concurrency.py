"""One processing pass at a time per region, with real `cur process` processes on both databases."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from conftest import CUR, run_cur
from sqlalchemy import func, select
from test_process_batched import export, make_app, mixed_posts, models_dir  # noqa: F401  (fixture)

from pipeline.importer import import_file
from storage import Database
from storage import coordination as co
from storage import incidents as q
from storage.models import Post, PostAnalysis

NOW_ARG = "2026-11-18T11:00"


def _env(cur_env: dict[str, str], models_dir: str | None) -> dict[str, str]:
    return {**cur_env, **({"CUR_MODELS_DIR": models_dir} if models_dir else {})}


def test_a_second_process_says_in_one_line_who_holds_the_lease(db_url, cur_env, models_dir, tmp_path):
    app = make_app(db_url, models_dir)
    db = app.ready_db()
    import_file(db, mixed_posts.write(30, tmp_path / "posts.jsonl"), app.region.region.tz)
    now = datetime.now(timezone.utc)
    with db.session() as s:
        ours, _ = co.acquire_lease(s, "process:kuzbass", "other", "host-b", 4242, now, timedelta(minutes=5))
    assert ours
    r = subprocess.run([CUR, "process", "--quiet", "--now", NOW_ARG], env=_env(cur_env, models_dir), cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "уже обрабатывает другой процесс (хост host-b, pid 4242" in lines[0] and "--wait" in lines[0]
    with db.session() as s:
        assert s.scalar(select(func.count(Post.id)).where(Post.processed_at.is_not(None))) == 0
    db.dispose()


@pytest.mark.slow
def test_two_processes_at_once_end_equal_to_one(db_url, cur_env, models_dir, tmp_path):
    data = mixed_posts.write(400, tmp_path / "posts.jsonl", seed=5)
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    for url in (reference, db_url):
        app = make_app(url, models_dir)
        import_file(app.ready_db(), data, app.region.region.tz)
    # the one uninterrupted pass: the same command in this process (the two racing ones below are real processes)
    one = run_cur(["process", "--quiet", "--now", NOW_ARG], env=_env({**cur_env, "CUR_DATABASE_URL": reference}, models_dir), cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    env = _env(cur_env, models_dir)
    procs = [subprocess.Popen([CUR, "process", "--quiet", "--wait", "600", "--now", NOW_ARG], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    processed = sorted(int(out.split("обработано постов: ")[1].split(";")[0]) for out, _ in outs)
    assert processed == [0, 400]  # the second waited for the first and found nothing left
    assert export(db_url) == export(reference)


def test_batch_writes_are_idempotent_under_a_race(db_url):
    """What two racing processes could both write for one post is written once, without an error."""
    db = Database(db_url)
    from storage import PostRecord, upsert_posts

    with db.session() as s:
        pid = upsert_posts(s, [PostRecord("vk", "-1", "1", datetime(2026, 11, 1, tzinfo=timezone.utc), "текст")]).post_ids[0]
    row = dict(post_id=pid, model_version="m1", content_hash="h", relevant=True, relevance_confidence=0.9, sector="housing",
               category=None, urgency="normal", tone=None, confidence=0.9, unsure=False, municipality=None, entities={},
               details={}, created_at=datetime(2026, 11, 1, tzinfo=timezone.utc))
    for _ in range(2):
        with db.session() as s:
            q.insert_analyses(s, [row])
    with db.session() as s:
        assert s.scalar(select(func.count(PostAnalysis.id))) == 1
    db.dispose()
