"""The monthly report across regions, for a federal curator or head: every served region's figures side by side.

One row per region with the summary figures of its own monthly report
(``pipeline.reports``: assignments opened in the month, replayed from the event
log, the month's boundaries in *that region's* time zone), a total row, the
incidents routed per sector and region, and the overdue incidents of every
region with their times in their region's own zone (the column header names
the zone when all regions share one, else a «Часовой пояс» column says it).
``cur report --month M --region all`` writes it next to the regions' own
reports; the web serves it to federal users only (``/reports/regions/M.html``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy.orm import Session

from config import RegionProfile
from storage import events as ev
from storage import reporting as rq

from . import timefmt
from .cells import append_row
from .ratings import Figures, Period, figures, load_assignments
from .reports import TEMPLATES, OverdueRow, _bar_svg, _num, _pct, namers, overdue_rows


@dataclass
class RegionLine:
    """One region's figures for the month."""

    code: str
    name: str
    tz: Any
    period: Period
    as_of: datetime
    created: int
    created_processed: int
    escalations: int
    total: Figures
    #: minutes to the first reply of every replied assignment (for the median of the total)
    reply_minutes: list[float] = field(default_factory=list)
    #: assignments routed per sector name
    by_sector: Counter[str] = field(default_factory=Counter)
    overdue: list[OverdueRow] = field(default_factory=list)

    @property
    def zone(self) -> str:
        """``МСК+4 (UTC+07:00)``: the zone and its offset at the start of the month."""
        return timefmt.zone_label(self.period.start, self.tz)

    def local(self, t: datetime | None) -> datetime | None:
        return t.astimezone(self.tz) if t else None


#: (column header, number format) of the side-by-side table; values from :func:`row_values`
COLUMNS: list[tuple[str, str]] = [
    ("Новых инцидентов", "0"),
    ("Создано обработкой за месяц", "0"),
    ("Направлено исполнителям", "0"),
    ("Дан первичный ответ", "0"),
    ("Первичных ответов в срок", "0.0%"),
    ("Медиана до первичного ответа, ч", "0.00"),
    ("Дан окончательный ответ", "0"),
    ("Решено", "0"),
    ("Открыто повторно после решения", "0"),
    ("Просрочено", "0"),
    ("Эскалаций", "0"),
    ("Балл (0–100)", "0.0"),
]


def row_values(f: Figures, created: int, created_processed: int, escalations: int) -> list[Any]:
    """The values of :data:`COLUMNS` for one region or the total."""
    median = None if f.median_reply_minutes is None else round(f.median_reply_minutes / 60, 2)
    return [created, created_processed, f.routed, f.replied, f.on_time_share, median, f.answered_final, f.resolved,
            f.reopened, f.overdue, escalations,
            None if f.score is None else round(f.score, 1)]


@dataclass
class RegionsReport:
    month: str
    label: str
    generated_at: datetime
    lines: list[RegionLine]

    @property
    def total(self) -> Figures:
        """The figures of every region's assignments together (sums; the median over all replies)."""
        t = Figures()
        for line in self.lines:
            f = line.total
            for name in ("routed", "replied", "first_reply_decided", "first_reply_on_time", "answered_final", "resolved",
                         "reopened", "overdue", "answers_read", "answers_substantive"):
                setattr(t, name, getattr(t, name) + getattr(f, name))
            t.grades += f.grades
        minutes = [m for line in self.lines for m in line.reply_minutes]
        t.median_reply_minutes = statistics.median(minutes) if minutes else None
        return t

    def total_values(self) -> list[Any]:
        return row_values(self.total, sum(x.created for x in self.lines), sum(x.created_processed for x in self.lines),
                          sum(x.escalations for x in self.lines))

    @property
    def one_zone(self) -> str | None:
        """The zone of every region when they share one (then time headers name it), else None."""
        zones = {x.zone for x in self.lines}
        return zones.pop() if len(zones) == 1 else None

    def time_header(self, label: str) -> str:
        """«Направлен (МСК (UTC+03:00))», or «Направлен (время региона)» when regions' zones differ."""
        return f"{label} ({self.one_zone})" if self.one_zone else f"{label} (время региона)"

    @property
    def sectors(self) -> list[str]:
        """Sector names with assignments in some region, most assignments first."""
        total: Counter[str] = Counter()
        for line in self.lines:
            total.update(line.by_sector)
        return [name for name, _ in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))]

    def overdue(self) -> Iterable[tuple[RegionLine, OverdueRow]]:
        for line in self.lines:
            for o in line.overdue:
                yield line, o


def _region_line(session: Session, profile: RegionProfile, month: str, now: datetime) -> RegionLine:
    tz = profile.region.tz
    period = Period.month(month, tz)
    as_of = min(period.end, now)
    assignments = load_assignments(session, profile.code, period, as_of)
    incidents = rq.incidents_by_id(session, (a.incident_id for a in assignments))
    authorities = rq.authorities_of_region(session, profile.code)
    sector_name, muni_name = namers(profile)

    return RegionLine(
        code=profile.code, name=profile.region.name, tz=tz, period=period, as_of=as_of,
        created=rq.count_incidents_opened(session, profile.code, period.start, period.end),
        created_processed=rq.count_events(session, profile.code, ev.CREATED, period.start, period.end),
        escalations=rq.count_events(session, profile.code, ev.ESCALATED, period.start, period.end),
        total=figures(assignments, as_of),
        reply_minutes=[m for m in (a.reply_minutes() for a in assignments) if m is not None],
        by_sector=Counter(sector_name(incidents[a.incident_id].sector) for a in assignments),
        overdue=overdue_rows(assignments, incidents, authorities, sector_name, muni_name, as_of),
    )  # fmt: skip


