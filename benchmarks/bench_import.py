"""`cur import` at scale: posts/s, per-post cost along the file and peak memory, SQLite and PostgreSQL.

    nice -n 10 python benchmarks/bench_import.py                    # 10k and 100k posts, both backends
    nice -n 10 python benchmarks/bench_import.py --sizes 10000 100000 --million --reference
    python benchmarks/bench_import.py --backends sqlite --sizes 10000

Each run is a child process (so its peak memory is its own) that writes a JSONL file of N synthetic
posts (30 % appeals-like long texts, 50 communities, 30 days), imports it into a fresh, migrated
database with :func:`pipeline.ingest.importer.import_file` (the function behind `cur import`), then
imports it again (every post already stored: the re-import path). Reported per run:

* posts/s and µs per post of the first import, and of its first and last tenth of the file (a flat
  per-post cost means the cost does not grow with the table);
* posts/s of the re-import;
* peak resident memory of the process, its growth during the import and the resident memory at
  10 %, 50 % and 100 % of the file (the file is streamed and the duplicate detector is on disk, so
  after the caches have filled it should not depend on N);
* CPU time per post of every tenth (this process; on PostgreSQL also the server's backends);
* with ``--reference``: every 1 % of the file (at least every 1,000 posts) a chunk of 1,000 other
  posts is imported into a second database kept under 10k posts; the cost of a post in the big table
  over that of a post in the small one, in the same stretch of time, is the growth of the per-post
  cost with the table with the machine's load divided out (CPU time also grows with the load: two
  processes on one core share its caches).

The PostgreSQL database is a temporary one on ``CUR_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards. Figures are ratios within one run
on a shared machine: say what else was running when you quote them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PG_ADMIN = os.environ.get("CUR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
WORDS = ("во дворе нет горячей воды третий день управляющая компания не отвечает яма на дороге у школы "
         "мусор не вывозят неделю прошу принять меры по адресу улица Кирова дом 12 подъезд свет не горит "
         "уважаемый глава ранее обращался номер обращения автобус не пришёл остановка").split()


def write_file(path: Path, n: int, seed: int = 1, start: int = 0) -> None:
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(start, start + n):
            long = rnd.random() < 0.3
            text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(60, 160) if long else rnd.randint(6, 30)))
            at = T0 + timedelta(seconds=rnd.randint(0, 30 * 86400))
            f.write(json.dumps({"id": str(i), "source": f"club{i % 50}", "author": f"Житель {i % 997}",
                                "date": at.isoformat(), "text": text, "url": f"https://vk.com/wall-{i % 50}_{i}"},
                               ensure_ascii=False) + "\n")


def rss_mb() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    """Resident memory of this process now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def server_cpu_s(admin, db_name: str | None) -> float:
    """CPU seconds of the PostgreSQL backends connected to ``db_name`` (same machine: their /proc)."""
    if admin is None:
        return 0.0
    total = 0.0
    for (pid,) in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (db_name,)):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


class Target:
    """A fresh, migrated database (SQLite file or a temporary PostgreSQL database) and how to read its server's CPU."""

    def __init__(self, backend: str, tmp: Path, tag: str) -> None:
        from storage import Database

        self.backend, self.pg_name, self.admin = backend, None, None
        if backend == "sqlite":
            self.path = tmp / f"{tag}.db"
            url = f"sqlite:///{self.path}"
        else:
            import psycopg

            self.pg_name = f"bench_import_{tag}_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{self.pg_name}"')
            url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.pg_name
        self.url = url
        self.db = Database(url)
        self.db.upgrade()
        if self.pg_name:
            import psycopg

            self.admin = psycopg.connect(url, autocommit=True)
        else:
            self.db.dispose()
            self.template = tmp / f"{tag}.template.db"
            shutil.copy(self.path, self.template)

    def server_cpu(self) -> float:
        return server_cpu_s(self.admin, self.pg_name)

    def empty(self) -> None:
        """Back to an empty, migrated database (the reference target is kept small this way)."""
        if self.admin is not None:
            self.admin.execute("TRUNCATE posts RESTART IDENTITY CASCADE")
            self.admin.execute("ANALYZE posts")
            return
        from storage import Database

        self.db.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copy(self.template, self.path)
        self.db = Database(self.url)

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()
        self.db.dispose()
        if self.pg_name:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


