"""Reading posts from JSONL and CSV files (exports of other channels).

Each line (JSONL) or record (CSV) holds ``id, source, author, date, text, url``
(``platform``, ``parent_id``, ``author_id``, ``deleted`` optional). The reader
streams: it holds one record at a time, whatever the size of the file.

Every bad line is one named, skipped line (:class:`BadLine`: its number, the
field at fault, a Russian reason); the lines after it are read as usual:

* a file that is not valid UTF-8 yields one :class:`BadLine` and nothing else
  (checked over the whole file before any record is given out, so a cp1251
  copy of an imported file changes nothing stored);
* an empty file and a JSON array (instead of one object per line) get one
  clear message;
* a CSV record whose quote is never closed would swallow the lines after it
  into its text: such a record is reported and the next physical line is read
  as the start of a new record (see :func:`_read_csv`);
* wrong JSON types are named (``source`` as an object, ``author`` as a list);
* dates: ISO 8601 (with or without zone), ``YYYY-MM-DD HH:MM[:SS]``, Unix
  seconds or milliseconds; a date before 2006 or more than a day in the
  future is refused.

Good records come out as :class:`collectors.base.CollectedPost` (the one shape
a collector gives a post in), wrapped with their line number.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .base import CollectedPost

REQUIRED = ("id", "source", "date", "text")
OPTIONAL = ("author", "url", "platform", "parent_id", "author_id", "deleted")
#: Fields kept in the post's own columns; the raw payload keeps the others (and the date as written).
STORED = frozenset(REQUIRED + OPTIONAL) - {"date"}
MAX_TEXT = 100_000
#: Column limits of the store (storage.models.Post): longer values are refused, never cut.
LIMITS = {"id": 128, "source": 255, "platform": 16, "parent_id": 128, "url": 1024}
#: Earliest plausible date of a post (VK opened in late 2006) and the tolerated clock skew.
EARLIEST = datetime(2006, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=1)
#: A Unix time at or above this is in milliseconds (1e11 s is the year 5138, 1e11 ms is 1973).
MILLIS_FROM = 100_000_000_000
#: A quoted CSV field longer than this (lines or characters) is taken as an unclosed quote.
MAX_RECORD_LINES = 2_000
MAX_RECORD_CHARS = 2 * MAX_TEXT


@dataclass
class FileLine:
    """A good record of a file and the number of its (first) line."""

    line: int
    post: CollectedPost


@dataclass
class BadLine:
    """A skipped line: its number (0: the file as a whole), the field at fault, the reason (Russian)."""

    line: int
    field: str | None
    reason: str
    #: About the file as a whole (not UTF-8, empty, a JSON array): nothing of it was read.
    file_level: bool = False

    def __str__(self) -> str:
        where = f"строка {self.line}" if self.line else "файл"
        if self.field:
            where += f", поле «{self.field}»"
        return f"{where}: {self.reason}"


def parse_date(value: Any, default_tz: tzinfo = timezone.utc) -> datetime:
    """ISO 8601 (with or without zone), ``YYYY-MM-DD HH:MM[:SS]`` or a Unix time in seconds or milliseconds.

    A time without a zone is taken in ``default_tz`` (the region's zone). Raises ``ValueError``
    with a Russian message.
    """
    if isinstance(value, bool):
        raise ValueError("дата должна быть строкой или числом")
    if isinstance(value, (int, float)):
        return _from_epoch(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("пустая дата" if isinstance(value, str) or value is None else "дата должна быть строкой или числом")
    s = value.strip()
    if s.isdigit() or (s[:1] == "-" and s[1:].isdigit()):
        return _from_epoch(int(s))
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"не дата: {value!r} (ожидается ISO 8601, например 2024-01-31T08:15:00+07:00)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=default_tz)
    return dt.astimezone(timezone.utc)


def _from_epoch(value: int | float) -> datetime:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("не дата: число не конечно")
    seconds = value / 1000 if abs(value) >= MILLIS_FROM else value
    try:
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"не дата: {value!r} вне допустимого диапазона") from None


def check_plausible(dt: datetime, now: datetime | None = None) -> None:
    """Refuse a date before 2006 or more than a day ahead of ``now`` (a wrong unit or a typo)."""
    now = now or datetime.now(timezone.utc)
    if dt < EARLIEST:
        raise ValueError(f"дата {dt:%Y-%m-%d} раньше 2006 года: проверьте формат (секунды или миллисекунды Unix, ISO 8601)")
    if dt > now + FUTURE_SLACK:
        raise ValueError(f"дата {dt:%Y-%m-%d %H:%M} UTC в будущем: проверьте год и часовой пояс")


def _text_field(row: dict[str, Any], name: str, ints: bool) -> tuple[str | None, str | None]:
    """The value of an optional scalar field as a string, or an error message naming its type."""
    v = row.get(name)
    if v is None or v == "":
        return None, None
    if isinstance(v, str):
        s = v.strip()
    elif ints and isinstance(v, int) and not isinstance(v, bool):
        s = str(v)
    else:
        kind = {dict: "объект", list: "список", bool: "логическое значение", float: "дробное число", int: "число"}.get(type(v), type(v).__name__)
        return None, f"должно быть строкой{' или целым числом' if ints else ''}, а не {kind}"
    limit = LIMITS.get(name)
    if limit and len(s) > limit:
        return None, f"длиннее {limit} символов"
    return s or None, None


def _row_to_post(line: int, row: Any, default_tz: tzinfo, default_source: str, now: datetime) -> FileLine | BadLine:
    if not isinstance(row, dict):
        return BadLine(line, None, "ожидается объект JSON с полями id, source, date, text")
    row = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    if (row.get("source") is None or row.get("source") == "") and default_source:
        row["source"] = default_source
    values: dict[str, str | None] = {}
    for name in ("id", "source", "platform", "author", "author_id", "parent_id", "url"):
        value, err = _text_field(row, name, ints=name in ("id", "source", "author_id", "parent_id"))
        if err:
            return BadLine(line, name, err)
        values[name] = value
    for name in ("id", "source"):
        if not values[name]:
            return BadLine(line, name, "поле отсутствует или пусто")
    if row.get("date") is None or row.get("date") == "":
        return BadLine(line, "date", "поле отсутствует или пусто")
    text = row.get("text")
    if text is None:
        return BadLine(line, "text", "поле отсутствует или пусто")
    if not isinstance(text, str):
        return BadLine(line, "text", "текст должен быть строкой")
    if len(text) > MAX_TEXT:
        return BadLine(line, "text", f"текст длиннее {MAX_TEXT} символов")
    if not text.replace("\x00", "").strip():
        return BadLine(line, "text", "пустой текст")
    try:
        published = parse_date(row["date"], default_tz)
        check_plausible(published, now)
    except ValueError as e:
        return BadLine(line, "date", str(e))
    url = values["url"]
    if url is not None and not url.lower().startswith(("http://", "https://")):
        return BadLine(line, "url", f"не адрес http(s): {url[:100]!r}")
    deleted = row.get("deleted")
    return FileLine(line, CollectedPost(
        platform=(values["platform"] or "file").lower(),
        source_key=str(values["source"]),
        post_id=str(values["id"]),
        text=text,
        published_at=published,
        parent_id=values["parent_id"],
        author=values["author"],
        author_id=values["author_id"],
        url=url,
        deleted=deleted is True or str(deleted).strip().lower() in ("1", "true", "yes", "да"),
        raw={k: v for k, v in row.items() if k not in STORED},
    ))


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise ValueError(f"{path}: неизвестный формат файла (ожидается .jsonl или .csv)")


def utf8_error_line(path: Path, chunk: int = 1 << 20) -> int | None:
    """The number of the first line that is not valid UTF-8, or None; reads the file in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as f:
        while True:
            data = f.read(chunk)
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as e:
                return line + data[: max(e.start, 0)].count(b"\n")
            if not data:
                return None
            line += data.count(b"\n")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Physical lines (with their line ends) and their numbers, decoded one at a time."""
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            yield n, raw.decode("utf-8", errors="replace")


def read_posts(
    path: Path | str, default_tz: tzinfo = timezone.utc, default_source: str = "", fmt: str | None = None,
    now: datetime | None = None, csv_cell: Callable[[str], str] | None = None,
) -> Iterator[FileLine | BadLine]:
    """Yield a FileLine or a BadLine for every line/record of the file, in order, streaming.

    ``csv_cell`` is applied to every CSV cell before it is read (``cur import`` passes
    ``pipeline.cells.csv_uncell``, which undoes the formula quoting of ``cur export``).
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    bad = utf8_error_line(path)
    if bad is not None:
        yield BadLine(bad, None, "файл не в кодировке UTF-8: ничего не загружено; сохраните файл в UTF-8 и загрузите снова", True)
        return
    now = now or datetime.now(timezone.utc)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else None
    if fmt == "jsonl":
        yield from _read_jsonl(_lines(path), default_tz, default_source, now)
    else:
        yield from _read_csv(_lines(path), default_tz, default_source, now, delimiter, csv_cell)


EMPTY = "файл пуст: в нём нет ни одного поста"


def _read_jsonl(lines: Iterable[tuple[int, str]], tz: tzinfo, default_source: str, now: datetime,
                _delimiter: str | None = None) -> Iterator[FileLine | BadLine]:
    seen_any = False
    for n, line in lines:
        s = line.strip()
        if not s:
            continue
        if not seen_any and s.startswith("["):
            yield BadLine(n, None, "это массив JSON, а нужен JSONL: один объект {…} на каждой строке, без [ ] и запятых между строками", True)
            return
        seen_any = True
        try:
            row = json.loads(s)
        except json.JSONDecodeError as e:
            yield BadLine(n, None, f"не JSON: {e.msg} (позиция {e.pos + 1}); нужен один объект {{…}} на строке")
            continue
        except RecursionError:
            yield BadLine(n, None, "не JSON: слишком глубокая вложенность")
            continue
        yield _row_to_post(n, row, tz, default_source, now)
    if not seen_any:
        yield BadLine(0, None, EMPTY, True)


def _quote_state(line: str, in_quotes: bool, field_start: bool, delimiter: str) -> tuple[bool, bool]:
    """Where a line leaves the CSV quoting state, read the way :mod:`csv` reads it (``doublequote``).

    Only quote characters are visited: a quote opens a quoted field at the start of a field,
    ``""`` inside quotes is a literal quote, any other quote inside quotes closes the field, and
    a quote in the middle of an unquoted field is literal.
    """
    if '"' not in line:
        if in_quotes:
            return True, False
        stripped = line.rstrip("\r\n")
        return False, (stripped.endswith(delimiter) if stripped else field_start)
    i, n = 0, len(line)
    while i < n:
        if in_quotes:
            j = line.find('"', i)
            if j < 0:
                return True, False
            if j + 1 < n and line[j + 1] == '"':
                i = j + 2
                continue
            in_quotes, field_start, i = False, False, j + 1
            continue
        j = line.find('"', i)
        if j < 0:
            tail = line[i:].rstrip("\r\n")
            if tail:
                field_start = tail.endswith(delimiter)
            return False, field_start
        segment = line[i:j]
        if segment:
            field_start = segment.endswith(delimiter)
        if field_start:
            in_quotes = True
        field_start, i = False, j + 1
    return in_quotes, field_start


def _read_csv(lines: Iterable[tuple[int, str]], tz: tzinfo, default_source: str, now: datetime,
              delimiter: str | None = None, cell: Callable[[str], str] | None = None) -> Iterator[FileLine | BadLine]:
    """CSV records, each from one or more physical lines (a quoted field may hold line breaks).

    A record whose quoted field spans lines is checked: if one of its continuation lines is,
    on its own, a whole record (the right number of columns, an id and a valid date), or the
    quote is still open at the end of the file or after ``MAX_RECORD_LINES`` lines, the quote
    was never closed. That record is reported and the line after its first line is read as a
    new record, so no following post is swallowed into another post's text.
    """
    source = iter(lines)
    pending: deque[tuple[int, str]] = deque()

    def next_line() -> tuple[int, str] | None:
        if pending:
            return pending.popleft()
        return next(source, None)

    first = next_line()
    while first is not None and not first[1].strip():
        first = next_line()
    if first is None:
        yield BadLine(0, None, EMPTY, True)
        return
    head_no, head_line = first
    if delimiter is None:
        delimiter = ";" if head_line.count(";") > head_line.count(",") else ","
    try:
        header = [h.strip().lower() for h in next(csv.reader([head_line], delimiter=delimiter))]
    except (csv.Error, StopIteration) as e:
        yield BadLine(head_no, None, f"ошибка CSV в заголовке: {e}")
        return
    missing = [h for h in REQUIRED if h not in header and not (h == "source" and default_source)]
    if missing:
        yield BadLine(head_no, ", ".join(missing), "в заголовке CSV нет обязательных столбцов")
        return
    width = len(header)
    id_col = header.index("id")
    date_col = header.index("date")

    def whole_record(line: str) -> bool:
        try:
            values = next(csv.reader([line], delimiter=delimiter))
        except (csv.Error, StopIteration):
            return False
        if len(values) != width or not values[id_col].strip():
            return False
        try:
            parse_date(values[date_col], tz)
        except ValueError:
            return False
        return True

    records = 0
    while True:
        start = next_line()
        if start is None:
            break
        n, line = start
        if not line.strip():
            continue
        parts = [start]
        in_quotes, field_start = _quote_state(line, False, True, delimiter)
        unclosed = False
        size = len(line)
        while in_quotes:
            more = next_line()
            if more is None or len(parts) >= MAX_RECORD_LINES or size > MAX_RECORD_CHARS:
                if more is not None:
                    pending.appendleft(more)
                unclosed = True
                break
            parts.append(more)
            size += len(more[1])
            in_quotes, field_start = _quote_state(more[1], True, False, delimiter)
        if not unclosed and len(parts) > 1 and any(whole_record(p[1]) for p in parts[1:]):
            unclosed = True
        if unclosed:
            pending.extendleft(reversed(parts[1:]))
            yield BadLine(n, None, "незакрытая кавычка: запись не закончена и пропущена, следующие строки прочитаны отдельно")
            records += 1
            continue
        records += 1
        try:
            values = next(csv.reader([p[1] for p in parts], delimiter=delimiter, strict=False))
        except (csv.Error, StopIteration) as e:
            yield BadLine(n, None, f"ошибка CSV: {e}")
            continue
        if not any(v.strip() for v in values):
            continue
        if len(values) != width:
            yield BadLine(n, None, f"ожидалось {width} столбцов, найдено {len(values)}")
            continue
        if cell is not None:
            values = [cell(v) for v in values]
        yield _row_to_post(n, dict(zip(header, values)), tz, default_source, now)
    if not records:
        yield BadLine(0, None, "в файле только заголовок CSV, постов нет")