def build_regions_report(session: Session, profiles: Iterable[RegionProfile], month: str, now: datetime) -> RegionsReport:
    """Every given region's monthly figures side by side (a malformed month is ``InvalidInput``)."""
    lines = [_region_line(session, p, month, now) for p in profiles]
    label = Period.month(month, ZoneInfo("UTC")).label
    return RegionsReport(month=month, label=label, generated_at=now, lines=lines)


# --------------------------------------------------------------------------- HTML


def render_regions_html(report: RegionsReport, overdue_limit: int = 200) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(pct=_pct, num=_num)
    charts = []
    if report.lines:
        charts.append(_bar_svg([x.name for x in report.lines], [x.created for x in report.lines], "Новые инциденты по регионам",
                               "инцидентов, открытых за месяц"))
    overdue = list(report.overdue())
    return env.get_template("regions.html").render(
        r=report, columns=COLUMNS, charts=charts, values=lambda x: row_values(x.total, x.created, x.created_processed, x.escalations),
        overdue=overdue[:overdue_limit], overdue_total=len(overdue),
        local=lambda line, t: timefmt.local(t, line.tz),
    )


# --------------------------------------------------------------------------- XLSX


def write_regions_xlsx(report: RegionsReport, path: Path) -> None:
    """The report as XLSX; every cell goes through ``pipeline.cells`` (texts from posts are never formulas)."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    wb = Workbook()
    bold = Font(bold=True)

    def header(sh: Any, values: list[Any]) -> None:
        append_row(sh, values)
        for c in sh[sh.max_row]:
            c.font = bold

    def formats(sh: Any, row: int, first: int, fmts: list[str]) -> None:
        for i, fmt in enumerate(fmts):
            sh.cell(row, first + i).number_format = fmt

    ws = wb.active
    ws.title = "Регионы"
    append_row(ws, [f"Ежемесячный отчёт ЦУР по регионам: {report.label}"])
    ws["A1"].font = Font(bold=True, size=13)
    append_row(ws, ["Границы месяца и время — по часовому поясу каждого региона."])
    header(ws, ["Регион", "Часовой пояс", *(h for h, _ in COLUMNS)])
    fmts = [f for _, f in COLUMNS]
    for line in report.lines:
        append_row(ws, [line.name, line.zone, *row_values(line.total, line.created, line.created_processed, line.escalations)])
        formats(ws, ws.max_row, 3, fmts)
    append_row(ws, ["Все регионы", "", *report.total_values()])
    formats(ws, ws.max_row, 3, fmts)
    for c in ws[ws.max_row]:
        c.font = bold
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 32
    if report.lines:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Новые инциденты по регионам"
        chart.add_data(Reference(ws, min_col=3, min_row=3, max_row=3 + len(report.lines)), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=4, max_row=3 + len(report.lines)))
        chart.height, chart.width = max(7, 0.6 * len(report.lines) + 3), 18
        ws.add_chart(chart, f"A{ws.max_row + 3}")

    sh = wb.create_sheet("По направлениям")
    header(sh, ["Направление", *(x.name for x in report.lines), "Все регионы"])
    for name in report.sectors:
        counts = [x.by_sector.get(name, 0) for x in report.lines]
        append_row(sh, [name, *counts, sum(counts)])
    sh.column_dimensions["A"].width = 45

    sh = wb.create_sheet("Просроченные")
    header(sh, _overdue_head(report))
    for line, o in report.overdue():
        append_row(sh, _overdue_cells(report, line, o, lambda t: line.local(t).replace(tzinfo=None) if t else None))  # type: ignore[union-attr]  # noqa: B023
        for col in (7, 9, 10):
            sh.cell(sh.max_row, col).number_format = "DD.MM.YYYY HH:MM"
    for letter, width in zip("ABCDEFGHIJK", (30, 10, 40, 45, 28, 28, 17, 30, 22, 17, 30)):
        sh.column_dimensions[letter].width = width
    wb.properties.title = f"Отчёт ЦУР по регионам за {report.label}"
    wb.save(path)


def _overdue_head(report: RegionsReport) -> list[str]:
    head = ["Регион", "Инцидент", "Суть", "Исполнитель", "Направление", "Муниципалитет", report.time_header("Направлен"),
            "Нарушенные сроки", report.time_header("Срок первичного ответа"), report.time_header("Первичный ответ")]
    return head if report.one_zone else [*head, "Часовой пояс"]


def _overdue_cells(report: RegionsReport, line: RegionLine, o: OverdueRow, when: Callable[[datetime | None], Any]) -> list[Any]:
    cells = [line.name, o.incident_id, o.title, o.authority, o.sector, o.municipality, when(o.routed_at), ", ".join(o.missed),
             when(o.first_reply_due), when(o.first_reply_at)]
    return cells if report.one_zone else [*cells, line.zone]


def write_regions_report(session: Session, profiles: Iterable[RegionProfile], month: str, output: Path,
                         now: datetime | None = None) -> tuple[Path, Path]:
    """Write ``report-YYYY-MM-regions.html`` and ``.xlsx`` into ``output``."""
    now = now or datetime.now(timezone.utc)
    report = build_regions_report(session, profiles, month, now)
    output.mkdir(parents=True, exist_ok=True)
    html_path, xlsx_path = output / f"report-{month}-regions.html", output / f"report-{month}-regions.xlsx"
    html_path.write_text(render_regions_html(report), encoding="utf-8")
    write_regions_xlsx(report, xlsx_path)
    return html_path, xlsx_path
