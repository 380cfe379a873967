"""Server-side SVG charts for the leaderboard pages.

Drawn on the server so the pages work offline and without JavaScript, and so a chart is
tested like any other output. Pure Python (no Django): each function returns SVG markup
as a string in which every piece of outside text (model names, labels) is escaped; the
views mark it safe. Hovering a mark shows its numbers (an SVG ``<title>``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from html import escape

# Okabe & Ito's colour-blind-safe palette (distinct under protanopia, deuteranopia and
# tritanopia), its yellow darkened to read on white. Past eight series the colours repeat with a
# dash pattern, so every series of a chart differs in colour or in line style.
PALETTE = (
    "#0072b2",  # blue
    "#d55e00",  # vermillion
    "#009e73",  # bluish green
    "#cc79a7",  # reddish purple
    "#e69f00",  # orange
    "#56b4e9",  # sky blue
    "#000000",  # black
    "#b59b00",  # yellow, darkened
)
DASHES = ("", "6 3", "2 3", "8 3 2 3")
# Width of one character of the 12 px system font, generously (digits and dashes are narrower).
CHAR_PX = 7.0
LABEL_GAP_PX = 12.0
INK, MUTED, LINE = "#1d2330", "#5d6677", "#dfe3ea"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _e(text) -> str:
    return escape(str(text), quote=True)


def _fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def series_style(index: int) -> tuple[str, str]:
    """(colour, dash pattern) of the index-th series: distinct for the first 32."""
    return PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE)) % len(DASHES)]


def label_step(labels: Sequence[str], spacing: float) -> int:
    """Show every step-th of evenly spaced labels so that no two shown labels overlap."""
    if not labels or spacing <= 0:
        return 1
    widest = max(len(str(text)) for text in labels) * CHAR_PX + LABEL_GAP_PX
    return max(1, math.ceil(widest / spacing))


def log_ticks(low: float, high: float, *, most: int = 8) -> list[float]:
    """Tick values for a log axis spanning ``low``..``high`` (both > 0): the powers of ten, with
    2 and 5 (or every digit) in between while that gives at least three and at most ``most``."""
    if not (low > 0 and high > 0 and math.isfinite(low) and math.isfinite(high)):
        return []
    low, high = min(low, high), max(low, high)
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    ticks: list[float] = []
    for mantissas in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [
            float(f"{m * 10.0**e:.12g}")
            for e in range(first, last + 1)
            for m in mantissas
            if low <= m * 10.0**e <= high
        ]
        if len(ticks) >= 3:
            # Many decades: every k-th power of ten, so that the labels stay apart.
            return ticks[:: math.ceil(len(ticks) / most)]
    # Less than about a factor of 1.5 between the ends: evenly spaced ticks read better than none.
    return ticks if len(ticks) >= 2 else [t for t in nice_ticks(low, high, 4) if t > 0]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _scale(low: float, high: float, start: float, end: float, *, pad: float = 0.05):
    span = high - low or 1.0
    low, high = low - span * pad, high + span * pad

    def to_px(value: float) -> float:
        return start + (value - low) / (high - low) * (end - start)

    return to_px, low, high


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{_e(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT}>' + "".join(body) + "</svg>"
    )


def interval_chart(
    rows: Sequence[dict],
    *,
    label: str = "Ratings with 95% intervals",
    lower: str = "lower",
    upper: str = "upper",
    value: str = "rating",
) -> str:
    """One line per model (best first): the interval as a bar, the rating as a dot."""
    if not rows:
        return ""
    left, right, top, row_h = 190, 700, 24, 22
    width, height = right + 20, top + row_h * len(rows) + 30
    lows = [r[lower] for r in rows]
    highs = [r[upper] for r in rows]
    x, lo, hi = _scale(min(lows), max(highs), left, right)
    body = []
    for tick in nice_ticks(lo, hi, 6):
        px = x(tick)
        body.append(
            f'<line x1="{px:.1f}" y1="{top - 6}" x2="{px:.1f}" y2="{height - 24}" stroke="{LINE}"/>'
            f'<text x="{px:.1f}" y="{height - 8}" text-anchor="middle" fill="{MUTED}">{_fmt(tick)}</text>'
        )
    for k, row in enumerate(rows):
        y = top + k * row_h + row_h / 2
        colour = MUTED if row.get("provisional") else PALETTE[0]
        name = row["model"]
        body.append(
            f"<g><title>{_e(name)}: {_fmt(row[value], 1)} ({_fmt(row[lower])} to {_fmt(row[upper])})</title>"
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{_e(_short(name, 28))}</text>'
            f'<line x1="{x(row[lower]):.1f}" y1="{y:.1f}" x2="{x(row[upper]):.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="6" stroke-linecap="round" opacity="0.35"/>'
            f'<circle cx="{x(row[value]):.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/></g>'
        )
    return _svg(width, height, body, label)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scatter_chart(
    points: Sequence[dict],
    *,
    x_label: str,
    y_label: str,
    front: AbstractSet[str] = frozenset(),
    log_x: bool = False,
    label: str = "",
) -> str:
    """Points ``{"key", "x", "y", "low", "high"}`` (y with its interval) and the Pareto
    front (keys in ``front``) joined by a line and drawn in a stronger colour."""
    points = [p for p in points if p.get("x") is not None and (not log_x or p["x"] > 0)]
    if not points:
        return ""
    left, right, top, bottom = 70, 700, 20, 330
    width, height = right + 30, bottom + 50
    tx = (lambda v: math.log10(v)) if log_x else (lambda v: v)
    xs = [tx(p["x"]) for p in points]
    lows = [p.get("low", p["y"]) for p in points]
    highs = [p.get("high", p["y"]) for p in points]
    x, xlo, xhi = _scale(min(xs), max(xs), left, right, pad=0.08)
    y, ylo, yhi = _scale(min(lows), max(highs), bottom, top, pad=0.08)
    body = []
    for tick in nice_ticks(ylo, yhi, 5):
        body.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{right}" y2="{y(tick):.1f}" stroke="{LINE}"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="{MUTED}">{_fmt(tick)}</text>'
        )
    if log_x:
        for value in log_ticks(10**xlo, 10**xhi):
            px = x(math.log10(value))
            body.append(
                f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}" stroke="{LINE}"/>'
                f'<text x="{px:.1f}" y="{bottom + 18}" text-anchor="middle" fill="{MUTED}">'
                f"{_e(_compact(value))}</text>"
            )
    else:
        for tick in nice_ticks(xlo, xhi, 6):
            body.append(
                f'<text x="{x(tick):.1f}" y="{bottom + 18}" text-anchor="middle" fill="{MUTED}">'
                f"{_e(_compact(tick))}</text>"
            )
    body.append(
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{MUTED}"/>'
        f'<text x="{(left + right) / 2:.0f}" y="{height - 6}" text-anchor="middle" '
        f'fill="{INK}">{_e(x_label)}</text>'
        f'<text x="14" y="{(top + bottom) / 2:.0f}" text-anchor="middle" fill="{INK}" '
        f'transform="rotate(-90 14 {(top + bottom) / 2:.0f})">{_e(y_label)}</text>'
    )
    on_front = sorted((p for p in points if p["key"] in front), key=lambda p: tx(p["x"]))
    if len(on_front) > 1:
        path = " ".join(f"{x(tx(p['x'])):.1f},{y(p['y']):.1f}" for p in on_front)
        body.append(
            f'<polyline class="pareto" points="{path}" fill="none" stroke="{PALETTE[2]}" '
            f'stroke-width="2" stroke-dasharray="5 4"/>'
        )
    for p in points:
        px, py = x(tx(p["x"])), y(p["y"])
        best = p["key"] in front
        colour = PALETTE[2] if best else PALETTE[0]
        tip = f"{p['key']}: {y_label} {_fmt(p['y'], 1)}, {x_label} {_compact(p['x'])}"
        if best:
            tip += " (Pareto front)"
        group = ' class="front"' if best else ""
        body.append(
            f"<g{group}><title>{_e(tip)}</title>"
            f'<line x1="{px:.1f}" y1="{y(p.get("low", p["y"])):.1f}" x2="{px:.1f}" y2="{y(p.get("high", p["y"])):.1f}" '
            f'stroke="{colour}" opacity="0.4" stroke-width="3"/>'
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{6 if best else 4.5}" fill="{colour}"/>'
            f"{_point_label(px, py, p['key'], right)}</g>"
        )
    return _svg(width, height, body, label or f"{y_label} against {x_label}")


def _point_label(px: float, py: float, text: str, right: float) -> str:
    # Near the right edge the label goes to the left of its point so that it is not cut off.
    if px > right - 140:
        return f'<text x="{px - 8:.1f}" y="{py - 8:.1f}" text-anchor="end" fill="{INK}">{_e(_short(text, 24))}</text>'
    return f'<text x="{px + 8:.1f}" y="{py - 6:.1f}" fill="{INK}">{_e(_short(text, 24))}</text>'


def _compact(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def line_chart(
    x_labels: Sequence[str],
    series: dict[str, Sequence[dict | None]],
    *,
    y_label: str = "Rating",
    bands: bool = False,
    label: str = "Rating over time",
) -> str:
    """One line per series over the x positions; points are ``{"rating", "lower", "upper"}``
    or None (no data yet). ``bands`` shades each interval (readable for a few series)."""
    values = [p for points in series.values() for p in points if p]
    if not values or not x_labels:
        return ""
    left, right, top, bottom = 70, 560, 20, 300
    width, height = 760, bottom + 50
    n = len(x_labels)
    x = (lambda k: (left + right) / 2) if n == 1 else (lambda k: left + k * (right - left) / (n - 1))
    lows = [p["lower"] if bands else p["rating"] for p in values]
    highs = [p["upper"] if bands else p["rating"] for p in values]
    y, ylo, yhi = _scale(min(lows), max(highs), bottom, top, pad=0.08)
    body = []
    for tick in nice_ticks(ylo, yhi, 5):
        body.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{right}" y2="{y(tick):.1f}" stroke="{LINE}"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="{MUTED}">{_fmt(tick)}</text>'
        )
    step = label_step(x_labels, (right - left) / (n - 1)) if n > 1 else 1
    for k in range(0, n, step):
        body.append(
            f'<text x="{x(k):.1f}" y="{bottom + 18}" text-anchor="middle" fill="{MUTED}">{_e(x_labels[k])}</text>'
        )
    body.append(
        f'<text x="14" y="{(top + bottom) / 2:.0f}" text-anchor="middle" fill="{INK}" '
        f'transform="rotate(-90 14 {(top + bottom) / 2:.0f})">{_e(y_label)}</text>'
    )
    for s, (name, points) in enumerate(series.items()):
        colour, dash = series_style(s)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        present = [(k, p) for k, p in enumerate(points) if p]
        if bands and len(present) > 1:
            upper = " ".join(f"{x(k):.1f},{y(p['upper']):.1f}" for k, p in present)
            lower = " ".join(f"{x(k):.1f},{y(p['lower']):.1f}" for k, p in reversed(present))
            body.append(f'<polygon points="{upper} {lower}" fill="{colour}" opacity="0.12"/>')
        if len(present) > 1:
            path = " ".join(f"{x(k):.1f},{y(p['rating']):.1f}" for k, p in present)
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dashed}/>')
        if bands and len(present) == 1:
            k, p = present[0]
            body.append(
                f'<line x1="{x(k):.1f}" y1="{y(p["lower"]):.1f}" x2="{x(k):.1f}" y2="{y(p["upper"]):.1f}" '
                f'stroke="{colour}" stroke-width="6" opacity="0.2"/>'
            )
        for k, p in present:
            body.append(
                f'<circle cx="{x(k):.1f}" cy="{y(p["rating"]):.1f}" r="3" fill="{colour}">'
                f"<title>{_e(name)} at {_e(x_labels[k])}: {_fmt(p['rating'], 1)} "
                f"({_fmt(p['lower'])} to {_fmt(p['upper'])})</title></circle>"
            )
        legend_y = top + 6 + s * 18
        body.append(
            f'<line x1="{right + 14}" y1="{legend_y - 3}" x2="{right + 34}" y2="{legend_y - 3}" stroke="{colour}" '
            f'stroke-width="3"{dashed}/>'
            f'<text x="{right + 38}" y="{legend_y + 1}" fill="{INK}">{_e(_short(name, 24))}</text>'
        )
    height = max(height, top + 18 * len(series) + 10)
    return _svg(width, height, body, label)


def diverging_colour(value: float | None) -> str:
    """Background for a probability: red below ½, white at ½, blue above."""
    if value is None:
        return "#f3f4f7"
    value = min(1.0, max(0.0, value))
    t = abs(value - 0.5) * 2
    target = (48, 86, 211) if value >= 0.5 else (179, 38, 30)
    r, g, b = (round(255 + (c - 255) * t * 0.75) for c in target)
    return f"rgb({r},{g},{b})"


def sequential_colour(value: int, maximum: int) -> str:
    """Background for a count: white at 0, deeper green as it approaches ``maximum``."""
    if not maximum or not value:
        return "#ffffff"
    t = math.sqrt(value / maximum)
    r, g, b = (round(255 + (c - 255) * t * 0.7) for c in (31, 138, 76))
    return f"rgb({r},{g},{b})"


def text_colour(background: str) -> str:
    """Dark or light text for a ``rgb(r,g,b)`` or ``#rrggbb`` background."""
    if background.startswith("#"):
        r, g, b = (int(background[k : k + 2], 16) for k in (1, 3, 5))
    else:
        r, g, b = (int(v) for v in background[4:-1].split(","))
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 140 else INK


