"""The slope chart of a benchmark comparison, as server-rendered SVG.

Left: the models in benchmark-rank order; right: the same models in arena-rank order; a line
joins each model's two positions, so a steep line is a large vibes gap. Flagged models are
drawn thick and red. Positions are slots (one per model, ties ordered by name) so that
labels never overlap; the labels carry the actual ranks. Every name is escaped.
"""

from __future__ import annotations

from html import escape

from ratings.charts import FONT, INK, LINE, MUTED

FLAGGED = "#c92a2a"
PLAIN = "#3056d3"


def _e(text) -> str:
    return escape(str(text), quote=True)


def _rank(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def slope_chart(comparison, *, label: str | None = None) -> str:
    rows = list(comparison.rows)
    if not rows:
        return ""
    label = label or f"{comparison.benchmark}: benchmark rank against arena rank"
    row_h, top = 22, 40
    left, right, width = 250, 520, 770
    height = top + row_h * len(rows) + 16
    left_order = sorted(rows, key=lambda r: (r.benchmark_rank, r.model))
    right_order = sorted(rows, key=lambda r: (r.arena_rank, r.model))
    left_y = {r.model: top + k * row_h + row_h / 2 for k, r in enumerate(left_order)}
    right_y = {r.model: top + k * row_h + row_h / 2 for k, r in enumerate(right_order)}
    body = [
        f'<text x="{left}" y="18" text-anchor="end" fill="{INK}" font-weight="600">'
        f"{_e(comparison.benchmark)} rank</text>",
        f'<text x="{right}" y="18" fill="{INK}" font-weight="600">Arena rank</text>',
        f'<line x1="{left}" y1="{top - 8}" x2="{left}" y2="{height - 10}" stroke="{LINE}"/>',
        f'<line x1="{right}" y1="{top - 8}" x2="{right}" y2="{height - 10}" stroke="{LINE}"/>',
    ]
    # Plain lines first, flagged ones on top.
    for row in sorted(rows, key=lambda r: r.flagged):
        colour = FLAGGED if row.flagged else PLAIN
        stroke = 3 if row.flagged else 1.5
        opacity = 1 if row.flagged else 0.55
        tip = (
            f"{row.model}: benchmark rank {_rank(row.benchmark_rank)}, arena rank {_rank(row.arena_rank)} "
            f"(interval {row.arena_rank_best}–{row.arena_rank_worst}), gap {row.gap:+.1f}"
            + (", flagged" if row.flagged else "")
        )
        body.append(
            f'<g class="slope{" flagged" if row.flagged else ""}"><title>{_e(tip)}</title>'
            f'<line x1="{left + 6}" y1="{left_y[row.model]:.1f}" x2="{right - 6}" y2="{right_y[row.model]:.1f}" '
            f'stroke="{colour}" stroke-width="{stroke}" stroke-opacity="{opacity}"/>'
            f'<circle cx="{left + 6}" cy="{left_y[row.model]:.1f}" r="3" fill="{colour}"/>'
            f'<circle cx="{right - 6}" cy="{right_y[row.model]:.1f}" r="3" fill="{colour}"/></g>'
        )
    for row in left_order:
        weight = ' font-weight="600"' if row.flagged else ""
        fill = FLAGGED if row.flagged else INK
        body.append(
            f'<text x="{left - 6}" y="{left_y[row.model] + 4:.1f}" text-anchor="end" fill="{fill}"{weight}>'
            f'{_e(row.model)} <tspan fill="{MUTED}">{_rank(row.benchmark_rank)}</tspan></text>'
        )
    for row in right_order:
        weight = ' font-weight="600"' if row.flagged else ""
        fill = FLAGGED if row.flagged else INK
        body.append(
            f'<text x="{right + 6}" y="{right_y[row.model] + 4:.1f}" fill="{fill}"{weight}>'
            f'<tspan fill="{MUTED}">{_rank(row.arena_rank)} '
            f"({row.arena_rank_best}–{row.arena_rank_worst})</tspan> {_e(row.model)}</text>"
        )
    return (
        f'<svg class="chart slope-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{_e(label)}" xmlns="http://www.w3.org/2000/svg" {FONT}>' + "".join(body) + "</svg>"
    )
