"""`GET /reports/trends` with `Accept: image/svg+xml` (docs/reports.md#chart): the SVG
parsed back (series, points, labels, the target, shaded incomplete months, escaping) and
rendered by a headless Chromium into a PNG that must show the lines and the shading.

The world (September to November 2026, profit by customer):
- Acme Ltd: 10 seats of AV at 10.00 (100.00 a month), charged by Pax8 at 6.00 (60.00)
  for September and October; no November invoice yet. Profit 40.00, 40.00, 100.00.
- R&D <Labs> "Q" (a name to escape): 1 unit of in-house HELP at 50.00, cost 30.00.
  Profit 20.00 a month.
- Profit targets: October 50.00, November 80.00; none for September.
- November is incomplete: Pax8 billed October, not November.
"""

from __future__ import annotations

import asyncio
import random
import struct
import xml.etree.ElementTree as ET
import zlib
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.reports.chart import (
    INCOMPLETE_FILL,
    PALETTE,
    SVG_MEDIA_TYPE,
    _px,
    _tenths,
    _tick_label,
    _ticks,
    trends_svg,
)
from app.reports.models import Basis, Metric, TrendGroup, TrendSeries, TrendsReport
from tests.browser import require_chromium
from tests.helpers import contract, create, customer, line, service, vendor
from tests.test_reports import TRENDS, vendor_invoice

NS = {"svg": "http://www.w3.org/2000/svg"}
SVG = {"Accept": SVG_MEDIA_TYPE}
RANGE = {"from": "2026-09", "to": "2026-11"}
ODD_NAME = 'R&D <Labs> "Q"'


async def chart_world(client: httpx.AsyncClient) -> dict[str, int]:
    v = (await vendor(client, "Pax8"))["id"]
    av = await service(
        client, "AV", unit_price="10.00", unit_cost="6.00", vendor_id=v, vendor_sku="AV"
    )
    helpdesk = await service(client, "HELP", unit_price="50.00", unit_cost="30.00", unit="hour")
    acme = (await customer(client, "Acme Ltd"))["id"]
    odd = (await customer(client, ODD_NAME))["id"]
    await create(
        client, f"customers/{acme}/vendor-accounts", {"vendor_id": v, "account_ref": "ACME"}
    )
    await line(client, (await contract(client, acme, "2026-09-01"))["id"], av["id"], "10")
    await line(client, (await contract(client, odd, "2026-09-01"))["id"], helpdesk["id"], "1")
    for period in ("2026-09", "2026-10"):
        await vendor_invoice(
            client, v, f"P-{period}", period, [("AV", "ACME", "10", "6.00", "60.00")]
        )
    for period, profit in (("2026-10", "50.00"), ("2026-11", "80.00")):
        answer = await client.put(
            f"/api/v1/targets/{period}", json={"revenue": "0", "profit": profit}
        )
        assert answer.status_code == 200, answer.text
    return {"v": v, "acme": acme, "odd": odd}


async def get_svg(client: httpx.AsyncClient, **params: str) -> httpx.Response:
    response = await client.get(TRENDS, params={**RANGE, **params}, headers=SVG)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(SVG_MEDIA_TYPE)
    return response


def points(group: ET.Element) -> list[tuple[str, str]]:
    return [(c.attrib["cx"], c.attrib["cy"]) for c in group.iterfind("svg:circle", NS)]


def texts(element: ET.Element | None) -> list[str]:
    assert element is not None
    return [t.text or "" for t in element.iter(f"{{{NS['svg']}}}text")]


