"""The path on a map: inline SVG in the trajectory's projected metres (true scale,
equal axes, north up), so the page needs no map tiles and no network.

SVG user units are metres east (x) and metres south (y, flipped so north is up).
Things that should keep a constant size on screen while zooming — seq badges,
crosses, arrows, the scale bar — are drawn in pixels inside a group scaled by
``k`` (metres per pixel); the page's script updates ``k`` as the view changes,
and the server draws them for a nominal width so the page also reads without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

import numpy as np
import shapely

from epitrace.analysis.trajectory.projection import LocalProjection
from epitrace.geography import ATTRIBUTION, district_outlines
from epitrace.geography.outlines import District, zoom_for_scale
from epitrace.report.clock import Clock
from epitrace.report.model import ShownMove, ShownOutlier, ShownStay

NOMINAL_WIDTH_PX = 800  # width the page lays the map out at on a laptop
ASPECT = 3 / 2  # width / height, as the CSS gives the map element
MIN_AREA_PX = 5.0  # an uncertainty circle is never drawn smaller than this
MIN_EXTENT_M = 400.0  # a single stay still shows its neighbourhood
# Seq badges never cover one another: any two centres are at least 2 r + gap = 20 px
# apart on screen (badge_offsets). The hub's case map follows the same rule (badges.js).
BADGE_RADIUS_PX = 9.0  # a badge is 18 px wide
BADGE_GAP_PX = 2.0
PILE_SPACING_PX = 13.0  # sunflower spacing: neighbours in a pile end up >= 20.1 px apart
GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))
# A move's chevron sits this far along its longest leg: not halfway, so that a trip out
# and back along the same street shows two chevrons, not one cross.
ARROW_AT = 0.4


# North is up everywhere on an azimuthal projection centred on the subject's records.
NORTH_ARROW = (
    '<div class="north" aria-hidden="true"><svg viewBox="-12 -16 24 32">'
    '<path d="M0 -14L8 8L0 3L-8 8Z"/></svg><span>N</span></div>'
)


@dataclass(frozen=True)
class View:
    x: float
    y: float
    w: float
    h: float

    @property
    def k(self) -> float:
        """Metres per pixel at the nominal width."""
        return self.w / NOMINAL_WIDTH_PX

    def contains(self, x: float, y: float) -> bool:
        return self.x <= x <= self.x + self.w and self.y <= y <= self.y + self.h


def _n(value: float) -> str:
    return f"{value:.1f}"


def fit_view(stays: list[ShownStay], moves: list[ShownMove]) -> View:
    """Everything the subject did, padded, widened to the map's aspect ratio.
    Outliers are left out on purpose: one far cell would shrink the whole path."""
    xs = [v for s in stays for v in (s.x - s.radius, s.x + s.radius)]
    ys = [v for s in stays for v in (-s.y - s.radius, -s.y + s.radius)]
    xs += [p[0] for m in moves for p in m.points]
    ys += [-p[1] for m in moves for p in m.points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    # Padding leaves room for badges piled around the outermost stays.
    w = max(x1 - x0, MIN_EXTENT_M) * 1.25
    h = max(y1 - y0, MIN_EXTENT_M) * 1.25
    w, h = max(w, h * ASPECT), max(h, w / ASPECT)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return View(cx - w / 2, cy - h / 2, w, h)


def nice_length(target: float) -> float:
    """The largest 1, 2 or 5 × 10^n not above ``target``: scale bars and grid steps."""
    power = 10 ** math.floor(math.log10(target))
    return max(f * power for f in (1, 2, 5) if f * power <= target)


def metres_label(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def _round_distance(metres: float) -> float:
    return round(metres, -3) if metres >= 10_000 else round(metres, -2)


def _grid(view: View) -> str:
    """Faint lines every 'nice' distance, well beyond the view so panning finds them."""
    step = nice_length(view.w / 6)
    x0 = math.floor((view.x - view.w) / step) * step
    y0 = math.floor((view.y - view.h) / step) * step
    x1, y1 = view.x + 2 * view.w, view.y + 2 * view.h
    parts = [f"M{_n(x)} {_n(y0)}V{_n(y1)}" for x in _frange(x0, x1, step)]
    parts += [f"M{_n(x0)} {_n(y)}H{_n(x1)}" for y in _frange(y0, y1, step)]
    return f'<path class="grid" d="{"".join(parts)}"/>'


def _frange(start: float, stop: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((stop - start) / step) + 1)]


def _district_view(view: View, projection: LocalProjection) -> tuple[tuple[float, ...], float]:
    """The lon/lat box of the view widened by one view on every side (so panning finds
    districts, as it finds the grid), and the map zoom of its nominal scale."""
    xs = np.array([view.x - view.w, view.x + 2 * view.w, view.x - view.w, view.x + 2 * view.w])
    ys = -np.array([view.y - view.h, view.y - view.h, view.y + 2 * view.h, view.y + 2 * view.h])
    lat, lon = projection.to_latlon(xs, ys)
    centre_lat = float(np.mean(lat))
    return (lon.min(), lat.min(), lon.max(), lat.max()), zoom_for_scale(view.k, centre_lat)


def _svg_path(shape: shapely.Geometry, projection: LocalProjection) -> str:
    """A (multi)polygon as SVG path data in the map's metres (y flipped: north up)."""
    rings = shapely.get_rings(shapely.get_parts(shape))
    commands = []
    for ring in rings:
        lonlat = shapely.get_coordinates(ring)
        x, y = projection.to_xy(lonlat[:, 1], lonlat[:, 0])
        points = "L".join(f"{_n(a)} {_n(-b)}" for a, b in zip(x, y, strict=True))
        commands.append(f"M{points}Z")
    return "".join(commands)


