"""Chart legends fit their names: the SVG grows to the longest series name instead of cutting it."""

from __future__ import annotations

import re

from observability.charts import LEFT, LEGEND_CHAR_WIDTH, PLOT_WIDTH, Series, line_chart, stacked_bar_chart


def view_width(svg: str) -> int:
    match = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert match
    return int(match.group(1))


def test_a_long_series_name_widens_the_chart_to_fit_its_legend():
    name = "sendgrid skipped_breaker_open"
    short = stacked_bar_chart("t", ["a", "b"], [Series("sent", [1, 2])])
    long = line_chart("t", ["a", "b"], [Series(name, [1, 2])])

    legend_x = int(re.search(r'<text x="(\d+)"[^>]*>' + re.escape(name), long).group(1))
    assert view_width(long) >= legend_x + LEGEND_CHAR_WIDTH * len(name)
    assert view_width(short) < view_width(long)
    assert legend_x > LEFT + PLOT_WIDTH


def test_many_series_make_the_chart_taller_so_that_every_legend_row_shows():
    series = [Series(f"provider-{i} outcome", [i]) for i in range(20)]

    svg = stacked_bar_chart("t", ["a"], series)

    height = int(re.search(r'viewBox="0 0 \d+ (\d+)"', svg).group(1))
    last_row_y = max(int(y) for y in re.findall(r'<rect x="\d+" y="(\d+)" width="10"', svg))
    assert last_row_y + 10 <= height