async def test_trends_as_an_svg_line_chart(client: httpx.AsyncClient) -> None:
    await chart_world(client)
    params = {"metric": "profit", "group_by": "customer"}
    body = (await client.get(TRENDS, params={**RANGE, **params})).json()
    assert body["incomplete"] == ["2026-11"]
    response = await get_svg(client, **params)
    assert response.headers["content-disposition"] == (
        'inline; filename="trends-profit-2026-09-2026-11.svg"'
    )
    # The name is escaped in the document, and reads back intact.
    assert "R&amp;D &lt;Labs&gt;" in response.text and ODD_NAME not in response.text
    root = ET.fromstring(response.content)
    assert root.tag == f"{{{NS['svg']}}}svg"
    assert root.find("svg:title", NS) is not None
    assert root.findtext("svg:title", namespaces=NS) == "Profit by customer"

    # One series per customer, in the report's order, each with a point per month.
    series = root.findall(".//svg:g[@class='series']", NS)
    assert [g.attrib["data-label"] for g in series] == ["Acme Ltd", ODD_NAME]
    # The value axis: profits 20.00 to 100.00 and targets 50.00, 80.00 with zero: about
    # five round steps of 20 from 0 to 100. The plot is 340 px high from y = 72, so
    # y(v) = 72 + 340 x (100 - v) / 100; months are bands of 620 / 3 px from x = 84,
    # points at their middles: 187.3, 394.0, 600.7.
    assert texts(root.find(".//svg:g[@class='y-axis']", NS)) == ["0", "20", "40", "60", "80", "100"]
    assert points(series[0]) == [("187.3", "276.0"), ("394.0", "276.0"), ("600.7", "72.0")]
    assert points(series[1]) == [("187.3", "344.0"), ("394.0", "344.0"), ("600.7", "344.0")]
    for group in series:
        (polyline,) = group.findall("svg:polyline", NS)
        assert polyline.attrib["points"] == " ".join(f"{x},{y}" for x, y in points(group))
    titles = [
        c.findtext("svg:title", namespaces=NS) for c in series[0].iter(f"{{{NS['svg']}}}circle")
    ]
    assert titles == [
        "Acme Ltd, 2026-09: 40.00",
        "Acme Ltd, 2026-10: 40.00",
        "Acme Ltd, 2026-11: 100.00",
    ]
    # Months on x.
    assert texts(root.find(".//svg:g[@class='x-axis']", NS)) == ["2026-09", "2026-10", "2026-11"]

    # The target: a dashed line over October (50.00: y 242.0) and November (80.00: 140.0).
    target = root.find(".//svg:g[@class='target']", NS)
    assert target is not None
    assert points(target) == [("394.0", "242.0"), ("600.7", "140.0")]
    (target_line,) = target.findall("svg:polyline", NS)
    assert target_line.attrib["stroke-dasharray"] == "6 4"

    # November shaded: its whole band, under the lines.
    shaded = root.findall(".//svg:rect[@class='incomplete']", NS)
    assert [(r.attrib["data-month"], r.attrib["x"], r.attrib["width"]) for r in shaded] == [
        ("2026-11", "497.3", "206.7")
    ]
    assert shaded[0].attrib["fill"] == INCOMPLETE_FILL

    # The legend names every series, the target and the shading.
    legend = root.find(".//svg:g[@class='legend']", NS)
    assert legend is not None
    assert texts(legend) == ["Acme Ltd", ODD_NAME, "Target", "Cost not final"]


async def test_chart_without_target_nulls_and_negotiation(client: httpx.AsyncClient) -> None:
    ids = await chart_world(client)
    # Margin: no targets; percent labels. A customer with cost and no revenue has null
    # margins: no point and no line for it.
    c = (await customer(client, "Cost Only"))["id"]
    await create(
        client, f"customers/{c}/vendor-accounts", {"vendor_id": ids["v"], "account_ref": "CO"}
    )
    await vendor_invoice(client, ids["v"], "P-CO", "2026-10", [("AV", "CO", "1", "6.00", "6.00")])
    root = ET.fromstring((await get_svg(client, metric="margin", group_by="customer")).content)
    assert root.find(".//svg:g[@class='target']", NS) is None
    series = {g.attrib["data-label"]: g for g in root.findall(".//svg:g[@class='series']", NS)}
    assert list(series) == ["Acme Ltd", ODD_NAME, "Cost Only"]
    assert (
        points(series["Cost Only"]) == [] and series["Cost Only"].find("svg:polyline", NS) is None
    )
    # Acme: 0.4000, 0.4000, 1.0000; R&D 0.4000: from 0% to 100% by 20%.
    assert texts(root.find(".//svg:g[@class='y-axis']", NS)) == [
        "0%",
        "20%",
        "40%",
        "60%",
        "80%",
        "100%",
    ]
    assert ids["acme"] < ids["odd"] < c

    # One total series when not grouped, labelled as such.
    root = ET.fromstring((await get_svg(client, metric="revenue")).content)
    assert [g.attrib["data-label"] for g in root.findall(".//svg:g[@class='series']", NS)] == [
        "Total"
    ]

    # JSON stays the default and wins when preferred; SVG when preferred over CSV too.
    for accept, media in (
        ("application/json, image/svg+xml;q=0.9", "application/json"),
        ("text/csv;q=0.5, image/svg+xml", SVG_MEDIA_TYPE),
        ("image/svg+xml;q=0.5, text/csv", "text/csv"),
        ("*/*", "application/json"),
    ):
        answer = await client.get(TRENDS, params=RANGE, headers={"Accept": accept})
        assert answer.headers["content-type"].startswith(media), accept

    # An empty range: the axes and a sentence, no series.
    root = ET.fromstring((await get_svg(client, **{"from": "2020-01", "to": "2020-03"})).content)
    assert root.findall(".//svg:g[@class='series']", NS) == []
    assert "No revenue or cost in this range" in texts(root)