def _district_label(district: District, view: View, projection: LocalProjection) -> str:
    lon, lat = district.label or (0.0, 0.0)
    x, y = projection.to_xy(np.array([lat]), np.array([lon]))
    inner = f"<text>{escape(district.name)}</text>"
    return _px_group(float(x[0]), -float(y[0]), view, inner, f"district-label {district.level}")


def _districts(view: View, projection: LocalProjection) -> str:
    """The district boundaries around the path (the level that suits the scale, the level
    above bolder) with their Korean names: under everything else."""
    bbox, zoom = _district_view(view, projection)
    shown = district_outlines(bbox, zoom)
    lines = [
        f'<path class="district {d.level}" d="{_svg_path(d.shape, projection)}"/>'
        for d in shown.districts
    ]
    lines += [
        f'<path class="district parent {d.level}" d="{_svg_path(d.shape, projection)}"/>'
        for d in shown.parents
    ]
    labels = [_district_label(d, view, projection) for d in shown.districts if d.label]
    return f'<g id="districts">{"".join(lines)}{"".join(labels)}</g>'


def _px_group(
    x: float, y: float, view: View, inner: str, cls: str, attrs: str = "", rot: float = 0
) -> str:
    """A group drawn in pixels at a point in metres (see module docstring)."""
    rotate = f" rotate({rot:.1f})" if rot else ""
    return (
        f'<g class="px {cls}" data-x="{_n(x)}" data-y="{_n(y)}" data-rot="{rot:.1f}" {attrs}'
        f' transform="translate({_n(x)} {_n(y)}){rotate} scale({view.k:.4f})">{inner}</g>'
    )


def _areas(stays: list[ShownStay], view: View) -> str:
    min_r = MIN_AREA_PX * view.k
    return "".join(
        f'<circle class="area {s.evidence}" data-seq="{s.seq}" data-r="{s.radius:.1f}"'
        f' cx="{_n(s.x)}" cy="{_n(-s.y)}" r="{max(s.radius, min_r):.1f}"/>'
        for s in stays
    )


