"""Bar charts as inline SVG, drawn on the server: no script, readable by screen readers (a
title and a description name every bar's value, and the page shows the numbers as a table).

The drawing is about as wide as a phone shows it (a card at 390 px is some 320 px wide), so its
text, which scales with it, stays at 13 px there; shipkey.css sets a smaller size in user units
for wider screens, where the drawing is scaled up."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from markupsafe import Markup, escape

WIDTH = 320
HEIGHT = 150
PAD_LEFT = 44
PAD_BOTTOM = 22
PAD_TOP = 10
TICKS = 5  # day labels under the bars, at most (each some 40 units wide)


def _nice_max(value: float) -> float:
    """A round top for the axis: 1, 2, 5 × 10^n."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if value <= step * factor:
            return step * factor
    return step * 10  # pragma: no cover


def bar_chart(
    chart_id: str,
    title: str,
    points: Sequence[tuple[date, float]],
    *,
    describe: Callable[[date, float], str],
    axis_label: Callable[[float], str] = lambda v: f"{v:g}",
    tick_label: Callable[[date], str] = lambda d: d.strftime("%d.%m"),
    integers: bool = False,
) -> Markup:
    """One bar per day; ``describe(day, value)`` is the bar's accessible text."""
    top = _nice_max(max((value for _, value in points), default=0))
    plot_w = WIDTH - PAD_LEFT - 4
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(len(points), 1)
    bar_w = max(slot * 0.7, 1)
    texts = [describe(day, value) for day, value in points]  # once each: the desc and a bar
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart_id}-t '
        f'{chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">'
        f"{escape('; '.join(t for t, (_, value) in zip(texts, points, strict=True) if value))}"
        "</desc>",
    ]
    for fraction in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="axis" x1="{PAD_LEFT}" x2="{WIDTH - 4}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        if integers and not float(top * fraction).is_integer():
            continue
        parts.append(
            f'<text x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(axis_label(top * fraction))}</text>"
        )
    every = max(1, -(-len(points) // TICKS))
    for index, (day, value) in enumerate(points):
        x = PAD_LEFT + index * slot + (slot - bar_w) / 2
        h = plot_h * (value / top) if top else 0
        y = PAD_TOP + plot_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
            f"<title>{escape(texts[index])}</title></rect>"
        )
        if index % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
                f"{escape(tick_label(day))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped
