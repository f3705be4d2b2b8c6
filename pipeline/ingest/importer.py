"""`cur import`: posts from JSONL/CSV files into the database, idempotently, streaming.

Memory stays flat whatever the size of the file: records are read one at a time
(:func:`collectors.files.read_posts`), stored in batches of :data:`BATCH`, and the keys already
seen in the file, kept to report duplicates with the line of the first, are on disk
(:class:`storage.scratch.SeenKeys`: a temporary database with a bounded page cache). Every bad line is one named, skipped line; a file that is not UTF-8 stores nothing.
A line naming a post that a VK/Telegram source collected is refused with a named warning: the
file never overwrites the text a crawler stored (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Callable

from collectors.files import BadLine, read_posts
from pipeline.cells import csv_uncell
from storage import Database, PostRecord, UpsertResult, upsert_posts
from storage.posts import analyze_posts
from storage.scratch import SeenKeys

from .records import to_record

BATCH = 1000
#: «собран из ВКонтакте» — the platforms a file line may not overwrite (storage.posts.CRAWLED_PLATFORMS)
PLATFORM_NAMES = {"vk": "ВКонтакте", "telegram": "Telegram", "tgweb": "Telegram"}
KINDS = ("posts", "appeals")
#: Bad lines kept with their text for the report (all are counted).
KEEP_BAD = 1000
#: Run ANALYZE on the posts table after an import that inserted at least this many posts.
ANALYZE_AFTER = 5000


@dataclass
class ImportReport:
    path: str
    lines: int = 0
    stored: UpsertResult = field(default_factory=UpsertResult)
    bad: list[BadLine] = field(default_factory=list)
    bad_count: int = 0
    duplicates: int = 0
    #: lines naming a post a VK/Telegram source collected (its text is the crawler's, never the file's)
    refused: int = 0

    def add_bad(self, bad: BadLine) -> None:
        self.bad_count += 1
        if len(self.bad) < KEEP_BAD:
            self.bad.append(bad)


def import_file(
    db: Database,
    path: Path,
    default_tz: tzinfo,
    default_source: str = "",
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
    kind: str = "posts",
) -> ImportReport:
    """Store every good line of the file; return what was stored and what was skipped.

    Posts are committed in batches; a rerun (or a rerun after a crash) stores nothing twice
    because posts are upserted on (platform, source, id). A post id that comes again later in
    the same file is reported as a duplicate and skipped (the first line is stored).
    ``kind="appeals"`` marks every post as an appeal from a feedback platform (a problem by
    definition: the classifier skips the relevance question).
    """
    if kind not in KINDS:
        raise ValueError(f"неизвестный вид записей {kind!r}: ожидается posts или appeals")
    report = ImportReport(path=str(path))
    batch: list[PostRecord] = []
    lines: dict[tuple[str, str, str], int] = {}

    def flush() -> None:
        if batch:
            with db.session() as s:
                res = upsert_posts(s, batch, keep_crawled=True)
            for key in res.refused:
                report.refused += 1
                report.add_bad(BadLine(lines[key], "id", (
                    f"пост {key[2]!r} источника {key[1]!r} собран из {PLATFORM_NAMES.get(key[0], key[0])}: "
                    "файл не может изменить его текст, строка пропущена")))
            res.post_ids, res.refused = [], []
            report.stored += res
            batch.clear()
            lines.clear()

    with SeenKeys() as seen:  # on disk: memory does not grow with the file
        for item in read_posts(path, default_tz=default_tz, default_source=default_source, csv_cell=csv_uncell):
            report.lines += 1
            if isinstance(item, BadLine):
                report.add_bad(item)
            else:
                item.post.appeal = kind == "appeals"
                rec = to_record(item.post)
                first = seen.first_line(rec.key, item.line)
                if first is not None:
                    report.duplicates += 1
                    report.add_bad(BadLine(item.line, "id", f"повтор поста {rec.external_id!r} из строки {first}: строка пропущена"))
                else:
                    batch.append(rec)
                    lines[rec.key] = item.line
                    if len(batch) >= batch_size:
                        flush()
            if on_progress is not None:
                on_progress(1)
        flush()
    if report.stored.inserted >= ANALYZE_AFTER:
        with db.session() as s:
            analyze_posts(s)
    return report