def sunflower(i: int) -> tuple[float, float]:
    """Pixel offset of the i-th badge of a pile: a sunflower packs them tightly in seq
    order from the centre out, no two nearer than 20.1 px (at PILE_SPACING_PX 13)."""
    r = PILE_SPACING_PX * math.sqrt(i + 0.5)
    angle = i * GOLDEN_ANGLE
    return r * math.cos(angle), r * math.sin(angle)


def _reach(size: int) -> float:
    """How far from its anchor a pile of ``size`` badges reaches, in pixels."""
    spread = PILE_SPACING_PX * math.sqrt(size - 0.5) if size > 1 else 0.0
    return spread + BADGE_RADIUS_PX


def _pile_up(points: list[tuple[int, float, float]]) -> list[list[tuple[int, float, float]]]:
    """(seq, x, y) points in screen pixels grouped into piles, each in seq order and
    anchored at its first point: piles whose reaches (plus the gap) overlap are merged
    until none do, so badges of different piles are >= 2 r + gap apart."""
    piles = [[point] for point in sorted(points)]
    i = 0
    while i < len(piles):
        grown, j = False, i + 1
        while j < len(piles):
            (_, ax, ay), (_, bx, by) = piles[i][0], piles[j][0]
            reach = _reach(len(piles[i])) + _reach(len(piles[j])) + BADGE_GAP_PX
            if math.hypot(ax - bx, ay - by) < reach:
                piles[i] = sorted(piles[i] + piles.pop(j))
                grown = True
            else:
                j += 1
        # A grown pile reaches further: the piles before it are checked again.
        i = 0 if grown else i + 1
    return piles


def pile_offsets(
    points: list[tuple[int, float, float]], k: float
) -> dict[int, tuple[float, float]]:
    """Where each numbered badge goes so that none hides another: alone on its point,
    or in a sunflower around the first point of its pile when badges would otherwise
    overlap; no two badges are nearer than 2 * BADGE_RADIUS_PX + BADGE_GAP_PX.

    ``points``: (seq, x metres east, y metres north) per stay; ``k``: metres per pixel
    (any map unit per badge pixel will do: the PDF passes page points). Returns, per seq,
    the badge's offset in pixels from its own point, x right and y down (SVG's way).
    The offline report, its script (on every zoom), the hub's map (badges.js) and the
    hub's PDF use this one rule."""
    piles = _pile_up([(seq, x / k, -y / k) for seq, x, y in points])
    offsets = {}
    for pile in piles:
        _, ax, ay = pile[0]
        for i, (seq, x, y) in enumerate(pile):
            dx, dy = sunflower(i) if len(pile) > 1 else (0.0, 0.0)
            offsets[seq] = (ax - x + dx, ay - y + dy)
    return offsets


def badge_offsets(stays: list[ShownStay], k: float) -> dict[int, tuple[float, float]]:
    """Badges closer than a badge on screen (home, visited every night; GPS jitter)
    are piled around the first one (``pile_offsets``). Offsets in pixels from each
    stay's own point. The page's script runs the same rule again whenever the zoom changes."""
    return pile_offsets([(s.seq, s.x, s.y) for s in stays], k)


def _badges(stays: list[ShownStay], view: View, clock: Clock) -> str:
    offsets = badge_offsets(stays, view.k)
    out = []
    for s in stays:
        dx, dy = offsets[s.seq]
        inner = (
            f'<line x2="{dx:.1f}" y2="{dy:.1f}"/><g transform="translate({dx:.1f} {dy:.1f})">'
            f'<circle r="9"/><text dy="0.35em">{s.seq}</text></g>'
        )
        attrs = (
            f'data-seq="{s.seq}" data-tip="{escape(s.tip(clock))}" tabindex="0" '
            f'role="button" aria-label="stay {s.seq}"'
        )
        out.append(_px_group(s.x, -s.y, view, inner, f"badge {s.evidence}", attrs))
    return "".join(out)


