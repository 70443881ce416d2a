"""The trends report drawn as an SVG line chart (`Accept: image/svg+xml`,
docs/reports.md#chart): plain SVG built with ElementTree, which escapes every name and
label. Pixel positions are worked out from the report's decimals as fractions and written
to a tenth of a pixel: no binary float touches a figure."""

from __future__ import annotations

import functools
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction

from fastapi import Response

from app.core.money import round_half_up
from app.reports.models import Metric, TrendGroup, TrendSeries, TrendsReport

SVG_MEDIA_TYPE = "image/svg+xml"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"

WIDTH = 960
PLOT_LEFT, PLOT_TOP, PLOT_WIDTH, PLOT_HEIGHT = 84, 72, 620, 340
LEGEND_LEFT = PLOT_LEFT + PLOT_WIDTH + 24
LEGEND_ROW = 20
LEGEND_MAX_SERIES = 20  # more are drawn; each line names itself on hover
# Past this many series the lines carry no point markers: a cloud of dots reads as
# nothing, and each marker is two elements more to send.
MARKED_SERIES = 20
LEGEND_CHARS = 26
MAX_MONTH_LABELS = 12
FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"

# Tableau 10: distinct hues that stay apart for the common forms of colour blindness;
# past ten series the hues repeat with another dash pattern.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
DASHES = (None, "7 3", "2 3")
TARGET_COLOUR = "#222222"
INCOMPLETE_FILL = "#fdebd3"
GRID_COLOUR = "#e3e3e3"
AXIS_COLOUR = "#777777"

METRIC_TITLES = {
    Metric.revenue: "Revenue",
    Metric.cost: "Cost",
    Metric.profit: "Profit",
    Metric.margin: "Margin",
}
# What a series with a null key stands for (docs/reports.md#profitability).
NULL_KEY_LABELS = {
    TrendGroup.customer: "No customer",
    TrendGroup.service: "No service",
    TrendGroup.vendor: "In-house",
}
INCOMPLETE_LABEL = "Cost not final: a vendor has not billed yet"

# Characters XML 1.0 cannot carry at all (names refuse control characters on the way in;
# this keeps the document well-formed whatever is stored).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def _px(value: Fraction | int) -> str:
    """A coordinate to a tenth of a pixel, half-up: exact, no float."""
    return f"{round_half_up(Fraction(value), 1):f}"


def _tenths(numerator: int, denominator: int) -> str:
    """numerator / denominator (both > 0) to a tenth, half-up, in integers: the same as
    `_px`, for the many points of a chart."""
    tenths = (20 * numerator + denominator) // (2 * denominator)
    return f"{tenths // 10}.{tenths % 10}"


def _shorten(label: str) -> str:
    return label if len(label) <= LEGEND_CHARS else label[: LEGEND_CHARS - 1] + "\u2026"


def series_labels(report: TrendsReport) -> list[str]:
    """Each series by name (or what its null key means); a name two series share gets
    each one's id after it, so the legend tells them apart."""
    group = report.group_by
    if group is TrendGroup.none:
        return ["Total" for _ in report.series]
    id_field, name_field = f"{group.value}_id", f"{group.value}_name"
    labels = []
    for series in report.series:
        key, name = getattr(series, id_field), getattr(series, name_field)
        if key is None:
            labels.append(NULL_KEY_LABELS[group])
        else:
            labels.append(name if name is not None else f"{group.value.capitalize()} {key}")
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return [
        _text(f"{label} (#{getattr(series, id_field)})" if counts[label] > 1 else label)
        for label, series in zip(labels, report.series, strict=True)
    ]


# --- the value axis --------------------------------------------------------------------------


