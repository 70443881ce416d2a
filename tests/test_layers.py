"""Layers talk one way (ARCHITECTURE.md): `app/core` imports nothing above it, and its
modules import each other without a cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, get_args, get_type_hints

from fastapi.routing import APIRoute
from sqlmodel import SQLModel

from app.main import create_app

CORE = Path(__file__).resolve().parent.parent / "app" / "core"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "app" or name.startswith("app.")}


def test_core_imports_nothing_above_it() -> None:
    for path in sorted(CORE.glob("*.py")):
        above = {name for name in _imports(path) if not name.startswith("app.core")}
        assert not above, f"{path.name} imports {sorted(above)}"


def test_core_modules_form_no_cycle() -> None:
    graph = {
        f"app.core.{path.stem}": {n for n in _imports(path) if n.startswith("app.core.")}
        for path in CORE.glob("*.py")
    }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    cycles = sorted(module for module in graph if reaches(module, module, {module}))
    assert not cycles, cycles


# Where several transactions are the point: the webhook inbox (the event kept whatever
# happens to its invoice), Idempotency-Key records (claimed before the request runs) and
# the API keys' last use (counted even when the request fails).
OWN_TRANSACTIONS = {"webhooks/service.py", "core/idempotency.py", "auth/keys.py"}


def test_the_request_owns_the_transaction() -> None:
    """Services flush; the route commits once the endpoint has answered a success
    (app/core/routing.py)."""
    app_dir = CORE.parent
    committing = sorted(
        str(path.relative_to(app_dir))
        for path in app_dir.rglob("*.py")
        if ".commit()" in path.read_text()
    )
    assert set(committing) <= OWN_TRANSACTIONS | {"core/routing.py"}, committing


def _named_types(annotation: Any) -> Iterator[type]:
    """Every class an annotation names, through unions, lists and Page[...]."""
    if isinstance(annotation, type):
        yield annotation
        metadata = getattr(annotation, "__pydantic_generic_metadata__", None) or {}
        for arg in metadata.get("args", ()):
            yield from _named_types(arg)
    for arg in get_args(annotation):
        yield from _named_types(arg)


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """The app's endpoints, through the routers it includes."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def test_routes_answer_read_models_not_rows() -> None:
    """Services answer the Read model an endpoint answers (converted in the service), so
    no route is annotated with a table row."""
    routes = list(_api_routes(create_app().routes))
    assert len(routes) > 50
    rows = []
    for route in routes:
        returned = get_type_hints(route.endpoint).get("return")
        tables = [
            kind.__name__
            for kind in _named_types(returned)
            if issubclass(kind, SQLModel) and getattr(kind, "__table__", None) is not None
        ]
        if tables:
            rows.append(f"{route.path} {sorted(route.methods or ())}: {tables}")
    assert not rows, rows


def test_packages_import_one_way() -> None:
    """No two packages of app/ import each other (directly): a package built on another
    (audits on vendor invoices, the webhook inbox and import profiles on vendor invoices,
    webhooks on vendors) is never imported back."""
    app_dir = CORE.parent
    edges: dict[str, set[str]] = {}
    for path in app_dir.rglob("*.py"):
        package = path.relative_to(app_dir).parts[0].removesuffix(".py")
        for name in _imports(path):
            parts = name.split(".")
            if len(parts) > 1 and parts[1] != package:
                edges.setdefault(package, set()).add(parts[1])
    both_ways = sorted(
        (a, b) for a, targets in edges.items() for b in targets if a < b and a in edges.get(b, ())
    )
    assert not both_ways, both_ways
