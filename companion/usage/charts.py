"""Bar charts as inline SVG — no script, so the report and the evaluator's page work under a strict
Content-Security-Policy and print as they look. Every chart has a table of the same numbers beside it for
screen readers; a suppressed value is drawn as no bar and written as "–".
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from companion.usage.measures import LONELINESS_SCORES
from companion.usage.summary import LONELINESS, Cohort

WIDTH, HEIGHT, BOTTOM, LEFT = 640, 220, 40, 40
COLOURS = ("#0b4f8a", "#c25400", "#3a7d2c")
"""Dark enough on white for text and bars (WCAG contrast ≥ 4.5:1)."""

Series = tuple[str, list[int | None]]
"""A label and one value per group (week or score) (None: suppressed)."""


def series(cohort: Cohort, key: str, label: str, people: bool = False) -> Series:
    values: list[int | None] = []
    for week in cohort.weeks:
        cell = cohort.cells.get(week, {}).get(key)
        if cell is None:
            values.append(0)
        elif cell.suppressed:
            values.append(None)
        else:
            values.append(cell.people if people else cell.total)
    return label, values


def scale_series(cohort: Cohort, quarter: str) -> Series:
    """A quarter's people per loneliness score (None: suppressed)."""
    cells = cohort.quarters[quarter]
    values: list[int | None] = []
    for score in LONELINESS_SCORES:
        cell = cells[f"{LONELINESS}/{score}"]
        values.append(None if cell.suppressed else cell.people)
    return quarter, values


def bar_chart(
    title: str,
    groups: Sequence[str],
    bars: Sequence[Series],
    hidden_word: str = "–",
    ticks: Sequence[str] | None = None,
) -> Markup:
    """Grouped bars, one group per week (or per score); an SVG and its table. `ticks` are the axis's labels
    (the groups' own, short: "W10" for "2026-W10", by default)."""
    ticks = ticks if ticks is not None else [group[-3:] for group in groups]
    top = max([v for _, values in bars for v in values if v is not None] + [1])
    slot = (WIDTH - LEFT) / max(len(groups), 1)
    width = slot * 0.8 / max(len(bars), 1)
    shapes: list[str] = []
    for index in range(len(groups)):
        x0 = LEFT + index * slot + slot * 0.1
        for n, (_label, values) in enumerate(bars):
            value = values[index]
            if value:
                height = (HEIGHT - BOTTOM - 10) * value / top
                shapes.append(
                    f'<rect x="{x0 + n * width:.1f}" y="{HEIGHT - BOTTOM - height:.1f}" width="{width:.1f}" '
                    f'height="{height:.1f}" fill="{COLOURS[n % len(COLOURS)]}"></rect>'
                )
        shapes.append(
            f'<text x="{x0 + slot * 0.4:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'font-size="14">{escape(ticks[index])}</text>'
        )
    shapes.append(f'<text x="4" y="14" font-size="14">{top}</text>')
    legend = " ".join(
        f'<tspan fill="{COLOURS[n % len(COLOURS)]}">■</tspan> {escape(label)}'
        for n, (label, _v) in enumerate(bars)
    )
    shapes.append(f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="14">{legend}</text>')
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(shapes)}</svg>'
    )
    header = "".join(f'<th scope="col">{escape(label)}</th>' for label, _values in bars)
    rows = "".join(
        f'<tr><th scope="row">{escape(group)}</th>'
        + "".join(
            f"<td>{escape(hidden_word) if values[i] is None else values[i]}</td>" for _label, values in bars
        )
        + "</tr>"
        for i, group in enumerate(groups)
    )
    table = f'<table><caption>{escape(title)}</caption><tr><th scope="col"></th>{header}</tr>{rows}</table>'
    return Markup(f'<figure class="chart"><figcaption>{escape(title)}</figcaption>{svg}{table}</figure>')
