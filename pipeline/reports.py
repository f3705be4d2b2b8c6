"""The monthly report for the governor: HTML (self-contained) and XLSX.

Figures come from the event log through ``pipeline.ratings`` (assignments
opened in the month, replayed up to the end of the month, month boundaries in
the region's time zone); sector and municipality are the incident's current
classification. ``cur report --month YYYY-MM`` writes both files.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import jinja2
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from config import RegionProfile
from pipeline.labels import STAGE_NAMES
from storage import events as ev
from storage import fakes as fq
from storage import reporting as rq

from . import timefmt
from .cells import append_row
from .official import PageFigures, page_figures
from .ratings import Assignment, AuthorityRating, Figures, Period, figures, load_assignments, rate

TEMPLATES = Path(__file__).resolve().parent / "templates" / "report"
#: The HTML lists at most this many overdue incidents (the XLSX lists all).
HTML_OVERDUE_ROWS = 200


@dataclass
class Row:
    name: str
    figures: Figures


@dataclass
class OverdueRow:
    incident_id: int
    title: str
    authority: str
    sector: str
    municipality: str
    routed_at: datetime
    missed: list[str]
    first_reply_due: datetime | None
    first_reply_at: datetime | None


@dataclass
class AlertRow:
    """An emerging problem opened in the month (``pipeline.alerts``)."""

    alert_id: int
    title: str
    opened_at: datetime
    closed_at: datetime | None
    count: int
    expected: float
    incidents: int
    posts: int


@dataclass
class FakeFigures:
    """«Выявление и маркировка недостоверной информации» for the month (docs/fakes.md): the registry and its marks."""

    claims_added: int
    marks: int
    confirmed: int
    dismissed: int
    #: (claim text, refutation, link, marks, confirmed, dismissed), most confirmed first
    claims: list[tuple[str, str, str | None, int, int, int]] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return self.marks - self.confirmed - self.dismissed


@dataclass
class AddressRow:
    """A street address (``nlp.addresses`` key) named by two or more incidents of the month in one municipality."""

    label: str
    municipality: str
    incidents: list[int]
    sectors: list[str]


#: Addresses listed in the report (most incidents first).
REPORT_ADDRESSES = 50


def _address_rows(incidents: Any, sector_name: Any, muni_name: Any) -> list[AddressRow]:
    """Addresses named by ≥ 2 of the month's incidents (same municipality): the places problems come back to."""
    from nlp.addresses import key_label

    by_place: dict[tuple[str | None, str], list[Any]] = defaultdict(list)
    for inc in incidents:
        for key in sorted(set((inc.details or {}).get("streets") or [])):
            by_place[(inc.municipality, key)].append(inc)
    rows = [AddressRow(key_label(key), muni_name(muni), sorted(i.id for i in incs), sorted({sector_name(i.sector) for i in incs}))
            for (muni, key), incs in by_place.items() if len(incs) >= 2]
    rows.sort(key=lambda r: (-len(r.incidents), r.municipality, r.label))
    return rows[:REPORT_ADDRESSES]


