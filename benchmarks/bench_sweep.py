"""Cost of the notification sweep on a long event log.

Builds an event log of N events (default 500 000, i.e. years of a busy
region: 2000 incidents with ~250 events each, mostly posts joining them),
places the sweep cursor at its end, then times:

* an idle pass (nothing new: what the scheduler does every minute);
* a pass over 1000 new events of which 50 notify someone by e-mail;
* a pass with 200 ids waited for (gaps left by open or rolled-back transactions);

and prints the query plans of the two event-log queries. SQLite in a
temporary directory unless --db-url is given.

    python benchmarks/bench_sweep.py [--events 500000] [--db-url postgresql://...]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, text

from config import Settings, load_configuration
from pipeline import notify as nt
from storage import Database
from storage import coordination as co
from storage import events as ev
from storage.models import Authority, Incident, IncidentEvent

T0 = datetime(2023, 1, 9, 3, 0, tzinfo=timezone.utc)


def populate(db: Database, n: int) -> tuple[int, int]:
    with db.session() as s:
        a = Authority(region="kuzbass", code="min_housing_roads", name="Министерство ЖКХ", role="ministry", email="gkh@example.ru")
        s.add(a)
        s.flush()
        incidents = []
        for i in range(2000):
            inc = Incident(region="kuzbass", title=f"Инцидент {i}", sector="housing", state=ev.RESOLVED, authority_id=a.id, created_at=T0)
            s.add(inc)
            incidents.append(inc)
        s.flush()
        ids = [i.id for i in incidents]
    step = 20000
    span = timedelta(days=3 * 365)
    for start in range(0, n, step):
        rows = [
            {"incident_id": ids[k % len(ids)], "at": T0 + span * (k / n), "actor": "system",
             "kind": ev.POST_ADDED if k % 10 else ev.ACKNOWLEDGED_EV, "data": {"post_id": k}}
            for k in range(start, min(n, start + step))
        ]  # fmt: skip
        with db.session() as s:
            s.execute(insert(IncidentEvent), rows)
    return a.id, ids[0]


def timed(label: str, fn) -> None:
    t = time.perf_counter()
    r = fn()
    print(f"{label}: {1000 * (time.perf_counter() - t):.1f} ms  ({r.scanned} ids read, {r.events} events rendered, {r.enqueued} messages)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--db-url")
    args = ap.parse_args()
    profile = load_configuration(Settings()).regions["kuzbass"]
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db_url or f"sqlite:///{Path(tmp) / 'sweep.db'}"
        db = Database(url)
        db.upgrade()
        print(f"{db.engine.dialect.name}, {args.events} events, Python {platform.python_version()}, {platform.machine()}")
        t = time.perf_counter()
        a_id, inc_id = populate(db, args.events)
        print(f"populated in {time.perf_counter() - t:.1f} s")
        now = T0 + timedelta(days=3 * 365)
        with db.session() as s:
            top = s.scalar(select(func.max(IncidentEvent.id)))
            co.lock_cursor(s, nt.cursor_name(profile.code), now, initial_last_id=top)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE incident_events"))
        timed("idle pass", lambda: nt.notify_pending(db, profile, now))
        with db.session() as s:
            rows = [{"incident_id": inc_id, "at": now, "actor": "system", "kind": ev.POST_ADDED, "data": {}} for _ in range(950)]
            rows += [{"incident_id": inc_id, "at": now, "actor": "operator", "kind": ev.REOPENED_EV, "authority_id": a_id, "data": {"reason": "снова"}}
                     for _ in range(50)]  # fmt: skip
            s.execute(insert(IncidentEvent), rows)
        timed("1000 new events, 50 notifiable", lambda: nt.notify_pending(db, profile, now))
        with db.session() as s:
            state = co.lock_cursor(s, nt.cursor_name(profile.code), now)
            state.gaps = [[top - 2 * i - 1, top - 2 * i - 1, now.isoformat()] for i in range(200)]  # ids that exist: found, re-checked
            co.save_cursor(s, state, now)
        timed("200 gaps re-checked", lambda: nt.notify_pending(db, profile, now))
        timed("idle pass again", lambda: nt.notify_pending(db, profile, now))
        with db.session() as s:
            for label, q in (("ids after the cursor", select(IncidentEvent.id).where(IncidentEvent.id > top).order_by(IncidentEvent.id).limit(1000)),
                             ("gap ids", select(IncidentEvent.id).where(IncidentEvent.id.in_([top - 3, top - 5, top - 7])))):  # fmt: skip
                sql = str(q.compile(db.engine, compile_kwargs={"literal_binds": True}))
                prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
                plan = [" ".join(str(c) for c in row) for row in s.execute(text(prefix + sql))]
                print(f"plan of {label}: " + " | ".join(plan))
        db.dispose()


if __name__ == "__main__":
    main()
