"""The dashboard's SVG bar charts: scaled to a round top, labelled for screen readers, escaped."""

from __future__ import annotations

import re
from datetime import date, timedelta

from shipkey.admin_ui.charts import _nice_max, bar_chart


def test_the_axis_ends_on_a_round_number() -> None:
    assert [_nice_max(v) for v in (0, 0.4, 1, 3, 7, 12, 180, 201)] == [1, 1, 1, 5, 10, 20, 200, 500]


def test_bars_carry_their_values_for_screen_readers() -> None:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(3)]
    svg = bar_chart(
        "c",
        "Sales <per> day",
        list(zip(days, [0, 2, 5], strict=True)),
        describe=lambda day, value: f"{day.isoformat()}: {value:g} sales",
        integers=True,
    )
    assert svg.startswith('<svg viewBox="0 0 320 150" role="img" aria-labelledby="c-t c-d"')
    assert '<title id="c-t">Sales &lt;per&gt; day</title>' in svg
    assert "2026-11-02: 2 sales; 2026-11-03: 5 sales</desc>" in svg
    assert svg.count('<rect class="bar"') == 3
    assert ">2.5<" not in svg  # whole numbers only on a count axis
    assert 'height="0.0"' in svg  # the empty day


def test_a_month_has_five_day_labels_that_fit_a_phone() -> None:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]
    svg = bar_chart("c", "Sales", [(day, 1) for day in days], describe=lambda d, v: "")
    assert svg.count(">01.11<") == 1
    assert len(re.findall(r">\d\d\.11<", svg)) == 5
