"""Print the OpenAPI document the app serves (`make openapi` writes openapi/openapi.json)."""

from __future__ import annotations

import json
from typing import Any

from app.core.config import Settings
from app.main import create_app


def document() -> dict[str, Any]:
    # Settings do not shape the document; fixed ones keep it independent of the environment.
    return create_app(Settings(database_url="sqlite+aiosqlite://")).openapi()


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