@dataclass
class MonthlyReport:
    region: str
    period: Period
    as_of: datetime
    generated_at: datetime
    tz: Any
    created: int  # incidents opened in the month (first post published), see storage.reporting
    created_processed: int  # incidents the processing pass created in the month (its own time)
    escalations: int
    reopened_events: int
    total: Figures
    by_sector: list[Row]
    by_municipality: list[Row]
    ratings: list[AuthorityRating]
    overdue: list[OverdueRow] = field(default_factory=list)
    #: Emerging problems opened in the month (the region's report only).
    alerts: list[AlertRow] = field(default_factory=list)
    #: the rating «ведение официальных страниц» (``pipeline.official``)
    official_pages: list[PageFigures] = field(default_factory=list)
    #: possible fakes of the month (the region's report only; None in an authority's part)
    fakes: FakeFigures | None = None
    #: addresses named by several incidents routed in the month (``pipeline.incidents`` address-level grouping)
    addresses: list[AddressRow] = field(default_factory=list)

    def local(self, t: datetime | None) -> datetime | None:
        return t.astimezone(self.tz) if t else None

    def summary(self) -> list[tuple[str, Any, str]]:
        """(label, value, number format) rows of the summary table."""
        t = self.total
        return [
            ("Новых инцидентов", self.created, "0"),
            ("Создано обработкой за месяц (по времени обработки)", self.created_processed, "0"),
            ("Направлено исполнителям (назначений)", t.routed, "0"),
            ("Дан первичный ответ", t.replied, "0"),
            ("Первичных ответов в срок", t.on_time_share, "0.0%"),
            ("Медиана времени до первичного ответа, ч", None if t.median_reply_minutes is None else round(t.median_reply_minutes / 60, 2), "0.00"),
            ("Дан окончательный ответ", t.answered_final, "0"),
            ("Решено", t.resolved, "0"),
            ("Открыто повторно после решения", t.reopened, "0"),
            ("Просрочено (нарушен хотя бы один срок)", t.overdue, "0"),
            ("Эскалаций", self.escalations, "0"),
        ]


def namers(profile: RegionProfile) -> tuple[Callable[[str | None], str], Callable[[str | None], str]]:
    """The names a report shows for a sector code and a municipality code of ``profile`` (the code itself when the
    profile does not know it, «не определено/а» when there is none)."""

    def sector_name(code: str | None) -> str:
        s = profile.sector(code or "")
        return s.name if s else (code or "не определено")

    def muni_name(code: str | None) -> str:
        m = profile.region.municipality(code or "")
        return m.name if m else (code or "не определена")

    return sector_name, muni_name


def build_report(session: Session, profile: RegionProfile, month: str, now: datetime, authority_id: int | None = None) -> MonthlyReport:
    """The region's monthly report; with ``authority_id`` only that authority's part of it (what a specialist
    may see: its assignments, overdue incidents, events and its own line of the rating)."""
    tz = profile.region.tz
    period = Period.month(month, tz)
    as_of = min(period.end, now)
    assignments = load_assignments(session, profile.code, period, as_of)
    if authority_id is not None:
        assignments = [a for a in assignments if a.authority_id == authority_id]
    incidents = rq.incidents_by_id(session, (a.incident_id for a in assignments))
    authorities = rq.authorities_of_region(session, profile.code)
    sector_name, muni_name = namers(profile)

    def grouped(key) -> list[Row]:
        groups: dict[str, list[Assignment]] = defaultdict(list)
        for a in assignments:
            groups[key(incidents[a.incident_id])].append(a)
        rows = [Row(name, figures(v, as_of)) for name, v in groups.items()]
        return sorted(rows, key=lambda r: (-r.figures.routed, r.name))

    overdue = overdue_rows(assignments, incidents, authorities, sector_name, muni_name, as_of)
    ratings = rate(session, profile.code, period, as_of)
    region_name = profile.region.name
    if authority_id is not None:
        ratings = [r for r in ratings if authorities.get(authority_id) is not None and r.code == authorities[authority_id].code]
        region_name = f"{region_name} — {authorities[authority_id].name}" if authority_id in authorities else region_name
    return MonthlyReport(
        region=region_name,
        period=period,
        as_of=as_of,
        generated_at=now,
        tz=tz,
        created=rq.count_incidents_opened(session, profile.code, period.start, period.end, authority_id),
        created_processed=rq.count_events(session, profile.code, ev.CREATED, period.start, period.end, authority_id),
        escalations=rq.count_events(session, profile.code, ev.ESCALATED, period.start, period.end, authority_id),
        reopened_events=rq.count_events(session, profile.code, ev.REOPENED_EV, period.start, period.end, authority_id),
        total=figures(assignments, as_of),
        by_sector=grouped(lambda i: sector_name(i.sector)),
        by_municipality=grouped(lambda i: muni_name(i.municipality)),
        ratings=ratings,
        overdue=overdue,
        alerts=[] if authority_id is not None else _alert_rows(session, profile, period),
        official_pages=[f for f in page_figures(session, profile, period, now)
                        if authority_id is None or (authority_id in authorities and f.authority == authorities[authority_id].code)],
        fakes=_fake_figures(session, period.start, as_of) if authority_id is None else None,
        addresses=_address_rows(incidents.values(), sector_name, muni_name),
    )


