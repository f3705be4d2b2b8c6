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
second of this process and CPU milliseconds per post (PostgreSQL's own CPU is
not in it), the load average when the pass started and ended, peak RSS, import
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


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def incident_stats(url: str, size: int | None = None, options=None) -> dict:
    """Count, size and span of the incidents; with ``options`` (GroupingOptions), how many span more than
    their sector's age limit (the bound: an incident accepts posts published at most that long after its first)."""
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
        sector_of = dict(s.execute(select(Incident.id, Incident.sector)).tuples().all())
        followups = sum(1 for d in s.scalars(select(Incident.details)) if (d or {}).get("follows"))
        members = list(s.execute(select(IncidentPost.incident_id, Post.external_id).join(Post, Post.id == IncidentPost.post_id)))
    db.dispose()
    quality = {}
    if size is not None:  # against the generator's episodes: pairs of posts put together / kept together
        from collections import Counter

        import mixed_posts

        episode = mixed_posts.episodes(size)
        by_inc = Counter(i for i, _ in members)
        by_inc_ep = Counter((i, episode.get(e, 0)) for i, e in members)
        by_ep = Counter(episode.get(e, 0) for _, e in members)
        together = sum(_pairs(n) for n in by_inc.values())
        right = sum(_pairs(n) for (_, ep), n in by_inc_ep.items() if ep)
        same = sum(_pairs(n) for ep, n in by_ep.items() if ep)
        quality = {"pair_precision": round(right / together, 4) if together else None,
                   "pair_recall": round(right / same, 4) if same else None}
    sizes = [float(n) for _, n, _, _ in rows]
    spans = [(b - a).total_seconds() / 3600 for _, _, a, b in rows]
    over = None
    if options is not None:
        over = sum(1 for i, _, a, b in rows if b - a > options.age_limit(sector_of.get(i)))
    return {"incidents": incidents, "grouped_posts": int(sum(sizes)), "followups": followups, **quality,
            "size": _percentiles(sizes), "span_hours": _percentiles(spans), "over_bound": over}


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
    from datetime import timedelta

    from pipeline.incidents import GroupingOptions

    options = GroupingOptions()
    if args.max_age_days is not None:
        options = GroupingOptions(max_age=timedelta(days=args.max_age_days), max_age_by_sector={},
                                  unknown_place_needs_source_or_address=not args.any_source)
    elif args.any_source:
        options = GroupingOptions(unknown_place_needs_source_or_address=False)
    load_start = os.getloadavg()[0]
    t, c = time.perf_counter(), time.process_time()
    report = run(app, NOW, classifier=clf, grouping=options)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    load_end = os.getloadavg()[0]
    if prof is not None:
        prof.disable()
        prof.dump_stats(args.profile)
    db.dispose()
    n = report.processed
    return {
        "db": args.db[0], "posts": args.size, "mode": args.mode, "imported": rep.lines, "import_s": round(import_s, 1),
        "processed": n, "relevant": report.relevant, "seconds": round(wall, 2),
        "posts_per_s": round(n / wall, 1), "ms_per_post": round(1000 * wall / n, 3),
        "cpu_s": round(cpu, 2), "cpu_ms_per_post": round(1000 * cpu / n, 3), "load": [round(load_start, 1), round(load_end, 1)],
        "posts_per_cpu_s": round(n / cpu, 1), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **incident_stats(url, args.size, options),
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
    if args.max_age_days is not None:
        cmd += ["--max-age-days", str(args.max_age_days)]
    if args.any_source:
        cmd += ["--any-source"]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        return json.loads(out.stdout.strip().splitlines()[-1])
    except subprocess.CalledProcessError as e:
        sys.stderr.write(e.stderr)
        raise
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        if pg_name:
            with _pg_admin(args.pg) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def fmt(r: dict) -> str:
    size, span = r["size"], r["span_hours"]
    return (f"{r['db']:>8} {r['mode']:>9} {r['processed']:>7} {r['posts_per_s']:>8.0f} {r['ms_per_post']:>8.3f} "
            f"{r['posts_per_cpu_s']:>8.0f} {r['cpu_ms_per_post']:>7.3f} {r['load'][0]:>5.1f}-{r['load'][1]:<5.1f} {r['peak_rss_mb']:>6} {r['import_s']:>7.1f} {r['incidents']:>6} "
            f"{size.get('median', 0):>4.0f}/{size.get('p99', 0):.0f}/{size.get('max', 0):.0f} "
            f"{span.get('median', 0):>5.1f}/{span.get('p99', 0):.0f}/{span.get('max', 0):.0f} "
            f"{r.get('followups', 0):>5} {r.get('pair_precision') or 0:>6.3f} {r.get('pair_recall') or 0:>6.3f}"
            f" {r.get('over_bound')!s:>10}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000])
    ap.add_argument("--db", nargs="+", default=["sqlite"], choices=["sqlite", "postgres"])
    ap.add_argument("--mode", default="batched", choices=["batched", "reference"])
    ap.add_argument("--pg", default=PG)
    ap.add_argument("--max-age-days", type=float, help="one age limit for every sector (default: the shipped limits)")
    ap.add_argument("--any-source", action="store_true",
                    help="posts without a municipality need no common source or address (the rule before the bounds)")
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
    print(f"{'db':>8} {'mode':>9} {'posts':>7} {'posts/s':>8} {'ms/post':>8} {'/cpu-s':>8} {'cpu ms':>7} {'load':>11} {'rss MB':>6} "
          f"{'import':>7} {'incid.':>6} size med/p99/max  span h med/p99/max follow  prec.  recall  over bound", flush=True)
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
