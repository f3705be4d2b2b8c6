"""Operations figures: monthly report build time over a synthetic event log, and outbox delivery rate.

Builds N incidents (default 5000) with routed/answer/resolved/graded events
spread over one month, times `build_report` + HTML + XLSX, then delivers M
(default 1000) signed webhooks to an aiohttp receiver on 127.0.0.1 and times
`adeliver_due`. SQLite in a temporary directory unless --db-url is given.

    python benchmarks/bench_ops.py [--incidents 5000] [--messages 1000] [--db-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from config import Settings, load_configuration
from pipeline.notify import adeliver_due, enqueue
from pipeline.notify.channels import WebhookSender
from pipeline.reports import build_report, render_html, write_xlsx
from storage import Database
from storage import events as ev
from storage.models import Authority, Incident, IncidentEvent

MONTH_START = datetime(2025, 10, 31, 17, 0, tzinfo=timezone.utc)  # 1 Nov 2025 00:00 in Kemerovo


def populate(db: Database, profile, n: int, rng: random.Random) -> None:
    with db.session() as s:
        auths = []
        for a in profile.region.authorities:
            row = Authority(region=profile.code, code=a.code, name=a.name, role=a.role.value)
            s.add(row)
            auths.append(row)
        s.flush()
        sectors = [x.code for x in profile.sectors]
        munis = [m.code for m in profile.region.municipalities]
        for i in range(n):
            routed = MONTH_START + timedelta(minutes=rng.randrange(30 * 24 * 60))
            due = {"first_reply": routed + timedelta(hours=8), "interim": routed + timedelta(hours=24), "final": routed + timedelta(days=9)}
            a = rng.choice(auths)
            inc = Incident(region=profile.code, title=f"инцидент {i}", sector=rng.choice(sectors), municipality=rng.choice(munis),
                           state="answered", authority_id=a.id, created_at=routed, routed_at=routed)  # fmt: skip
            s.add(inc)
            s.flush()
            evs = [(ev.CREATED, routed, None, {}), (ev.ROUTED_EV, routed, a.id, {"due": {k: v.isoformat() for k, v in due.items()}})]
            if rng.random() < 0.9:
                evs.append((ev.ANSWER_FIRST, routed + timedelta(minutes=rng.randrange(20 * 60)), None, {}))
            if rng.random() < 0.6:
                evs.append((ev.ANSWER_FINAL, routed + timedelta(days=rng.uniform(1, 12)), None, {}))
                if rng.random() < 0.8:
                    evs.append((ev.RESOLVED_EV, routed + timedelta(days=rng.uniform(12, 13)), None, {}))
                    evs.append((ev.GRADED, routed + timedelta(days=13.5), None, {"grade": rng.randint(1, 5)}))
            for kind, at, auth, data in evs:
                s.add(IncidentEvent(incident_id=inc.id, at=at, actor="bench", kind=kind, authority_id=auth, data=data))
            if i % 500 == 499:
                s.flush()


async def deliver(db: Database, m: int) -> float:
    got = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal got
        await request.read()
        got += 1
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    now = datetime.now(timezone.utc)
    with db.session() as s:
        for i in range(m):
            enqueue(s, "webhook", f"http://127.0.0.1:{port}/hook", "тема", "текст", {"event": "bench", "n": i}, f"bench:{i}", now=now)
    t = time.perf_counter()
    stats = await adeliver_due(db, now, {"webhook": WebhookSender("bench-secret")})
    elapsed = time.perf_counter() - t
    await runner.cleanup()
    assert stats.sent == m == got, (stats, got)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=5000)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--db-url")
    args = ap.parse_args()
    profile = load_configuration(Settings()).regions["kuzbass"]
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db_url or f"sqlite:///{tmp}/bench.db"
        db = Database(url)
        db.upgrade()
        t = time.perf_counter()
        populate(db, profile, args.incidents, random.Random(0))
        fill = time.perf_counter() - t
        t = time.perf_counter()
        with db.session() as s:
            report = build_report(s, profile, "2025-11", datetime(2025, 12, 1, tzinfo=timezone.utc))
        t_build = time.perf_counter() - t
        t = time.perf_counter()
        html = render_html(report)
        t_html = time.perf_counter() - t
        t = time.perf_counter()
        write_xlsx(report, Path(tmp) / "r.xlsx")
        t_xlsx = time.perf_counter() - t
        t_deliver = asyncio.run(deliver(db, args.messages))
        db.dispose()
    backend = url.split(":", 1)[0]
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, backend {backend}")
    print(f"log: {args.incidents} incidents, filled in {fill:.1f} s; {report.total.routed} assignments in the month")
    print(f"report: figures {t_build:.2f} s, HTML {t_html:.2f} s ({len(html) // 1024} KiB), XLSX {t_xlsx:.2f} s")
    print(f"outbox: {args.messages} signed webhooks delivered in {t_deliver:.2f} s = {args.messages / t_deliver:.0f} messages/s (sequential)")


if __name__ == "__main__":
    main()
