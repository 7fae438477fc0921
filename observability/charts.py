"""Charts as server-side SVG: no script, no CDN, no inline style (the CSP allows neither).

Colours and sizes are SVG presentation attributes. Every text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")
PLOT_WIDTH, HEIGHT = 534, 240
LEFT, TOP, BOTTOM = 56, 16, 40
LEGEND_ROW = 14
# About the width of one character of the legend's 11 px sans-serif text, with room to spare.
LEGEND_CHAR_WIDTH = 7


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _size(series: Sequence[Series]) -> tuple[int, int]:
    """(width, height) that fit the plot and a legend with every series' whole name."""
    longest = max((len(item.name) for item in series), default=0)
    width = LEFT + PLOT_WIDTH + 34 + LEGEND_CHAR_WIDTH * longest
    return width, max(HEIGHT, TOP + LEGEND_ROW * len(series) + 8)


def _frame(title: str, labels: Sequence[str], top: float, unit: str, size: tuple[int, int]) -> list[str]:
    width, height = size
    plot_w, plot_h = PLOT_WIDTH, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        value = top * fraction
        text = f"{value:g}{unit}" if unit != "$" else f"${value:.2f}"
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#444">{escape(text)}</text>'
        )
    every = max(1, len(labels) // 8)
    for index, label in enumerate(labels):
        if index % every == 0:
            x = LEFT + plot_w * (index + 0.5) / max(1, len(labels))
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11" '
                f'fill="#444">{escape(label)}</text>'
            )
    return parts


def _legend(series: Sequence[Series], colours: Sequence[str]) -> list[str]:
    parts = []
    x = LEFT + PLOT_WIDTH + 10
    for index, item in enumerate(series):
        y = TOP + LEGEND_ROW * index
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colours[index]}"/>')
        parts.append(f'<text x="{x + 14}" y="{y + 9}" font-size="11" fill="#222">{escape(item.name)}</text>')
    return parts


def _colours(series: Sequence[Series], colours: Sequence[str] | None) -> list[str]:
    return list(colours) if colours else [PALETTE[i % len(PALETTE)] for i in range(len(series))]


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "") -> SafeString:
    """One polyline per series over the labelled x positions."""
    top = _nice_max(max((v for s in series for v in s.values), default=0))
    plot_w, plot_h = PLOT_WIDTH, HEIGHT - TOP - BOTTOM
    parts = _frame(title, labels, top, unit, _size(series))
    for index, item in enumerate(series):
        points = " ".join(
            f"{LEFT + plot_w * (i + 0.5) / max(1, len(labels)):.1f},{TOP + plot_h * (1 - v / top):.1f}"
            for i, v in enumerate(item.values)
        )
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2">'
            f"<title>{escape(item.name)}</title></polyline>"
        )
    parts += _legend(series, _colours(series, None))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def stacked_bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    colours: Sequence[str] | None = None,
) -> SafeString:
    """One bar per label, stacked by series (in `colours`, one per series, if given)."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = PLOT_WIDTH, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    palette = _colours(series, colours)
    parts = _frame(title, labels, top, unit, _size(series))
    for i, label in enumerate(labels):
        base = 0.0
        for index, item in enumerate(series):
            value = item.values[i]
            if value <= 0:
                continue
            height = plot_h * value / top
            y = TOP + plot_h * (1 - (base + value) / top)
            colour = palette[index]
            parts.append(
                f'<rect x="{LEFT + slot * i + slot * 0.15:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{height:.1f}" fill="{colour}"><title>{escape(f"{label} {item.name}: {value:g}")}</title>'
                "</rect>"
            )
            base += value
    parts += _legend(series, palette)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