@pytest.mark.parametrize(
    ("values", "metric", "labels"),
    [
        # 0..100, about five steps: 100 / 5 = 20.
        (["40", "100", "20", "80"], Metric.profit, ["0", "20", "40", "60", "80", "100"]),
        # Losses only: zero on top, steps of 50 (228 / 5 = 45.6 -> 50).
        (["-228", "-5"], Metric.profit, ["-250", "-200", "-150", "-100", "-50", "0"]),
        # Margins in percent: 0.4 / 5 = 0.08 -> 0.1.
        (["0.4"], Metric.margin, ["0%", "10%", "20%", "30%", "40%"]),
        # Never finer than the figures: 0.01% for a margin, a cent for an amount.
        (["0.0001"], Metric.margin, ["0.00%", "0.01%"]),
        (["0.03"], Metric.cost, ["0.00", "0.01", "0.02", "0.03"]),
        # Thousands grouped.
        (["1234567.89"], Metric.revenue, ["0", "500,000", "1,000,000", "1,500,000"]),
        # Nothing at all: a flat axis of cents.
        ([], Metric.revenue, ["0.00", "0.01", "0.02", "0.03", "0.04", "0.05"]),
    ],
)
def test_value_axis_steps(values: list[str], metric: Metric, labels: list[str]) -> None:
    finest = Decimal("0.0001") if metric is Metric.margin else Decimal("0.01")
    ticks = _ticks([Decimal(v) for v in values], finest)
    assert [_tick_label(t, ticks[1] - ticks[0], metric) for t in ticks] == labels


def test_svg_is_well_formed_whatever_a_name_holds() -> None:
    # Names refuse control characters on the way in; the chart stays well-formed even so,
    # and markup in a name is text, not markup.
    name = "A\x01 <b>&\"'"
    report = TrendsReport(
        metric=Metric.revenue,
        basis=Basis.contracted,
        group_by=TrendGroup.customer,
        months=["2026-01", "2026-02"],
        series=[
            TrendSeries(
                customer_id=1, customer_name=name, values=[Decimal("1.00"), None], changes=[]
            )
        ],
        total=[],
        total_changes=[],
        gaps=[],
        targets=[],
        incomplete=[],
    )
    root = ET.fromstring(trends_svg(report))
    (group,) = root.findall(".//svg:g[@class='series']", NS)
    assert group.attrib["data-label"] == "A\ufffd <b>&\"'"
    assert root.find(".//svg:b", NS) is None and root.find(".//b") is None
    # One point, no line (the null breaks it).
    assert len(points(group)) == 1 and group.find("svg:polyline", NS) is None


