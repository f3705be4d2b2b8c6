"""A fuzzer of file import (hypothesis): malformed JSONL and CSV lines mixed with good ones.

Properties, on SQLite and PostgreSQL: the import never raises; every good line is stored with its
text (NUL dropped, lone surrogates replaced); every reported line is one of the malformed lines (for
JSONL: each malformed line is reported, by its number). Bounded: a few dozen examples per file format
and backend, no deadline per example (the machine is shared).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pipeline.ingest.importer import import_file
from pipeline.ingest.records import clean
from storage import Database
from storage.models import Post

UTC = timezone.utc
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow, HealthCheck.data_too_large])

# texts: anything printable plus the awkward characters, never empty once NUL and spaces are gone
awkward = st.sampled_from(["\x00", "\ud800", "\udfff", '"', "'", ",", ";", "\t", "\\", "=", "«", "ё", "😡", "\u2028", "\r"])
body = st.lists(st.one_of(st.text(min_size=0, max_size=12), awkward), max_size=8).map("".join)
good_text = st.tuples(st.sampled_from("АБВгдеЖЗиЙ"), body).map(lambda t: t[0] + t[1])
dates = st.tuples(st.integers(0, 1000 * 86400), st.sampled_from(["iso", "z", "naive", "s", "ms", "s_str"]))


def render_date(offset: int, kind: str):
    at = BASE - timedelta(seconds=offset)
    return {"iso": at.isoformat(), "z": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "naive": at.strftime("%Y-%m-%d %H:%M:%S"),
            "s": int(at.timestamp()), "ms": int(at.timestamp()) * 1000, "s_str": str(int(at.timestamp()))}[kind]


junk_json = st.one_of(
    st.text(max_size=40).filter(lambda s: "\n" not in s and s.strip() != ""),
    st.just("{"), st.just('{"id": 1,'), st.just("null"), st.just("42"), st.just('"строка"'),
    st.fixed_dictionaries({"id": st.just("j"), "source": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                           "date": st.just(BASE.isoformat()), "text": st.just("т")}).map(json.dumps),
    st.fixed_dictionaries({"id": st.just("j"), "source": st.just("s"), "author": st.lists(st.text(max_size=3), max_size=2),
                           "date": st.just(BASE.isoformat()), "text": st.just("т")}).map(json.dumps),
    st.fixed_dictionaries({"id": st.floats(allow_nan=True), "source": st.just("s"), "date": st.just("x"), "text": st.just("т")}).map(json.dumps),
    st.fixed_dictionaries({"id": st.just("j"), "source": st.just("s"), "date": st.integers(-10**20, 10**8), "text": st.just("т")}).map(json.dumps),
    st.fixed_dictionaries({"id": st.just("j"), "source": st.just("s"), "date": st.just(BASE.isoformat())}).map(json.dumps),
)
junk_csv = st.one_of(
    st.text(max_size=40).filter(lambda s: "\n" not in s and "\r" not in s and s.strip() != ""),
    st.just('"'), st.just('x,"y'), st.just('1,s,"2024-01-01,"открытая'), st.just(",,,,"), st.just("a;b;c"),
)


def _plan(draw, junk):
    n = draw(st.integers(1, 12))
    lines = []
    for i in range(n):
        if draw(st.booleans()):
            lines.append(("good", i, draw(good_text), draw(dates)))
        else:
            lines.append(("junk", i, draw(junk), None))
    return lines


@st.composite
def jsonl_files(draw):
    return [(kind, i, value, date, draw(st.booleans())) for kind, i, value, date in _plan(draw, junk_json)]


@st.composite
def csv_files(draw):
    return _plan(draw, junk_csv)


def stored_texts(db: Database, source: str) -> dict[str, str]:
    with db.session() as s:
        return {p.external_id: p.text for p in s.scalars(select(Post).where(Post.source_key == source))}


def expected(text: str) -> str:
    return clean(text)


@pytest.fixture
def fuzz_dir(tmp_path: Path) -> Path:
    return tmp_path


@FUZZ
@given(plan=jsonl_files())
def test_fuzz_jsonl(db: Database, fuzz_dir: Path, plan) -> None:
    source = f"fuzz-{uuid.uuid4().hex[:8]}"
    out, junk_lines, good = [], set(), {}
    for n, (kind, i, value, date, _ascii_only) in enumerate(plan, 1):
        if kind == "good":
            row = {"id": f"g{i}", "source": source, "date": render_date(*date), "text": value, "author": value[:50]}
            out.append(json.dumps(row, ensure_ascii=True))  # lone surrogates can only come as \\u escapes
            # what the line says: two lone surrogates written as \ud800\udfff are one valid pair in JSON
            good[f"g{i}"] = json.loads(json.dumps(value, ensure_ascii=True))
        else:
            if value.lstrip().startswith("["):
                value = "x" + value  # a JSON array as the first line is refused as a whole file (tested elsewhere)
            out.append(value)
            junk_lines.add(n)
    path = fuzz_dir / f"{source}.jsonl"
    path.write_bytes(("\n".join(out) + "\n").encode("utf-8", "surrogatepass"))
    report = import_file(db, path, UTC)
    bad_lines = {b.line for b in report.bad}
    if not good:
        bad_lines.discard(0)  # an all-bad file may also be "empty"
    assert bad_lines == junk_lines, [str(b) for b in report.bad]
    assert all(str(b).startswith("строка ") for b in report.bad if b.line)
    assert stored_texts(db, source) == {k: expected(v) for k, v in good.items()}


@FUZZ
@given(plan=csv_files())
def test_fuzz_csv(db: Database, fuzz_dir: Path, plan) -> None:
    source = f"fuzz-{uuid.uuid4().hex[:8]}"
    buf = io.StringIO()
    buf.write("id,source,date,text,author\n")
    junk_lines, good = set(), {}
    for n, (kind, i, value, date) in enumerate(plan, 2):
        if kind == "good":
            value = value.replace("\r", " ").replace("\n", " ").replace("\u2028", " ").encode("utf-8", "replace").decode("utf-8")
            if not value.replace("\x00", "").strip():
                value = "Ж" + value
            line = io.StringIO()
            csv.writer(line, lineterminator="\n").writerow([f"g{i}", source, render_date(*date), value, value[:20]])
            buf.write(line.getvalue())
            good[f"g{i}"] = value
        else:
            buf.write(value.encode("utf-8", "replace").decode("utf-8") + "\n")
            junk_lines.add(n)
    path = fuzz_dir / f"{source}.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    report = import_file(db, path, UTC)
    bad_lines = {b.line for b in report.bad} - {0}
    assert bad_lines <= junk_lines, ([str(b) for b in report.bad], junk_lines)
    assert stored_texts(db, source) == {k: expected(v) for k, v in good.items()}


def test_a_surrogate_pair_escape_is_one_character_and_a_lone_one_is_replaced(db: Database, tmp_path: Path) -> None:
    """Found by the fuzzer: ``\\ud800\\udfff`` in JSON is the valid pair U+103FF, kept as it is."""
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"id": "p", "source": "s", "date": "2026-01-01T00:00:00Z", "text": "А\\ud800\\udfff"}\n'
                    '{"id": "l", "source": "s", "date": "2026-01-01T00:00:00Z", "text": "Б\\ud800 В"}\n', encoding="utf-8")
    report = import_file(db, path, UTC)
    assert not report.bad
    assert stored_texts(db, "s") == {"p": "А\U000103ff", "l": "Б\ufffd В"}