def overdue_rows(assignments: list[Assignment], incidents: dict[int, Any], authorities: dict[int, Any], sector_name: Any,
                 muni_name: Any, as_of: datetime) -> list[OverdueRow]:
    """The assignments that missed a deadline by ``as_of``, in the order they were routed."""
    overdue = []
    for a in assignments:
        missed = a.missed(as_of)
        if not missed:
            continue
        inc = incidents[a.incident_id]
        auth = authorities.get(a.authority_id)
        overdue.append(
            OverdueRow(
                inc.id, inc.title or "", auth.name if auth else str(a.authority_id), sector_name(inc.sector),
                muni_name(inc.municipality), a.start, [STAGE_NAMES[s] for s in missed],
                a.due.get("first_reply"), a.answered["first_reply"],
            )  # fmt: skip
        )
    overdue.sort(key=lambda r: (r.routed_at, r.incident_id))
    return overdue


def _fake_figures(session: Session, start: datetime, end: datetime) -> FakeFigures:
    rows = fq.claims_between(session, start, end)
    return FakeFigures(
        claims_added=fq.claims_added_between(session, start, end),
        marks=sum(n for _, n, _, _ in rows), confirmed=sum(c for _, _, c, _ in rows), dismissed=sum(d for _, _, _, d in rows),
        claims=[(c.claim, c.refutation, c.link, n, cf, dm) for c, n, cf, dm in rows],
    )


def _alert_rows(session: Session, profile: RegionProfile, period: Period) -> list[AlertRow]:
    from .alerts import alert_list

    rows = alert_list(session, profile, state=None, limit=1000, opened_since=period.start, opened_before=period.end)
    return [AlertRow(a["id"], a["title"], a["opened_at"], a["closed_at"], a["count"], a["expected"], len(a["incidents"]),
                     len(a["posts"])) for a in sorted(rows, key=lambda a: (a["opened_at"], a["id"]))]


# --------------------------------------------------------------------------- HTML


def _bar_svg(labels: list[str], values: list[float], title: str, xlabel: str, xmax: float | None = None) -> Markup:
    """A horizontal bar chart as inline SVG (no plotting library: the report renders in milliseconds)."""
    row, label_w, width = 22, 380, 820
    top = xmax if xmax is not None else (max(values, default=0) or 1)
    height = 40 + row * len(labels) + 24
    span = width - label_w - 60
    font = 'font-family="sans-serif" font-size="12"'
    out = [f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
           f'<text x="0" y="16" {font} font-weight="bold">{escape(title)}</text>']
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 28 + i * row
        w = max(1.0, span * float(value) / top)
        text = label if len(label) <= 58 else label[:57] + "…"
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" {font}><title>{escape(label)}</title>{escape(text)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="#2b6cb0"/>')
        out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" {font}>{escape(_num(value))}</text>')
    out.append(f'<text x="{label_w}" y="{height - 6}" {font} fill="#555">{escape(xlabel)}</text></svg>')
    return Markup("".join(out))


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%".replace(".", ",")


def _num(v: Any, digits: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}".replace(".", ",")
    return str(v)


