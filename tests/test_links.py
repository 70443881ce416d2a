"""Every list whose page has a next one says so in an RFC 8288 header too,
`Link: <the same URL, cursor replaced>; rel="next"` (docs/README.md#lists-and-cursors)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.routing import APIRoute

from app.core.pagination import is_page
from app.core.routing import DecimalRoute
from tests.helpers import contract, create, customer, line, service, vendor
from tests.test_vendor_invoices import a_line, create_invoice, invoice_body

API = "http://testserver/api/v1"
_LINK = re.compile(r'^<([^>]+)>; rel="next"$')


def next_url(response: httpx.Response) -> str | None:
    """The next page's URL from the Link header; None without one."""
    assert response.status_code == 200, response.text
    link = response.headers.get_list("link")
    if not link:
        return None
    assert len(link) == 1, link
    match = _LINK.match(link[0])
    assert match, link
    return match[1]


async def walk(client: httpx.AsyncClient, url: str) -> list[list[Any]]:
    """Every page of a list by following its Link headers alone, checking each header
    against the body's next_cursor on the way."""
    pages: list[list[Any]] = []
    for _ in range(20):
        response = await client.get(url)
        body = response.json()
        pages.append(body.get("items", body.get("skus")))
        following = next_url(response)
        if body["next_cursor"] is None:
            assert following is None
            return pages
        assert following is not None
        assert httpx.URL(following).params["cursor"] == body["next_cursor"]
        url = following
    raise AssertionError("the pages never end")


async def test_customers_link_keeps_every_query_parameter(client: httpx.AsyncClient) -> None:
    for name in ("Acme Ltd", "Acme Holding", "Beta GmbH", "Acme West"):
        await customer(client, name)
    first = await client.get("/api/v1/customers", params={"q": "acme", "limit": 2})
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    # The full URL: scheme and host as the request came, q and limit kept, cursor added.
    assert first.headers["link"] == f'<{API}/customers?q=acme&limit=2&cursor={cursor}>; rel="next"'
    pages = await walk(client, f"{API}/customers?q=acme&limit=2")
    assert [[c["name"] for c in page] for page in pages] == [
        ["Acme Ltd", "Acme Holding"],
        ["Acme West"],
    ]
    # A list that fits one page, and the last page, carry no Link.
    assert "link" not in (await client.get("/api/v1/customers")).headers
    # HEAD answers the same headers.
    head = await client.head("/api/v1/customers", params={"q": "acme", "limit": 2})
    assert head.headers["link"] == first.headers["link"]


async def test_a_cursor_in_the_url_is_replaced_not_repeated(client: httpx.AsyncClient) -> None:
    for name in ("A", "B", "C"):
        await vendor(client, name)
    first = await client.get("/api/v1/vendors", params={"limit": 1})
    second = await client.get(next_url(first) or "")
    url = httpx.URL(next_url(second) or "")
    assert url.params.get_list("cursor") == [second.json()["next_cursor"]]
    assert url.params["limit"] == "1"
    assert [v["name"] for page in await walk(client, f"{API}/vendors?limit=1") for v in page] == [
        "A",
        "B",
        "C",
    ]


async def test_findings_link_follows_their_own_order(client: httpx.AsyncClient) -> None:
    """Findings page on (impact, id), biggest first, with the type filter kept."""
    v = await vendor(client)
    lines = [a_line(f"SKU-{n}", "NOBODY", unit_cost=f"{n}.00") for n in range(1, 6)]
    await create_invoice(client, invoice_body(v["id"], lines=lines, total="15.00"))
    audit = await create(client, "audits", {"period": "2026-10"})
    url = f"{API}/audits/{audit['id']}/findings?type=UNMAPPED_SKU&limit=2"
    pages = await walk(client, url)
    assert [[f["impact"] for f in page] for page in pages] == [
        ["5.00", "4.00"],
        ["3.00", "2.00"],
        ["1.00"],
    ]
    assert {f["type"] for page in pages for f in page} == {"UNMAPPED_SKU"}


async def test_nested_and_custom_lists_link_too(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    s = await service(client)
    k = await contract(client, c["id"])
    for quantity in ("1", "2", "3"):
        await line(client, k["id"], s["id"], quantity)
    pages = await walk(client, f"{API}/contracts/{k['id']}/lines?limit=2")
    assert [[x["quantity"] for x in page] for page in pages] == [["1", "2"], ["3"]]
    # Import profiles: the built-in ones first, then the MSP's own, on a cursor of their own.
    profiles = await walk(client, f"{API}/import-profiles?limit=2")
    assert [p["name"] for p in profiles[0]] == ["canonical", "microsoft-partner-center"]
    assert sum(len(page) for page in profiles) == 3


async def test_unmapped_pages_periods(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    for number, period in (("A", "2026-08"), ("B", "2026-09"), ("C", "2026-10")):
        lines = [a_line(f"SKU-{period}", "NOBODY")]
        await create_invoice(client, invoice_body(v["id"], number, period=period, lines=lines))
    pages = await walk(client, f"{API}/unmapped?limit=2")
    assert [[s["vendor_sku"] for s in page] for page in pages] == [
        ["SKU-2026-10", "SKU-2026-09"],
        ["SKU-2026-08"],
    ]


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's operations, inside the routers it includes too."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        included = getattr(route, "original_router", None)  # an included router
        if included is not None:
            found.extend(api_routes(included.routes))
    return found


def test_every_list_route_links() -> None:
    """Each operation answering a list (a model with next_cursor) goes through the route
    class that writes the header."""
    from app.main import create_app

    lists = [route for route in api_routes(create_app().routes) if is_page(route.response_model)]
    assert len(lists) >= 18
    escaped = [
        route.path for route in lists if not (isinstance(route, DecimalRoute) and route.lists_pages)
    ]
    assert escaped == []
