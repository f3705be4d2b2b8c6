"""Small server-side SVG charts (no JavaScript, no external assets)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

FONT = 'font-family="sans-serif" font-size="12"'


def bars(items: Sequence[tuple[str, int | float]], title: str, width: int = 560, unit: str = "") -> Markup:
    """Horizontal bars, largest first as given."""
    if not items:
        return Markup(f'<p class="muted">{escape(title)}: данных нет.</p>')
    row, label_w = 22, 250
    h = row * len(items) + 30
    top = max(v for _, v in items) or 1
    out = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {h}" width="{width}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    out.append(f'<text x="0" y="14" {FONT} font-weight="bold">{escape(title)}</text>')
    span = width - label_w - 60
    for i, (label, value) in enumerate(items):
        y = 24 + i * row
        w = max(1, int(span * value / top))
        text = label if len(label) <= 36 else label[:35] + "…"
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" {FONT}><title>{escape(label)}</title>{escape(text)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 2}" width="{w}" height="{row - 6}" fill="#3b6ea5"/>')
        shown = f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"
        out.append(f'<text x="{label_w + w + 4}" y="{y + 14}" {FONT}>{escape(shown)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def columns(items: list[tuple[str, int]], title: str, width: int = 760, height: int = 200) -> Markup:
    """Vertical columns over time (labels are dates)."""
    if not items:
        return Markup(f'<p class="muted">{escape(title)}: данных нет.</p>')
    top = max(v for _, v in items) or 1
    left, bottom, plot_h = 30, 40, height - 70
    n = len(items)
    step = (width - left - 10) / n
    out = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    out.append(f'<text x="0" y="14" {FONT} font-weight="bold">{escape(title)}</text>')
    out.append(f'<text x="0" y="34" {FONT}>{top}</text>')
    base = height - bottom
    out.append(f'<line x1="{left}" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#888"/>')
    every = max(1, n // 10)
    for i, (label, value) in enumerate(items):
        x = left + i * step
        h = plot_h * value / top
        out.append(f'<rect x="{x + 1:.1f}" y="{base - h:.1f}" width="{max(1.0, step - 2):.1f}" height="{h:.1f}" fill="#5a8f3d"><title>{escape(label)}: {value}</title></rect>')
        if i % every == 0:
            out.append(f'<text x="{x:.1f}" y="{base + 14}" {FONT} font-size="10">{escape(label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def heatmap(
    rows: list[str], cols: list[str], values: dict[tuple[str, str], int], title: str,
    col_titles: dict[str, str] | None = None, by_row: bool = False,
) -> Markup:
    """Rows × columns matrix; cell colour grows with the count (the "complex picture of problems").

    ``by_row`` colours each cell by its share of the row (for confusion matrices).
    """
    if not rows or not cols:
        return Markup(f'<p class="muted">{escape(title)}: данных нет.</p>')
    col_titles = col_titles or {}
    cell, label_w, head_h = 34, 290, 130
    width = label_w + cell * len(cols) + 70
    height = head_h + cell * len(rows) + 10
    top = max(values.values(), default=0) or 1
    row_top = {r: (sum(values.get((r, c), 0) for c in cols) or 1) for r in rows}
    out = [f'<svg class="chart heatmap" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    out.append(f'<text x="0" y="14" {FONT} font-weight="bold">{escape(title)}</text>')
    for j, c in enumerate(cols):
        x = label_w + j * cell + cell / 2
        name = col_titles.get(c, c)
        out.append(f'<text transform="translate({x + 4:.0f},{head_h - 6}) rotate(-60)" {FONT} font-size="11">{escape(name[:18])}</text>')
    for i, r in enumerate(rows):
        y = head_h + i * cell
        out.append(f'<text x="{label_w - 6}" y="{y + cell / 2 + 4:.0f}" text-anchor="end" {FONT}>{escape(r if len(r) <= 44 else r[:43] + "…")}</text>')
        for j, c in enumerate(cols):
            v = values.get((r, c), 0)
            t = v / (row_top[r] if by_row else top)
            # white -> dark red
            red, green, blue = 255 - int(t * 75), 255 - int(t * 200), 255 - int(t * 200)
            fill = f"rgb({red},{green},{blue})" if v else "#f4f4f4"
            x = label_w + j * cell
            out.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{fill}"><title>{escape(r)} × {escape(col_titles.get(c, c))}: {v}</title></rect>')
            if v:
                colour = "#fff" if t > 0.55 else "#222"
                out.append(f'<text x="{x + (cell - 2) / 2:.0f}" y="{y + cell / 2 + 3:.0f}" text-anchor="middle" {FONT} font-size="11" fill="{colour}">{v}</text>')
    out.append("</svg>")
    return Markup("".join(out))
