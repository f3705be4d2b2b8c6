"""A processing backlog on PostgreSQL by 1 and by 2 (or more) `cur worker` processes on RabbitMQ: posts/s and the ratio.

    nice -n 10 python benchmarks/bench_workers.py --posts 100000 --workers 1 2

For every worker count: a fresh PostgreSQL database (on ``--pg``, dropped
after), the mixed data set of ``benchmarks/mixed_posts.py`` imported, N real
``cur worker --queues process`` processes started and warmed (classifier,
gazetteer and NER loaded), then the backlog dispatched as analyse tasks of 256
posts and a group task (``pipeline.distributed.dispatch``, what ``cur run``
does with ``CUR_BROKER_URL``) and timed until no post is pending. Queues are
in a namespace of their own (deleted after). Printed: seconds, posts/s, posts/s
per worker, the ratio to one worker, the load average before and after (the
machine may be shared: read the ratios), the incidents made (equal across
worker counts, or the run says so), and the workers needed for 10 M posts in an
hour at the measured per-worker rate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PG = "postgresql://postgres@127.0.0.1:5432/test"
BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
NOW = datetime(2026, 11, 18, 4, 0, tzinfo=timezone.utc)
CUR = str(Path(sys.executable).parent / "cur")


def _pg_admin(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(n_workers: int, file: Path, args: argparse.Namespace) -> dict:
    import logging

    logging.disable(logging.INFO)
    from sqlalchemy import func, select

    from config import load_settings
    from pipeline.context import App
    from pipeline.distributed import dispatch
    from pipeline.importer import import_file
    from pipeline.workers import connect
    from storage.models import Incident, Post

    pg_name = f"bench_workers_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with _pg_admin(args.pg) as conn:
        conn.execute(f'CREATE DATABASE "{pg_name}"')
    url = f"{args.pg.rsplit('/', 1)[0]}/{pg_name}"
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
    env.update(CUR_DATABASE_URL=url, CUR_BROKER_URL=args.broker, CUR_BROKER_NAMESPACE=ns, PYTHONHASHSEED="0")
    if args.models:
        env["CUR_MODELS_DIR"] = args.models
    settings = load_settings(env=env)
    app = App(settings=settings)
    logs = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    procs: list[subprocess.Popen] = []
    tasks = None
    try:
        db = app.ready_db()
        t = time.perf_counter()
        import_file(db, file, app.region.region.tz)
        import_s = time.perf_counter() - t
        with db.session() as s:
            total = s.scalar(select(func.count(Post.id)).where(Post.processed_at.is_(None))) or 0
        for k in range(n_workers):
            out = open(logs / f"w{k}.log", "w")
            procs.append(subprocess.Popen(["nice", "-n", str(args.nice), CUR, "worker", "--queues", "process"], env=env,
                                          stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        for k in range(n_workers):
            end = time.monotonic() + 300
            while "Обработчик запущен" not in (logs / f"w{k}.log").read_text():
                if time.monotonic() > end or procs[k].poll() is not None:
                    raise RuntimeError((logs / f"w{k}.log").read_text()[-2000:])
                time.sleep(0.5)
        tasks = connect(settings)
        load_before = _load()
        t = time.perf_counter()
        sent = dispatch(app, lambda a, b: tasks.send_analyse(a, b, NOW), lambda sector: tasks.send_group(NOW, sector))
        dispatch_s = time.perf_counter() - t
        while True:
            with db.session() as s:
                pending = s.scalar(select(func.count(Post.id)).where(Post.processed_at.is_(None), Post.is_deleted.is_(False)))
            if not pending:
                break
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker died: " + "".join((logs / f"w{k}.log").read_text()[-2000:] for k in range(n_workers)))
            time.sleep(0.5)
        wall = time.perf_counter() - t
        load_after = _load()
        with db.session() as s:
            incidents = s.scalar(select(func.count(Incident.id)))
        return {"workers": n_workers, "posts": total, "import_s": round(import_s, 1), "tasks": len(sent), "dispatch_s": round(dispatch_s, 2),
                "seconds": round(wall, 1), "posts_per_s": round(total / wall, 1), "per_worker": round(total / wall / n_workers, 1),
                "incidents": incidents, "load_before": load_before, "load_after": load_after}
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        if tasks is not None:
            for kind in ("crawl", "process", "deliver"):
                for name in (f"{ns}.{kind}", f"{ns}.{kind}.DQ", f"{ns}.{kind}.XQ"):
                    try:
                        tasks.broker.channel.queue_delete(name)
                    except Exception:  # noqa: BLE001
                        pass
            tasks.close()
        app.db.dispose()
        with _pg_admin(args.pg) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def main() -> None:
    import mixed_posts

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--pg", default=PG)
    ap.add_argument("--broker", default=BROKER)
    ap.add_argument("--models", default=None, help="CUR_MODELS_DIR (default: the shipped registry)")
    ap.add_argument("--nice", type=int, default=10, help="niceness of the workers")
    ap.add_argument("--federal", type=int, default=10_000_000, help="posts of the year for the arithmetic")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-workers-data-"))
    file = mixed_posts.write(args.posts, tmp / "posts.jsonl", seed=7)
    results = []
    for n in args.workers:
        r = run(n, file, args)
        results.append(r)
        print(json.dumps(r, ensure_ascii=False), flush=True)
    base = results[0]
    print(f"\n{'workers':>7} {'posts':>8} {'seconds':>8} {'posts/s':>8} {'per worker':>10} {'ratio':>6} {'incidents':>9}  load before -> after")
    for r in results:
        ratio = r["posts_per_s"] / base["posts_per_s"] * base["workers"]
        print(f"{r['workers']:>7} {r['posts']:>8} {r['seconds']:>8} {r['posts_per_s']:>8} {r['per_worker']:>10} {ratio:>6.2f} {r['incidents']:>9}"
              f"  {r['load_before']} -> {r['load_after']}")
    if len({r["incidents"] for r in results}) > 1:
        print("WARNING: the worker counts made different numbers of incidents")
    best = results[-1]
    rate = best["per_worker"]
    need = math.ceil(args.federal / 3600 / rate)
    print(f"\nfederal year: {args.federal:,} posts in an hour need {args.federal / 3600:,.0f} posts/s; at {rate} posts/s per worker "
          f"(measured with {best['workers']}) that is {need} workers (cores), if the database keeps up")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