def _moves(moves: list[ShownMove], view: View, clock: Clock) -> str:
    out = []
    for m in moves:
        points = " ".join(f"{_n(x)},{_n(-y)}" for x, y in m.points)
        tip = escape(m.tip(clock))
        out.append(f'<polyline class="move {m.mode_class}" points="{points}"/>')
        out.append(
            f'<polyline class="hit" points="{points}" data-tip="{tip}" data-move="{m.after_seq}"/>'
        )
        out.append(_arrow(m, view))
    return "".join(out)


def _arrow(move: ShownMove, view: View) -> str:
    """A chevron ARROW_AT along the longest leg shows which way the subject went."""
    legs = list(zip(move.points, move.points[1:], strict=False))
    (ax, ay), (bx, by) = max(legs, key=lambda leg: math.dist(*leg))
    if math.dist((ax, ay), (bx, by)) < 1:
        return ""
    rot = math.degrees(math.atan2(-(by - ay), bx - ax))
    inner = '<path d="M-4 -5L3 0L-4 5"/>'
    cls = f"arrow {move.mode_class}"
    x, y = ax + ARROW_AT * (bx - ax), ay + ARROW_AT * (by - ay)
    return _px_group(x, -y, view, inner, cls, rot=rot)


def _outliers(outliers: list[ShownOutlier], view: View, clock: Clock) -> str:
    out = []
    for o in outliers:
        tip = escape(f"Dropped record · cell {o.cell}\n{clock.when(o.ts)}\n{o.reason}", quote=True)
        inner = '<path d="M-5 -5L5 5M-5 5L5 -5"/>'
        out.append(_px_group(o.x, -o.y, view, inner, "cross", f'data-tip="{tip}"'))
    return "".join(out)


def _scale_bar(view: View) -> str:
    """Bottom-left of the view, in pixels; the script moves and relabels it on zoom."""
    length = nice_length(view.w / 5)
    bar_px = length / view.k
    height_px = view.h / view.k
    return (
        f'<g id="scale-bar" transform="translate({_n(view.x)} {_n(view.y)}) scale({view.k:.4f})">'
        f'<g transform="translate(16 {height_px - 18:.1f})">'
        f'<rect class="bar-bg" x="-6" y="-22" width="{bar_px + 12:.1f}" height="30" rx="3"/>'
        f'<path class="bar" d="M0 -6V2H{bar_px:.1f}V-6"/>'
        f'<text x="{bar_px / 2:.1f}" y="-9">{metres_label(length)}</text></g></g>'
    )


def render_map(
    stays: list[ShownStay],
    moves: list[ShownMove],
    outliers: list[ShownOutlier],
    clock: Clock,
    projection: LocalProjection,
) -> str:
    """The map's SVG over the districts around it (``projection``: the trajectory's, from
    which the stays' metres come), or a short message when there is nothing to draw."""
    if not stays:
        return '<p class="empty">No stays were found, so there is no path to draw.</p>'
    view = fit_view(stays, moves)
    off_map = [o for o in outliers if not view.contains(o.x, -o.y)]
    note = ""
    if off_map:
        far = max(
            math.hypot(o.x - (view.x + view.w / 2), o.y + view.y + view.h / 2) for o in off_map
        )
        note = (
            f'<p class="map-note">{len(off_map)} dropped record(s) lie off this map '
            f"(up to {metres_label(_round_distance(far))} away): zoom out or see Notes.</p>"
        )
    return (
        f'<svg id="map-svg" viewBox="{_n(view.x)} {_n(view.y)} {_n(view.w)} {_n(view.h)}"'
        ' role="img"'
        ' aria-label="Map of stays and moves, north up, true scale">'
        f"{_grid(view)}{_districts(view, projection)}"
        f"<g>{_areas(stays, view)}</g><g>{_moves(moves, view, clock)}</g>"
        f"<g>{_outliers(outliers, view, clock)}</g>"
        f'<g id="badges">{_badges(stays, view, clock)}</g>{_scale_bar(view)}</svg>'
        f"{NORTH_ARROW}"
        f'<p class="attribution">{escape(ATTRIBUTION)}</p>'
        f"{note}"
    )