def _ticks(values: list[Decimal], finest: Decimal) -> list[Decimal]:
    """Round steps (1, 2 or 5 x a power of ten, at least `finest`: the figures' own
    precision) covering the values and zero, about five."""
    low, high = min([Decimal(0), *values]), max([Decimal(0), *values])
    if low == high:
        high = low + finest * 5
    rough = (high - low) / 5
    power = Decimal(1).scaleb(rough.adjusted())
    step = max(finest, next(m * power for m in (1, 2, 5, 10) if rough <= m * power))
    first = (low / step).to_integral_value(ROUND_FLOOR)
    last = (high / step).to_integral_value(ROUND_CEILING)
    return [(first + i) * step for i in range(int(last - first) + 1)]


def _places(step: Decimal) -> int:
    """The decimals a tick label needs to tell the steps apart."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _tick_label(tick: Decimal, step: Decimal, metric: Metric) -> str:
    if metric is Metric.margin:
        return f"{tick * 100 + 0:.{_places(step * 100)}f}%"
    return f"{tick + 0:,.{_places(step)}f}"


def _value_text(value: Decimal, metric: Metric) -> str:
    if metric is Metric.margin:
        return f"{value:f} ({value * 100:.2f}%)"
    return f"{value:,.2f}"


# --- drawing ---------------------------------------------------------------------------------


@functools.cache
def _attribute(name: str) -> str:
    return name.rstrip("_").replace("_", "-")


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """A child element; `class_` is `class`, `stroke_width` is `stroke-width`. Text that
    may hold a name goes through `_text` first (series_labels does it for the labels)."""
    element = ET.SubElement(parent, tag, {_attribute(name): v for name, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _runs(points: list[tuple[str, str] | None]) -> list[list[tuple[str, str]]]:
    """Consecutive points: a null value breaks the line."""
    runs: list[list[tuple[str, str]]] = [[]]
    for point in points:
        if point is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def _line(
    group: ET.Element,
    points: list[tuple[str, str] | None],
    colour: str,
    width: str,
    dash: str | None,
) -> None:
    for run in _runs(points):
        if len(run) < 2:
            continue
        attrs = {
            "points": " ".join(f"{x},{y}" for x, y in run),
            "fill": "none",
            "stroke": colour,
            "stroke_width": width,
            "stroke_linejoin": "round",
        }
        if dash:
            attrs["stroke_dasharray"] = dash
        _el(group, "polyline", **attrs)


def trends_svg(report: TrendsReport) -> str:
    """The trends report as a standalone SVG document: months on x, one line per series
    named in the legend, the target as a dashed line where one is set, incomplete months
    shaded."""
    months = report.months
    count = len(months)
    metric = report.metric
    labels = series_labels(report)
    targets = [t.target for t in report.targets]
    has_target = any(t is not None for t in targets)
    values = [v for s in report.series for v in s.values if v is not None]
    values += [t for t in targets if t is not None]
    # Margins have 4 decimals, amounts 2: no step finer than the figures.
    ticks = _ticks(values, Decimal("0.0001") if metric is Metric.margin else Decimal("0.01"))
    step = ticks[1] - ticks[0]
    low, high = ticks[0], ticks[-1]
    shown = min(len(report.series), LEGEND_MAX_SERIES)
    legend_rows = shown + (len(report.series) > shown) + has_target + bool(report.incomplete)
    height = max(PLOT_TOP + PLOT_HEIGHT + 64, PLOT_TOP + 8 + LEGEND_ROW * legend_rows + 24)

    band = Fraction(PLOT_WIDTH, count)
    xs = [_px(PLOT_LEFT + band * index + band / 2) for index in range(count)]

    def x(index: int) -> str:
        return xs[index]

    # y = top + height x (high - value) / (high - low), in integers: every value and tick
    # scaled by 10^4 (amounts have 2 places, margins 4) is a whole number.
    scale = Decimal(10) ** 4
    high_scaled, span_scaled = int(high * scale), int((high - low) * scale)

    def y(value: Decimal) -> str:
        above = high_scaled - int(value * scale)
        return _tenths(PLOT_TOP * span_scaled + PLOT_HEIGHT * above, span_scaled)

    title = METRIC_TITLES[metric] + (
        ", total" if report.group_by is TrendGroup.none else f" by {report.group_by.value}"
    )
    subtitle = f"{months[0]} to {months[-1]}, {report.basis.value} basis"
    if report.incomplete:
        subtitle += f"; not final: {', '.join(report.incomplete)}"

    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NAMESPACE,
            "width": str(WIDTH),
            "height": str(height),
            "viewBox": f"0 0 {WIDTH} {height}",
            "role": "img",
            "aria-labelledby": "chart-title chart-desc",
            "font-family": FONT,
        },
    )
    _el(svg, "title", title, id="chart-title")
    _el(svg, "desc", subtitle, id="chart-desc")
    _el(svg, "rect", class_="background", width=str(WIDTH), height=str(height), fill="#ffffff")
    _el(svg, "text", title, class_="title", x="24", y="32", font_size="20", font_weight="bold")
    _el(svg, "text", subtitle, class_="subtitle", x="24", y="54", font_size="13", fill="#555555")

    # Incomplete months, under everything else.
    shading = _el(svg, "g", class_="incomplete-months")
    for month in report.incomplete:
        index = months.index(month)
        rect = _el(
            shading,
            "rect",
            class_="incomplete",
            data_month=month,
            x=_px(PLOT_LEFT + band * index),
            y=str(PLOT_TOP),
            width=_px(band),
            height=str(PLOT_HEIGHT),
            fill=INCOMPLETE_FILL,
        )
        _el(rect, "title", f"{month}: {INCOMPLETE_LABEL.lower()}")

    # Value axis: gridlines and labels; zero drawn darker when it is inside.
    grid = _el(svg, "g", class_="y-axis", font_size="12", fill="#444444")
    for tick in ticks:
        at = y(tick)
        colour = AXIS_COLOUR if tick == 0 else GRID_COLOUR
        _el(
            grid,
            "line",
            x1=str(PLOT_LEFT),
            x2=str(PLOT_LEFT + PLOT_WIDTH),
            y1=at,
            y2=at,
            stroke=colour,
            stroke_width="1",
        )
        _el(
            grid,
            "text",
            _tick_label(tick, step, metric),
            x=str(PLOT_LEFT - 8),
            y=at,
            text_anchor="end",
            dominant_baseline="middle",
        )

    # Month axis: every month ticked, at most MAX_MONTH_LABELS labelled.
    axis = _el(svg, "g", class_="x-axis", font_size="12", fill="#444444")
    bottom = PLOT_TOP + PLOT_HEIGHT
    _el(
        axis,
        "line",
        x1=str(PLOT_LEFT),
        x2=str(PLOT_LEFT + PLOT_WIDTH),
        y1=str(bottom),
        y2=str(bottom),
        stroke=AXIS_COLOUR,
        stroke_width="1",
    )
    every = math.ceil(count / MAX_MONTH_LABELS)
    for index, month in enumerate(months):
        _el(
            axis,
            "line",
            x1=x(index),
            x2=x(index),
            y1=str(bottom),
            y2=str(bottom + 5),
            stroke=AXIS_COLOUR,
        )
        if index % every == 0:
            _el(axis, "text", month, x=x(index), y=str(bottom + 20), text_anchor="middle")

    if not report.series:
        _el(
            svg,
            "text",
            "No revenue or cost in this range",
            class_="empty",
            x=_px(PLOT_LEFT + Fraction(PLOT_WIDTH, 2)),
            y=_px(PLOT_TOP + Fraction(PLOT_HEIGHT, 2)),
            text_anchor="middle",
            font_size="16",
            fill="#777777",
        )

    def style(index: int) -> tuple[str, str | None]:
        return PALETTE[index % len(PALETTE)], DASHES[index // len(PALETTE) % len(DASHES)]

    lines = _el(svg, "g", class_="lines")
    for index, (series, label) in enumerate(zip(report.series, labels, strict=True)):
        colour, dash = style(index)
        group = _el(lines, "g", class_="series", data_label=label)
        _el(group, "title", label)
        points = [
            None if value is None else (x(i), y(value)) for i, value in enumerate(series.values)
        ]
        _line(group, points, colour, "2.5", dash)
        if len(report.series) > MARKED_SERIES:
            continue
        for month, value, point in zip(months, series.values, points, strict=True):
            if value is None or point is None:
                continue
            dot = _el(
                group, "circle", class_="point", cx=point[0], cy=point[1], r="3.5", fill=colour
            )
            _el(dot, "title", f"{label}, {month}: {_value_text(value, metric)}")

    if has_target:
        target_group = _el(lines, "g", class_="target")
        _el(target_group, "title", "Target")
        target_points = [
            None if target is None else (x(i), y(target)) for i, target in enumerate(targets)
        ]
        _line(target_group, target_points, TARGET_COLOUR, "1.5", "6 4")
        for month, target, point in zip(months, targets, target_points, strict=True):
            if target is None or point is None:
                continue
            mark = _el(
                target_group,
                "circle",
                class_="target-point",
                cx=point[0],
                cy=point[1],
                r="2.5",
                fill=TARGET_COLOUR,
            )
            _el(mark, "title", f"Target, {month}: {_value_text(target, metric)}")

    _legend(svg, report.series, labels, style, has_target, bool(report.incomplete))
    return ET.tostring(svg, encoding="unicode")


def _legend(
    svg: ET.Element,
    series: list[TrendSeries],
    labels: list[str],
    style: Callable[[int], tuple[str, str | None]],
    has_target: bool,
    incomplete: bool,
) -> None:
    legend = _el(svg, "g", class_="legend", font_size="13", fill="#222222")
    row = PLOT_TOP + 8

    def entry(label: str, full: str) -> ET.Element:
        item = _el(legend, "g", class_="legend-item")
        _el(item, "title", full)
        _el(item, "text", _shorten(label), x=str(LEGEND_LEFT + 30), y=str(row + 4))
        return item

    for index, label in enumerate(labels[:LEGEND_MAX_SERIES]):
        colour, dash = style(index)
        item = entry(label, label)
        attrs = {"stroke": colour, "stroke_width": "2.5"}
        if dash:
            attrs["stroke_dasharray"] = dash
        _el(
            item,
            "line",
            x1=str(LEGEND_LEFT),
            x2=str(LEGEND_LEFT + 22),
            y1=str(row),
            y2=str(row),
            **attrs,
        )
        row += LEGEND_ROW
    if len(series) > LEGEND_MAX_SERIES:
        more = len(series) - LEGEND_MAX_SERIES
        _el(
            legend,
            "text",
            f"and {more} more (hover a line)",
            x=str(LEGEND_LEFT),
            y=str(row + 4),
            fill="#666666",
        )
        row += LEGEND_ROW
    if has_target:
        item = entry("Target", "Target")
        _el(
            item,
            "line",
            x1=str(LEGEND_LEFT),
            x2=str(LEGEND_LEFT + 22),
            y1=str(row),
            y2=str(row),
            stroke=TARGET_COLOUR,
            stroke_width="1.5",
            stroke_dasharray="6 4",
        )
        row += LEGEND_ROW
    if incomplete:
        item = entry("Cost not final", INCOMPLETE_LABEL)
        _el(
            item,
            "rect",
            x=str(LEGEND_LEFT),
            y=str(row - 7),
            width="22",
            height="14",
            fill=INCOMPLETE_FILL,
            stroke="#e0c9a6",
        )


def svg_response(document: str, filename: str) -> Response:
    """An SVG document, shown in place by a browser (a download name all the same)."""
    return Response(
        content='<?xml version="1.0" encoding="UTF-8"?>\n' + document,
        media_type=f"{SVG_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