# Heatmap cells carry a class, not a style attribute: the Content-Security-Policy refuses inline
# styles. Values are rounded to steps fine enough to read (5% for probabilities, tenths of the
# square-root scale for counts); static/css/heat.css holds one rule per step (heat_css() writes it).
DIVERGING_STEPS, SEQUENTIAL_STEPS = 20, 10


def diverging_tone(value: float | None) -> str:
    """The heat class of a probability (``heat-d0`` … ``heat-d20``; ``heat-none`` when unknown)."""
    if value is None:
        return "heat-none"
    return f"heat-d{round(min(1.0, max(0.0, value)) * DIVERGING_STEPS)}"


def sequential_tone(value: int, maximum: int) -> str:
    """The heat class of a count (``heat-s0`` … ``heat-s10``)."""
    if not maximum or not value:
        return "heat-s0"
    return f"heat-s{round(math.sqrt(min(value, maximum) / maximum) * SEQUENTIAL_STEPS)}"


def heat_css() -> str:
    """The rules of every heat class, with the colours of diverging_colour and sequential_colour."""
    tones = {"heat-none": diverging_colour(None), "heat-self": "#e9ecef"}
    tones |= {f"heat-d{k}": diverging_colour(k / DIVERGING_STEPS) for k in range(DIVERGING_STEPS + 1)}
    tones |= {
        f"heat-s{k}": sequential_colour(k * k, SEQUENTIAL_STEPS * SEQUENTIAL_STEPS) for k in range(SEQUENTIAL_STEPS + 1)
    }
    return "".join(f".{name}{{background:{bg};color:{text_colour(bg)}}}\n" for name, bg in tones.items())