def render_html(report: MonthlyReport) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(pct=_pct, num=_num, local=lambda t: timefmt.local(t, report.tz))
    charts = []
    if report.by_sector:
        charts.append(_bar_svg([r.name for r in report.by_sector], [r.figures.routed for r in report.by_sector], "Инциденты по направлениям", "направлено исполнителям"))
    scored = [r for r in report.ratings if r.figures.score is not None]
    if scored:
        charts.append(_bar_svg([r.name for r in scored], [r.figures.score for r in scored], "Рейтинг исполнителей", "баллы (0–100)", xmax=100))  # type: ignore[misc]  # scored: not None
    return env.get_template("monthly.html").render(
        r=report, charts=charts, tzname=timefmt.utc_offset(report.period.start, report.tz), overdue=report.overdue[:HTML_OVERDUE_ROWS]
    )


# --------------------------------------------------------------------------- XLSX


def write_xlsx(report: MonthlyReport, path: Path) -> None:
    """The report as XLSX; every cell goes through ``pipeline.cells`` (texts from posts are never formulas)."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    wb = Workbook()
    bold = Font(bold=True)

    def local(t: datetime | None):
        return report.local(t).replace(tzinfo=None) if t else None  # type: ignore[union-attr]  # local() of a time is a time

    ws = wb.active
    ws.title = "Сводка"
    append_row(ws, [f"Ежемесячный отчёт ЦУР: {report.region}, {report.period.label}"])
    ws["A1"].font = Font(bold=True, size=13)
    append_row(ws, ["Показатель", "Значение"])
    for c in ws[2]:
        c.font = bold
    for n, (label, value, fmt) in enumerate(report.summary(), start=3):
        append_row(ws, [label, value])
        ws.cell(n, 2).number_format = fmt
    ws.column_dimensions["A"].width = 48
    ws.column_dimensions["B"].width = 14

    head = ["Название", "Направлено", "Дан первичный ответ", "Первичный ответ в срок", "Медиана до ответа, ч", "Окончательный ответ", "Решено", "Просрочено"]

    def table(title: str, rows: list[Row]) -> None:
        sh = wb.create_sheet(title)
        append_row(sh, head)
        for c in sh[1]:
            c.font = bold
        for n, r in enumerate(rows, start=2):
            f = r.figures
            append_row(sh, [r.name, f.routed, f.replied, f.on_time_share, None if f.median_reply_minutes is None else round(f.median_reply_minutes / 60, 2), f.answered_final, f.resolved, f.overdue])
            sh.cell(n, 4).number_format = "0.0%"
        sh.column_dimensions["A"].width = 45
        if rows:
            chart = BarChart()
            chart.type = "bar"
            chart.title = f"Направлено исполнителям — {title.lower()}"
            chart.add_data(Reference(sh, min_col=2, min_row=1, max_row=len(rows) + 1), titles_from_data=True)
            chart.set_categories(Reference(sh, min_col=1, min_row=2, max_row=len(rows) + 1))
            chart.height, chart.width = max(7, 0.6 * len(rows) + 3), 18
            sh.add_chart(chart, "J2")

    table("По направлениям", report.by_sector)
    table("По муниципалитетам", report.by_municipality)

    sh = wb.create_sheet("Рейтинг")
    append_row(sh, ["Место", "Код", "Исполнитель", "Направлено", "Первичный ответ в срок", "Медиана до ответа, ч", "Доля окончательных ответов", "Доля решённых", "Доля повторно открытых", "Средняя оценка", "Балл", "Доля ответов по существу", "Ответов не по существу"])
    for c in sh[1]:
        c.font = bold
    for n, r in enumerate(report.ratings, start=2):
        f = r.figures
        append_row(sh, [r.rank, r.code, r.name, f.routed, f.on_time_share, None if f.median_reply_minutes is None else round(f.median_reply_minutes / 60, 2), f.answered_share, f.resolved_share, f.reopened_share, f.mean_grade, None if f.score is None else round(f.score, 1), f.substantive_share, f.not_substantive])
        for col in (5, 7, 8, 9, 12):
            sh.cell(n, col).number_format = "0.0%"
    sh.column_dimensions["C"].width = 50
    if report.ratings:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Рейтинг исполнителей (балл 0–100)"
        chart.add_data(Reference(sh, min_col=11, min_row=1, max_row=len(report.ratings) + 1), titles_from_data=True)
        chart.set_categories(Reference(sh, min_col=2, min_row=2, max_row=len(report.ratings) + 1))
        chart.height, chart.width = max(7, 0.6 * len(report.ratings) + 3), 18
        sh.add_chart(chart, "M2")

    sh = wb.create_sheet("Официальные страницы")
    append_row(sh, ["Место", "Код", "Орган власти", "Страницы", "Постов", "Дней с постами", "Недель с постами", "Недель в периоде",
                    "Наибольший перерыв, дн.", "Комментариев жителей", "Проблем", "Отвечено по существу", "В срок", "С опозданием",
                    "Только формальный ответ", "Без ответа", "Ждут ответа", "Медиана до ответа, ч", "Доля отвеченных",
                    "Доля в срок", "Доля ответов по существу", "Передано в инциденты", "Балл"])
    for c in sh[1]:
        c.font = bold
    for n, p in enumerate(report.official_pages, start=2):
        append_row(sh, [p.rank, p.authority, p.name, ", ".join(p.pages), p.posts, p.days_with_posts, p.weeks_with_posts, p.weeks,
                        p.longest_gap_days, p.comments, p.problems, p.answered, p.on_time, p.late, p.not_substantive, p.unanswered,
                        p.pending, None if p.median_answer_minutes is None else round(p.median_answer_minutes / 60, 2),
                        p.answered_share, p.on_time_share, p.substantive_share, p.to_incidents,
                        None if p.score is None else round(p.score, 1)])
        for col in (19, 20, 21):
            sh.cell(n, col).number_format = "0.0%"
    sh.column_dimensions["C"].width = 50

    sh = wb.create_sheet("Просроченные")
    append_row(sh, ["Инцидент", "Суть", "Исполнитель", "Направление", "Муниципалитет", "Направлен", "Нарушенные сроки", "Срок первичного ответа", "Первичный ответ"])
    for c in sh[1]:
        c.font = bold
    for n, o in enumerate(report.overdue, start=2):
        append_row(sh, [o.incident_id, o.title, o.authority, o.sector, o.municipality, local(o.routed_at), ", ".join(o.missed), local(o.first_reply_due), local(o.first_reply_at)])
        for col in (6, 8, 9):
            sh.cell(n, col).number_format = "DD.MM.YYYY HH:MM"
    for letter, width in zip("ABCDEFGHI", (10, 40, 45, 28, 28, 17, 30, 22, 17)):
        sh.column_dimensions[letter].width = width
    sh = wb.create_sheet("Возникающие проблемы")
    append_row(sh, ["Оповещение", "Проблема", "Открыто", "Закрыто", "Постов за 24 ч", "Обычно за 24 ч", "Инцидентов", "Постов"])
    for c in sh[1]:
        c.font = bold
    for n, al in enumerate(report.alerts, start=2):
        append_row(sh, [al.alert_id, al.title, local(al.opened_at), local(al.closed_at), al.count, round(al.expected, 2),
                        al.incidents, al.posts])
        for col in (3, 4):
            sh.cell(n, col).number_format = "DD.MM.YYYY HH:MM"
    for letter, width in zip("ABCDEFGH", (12, 60, 17, 17, 14, 14, 12, 10)):
        sh.column_dimensions[letter].width = width
    if report.fakes is not None:
        _fakes_sheet(wb.create_sheet("Возможные фейки"), report.fakes, bold)
    sh = wb.create_sheet("Адреса")
    append_row(sh, ["Адрес", "Муниципалитет", "Инцидентов", "Направления", "Инциденты"])
    for c in sh[1]:
        c.font = bold
    for a in report.addresses:
        append_row(sh, [a.label, a.municipality, len(a.incidents), ", ".join(a.sectors), ", ".join(f"№{i}" for i in a.incidents)])
    for letter, width in zip("ABCDE", (30, 40, 12, 40, 40)):
        sh.column_dimensions[letter].width = width
    wb.properties.title = f"Отчёт ЦУР за {report.period.label}"
    wb.save(path)


def _fakes_sheet(sh: Any, f: FakeFigures, bold: Any) -> None:
    """«Недостоверная информация: возможные фейки», the figures and the table of the HTML report's section."""
    for label, value in (("Добавлено опровергнутых утверждений в реестр", f.claims_added),
                         ("Постов, похожих на них («возможный фейк»)", f.marks), ("Подтверждено операторами", f.confirmed),
                         ("Отклонено", f.dismissed), ("Ждут решения", f.waiting)):
        append_row(sh, [label, value])
    append_row(sh, [])
    append_row(sh, ["Утверждение", "Опровержение", "Ссылка", "Постов", "Подтверждено", "Отклонено"])
    for c in sh[sh.max_row]:
        c.font = bold
    for claim, refutation, link, n, confirmed, dismissed in f.claims:
        append_row(sh, [claim, refutation, link, n, confirmed, dismissed])
    for letter, width in zip("ABCDEF", (60, 60, 30, 10, 14, 12)):
        sh.column_dimensions[letter].width = width


