"""HTTP for api_keys (being built)."""

from app.core.routing import api_router

router = api_router(prefix="/api-keys", tags=["api-keys"])
