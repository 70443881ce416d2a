"""Layers talk one way (ARCHITECTURE.md): `app/core` imports nothing above it, and its
modules import each other without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

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
