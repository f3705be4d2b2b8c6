"""`cur demo` runs the whole chain on the project's sample posts with the shipped model."""

from __future__ import annotations

import os
import re

from sqlalchemy import func, select

from storage import Database
from storage.models import Incident, IncidentEvent, OutboxMessage, Post, PostAnalysis, User
from tests.conftest import run_cur


def test_demo_runs_the_chain_and_reruns_idempotently(tmp_path):
    cur_env = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    r = run_cur(["demo", "--no-serve", "--database", url], env=cur_env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Загружены посты из posts.jsonl: новых 24" in out
    m = re.search(r"Инцидентов: (\d+)", out)
    assert m and int(m.group(1)) >= 5, out
    for login in ("admin", "operator", "specialist", "analyst", "curator"):
        assert re.search(rf"^\s+{login} / \S+ — {login}$", out, re.M), out
    assert (tmp_path / "cur-demo-reports").is_dir() and any((tmp_path / "cur-demo-reports").glob("*.xlsx"))

    db = Database(url)
    with db.session() as s:
        posts = s.scalar(select(func.count(Post.id)))
        analysed = s.scalar(select(func.count(PostAnalysis.id)))
        incidents = s.scalars(select(Incident)).all()
        events = s.scalar(select(func.count(IncidentEvent.id)))
        users = s.scalar(select(func.count(User.id)))
        queued = s.scalar(select(func.count(OutboxMessage.id)))
    assert posts == 24 and analysed == 24 and users == 5
    assert all(i.authority_id is not None and i.first_reply_due is not None for i in incidents)
    assert events >= 2 * len(incidents)  # created + routed at least
    assert queued >= 1  # routing notifications are queued in the outbox

    again = run_cur(["demo", "--no-serve", "--database", url], env=cur_env, cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "новых 0, уже было 24" in again.stdout
    with db.session() as s:
        assert s.scalar(select(func.count(Post.id))) == 24
        assert s.scalar(select(func.count(Incident.id))) == len(incidents)
        assert s.scalar(select(func.count(User.id))) == 5
    db.dispose()
