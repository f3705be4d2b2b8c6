"""Reading posts from JSONL and CSV files (exports of other channels).

Each line (JSONL) or record (CSV) holds ``id, source, author, date, text, url``
(``platform`` optional, default ``file``). A bad line is reported with its
number and the field at fault and skipped; the others are returned.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import IO, Any, Iterator

REQUIRED = ("id", "source", "date", "text")
OPTIONAL = ("author", "url", "platform", "parent_id", "author_id")
MAX_TEXT = 100_000


@dataclass
class FilePost:
    line: int
    platform: str
    source_key: str
    external_id: str
    published_at: datetime
    text: str
    author: str | None = None
    author_id: str | None = None
    url: str | None = None
    parent_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class BadLine:
    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"строка {self.line}"
        if self.field:
            where += f", поле «{self.field}»"
        return f"{where}: {self.reason}"


def parse_date(value: Any, default_tz: tzinfo = timezone.utc) -> datetime:
    """ISO 8601 (with or without zone), ``YYYY-MM-DD HH:MM[:SS]`` or a Unix time.

    A time without a zone is taken in ``default_tz`` (the region's zone).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("пустая дата")
    s = value.strip()
    if s.isdigit():
        return datetime.fromtimestamp(int(s), timezone.utc)
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"не дата: {value!r} (ожидается ISO 8601, например 2024-01-31T08:15:00+07:00)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=default_tz)
    return dt.astimezone(timezone.utc)


def _row_to_post(line: int, row: dict[str, Any], default_tz: tzinfo, default_source: str) -> FilePost | BadLine:
    if not isinstance(row, dict):
        return BadLine(line, None, "ожидается объект JSON с полями id, source, date, text")
    row = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    if not row.get("source") and default_source:
        row["source"] = default_source
    for name in REQUIRED:
        v = row.get(name)
        if v is None or (isinstance(v, str) and not v.strip() and name != "text"):
            return BadLine(line, name, "поле отсутствует или пусто")
    text = row["text"]
    if not isinstance(text, str):
        return BadLine(line, "text", "текст должен быть строкой")
    if len(text) > MAX_TEXT:
        return BadLine(line, "text", f"текст длиннее {MAX_TEXT} символов")
    if not text.strip():
        return BadLine(line, "text", "пустой текст")
    try:
        published = parse_date(row["date"], default_tz)
    except (ValueError, OverflowError, OSError) as e:
        return BadLine(line, "date", str(e))
    ext_id = row["id"]
    if isinstance(ext_id, float) or isinstance(ext_id, bool) or not isinstance(ext_id, (str, int)):
        return BadLine(line, "id", "идентификатор должен быть строкой или целым числом")
    platform = str(row.get("platform") or "file").strip().lower()
    url = row.get("url") or None
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        return BadLine(line, "url", f"не адрес http(s): {url!r}")

    def opt(name: str) -> str | None:
        v = row.get(name)
        return None if v in (None, "") else str(v)

    return FilePost(
        line=line,
        platform=platform,
        source_key=str(row["source"]).strip(),
        external_id=str(ext_id).strip(),
        published_at=published,
        text=text,
        author=opt("author"),
        author_id=opt("author_id"),
        url=url,
        parent_id=opt("parent_id"),
        raw={k: v for k, v in row.items()},
    )


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise ValueError(f"{path}: неизвестный формат файла (ожидается .jsonl или .csv)")


def read_posts(
    path: Path | str, default_tz: tzinfo = timezone.utc, default_source: str = "", fmt: str | None = None
) -> Iterator[FilePost | BadLine]:
    """Yield a FilePost or a BadLine for every line/record of the file, in order."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    with path.open("rb") as fb:
        data = fb.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        yield BadLine(line, None, "файл не в кодировке UTF-8")
        text = data.decode("utf-8", errors="replace")
    yield from (_read_jsonl if fmt == "jsonl" else _read_csv)(io.StringIO(text), default_tz, default_source, path)


def _read_jsonl(f: IO[str], tz: tzinfo, default_source: str, path: Path) -> Iterator[FilePost | BadLine]:
    for n, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            yield BadLine(n, None, f"не JSON: {e.msg} (позиция {e.pos + 1})")
            continue
        yield _row_to_post(n, row, tz, default_source)


def _read_csv(f: IO[str], tz: tzinfo, default_source: str, path: Path) -> Iterator[FilePost | BadLine]:
    sample = f.read(4096)
    f.seek(0)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else (";" if sample.count(";") > sample.count(",") else ",")
    reader = csv.reader(f, delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as e:
        yield BadLine(1, None, f"ошибка CSV в заголовке: {e}")
        return
    missing = [h for h in REQUIRED if h not in header and not (h == "source" and default_source)]
    if missing:
        yield BadLine(1, ", ".join(missing), "в заголовке CSV нет обязательных столбцов")
        return
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield BadLine(start, None, f"ошибка CSV: {e}")
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            yield BadLine(line, None, f"ожидалось {len(header)} столбцов, найдено {len(values)}")
            continue
        yield _row_to_post(line, dict(zip(header, values)), tz, default_source)
