"""A client generated from the committed openapi/openapi.json by openapi-python-client works
against the app (docs/README.md#openapi-and-generated-clients): methods named by the
operationIds, bearer auth, money as strings, problems parsed as Problem, cursors. The
client is generated once per session; its own httpx client reaches the app in process."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, ROOT
from tests.helpers import contract, customer, line, service

PACKAGE = "msp_ledger_client"


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("generated-client")
    config = folder / "config.yaml"
    # No formatter run afterwards: the code only needs to import.
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(ROOT / "openapi" / "openapi.json"),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    # Every operation and model generated: the generator warns about anything it skipped.
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.fixture
def api(generated: ModuleType, app: Any, client: httpx.AsyncClient) -> Any:
    """The generated AuthenticatedClient, its requests sent to the app in process
    (`client` empties the tables afterwards)."""
    return generated.AuthenticatedClient(
        base_url="http://testserver",
        token=ADMIN_KEY,
        raise_on_unexpected_status=True,
        httpx_args={"transport": httpx.ASGITransport(app=app)},
    )


async def test_create_a_customer_and_a_service(api: Any) -> None:
    models = _module("models")
    create_customer = _module("api.customers.create_customer")
    get_customer = _module("api.customers.get_customer")
    create_service = _module("api.services.create_service")

    created = await create_customer.asyncio_detailed(
        client=api, body=models.CustomerCreate(name="Acme Dental", external_ref="PSA-1001")
    )
    assert created.status_code == 201
    customer = created.parsed
    assert isinstance(customer, models.CustomerRead)
    assert customer.name == "Acme Dental" and customer.external_ref == "PSA-1001"
    fetched = await get_customer.asyncio(client=api, customer_id=customer.id)
    assert isinstance(fetched, models.CustomerRead) and fetched.id == customer.id

    service = await create_service.asyncio(
        client=api,
        body=models.ServiceCreate(
            name="Endpoint protection", sku="AV-SEAT", unit="seat", unit_price="6.5", unit_cost=3
        ),
    )
    assert isinstance(service, models.ServiceRead)
    # Money comes back as decimal strings, written as docs/README.md#money says.
    assert (service.unit_price, service.unit_cost) == ("6.50", "3.00")


async def test_errors_are_read_as_problems(api: Any) -> None:
    models = _module("models")
    create_service = _module("api.services.create_service")
    get_customer = _module("api.customers.get_customer")

    invalid = await create_service.asyncio_detailed(
        client=api,
        body=models.ServiceCreate(
            name="Backup", sku="BK-GB", unit="GB", unit_price="0.12345", unit_cost="0.05"
        ),
    )
    assert invalid.status_code == 422
    problem = invalid.parsed
    assert isinstance(problem, models.Problem)
    assert problem.status == 422 and problem.type_ == "urn:msp-ledger:problem:validation-error"
    [error] = problem.errors
    assert isinstance(error, models.FieldError)
    assert (error.field, error.message) == (
        "body.unit_price",
        "at most 4 decimal places are allowed",
    )

    missing = await get_customer.asyncio_detailed(client=api, customer_id=424242)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Problem)
    assert missing.parsed.detail == "customer 424242 does not exist"


async def test_a_list_is_paged_with_its_cursor(api: Any) -> None:
    models = _module("models")
    create_customer = _module("api.customers.create_customer")
    list_customers = _module("api.customers.list_customers")
    types = _module("types")

    names = ["Acme Dental", "Birch Legal", "Cedar Clinic", "Dune Logistics", "Elm Bakery"]
    for name in names:
        await create_customer.asyncio(client=api, body=models.CustomerCreate(name=name))
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await list_customers.asyncio(client=api, limit=2, cursor=cursor or types.UNSET)
        assert isinstance(page, models.PageCustomerRead)
        seen += [customer.name for customer in page.items]
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == names and pages == 3


async def test_a_billing_run_and_its_dry_run_are_parsed(
    api: Any, client: httpx.AsyncClient
) -> None:
    """One operation, two answers (docs/exports.md#dry-run): 200 with the preview for
    `dry_run: true`, 201 with the run otherwise; the client parses each into its model."""
    models = _module("models")
    create_billing_run = _module("api.billing_runs.create_billing_run")
    acme = (await customer(client, "Acme"))["id"]
    m365 = (await service(client, "M365", unit_price="22.00", unit_cost="0"))["id"]
    await line(client, (await contract(client, acme, "2026-11-01"))["id"], m365, "3")

    preview = await create_billing_run.asyncio_detailed(
        client=api, body=models.BillingRunCreate(period="2026-11", dry_run=True)
    )
    assert preview.status_code == 200
    assert isinstance(preview.parsed, models.BillingRunDryRun)
    [draft] = preview.parsed.invoices
    # 3 seats x 22.00 = 66.00, a new invoice: no id.
    assert isinstance(draft, models.DryRunInvoiceDetail)
    assert draft.id is None and draft.total == "66.00"
    [figures] = preview.parsed.customers
    assert (figures.revenue, figures.cost, figures.margin) == ("66.00", "0.00", "1.0000")

    run = await create_billing_run.asyncio_detailed(
        client=api, body=models.BillingRunCreate(period="2026-11")
    )
    assert run.status_code == 201
    assert isinstance(run.parsed, models.BillingRunRead)
    assert run.parsed.invoices_created == 1 and run.parsed.total == "66.00"