def write_report(session: Session, profile: RegionProfile, month: str, output: Path, now: datetime | None = None) -> tuple[Path, Path]:
    """Write ``report-YYYY-MM.html`` and ``report-YYYY-MM.xlsx`` into ``output``."""
    now = now or datetime.now(timezone.utc)
    report = build_report(session, profile, month, now)
    output.mkdir(parents=True, exist_ok=True)
    html_path, xlsx_path = output / f"report-{month}.html", output / f"report-{month}.xlsx"
    html_path.write_text(render_html(report), encoding="utf-8")
    write_xlsx(report, xlsx_path)
    return html_path, xlsx_path


# --------------------------------------------------------------------------- incident export

EXPORT_FIELDS = [
    "id", "title", "sector", "category", "municipality", "urgency", "authority_code", "authority_name", "state",
    "posts", "created_at", "routed_at", "first_reply_at", "interim_at", "final_at", "resolved_at",
    "first_reply_due", "interim_due", "final_due",
]  # fmt: skip


def iter_incident_rows(session: Session, profile: RegionProfile):
    """One dict per incident of the region (``cur export incidents``); times ISO 8601 with the region's offset.

    ``posts`` lists the incident's posts as they were imported or collected:
    ``{"platform", "source", "external_id"}`` (the keys ``cur import`` reads back).
    """
    tz = profile.region.tz

    def iso(t: datetime | None) -> str | None:
        return t.astimezone(tz).isoformat() if t else None

    authorities = rq.authorities_of_region(session, profile.code)
    for i, posts in rq.incidents_with_posts(session, profile.code):
        a = authorities.get(i.authority_id) if i.authority_id else None
        yield {
            "id": i.id,
            "title": i.title,
            "sector": i.sector,
            "category": i.category,
            "municipality": i.municipality,
            "urgency": i.urgency,
            "authority_code": a.code if a else None,
            "authority_name": a.name if a else None,
            "state": i.state,
            "posts": [{"platform": p, "source": src, "external_id": ext} for p, src, ext in posts],
            "created_at": iso(i.created_at),
            "routed_at": iso(i.routed_at),
            "first_reply_at": iso(i.first_reply_at),
            "interim_at": iso(i.interim_at),
            "final_at": iso(i.final_at),
            "resolved_at": iso(i.resolved_at),
            "first_reply_due": iso(i.first_reply_due),
            "interim_due": iso(i.interim_due),
            "final_due": iso(i.final_due),
        }
