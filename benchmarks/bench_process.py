"""The whole processing chain (`cur process`) on a generated mixed data set: posts/s, per-post cost, memory.

    nice -n 10 python benchmarks/bench_process.py --sizes 10000 100000 --db sqlite postgres
    nice -n 10 python benchmarks/bench_process.py --sizes 3000 --db sqlite --profile /tmp/process.prof

For every database and size: a fresh database, the data set of
`benchmarks/mixed_posts.py` (30 % problem posts, 70 % ordinary ones, 30 days,
50 communities) imported with `cur import`'s code, then one processing pass
(`pipeline.process.process_pending`: classify, places, analyses, grouping,
routing, deadlines, outbox) timed with the classifier already loaded. Each
run is a child process of its own, so the peak memory (max RSS) is that run's.

Printed per run: posts/s (wall clock), milliseconds per post, posts per CPU
second of this process (PostgreSQL's own CPU is not in it), peak RSS, import
time, and the incidents made: count, posts per incident and span (first to
last post) distribution. ``--mode reference`` runs the per-post reference
chain (``pipeline.process_reference``) instead of the batched one, for
before/after ratios in one run. PostgreSQL: a database of its own per run on
``--pg`` (default ``postgresql://postgres@127.0.0.1:5432/test``), dropped after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
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
NOW = datetime(2026, 11, 18, 4, 0, tzinfo=timezone.utc)


def _pg_admin(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    values = sorted(values)

    def at(p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))]

    return {"median": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": values[-1], "mean": statistics.fmean(values)}


def incident_stats(url: str) -> dict:
    from sqlalchemy import func, select

    from storage import Database
    from storage.models import Incident, IncidentPost, Post

    db = Database(url)
    with db.session() as s:
        rows = s.execute(
            select(IncidentPost.incident_id, func.count(), func.min(Post.published_at), func.max(Post.published_at))
            .join(Post, Post.id == IncidentPost.post_id).group_by(IncidentPost.incident_id)
        ).all()
        incidents = s.scalar(select(func.count(Incident.id)))
        followups = sum(1 for d in s.scalars(select(Incident.details)) if (d or {}).get("follows"))
    db.dispose()
    sizes = [float(n) for _, n, _, _ in rows]
    spans = [(b - a).total_seconds() / 3600 for _, _, a, b in rows]
    return {"incidents": incidents, "grouped_posts": int(sum(sizes)), "followups": followups,
            "size": _percentiles(sizes), "span_hours": _percentiles(spans)}


def one(args: argparse.Namespace) -> dict:
    """A single run in this process (called in a child)."""
    import logging

    logging.disable(logging.CRITICAL)
    from config import load_settings
    from pipeline.context import App
    from pipeline.importer import import_file
    from pipeline.process import load_classifier, process_pending

    url = args.url
    app = App(settings=load_settings(env={"CUR_DATABASE_URL": url, **({"CUR_MODELS_DIR": args.models} if args.models else {})}))
    db = app.ready_db()
    t = time.perf_counter()
    rep = import_file(db, Path(args.file), app.region.region.tz)
    import_s = time.perf_counter() - t
    clf = load_classifier(app)
    from nlp.ner import load_models

    load_models()
    if args.mode == "reference":
        from pipeline.process_reference import process_pending_per_post as run
    else:
        run = process_pending
    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t, c = time.perf_counter(), time.process_time()
    report = run(app, NOW, classifier=clf)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    if prof is not None:
        prof.disable()
        prof.dump_stats(args.profile)
    db.dispose()
    n = report.processed
    return {
        "db": args.db[0], "posts": args.size, "mode": args.mode, "imported": rep.lines, "import_s": round(import_s, 1),
        "processed": n, "relevant": report.relevant, "seconds": round(wall, 2),
        "posts_per_s": round(n / wall, 1), "ms_per_post": round(1000 * wall / n, 3),
        "posts_per_cpu_s": round(n / cpu, 1), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **incident_stats(url),
    }


def run_child(db: str, size: int, file: Path, args: argparse.Namespace) -> dict:
    tmp = tempfile.mkdtemp(prefix="bench-process-")
    pg_name = None
    if db == "sqlite":
        url = f"sqlite:///{tmp}/bench.db"
    else:
        pg_name = f"bench_process_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with _pg_admin(args.pg) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = f"{args.pg.rsplit('/', 1)[0]}/{pg_name}"
    cmd = [sys.executable, __file__, "--one", "--db", db, "--size", str(size), "--file", str(file), "--url", url,
           "--mode", args.mode]
    if args.models:
        cmd += ["--models", args.models]
    if args.profile:
        cmd += ["--profile", f"{args.profile}.{db}.{size}"]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        return json.loads(out.stdout.strip().splitlines()[-1])
    except subprocess.CalledProcessError as e:
        sys.stderr.write(e.stderr)
        raise
    finally:
        if pg_name:
            with _pg_admin(args.pg) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def fmt(r: dict) -> str:
    size, span = r["size"], r["span_hours"]
    return (f"{r['db']:>8} {r['mode']:>9} {r['processed']:>7} {r['posts_per_s']:>8.0f} {r['ms_per_post']:>8.3f} "
            f"{r['posts_per_cpu_s']:>8.0f} {r['peak_rss_mb']:>6} {r['import_s']:>7.1f} {r['incidents']:>6} "
            f"{size.get('median', 0):>4.0f}/{size.get('p99', 0):.0f}/{size.get('max', 0):.0f} "
            f"{span.get('median', 0):>5.1f}/{span.get('p99', 0):.0f}/{span.get('max', 0):.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000])
    ap.add_argument("--db", nargs="+", default=["sqlite"], choices=["sqlite", "postgres"])
    ap.add_argument("--mode", default="batched", choices=["batched", "reference"])
    ap.add_argument("--pg", default=PG)
    ap.add_argument("--models", help="models directory (default: the shipped registry)")
    ap.add_argument("--profile", help="write a cProfile of each pass to PATH.<db>.<size>")
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args), default=str))
        return
    import mixed_posts

    print(f"load average at start {os.getloadavg()[0]:.2f}; CPUs {os.cpu_count()}", flush=True)
    print(f"{'db':>8} {'mode':>9} {'posts':>7} {'posts/s':>8} {'ms/post':>8} {'/cpu-s':>8} {'rss MB':>6} "
          f"{'import':>7} {'incid.':>6} size med/p99/max  span h med/p99/max", flush=True)
    results = []
    for size in args.sizes:
        file = args.data_dir / f"cur-mixed-{size}.jsonl"
        if not file.exists():
            mixed_posts.write(size, file)
        for db in args.db:
            r = run_child(db, size, file, args)
            results.append(r)
            sys.stderr.write(json.dumps(r, default=str) + "\n")
            print(json.dumps(r, default=str) if args.json else fmt(r), flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