def test_pixel_rounding_in_integers_equals_the_exact_one() -> None:
    rng = random.Random(14)
    for _ in range(20_000):
        numerator, denominator = rng.randint(0, 10**12), rng.randint(1, 10**9)
        assert _tenths(numerator, denominator) == _px(Fraction(numerator, denominator))
    # 0.05 rounds up (half-up): 1/20 -> 0.1; 1/3 -> 0.3; 2/3 -> 0.7.
    assert [_tenths(1, 20), _tenths(1, 3), _tenths(2, 3)] == ["0.1", "0.3", "0.7"]


def test_many_series_lines_without_markers_and_a_legend_that_says_how_many_more() -> None:
    months = ["2026-01", "2026-02"]
    report = TrendsReport(
        metric=Metric.cost,
        basis=Basis.contracted,
        group_by=TrendGroup.service,
        months=months,
        series=[
            # 25 services; two share a name, so both get their ids.
            TrendSeries(
                service_id=i,
                service_name="Backup" if i in (3, 4) else f"Service {i}",
                values=[Decimal(i), Decimal(i + 1)],
                changes=[],
            )
            for i in range(1, 26)
        ],
        total=[],
        total_changes=[],
        gaps=[],
        targets=[],
        incomplete=[],
    )
    root = ET.fromstring(trends_svg(report))
    series = root.findall(".//svg:g[@class='series']", NS)
    assert len(series) == 25
    assert [g.attrib["data-label"] for g in series[2:4]] == ["Backup (#3)", "Backup (#4)"]
    assert all(points(g) == [] and len(g.findall("svg:polyline", NS)) == 1 for g in series)
    legend = texts(root.find(".//svg:g[@class='legend']", NS))
    assert len(legend) == 21 and legend[-1] == "and 5 more (hover a line)"


def test_trends_document_svg(app: Any) -> None:
    content = app.openapi()["paths"]["/api/v1/reports/trends"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv", SVG_MEDIA_TYPE} <= set(content)


# --- in a browser ----------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str:
    return require_chromium("the trends chart")


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG, unfiltered."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    size = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * size
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = row[i - size] if i >= size else 0
            up = previous[i]
            corner = previous[i - size] if i >= size else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                paeth = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[i] = (row[i] + paeth) & 0xFF
        rows.append(bytes(row))
        previous = row
    return width, height, rows


def count_pixels(png: tuple[int, int, list[bytes]], colours: list[str]) -> dict[str, int]:
    """Per colour (within 8 per channel), the pixels of that colour, and under "non-white"
    every pixel that is not white: one pass."""
    width, _height, rows = png
    size = len(rows[0]) // width
    targets = [(name, bytes.fromhex(name.lstrip("#"))) for name in colours]
    counts = dict.fromkeys([*colours, "non-white"], 0)
    white = b"\xff\xff\xff"
    for row in rows:
        for x in range(0, width * size, size):
            pixel = row[x : x + 3]
            if pixel == white:
                continue
            counts["non-white"] += 1
            for name, target in targets:
                if all(abs(a - b) <= 8 for a, b in zip(pixel, target, strict=True)):
                    counts[name] += 1
    return counts


async def test_chart_renders_in_a_browser(client: httpx.AsyncClient, tmp_path: Path) -> None:
    browser = chromium()
    await chart_world(client)
    svg = tmp_path / "trends.svg"
    svg.write_bytes((await get_svg(client, metric="profit", group_by="customer")).content)
    png = tmp_path / "trends.png"
    process = await asyncio.create_subprocess_exec(
        browser,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=960,520",
        f"--screenshot={png}",
        svg.as_uri(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0 and png.exists(), output.decode(errors="replace")
    image = await asyncio.to_thread(decode_png, png.read_bytes())
    width, height, _rows = image
    assert (width, height) == (960, 520)
    # Not blank: axes, labels, two lines and the shading cover well over 5% of the image.
    counts = await asyncio.to_thread(count_pixels, image, [INCOMPLETE_FILL, *PALETTE[:2]])
    assert counts["non-white"] > width * height // 20, counts
    # The shaded November band: 206 x 340 px, less what the lines and gridlines cover.
    assert counts[INCOMPLETE_FILL] > 206 * 340 // 2, counts
    # Each series' colour is drawn (lines 2.5 px wide over some 410 px, and points).
    for colour in PALETTE[:2]:
        assert counts[colour] > 400, counts
