"""Charts drawn on the server as inline SVG: no script, no library, and they print.

Each builder returns a ``Chart`` with the geometry already computed (bars, axis
ticks, legend) and the same numbers as a table; ``web/dashboard_chart.html``
renders it with a <title> and <desc> for screen readers and the table under a
<details> fallback. Colours are SVG presentation attributes (the CSP forbids
inline styles) from the Okabe-Ito palette, readable with colour-blindness.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
OTHER_COLOUR = "#999999"
WIDTH = 720
ROW_HEIGHT = 22


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # the bar's <title>: what and how many


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str


@dataclass
class Chart:
    key: str  # unique on the page: ids of <title>/<desc>
    title: str
    description: str
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, name)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    plot_left: float = 0
    plot_bottom: float = 0
    plot_right: float = 0

    @property
    def empty(self) -> bool:
        return not self.rows


def nice_step(top: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 x 10^k) that splits 0..top into about ``ticks`` parts."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return float(factor * power)
    return float(10 * power)


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def colours_for(series: list[str]) -> dict[str, str]:
    """A colour per series, the same for a name wherever it appears on the page."""
    return {name: PALETTE[i] if i < len(PALETTE) else OTHER_COLOUR for i, name in enumerate(series)}


def column_chart(
    key: str,
    title: str,
    description: str,
    categories: list[str],
    series: list[str],
    values: dict[tuple[str, str], float],
    *,
    value_header: str,
    label_every: int | None = None,
    tick_label: Callable[[str], str] = str,
) -> Chart:
    """Vertical stacked columns, one per category (a day), stacked by series (regions)."""
    height, left, top, bottom = 260, 48, 12, 44
    chart = Chart(key, title, description, WIDTH, height, plot_left=left)
    chart.plot_bottom, chart.plot_right = height - bottom, WIDTH - 8
    totals = [sum(values.get((c, s), 0) for s in series) for c in categories]
    step = max(1.0, nice_step(max(totals, default=0)))  # counts: whole steps
    scale_top = step * max(1, math.ceil(max(totals, default=0) / step))
    plot_h = chart.plot_bottom - top
    slot = (chart.plot_right - left) / max(len(categories), 1)
    colours = colours_for(series)
    for i, category in enumerate(categories):
        y = chart.plot_bottom
        for name in series:
            value = values.get((category, name), 0)
            if value <= 0:
                continue
            h = plot_h * value / scale_top
            y -= h
            what = f"{category} · {name}" if name else category
            label = f"{what}: {_number(value)}"
            bar = Bar(left + i * slot + slot * 0.1, y, slot * 0.8, h, colours[name], label)
            chart.bars.append(bar)
    longest = max((len(tick_label(c)) for c in categories), default=1)
    room = max(1, int((chart.plot_right - left) // (longest * 6.6 + 14)))  # 11 px font
    every = label_every or max(1, math.ceil(len(categories) / room))
    for i, category in enumerate(categories):
        if i % every == 0:
            x = left + (i + 0.5) * slot
            chart.x_ticks.append(Tick(x, chart.plot_bottom + 16, tick_label(category)))
    chart.y_ticks = _value_ticks(scale_top, step, left - 6, chart.plot_bottom, plot_h)
    chart.legend = [(colours[s], s) for s in series if s]
    chart.headers = [title.split(" (")[0], *[s or value_header for s in series]]
    if len(series) > 1:
        chart.headers.append(value_header)
    for category, total in zip(categories, totals, strict=True):
        cells = [_number(values.get((category, s), 0)) for s in series]
        chart.rows.append([category, *cells, *([_number(total)] if len(series) > 1 else [])])
    return chart


def _value_ticks(
    scale_top: float, step: float, x: float, bottom: float, plot_h: float
) -> list[Tick]:
    count = round(scale_top / step)
    return [
        Tick(x, bottom - plot_h * (k * step) / scale_top, _number(k * step))
        for k in range(count + 1)
    ]


def label_width(text: str, font_px: float = 12) -> float:
    """About how wide ``text`` is drawn, in px (an estimate, generous on purpose): a
    Hangul syllable or CJK character about a full em, any other character 0.6 em."""
    wide = sum(1 for c in text if unicodedata.east_asian_width(c) in ("W", "F"))
    return font_px * (wide + 0.6 * (len(text) - wide))


def bar_chart(
    key: str,
    title: str,
    description: str,
    categories: list[str],
    series: list[str],
    values: dict[tuple[str, str], float],
    *,
    category_header: str,
    value_header: str,
    unit: str = "",
    whole: bool = True,
) -> Chart:
    """Horizontal stacked bars, one per category (agency, user, step), by series (status)."""
    # Room for the longest category's label, so that no agency's name is clipped.
    longest = max((label_width(c) for c in categories), default=0)
    left, top, bottom = int(min(WIDTH / 2, max(120, longest + 14))), 8, 30
    height = top + bottom + ROW_HEIGHT * max(len(categories), 1)
    chart = Chart(key, title, description, WIDTH, height, plot_left=left)
    chart.plot_bottom, chart.plot_right = height - bottom, WIDTH - 16
    totals = [sum(values.get((c, s), 0) for s in series) for c in categories]
    step = nice_step(max(totals, default=0))
    step = max(1.0, step) if whole else step  # counts: whole steps; hours need not be
    scale_top = step * max(1, math.ceil(max(totals, default=0) / step))
    plot_w = chart.plot_right - left
    colours = colours_for(series)
    for i, category in enumerate(categories):
        x = float(left)
        y = top + i * ROW_HEIGHT + 3
        for name in series:
            value = values.get((category, name), 0)
            if value <= 0:
                continue
            w = plot_w * value / scale_top
            what = f"{category} · {name}" if name else category
            chart.bars.append(
                Bar(x, y, w, ROW_HEIGHT - 6, colours[name], f"{what}: {_number(value)}{unit}")
            )
            x += w
        chart.y_ticks.append(Tick(left - 6, y + (ROW_HEIGHT - 6) / 2 + 4, category))
    count = round(scale_top / step)
    chart.x_ticks = [
        Tick(left + plot_w * k * step / scale_top, chart.plot_bottom + 16, _number(k * step))
        for k in range(count + 1)
    ]
    chart.legend = [(colours[s], s) for s in series if s]
    chart.headers = [category_header, *[s or value_header for s in series]]
    for category in categories:
        chart.rows.append([category, *[_number(values.get((category, s), 0)) for s in series]])
    return chart