#: Reference chunks: posts per chunk, and chunks stored in the small reference database before it is emptied.
REF_CHUNK, REF_KEEP = 1000, 10


def one(backend: str, n: int, reference: bool = False) -> dict:
    """Runs in the child process.

    ``reference``: interleaved with the import, every ``ref_every`` posts a chunk of 1,000 other posts
    is imported into a second database kept small (emptied every 10k posts). A post's cost in the big
    table divided by its cost in the small one, in the same stretch of time, is the growth of the cost
    with the table, with the machine's load (which moves both) divided out.
    """
    from pipeline.ingest.importer import import_file

    tmp = Path(tempfile.mkdtemp(prefix="bench_import_"))
    path = tmp / "posts.jsonl"
    write_file(path, n)
    main = ref = None
    try:
        main = Target(backend, tmp, "main")
        db = main.db
        ref_every = max(REF_CHUNK, (n // 10 // 10) // REF_CHUNK * REF_CHUNK)
        ref_chunks: list[Path] = []
        if reference:
            ref = Target(backend, tmp, "ref")
            for j in range(REF_KEEP):
                ref_chunks.append(tmp / f"ref{j}.jsonl")
                write_file(ref_chunks[-1], REF_CHUNK, seed=100 + j, start=j * REF_CHUNK)
        marks: list[float] = []
        rss_at: list[float] = []
        cpu: list[float] = []
        server: list[float] = []
        # per tenth: reference CPU of this process, of the reference server, wall time, posts
        ref_cpu: list[float] = [0.0] * 10
        ref_server: list[float] = [0.0] * 10
        ref_wall: list[float] = [0.0] * 10
        ref_posts: list[int] = [0] * 10
        tenth = max(1, n // 10)
        count = 0
        done_ref = 0

        def tick(k: int) -> None:
            nonlocal count, done_ref
            count += k
            if ref is not None and count % ref_every == 0:
                slot = min(9, (count - 1) // tenth)
                if done_ref and done_ref % REF_KEEP == 0:
                    ref.empty()
                w, c, sv = time.perf_counter(), time.process_time(), ref.server_cpu()
                r = import_file(ref.db, ref_chunks[done_ref % REF_KEEP], timezone.utc)
                ref_server[slot] += ref.server_cpu() - sv
                ref_cpu[slot] += time.process_time() - c
                ref_wall[slot] += time.perf_counter() - w
                assert r.stored.inserted == REF_CHUNK, r.stored
                ref_posts[slot] += r.stored.inserted
                done_ref += 1
            if count % tenth == 0:
                marks.append(time.perf_counter())
                rss_at.append(rss_now_mb())
                cpu.append(time.process_time())
                server.append(main.server_cpu())

        base = rss_mb()
        t0, c0, s0 = time.perf_counter(), time.process_time(), main.server_cpu()
        report = import_file(db, path, timezone.utc, on_progress=tick)
        t1 = time.perf_counter()
        peak = rss_mb()
        assert report.stored.inserted == n and report.bad_count == 0, (report.stored, report.bad[:3])
        t2 = time.perf_counter()
        again = import_file(db, path, timezone.utc)
        t3 = time.perf_counter()
        assert again.stored.unchanged == n
        pg = main.admin is not None
        # the import's own CPU and wall time per tenth (reference chunks taken out)
        own_cpu = [(b - a) - rc for a, b, rc in zip([c0, *cpu], cpu, ref_cpu)]
        own_server = [(b - a) for a, b in zip([s0, *server], server)]
        own_wall = [(b - a) - rw for a, b, rw in zip([t0, *marks], marks, ref_wall)]
        seconds = (t1 - t0) - sum(ref_wall)
        out = {
            "backend": backend, "n": n, "seconds": round(seconds, 2), "posts_s": round(n / seconds),
            "us_post": round(seconds / n * 1e6), "us_first_tenth": round(own_wall[0] / tenth * 1e6),
            "us_last_tenth": round(own_wall[-1] / tenth * 1e6), "reimport_posts_s": round(n / (t3 - t2)),
            "file_mb": round(path.stat().st_size / 2**20, 1), "peak_mb": round(peak), "growth_mb": round(peak - base, 1),
            # CPU time of this process (SQLite works in it; PostgreSQL's server CPU is not counted): on a
            # loaded machine the wall time is mostly waiting for a core, this is what a post costs here
            "cpu_us_first_tenth": round(own_cpu[0] / tenth * 1e6),
            "cpu_us_last_tenth": round(own_cpu[-1] / tenth * 1e6),
            # PostgreSQL: CPU of the server backends serving the import (the pool keeps one connection)
            "server_us_first_tenth": round(own_server[0] / tenth * 1e6) if pg else None,
            "server_us_last_tenth": round(own_server[-1] / tenth * 1e6) if pg else None,
            "rss_10_50_100": [round(rss_at[i]) for i in (0, 4, 9) if i < len(rss_at)],
            # every tenth, to see a trend rather than two points: CPU µs/post of this process (and of the server)
            "cpu_us_tenths": [round(x / tenth * 1e6) for x in own_cpu],
            "server_us_tenths": [round(x / tenth * 1e6) for x in own_server] if pg else None,
            "load": [round(x, 1) for x in os.getloadavg()],
        }
        if reference:
            # CPU (this process + server) of a post in the big table / of a post in the small one, per tenth
            out["relative_tenths"] = [
                round(((oc + (os_ if pg else 0)) / tenth) / ((rc + (rs if pg else 0)) / rp), 2) if rp else None
                for oc, os_, rc, rs, rp in zip(own_cpu, own_server, ref_cpu, ref_server, ref_posts)
            ]
            out["ref_us_tenths"] = [round((rc + (rs if pg else 0)) / rp * 1e6) if rp else None
                                    for rc, rs, rp in zip(ref_cpu, ref_server, ref_posts)]
        return out
    finally:
        for target in (main, ref):
            if target is not None:
                target.close()
        shutil.rmtree(tmp, ignore_errors=True)  # the files and the SQLite databases (with their -wal and -shm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--million", action="store_true", help="add a run of 1,000,000 posts (long: tens of minutes)")
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    ap.add_argument("--reference", action="store_true",
                    help="interleave chunks imported into a small second database: the cost growth with the load divided out")
    ap.add_argument("--one", nargs=2, metavar=("BACKEND", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.reference)))
        return
    sizes = args.sizes + ([1_000_000] if args.million else [])
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("backend   posts     s   posts/s  µs/post  µs/post 1st 10%  µs/post last 10%  re-import posts/s  file MB  peak MB  growth MB"
          "  RSS MB at 10/50/100 %  CPU µs/post 1st/last 10 %  server CPU µs/post 1st/last 10 %  load at end")
    for backend in args.backends:
        for n in sizes:
            out = subprocess.run([sys.executable, __file__, "--one", backend, str(n), *(["--reference"] if args.reference else [])], capture_output=True, text=True)
            if out.returncode:
                print(f"{backend} {n}: failed\n{out.stderr[-2000:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{r['backend']:8} {r['n']:>7} {r['seconds']:>6} {r['posts_s']:>8} {r['us_post']:>8} {r['us_first_tenth']:>16}"
                  f" {r['us_last_tenth']:>17} {r['reimport_posts_s']:>18} {r['file_mb']:>8} {r['peak_mb']:>8} {r['growth_mb']:>10}"
                  f"  {'/'.join(map(str, r['rss_10_50_100'])):>22}  {r['cpu_us_first_tenth']:>12}/{r['cpu_us_last_tenth']:<12}"
                  f"  {r['server_us_first_tenth']}/{r['server_us_last_tenth']}"
                  f"  {' '.join(map(str, r['load']))}",
                  flush=True)
            print(f"  CPU µs/post by tenth: {r['cpu_us_tenths']}" + (f"; server: {r['server_us_tenths']}" if r["server_us_tenths"] else ""), flush=True)
            if "relative_tenths" in r:
                print(f"  CPU µs/post into a database of < 10k posts, same stretches: {r['ref_us_tenths']}\n"
                      f"  big / small by tenth: {r['relative_tenths']}", flush=True)


if __name__ == "__main__":
    main()
