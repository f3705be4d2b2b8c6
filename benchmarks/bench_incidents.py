"""Grouping quality and speed of `pipeline.incidents.ingest_analysis`.

    python benchmarks/bench_incidents.py                      # thresholds 0.1 0.2 0.3 0.4
    python benchmarks/bench_incidents.py --thresholds 0.2

Worst case for over-merging: every hand-written problem post of the project's
corpus (`classifier_models/corpus/problems.jsonl`, one distinct problem per
post) is posted in the *same* municipality, one every 10 minutes, so all
posts of a category fall inside the 72 h window and meet the structural
filter. Each post is followed by two noisy re-posts of it (typos, lost
punctuation and case, `nlp.classifier.augment.variants`) that must join it.

Then four hand-written clusters of differently worded posts about one problem
each (`CLUSTERS` below: people retelling the same outage in their own words)
are posted into the same database, among all those corpus incidents.

Then the address case (`ADDRESS_CLUSTERS`): one post naming the town and a street address, followed
by short posts from other communities that name only the address, in other words (comments in a
town's community seldom name the town), and one post about the house next door that must stay apart.

Reported per threshold, over pairs of posts with the same sector and category:

* kept apart — share of pairs of *different* problems put in different incidents;
* joined — share of pairs (original, noisy re-post) put in one incident;
* retold — share of cluster posts put in the incident of the cluster's first post;
* by address — share of the address posts without a town put in the incident of the first post, and
  other house — share of the posts about the house next door kept apart from it (``--no-address``:
  the rules without address-level grouping, for comparison);
* incidents made, and posts/s of ingest_analysis (SQLite file, one transaction).

Exact copies join by content hash whatever the threshold, so the variants
here always differ in text.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import load_configuration
from nlp.classifier.augment import variants
from pipeline.incidents import GroupingOptions, ingest_analysis
from storage import Database, PostRecord, content_hash, upsert_posts
from storage.models import Post

CORPUS = Path(__file__).resolve().parents[1] / "classifier_models" / "corpus" / "problems.jsonl"
T0 = datetime(2026, 11, 16, 2, 0, tzinfo=timezone.utc)


@dataclass
class A:
    sector: str
    category: str
    municipality: str = "novokuznetsk"
    urgency: str = "normal"
    relevant: bool = True
    unsure: bool = False


#: (sector, category, town, first post naming the town, posts naming only the address, the house next door)
ADDRESS_CLUSTERS = [
    ("housing", "heating", "kemerovo", "Кемерово, ул. Весенняя 12 — второй день нет отопления, батареи ледяные", [
        "Присоединяюсь, Весенняя д.12 отопления нет…",
        "Весенней, 12 тоже холодно",
        "на Весенней 12 так и не дали",
        "ул. Весенняя 12, третий подъезд — то же самое",
    ], "Весенняя д.14 отопления нет уже два дня"),
    ("housing", "water_supply", "novokuznetsk", "Новокузнецк, пр-т Ленина, д. 5к2 — нет холодной воды с утра", [
        "Ленина 5к2 воды нет до сих пор",
        "пр. Ленина 5 корп. 2, подтверждаю",
        "на Ленина 5к2 сухие краны",
    ], "Ленина 7 тоже без воды с утра"),
]

CLUSTERS = [
    ("housing", "heating", [
        "Новокузнецк, ул. Кирова 12 — третий день нет отопления, батареи ледяные",
        "Кирова 12 батареи холодные, отопление так и не дали",
        "когда дадут отопление на Кирова?? звонили в аварийку",
        "нет тепла на Кирова, в квартире +14, дети в куртках",
        "Кирова 12 и 14 — отопления нет вторые сутки, УК молчит",
        "у нас на Кирова 16 батареи еле теплые, отопление не включили",
    ]),
    ("roads", "road_surface", [
        "На Октябрьском проспекте огромная яма прямо у остановки, машины бьют колёса",
        "яма на Октябрьском опять, уже третье колесо за месяц",
        "Октябрьский проспект возле остановки провал асфальта, объехать нельзя",
        "когда заделают яму на Октябрьском проспекте?",
        "Октябрьский пр., яма на полосе, ночью не видно вообще",
        "опять эта яма у остановки на Октябрьском, залило водой",
    ]),
    ("waste", "collection", [
        "Мусор на контейнерной площадке по ул. Ленина не вывозят неделю",
        "Ленина 45 баки переполнены, мусор не вывозят",
        "на Ленина мусорка завалена, крысы бегают, вывоза нет",
        "когда вывезут мусор с площадки на Ленина?",
        "улица Ленина, контейнеры полные уже 7 дней, мусор по всей площадке",
        "вывоз мусора на Ленина сорван, регоператор не отвечает",
    ]),
    ("transport", "routes_schedule", [
        "Автобус 15 опять не вышел на маршрут, люди по часу стоят на остановке",
        "где 15-й автобус? час жду на морозе",
        "маршрут 15 отменили что ли? ни одного автобуса с утра",
        "15 автобус не ходит третий день, как на работу добираться",
        "по 15 маршруту интервал час, автобусов нет",
        "опять нет 15-го, на остановке толпа",
    ]),
]


def run(threshold: float, rows: list[dict], copies: int, address_level: bool = True) -> dict:
    profile = load_configuration().regions["kuzbass"]
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.upgrade()
        options = GroupingOptions(threshold=threshold, address_level=address_level)
        where: dict[str, int] = {}  # external id -> incident id
        problem: dict[str, str] = {}  # external id -> problem id
        cls: dict[str, tuple[str, str]] = {}
        n = 0
        t = time.perf_counter()
        with db.session() as s:
            for i, row in enumerate(rows):
                texts = [row["text"]] + [v for v in variants(row["text"], copies, seed=i) if content_hash(v) != content_hash(row["text"])]
                for j, text in enumerate(texts):
                    ext = f"{i}_{j}"
                    at = T0 + timedelta(minutes=10 * n)
                    res = upsert_posts(s, [PostRecord("vk", "-1", ext, at, text)])
                    post = s.get(Post, res.post_ids[0])
                    inc = ingest_analysis(s, profile, post, A(row["sector"], row["category"]), at, options)
                    where[ext], problem[ext], cls[ext] = inc.id, str(i), (row["sector"], row["category"])
                    n += 1
            retold = retold_ok = 0
            for k, (sector, category, texts) in enumerate(CLUSTERS):
                first = None
                for j, text in enumerate(texts):
                    at = T0 + timedelta(minutes=10 * n)
                    res = upsert_posts(s, [PostRecord("vk", "-2", f"c{k}_{j}", at, text)])
                    inc = ingest_analysis(s, profile, s.get(Post, res.post_ids[0]), A(sector, category), at, options)
                    n += 1
                    if first is None:
                        first = inc.id
                    else:
                        retold += 1
                        retold_ok += inc.id == first
            by_address = by_address_ok = apart_house = 0
            for k, (sector, category, town, head, tail, next_door) in enumerate(ADDRESS_CLUSTERS):
                texts = [(head, town)] + [(t, None) for t in tail] + [(next_door, None)]
                first = None
                for j, (text, muni) in enumerate(texts):
                    at = T0 + timedelta(minutes=10 * n)
                    res = upsert_posts(s, [PostRecord("vk", f"-{100 + 10 * k + j}", f"a{k}_{j}", at, text)])
                    inc = ingest_analysis(s, profile, s.get(Post, res.post_ids[0]), A(sector, category, muni), at, options)
                    n += 1
                    if first is None:
                        first = inc.id
                    elif j <= len(tail):
                        by_address += 1
                        by_address_ok += inc.id == first
                    else:
                        apart_house += inc.id != first
        seconds = time.perf_counter() - t
        db.dispose()
    by_cls: dict[tuple[str, str], list[str]] = defaultdict(list)
    for ext, c in cls.items():
        by_cls[c].append(ext)
    apart = apart_ok = joined = joined_ok = 0
    for exts in by_cls.values():
        for a, b in itertools.combinations(exts, 2):
            if problem[a] != problem[b]:
                apart += 1
                apart_ok += where[a] != where[b]
            elif a.endswith("_0") or b.endswith("_0"):
                joined += 1
                joined_ok += where[a] == where[b]
    return {
        "threshold": threshold,
        "posts": n,
        "problems": len(rows),
        "incidents": len(set(where.values())),
        "kept_apart": apart_ok / apart if apart else 1.0,
        "different_pairs": apart,
        "joined": joined_ok / joined if joined else 1.0,
        "repost_pairs": joined,
        "retold": retold_ok / retold if retold else 1.0,
        "by_address": by_address_ok / by_address if by_address else 1.0,
        "other_house_apart": apart_house / len(ADDRESS_CLUSTERS),
        "posts_per_s": n / seconds,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.4])
    ap.add_argument("--copies", type=int, default=2, help="noisy re-posts per post")
    ap.add_argument("--no-address", action="store_true", help="without address-level grouping")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("relevant") and r.get("sector") and r.get("category")]
    results = [run(th, rows, args.copies, not args.no_address) for th in args.thresholds]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{len(rows)} distinct problems, {args.copies} noisy re-posts each, all in one town within the window")
    print(f"{'threshold':>9} {'incidents':>9} {'kept apart':>11} {'joined':>8} {'retold':>7} {'by address':>10} "
          f"{'other house':>11} {'posts/s':>8}")
    for r in results:
        print(f"{r['threshold']:>9.2f} {r['incidents']:>9} {r['kept_apart']:>11.4f} {r['joined']:>8.4f} "
              f"{r['retold']:>7.3f} {r['by_address']:>10.3f} {r['other_house_apart']:>11.3f} {r['posts_per_s']:>8.0f}")
    r = results[0]
    print(f"(pairs: {r['different_pairs']} of different problems, {r['repost_pairs']} original/re-post)")


if __name__ == "__main__":
    main()
