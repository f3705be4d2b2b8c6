"""Small server-side SVG charts (no JavaScript, no external assets).

Every bar, column, cell and bubble can carry a link (``href``): the dashboard
points each one at the filtered incident list behind it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

from .formatting import number

FONT = 'font-family="sans-serif" font-size="12"'
#: approximate width of one character of the 12 px sans-serif labels
CHAR_W = 6.6

Item = tuple[str, int | float] | tuple[str, int | float, str | None]


def _shown(value: int | float, unit: str = "") -> str:
    return (number(value, 1) if isinstance(value, float) else number(value, 0)) + unit


def _link(href: str | None, inner: str, label: str) -> str:
    if not href:
        return inner
    return f'<a href="{escape(href)}" aria-label="{escape(label)}">{inner}</a>'


def _empty(title: str) -> Markup:
    return Markup(f'<p class="muted">{escape(title)}: нет данных.</p>')


def bars(items: Sequence[Item], title: str, width: int = 560, unit: str = "", max_label: int = 60) -> Markup:
    """Horizontal bars, largest first as given; labels are shown whole up to ``max_label`` characters."""
    if not items:
        return _empty(title)
    row = 22
    labels = [str(it[0]) for it in items]
    longest = max(min(len(lab), max_label) for lab in labels)
    label_w = int(min(max(120, longest * CHAR_W + 12), 460))
    width = max(width, label_w + 260)
    h = row * len(items) + 30
    top = max(it[1] for it in items) or 1
    out = [f'<svg class="chart bars" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {h}" width="{width}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    out.append(f'<text x="0" y="14" {FONT} font-weight="bold">{escape(title)}</text>')
    span = width - label_w - 70
    for i, it in enumerate(items):
        label, value = str(it[0]), it[1]
        href = it[2] if len(it) > 2 else None
        y = 24 + i * row
        w = max(1, int(span * value / top))
        text = label if len(label) <= max_label else label[: max_label - 1] + "…"
        shown = _shown(value, unit)
        inner = (
            f'<title>{escape(label)}: {escape(shown)}</title>'
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" {FONT}>{escape(text)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w}" height="{row - 6}" fill="#3b6ea5"/>'
            f'<text x="{label_w + w + 4}" y="{y + 14}" {FONT}>{escape(shown)}</text>'
        )
        out.append(_link(href, f"<g>{inner}</g>", f"{label}: {shown}"))
    out.append("</svg>")
    return Markup("".join(out))


def columns(items: Sequence[Item], title: str, width: int = 760, height: int = 200, max_col: float = 36.0) -> Markup:
    """Vertical columns over time (labels are dates); a column is never wider than ``max_col``."""
    if not items:
        return _empty(title)
    top = max(it[1] for it in items) or 1
    left, bottom, plot_h = 34, 40, height - 70
    n = len(items)
    step = min((width - left - 10) / n, max_col)
    out = [f'<svg class="chart columns" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    out.append(f'<text x="0" y="14" {FONT} font-weight="bold">{escape(title)}</text>')
    out.append(f'<text x="0" y="34" {FONT}>{_shown(top)}</text>')
    base = height - bottom
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + step * n + 4:.1f}" y2="{base}" stroke="#888"/>')
    every = max(1, math.ceil(n / (width / 52)))
    for i, it in enumerate(items):
        label, value = str(it[0]), it[1]
        href = it[2] if len(it) > 2 else None
        x = left + i * step
        h = plot_h * value / top
        # an empty day keeps a hairline so it can still be clicked and read
        bar = f'<rect x="{x + 1:.1f}" y="{base - max(h, 1):.1f}" width="{max(1.0, step - 2):.1f}" height="{max(h, 1):.1f}" fill="{"#5a8f3d" if value else "#d6d6d6"}"><title>{escape(label)}: {_shown(value)}</title></rect>'
        out.append(_link(href, bar, f"{label}: {_shown(value)}"))
        if i % every == 0:
            out.append(f'<text x="{x:.1f}" y="{base + 14}" {FONT} font-size="10">{escape(label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def heatmap(
    rows: list[str], cols: list[str], values: dict[tuple[str, str], int], title: str,
    col_titles: dict[str, str] | None = None, by_row: bool = False,
    row_titles: dict[str, str] | None = None, link: Callable[[str, str], str | None] | None = None,
) -> Markup:
    """Rows × columns matrix; cell colour grows with the count (the "complex picture of problems").

    ``by_row`` colours each cell by its share of the row (for confusion matrices); ``link(row, col)`` makes cells links.
    """
    if not rows or not cols:
        return _empty(title)
    col_titles = col_titles or {}
    row_titles = row_titles or {}
    names = {r: row_titles.get(r, r) for r in rows}
    cell, head_h = 34, 130
    label_w = int(min(max(120, max(len(n) for n in names.values()) * CHAR_W + 12), 420))
    width = label_w + cell * len(cols) + 70
    height = head_h + cell * len(rows) + 10
    top = max(values.values(), default=0) or 1
    row_top = {r: (sum(values.get((r, c), 0) for c in cols) or 1) for r in rows}
    out = [f'<svg class="chart heatmap" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    out.append(f'<text x="0" y="14" {FONT} font-weight="bold">{escape(title)}</text>')
    for j, c in enumerate(cols):
        x = label_w + j * cell + cell / 2
        name = col_titles.get(c, c)
        out.append(f'<text transform="translate({x + 4:.0f},{head_h - 6}) rotate(-60)" {FONT} font-size="11"><title>{escape(name)}</title>{escape(name if len(name) <= 18 else name[:17] + "…")}</text>')
    for i, r in enumerate(rows):
        y = head_h + i * cell
        name = names[r]
        out.append(f'<text x="{label_w - 6}" y="{y + cell / 2 + 4:.0f}" text-anchor="end" {FONT}>{escape(name if len(name) <= 62 else name[:61] + "…")}</text>')
        for j, c in enumerate(cols):
            v = values.get((r, c), 0)
            t = v / (row_top[r] if by_row else top)
            # white -> dark red
            red, green, blue = 255 - int(t * 75), 255 - int(t * 200), 255 - int(t * 200)
            fill = f"rgb({red},{green},{blue})" if v else "#f4f4f4"
            x = label_w + j * cell
            tip = f"{name} × {col_titles.get(c, c)}: {v}"
            inner = f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{fill}"><title>{escape(tip)}</title></rect>'
            if v:
                colour = "#fff" if t > 0.55 else "#222"
                inner += f'<text x="{x + (cell - 2) / 2:.0f}" y="{y + cell / 2 + 3:.0f}" text-anchor="middle" {FONT} font-size="11" fill="{colour}">{v}</text>'
            href = link(r, c) if link and v else None
            out.append(_link(href, f"<g>{inner}</g>", tip) if href else inner)
    out.append("</svg>")
    return Markup("".join(out))


def _overdue_colour(share: float) -> str:
    """Green (nothing overdue) → amber → red (everything overdue)."""
    share = max(0.0, min(1.0, share))
    stops = [(0.0, (46, 125, 50)), (0.5, (230, 160, 30)), (1.0, (180, 35, 24))]
    for (a, ca), (b, cb) in zip(stops, stops[1:]):
        if share <= b:
            t = (share - a) / (b - a)
            return "rgb({},{},{})".format(*(int(x + (y - x) * t) for x, y in zip(ca, cb)))
    return "rgb(180,35,24)"


def bubble_map(
    points: Sequence[tuple[str, str, float, float, int, int, str | None]], title: str, width: int = 560, height_max: int = 520,
) -> Markup:
    """Municipalities as bubbles at their centroids: ``(short name, full name, lat, lon, incidents, overdue, href)``.

    The area grows with the incidents, the colour with the share overdue. An equirectangular projection
    scaled by the cosine of the mean latitude: good enough for one region; no tiles, no outlines.
    """
    if not points:
        return _empty(title)
    lats = [p[2] for p in points]
    lons = [p[3] for p in points]
    k = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * k, 0.3)
    span_y = max(max(lats) - min(lats), 0.3)
    pad, top_h, legend_h = 40, 28, 40
    scale = min((width - 2 * pad) / span_x, (height_max - 2 * pad - top_h - legend_h) / span_y)
    height = int(span_y * scale + 2 * pad + top_h + legend_h)
    x0 = (width - span_x * scale) / 2

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return x0 + (lon - min(lons)) * k * scale, top_h + pad + (max(lats) - lat) * scale

    biggest = max(p[4] for p in points) or 1
    out = [f'<svg class="chart map" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    out.append(f'<text x="0" y="14" {FONT} font-weight="bold">{escape(title)}</text>')
    out.append(f'<rect x="1" y="{top_h}" width="{width - 2}" height="{height - top_h - legend_h}" fill="#f5f8fb" stroke="#dde3ea"/>')
    # small ones on top, so a big bubble never hides a small one
    for short, full, lat, lon, n, overdue, href in sorted(points, key=lambda p: -p[4]):
        x, y = xy(lat, lon)
        r = 3.5 if not n else 6 + 24 * math.sqrt(n / biggest)
        fill = "#c9ced6" if not n else _overdue_colour(overdue / n)
        tip = f"{full}: инцидентов {n}" + (f", просрочено {overdue} ({round(100 * overdue / n)}\u00a0%)" if n else "")
        inner = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" fill-opacity="0.85" stroke="#fff"><title>{escape(tip)}</title></circle>'
        if n:
            inner += f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" {FONT} font-size="11" fill="#fff" font-weight="bold">{n}</text>'
            inner += f'<text x="{x + r + 3:.1f}" y="{y + 4:.1f}" {FONT} font-size="11" fill="#333">{escape(short)}</text>'
        out.append(_link(href if n else None, f'<g class="bubble">{inner}</g>', tip))
    ly = height - legend_h + 16
    out.append(f'<text x="0" y="{ly + 4}" {FONT} font-size="11">Доля просроченных:</text>')
    for i, (share, label) in enumerate([(0.0, "нет"), (0.5, "половина"), (1.0, "все")]):
        lx = 130 + i * 95
        out.append(f'<circle cx="{lx}" cy="{ly}" r="7" fill="{_overdue_colour(share)}"/><text x="{lx + 11}" y="{ly + 4}" {FONT} font-size="11">{label}</text>')
    out.append(f'<text x="0" y="{ly + 20}" {FONT} font-size="10" fill="#666">Размер круга — число инцидентов; серые — инцидентов нет; положение приблизительное.</text>')
    out.append("</svg>")
    return Markup("".join(out))
